"""Native-histogram series notation, as promtool and promqltest write it.

One histogram is ``{{key:value ...}}`` with the keys ``schema`` (int, default
0), ``sum``, ``count``, ``z_bucket`` (zero-bucket count), ``z_bucket_w`` (zero
threshold), ``buckets:[...]`` and ``offset`` (index of the first positive
bucket), ``n_buckets:[...]`` and ``n_offset`` (negative side),
``custom_values:[...]`` (bucket bounds of schema -53, NHCB) and
``counter_reset_hint`` (``unknown``, ``reset``, ``not_reset``, ``gauge``).
Expanding forms: ``{{...}}xN`` repeats a histogram ``N + 1`` times,
``{{a}}+{{b}}xN`` / ``{{a}}-{{b}}xN`` add/subtract ``b`` ``N`` times (the
histograms are added like Prometheus adds them, schema reduction included).

    >>> h, _ = parse_histogram("{{schema:1 sum:5 count:4 buckets:[1 2 1]}}")
    >>> h.schema, h.count, h.pos.tolist()
    (1, 4.0, [1.0, 2.0, 1.0])
"""

from __future__ import annotations

import math
import re

import numpy as np

from pytest_selfslo._core.errors import PromQLEvalError, SeriesNotationError
from pytest_selfslo.promql.histogram import (
    COUNTER_RESET,
    GAUGE_TYPE,
    NOT_COUNTER_RESET,
    UNKNOWN_COUNTER_RESET,
    FloatHistogram,
)

__all__ = ["expand_histogram_token", "histogram_token_end", "parse_histogram"]

_HINTS = {"unknown": UNKNOWN_COUNTER_RESET, "reset": COUNTER_RESET,
          "not_reset": NOT_COUNTER_RESET, "gauge": GAUGE_TYPE}
_NUMBER_KEYS = ("sum", "count", "z_bucket", "z_bucket_w")
_INT_KEYS = ("schema", "offset", "n_offset")
_LIST_KEYS = ("buckets", "n_buckets", "custom_values")
_ITEM = re.compile(r"\s*([a-z_]+)\s*:\s*(\[[^\]]*\]|[^\s\]]+)")
_NUM = re.compile(r"[+-]?(?:[iI][nN][fF]|[nN][aA][nN]|0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)")
_REPEAT = re.compile(r"x(\d+)")
_MAX_REPEAT = 10_000_000


def _number(text: str, what: str) -> float:
    if not _NUM.fullmatch(text):
        raise SeriesNotationError(f"error parsing {what} number: {text!r}")
    body = text.lstrip("+-")
    sign = -1.0 if text.startswith("-") else 1.0
    low = body.lower()
    if low == "inf":
        return sign * math.inf
    if low == "nan":
        return math.nan
    if low.startswith("0x"):
        return sign * float(int(body[2:], 16))
    return sign * float(body)


def _integer(text: str, what: str) -> int:
    if not re.fullmatch(r"[+-]?\d+", text):
        raise SeriesNotationError(f"error parsing {what} number: {text!r} is not an integer")
    return int(text)


def parse_histogram(text: str) -> tuple[FloatHistogram, bool]:
    """One ``{{...}}`` description: the histogram and whether it set ``counter_reset_hint``."""
    body = text.strip()
    if not (body.startswith("{{") and body.endswith("}}")):
        raise SeriesNotationError(f"invalid histogram {text!r}: expected '{{{{...}}}}'")
    inner = body[2:-2]
    fields: dict[str, object] = {}
    pos = 0
    while inner[pos:].strip():
        m = _ITEM.match(inner, pos)
        if m is None:
            raise SeriesNotationError(
                f"invalid histogram {text!r}: unexpected {inner[pos:].strip()!r} in histogram "
                f"description, expected a key such as buckets:[5 10 7]")
        key, raw = m.group(1), m.group(2)
        pos = m.end()
        if key in fields:
            raise SeriesNotationError(f'invalid histogram {text!r}: duplicate key "{key}" in histogram')
        if key in _NUMBER_KEYS:
            fields[key] = _number(raw, key)
        elif key in _INT_KEYS:
            fields[key] = _integer(raw, key)
        elif key in _LIST_KEYS:
            if not raw.startswith("["):
                raise SeriesNotationError(f"invalid histogram {text!r}: {key} needs a list [a b c]")
            items = raw[1:-1].split()
            if not items:
                raise SeriesNotationError(f"invalid histogram {text!r}: {key} list is empty")
            fields[key] = [_number(item, key) for item in items]
        elif key == "counter_reset_hint":
            if raw not in _HINTS:
                raise SeriesNotationError(
                    f"invalid histogram {text!r}: counter_reset_hint must be one of "
                    f"{', '.join(_HINTS)}, got {raw!r}")
            fields[key] = _HINTS[raw]
        else:
            raise SeriesNotationError(f"invalid histogram {text!r}: unknown key {key!r}")
    buckets = np.array(fields.get("buckets", []), dtype=np.float64)
    n_buckets = np.array(fields.get("n_buckets", []), dtype=np.float64)
    custom = fields.get("custom_values")
    hist = FloatHistogram(
        schema=int(fields.get("schema", 0)),  # type: ignore[call-overload]
        count=float(fields.get("count", 0.0)),  # type: ignore[arg-type]
        sum=float(fields.get("sum", 0.0)),  # type: ignore[arg-type]
        zero_threshold=float(fields.get("z_bucket_w", 0.0)),  # type: ignore[arg-type]
        zero_count=float(fields.get("z_bucket", 0.0)),  # type: ignore[arg-type]
        pos_offset=int(fields.get("offset", 0)) if len(buckets) else 0,  # type: ignore[call-overload]
        pos=buckets,
        neg_offset=int(fields.get("n_offset", 0)) if len(n_buckets) else 0,  # type: ignore[call-overload]
        neg=n_buckets,
        custom_values=None if custom is None else np.array(custom, dtype=np.float64),
        hint=int(fields.get("counter_reset_hint", UNKNOWN_COUNTER_RESET)),  # type: ignore[call-overload]
    )
    return hist, "counter_reset_hint" in fields


def histogram_token_end(text: str, start: int) -> int:
    """End (exclusive) of the histogram token starting with ``{{`` at ``start``.

    The token is ``{{...}}``, optionally followed by ``+{{...}}``/``-{{...}}``
    and ``xN``; it may contain spaces inside the braces.
    """
    end = text.find("}}", start)
    if end < 0:
        raise SeriesNotationError(f"invalid series values {text!r}: unterminated histogram "
                                  f"at column {start + 1} (missing '}}}}')")
    end += 2
    if text[end:end + 3] in ("+{{", "-{{"):
        close = text.find("}}", end)
        if close < 0:
            raise SeriesNotationError(f"invalid series values {text!r}: unterminated histogram "
                                      f"at column {end + 2}")
        end = close + 2
    m = _REPEAT.match(text, end)
    if m:
        end = m.end()
    return end


def expand_histogram_token(token: str) -> tuple[list[FloatHistogram], bool]:
    """Expand ``{{a}}``, ``{{a}}xN``, ``{{a}}+{{b}}xN`` or ``{{a}}-{{b}}xN``.

    Returns the histograms and whether the (last) description set ``counter_reset_hint``.
    """
    first_end = token.find("}}") + 2
    base, hint_set = parse_histogram(token[:first_end])
    rest = token[first_end:]
    if not rest:
        return [base], hint_set
    m = _REPEAT.fullmatch(rest)
    if m:
        times = int(m.group(1))
        if times > _MAX_REPEAT:
            raise SeriesNotationError(f"repetition {times} is larger than {_MAX_REPEAT}")
        return [base] * (times + 1), hint_set
    op = rest[0]
    close = rest.find("}}") + 2
    inc, hint_set = parse_histogram(rest[1:close])
    m = _REPEAT.fullmatch(rest[close:])
    if op not in "+-" or m is None:
        raise SeriesNotationError(f"invalid histogram series {token!r}: expected "
                                  f"'{{{{...}}}}+{{{{...}}}}xN' or '{{{{...}}}}-{{{{...}}}}xN'")
    times = int(m.group(1))
    if times > _MAX_REPEAT:
        raise SeriesNotationError(f"repetition {times} is larger than {_MAX_REPEAT}")
    out = [base]
    cur = base
    for _ in range(times):
        if cur.schema > inc.schema and not cur.uses_custom_buckets:
            raise SeriesNotationError(f"error combining histograms: cannot merge from schema "
                                      f"{inc.schema} to {cur.schema}")
        try:
            cur = (cur.add(inc) if op == "+" else cur.sub(inc))[0]
        except PromQLEvalError as exc:
            raise SeriesNotationError(f"error combining histograms: {exc}") from None
        out.append(cur)
    return out, hint_set
