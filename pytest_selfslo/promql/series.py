"""promtool / promqltest expanding series notation (``1+2x3 _ stale``).

The notation is what rule unit-test files (``input_series[].values``) and
Prometheus' ``.test`` scripts (``load`` blocks) use to describe samples:

* ``a+bxn`` / ``a-bxn`` -- ``n + 1`` values ``a, a+b, a+2b, ... a+nb``. Like
  Prometheus we add ``b`` repeatedly (``a += b``) instead of computing ``a + i*b``
  so the floating point results are bit-identical to promtool's;
* ``axn`` -- ``a`` repeated ``n + 1`` times (shorthand for ``a+0xn``);
* ``_`` -- one missing sample, ``_xn`` -- ``n`` missing samples (exactly ``n``);
* ``stale`` -- a staleness marker (:data:`~pytest_selfslo.promql.values.STALE_NAN`);
* numbers may be signed, scientific (``1e-3``), hexadecimal (``0x1F``), ``Inf``,
  ``-Inf``, ``NaN`` (case-insensitive). A duration (``5m``) is not a sample value:
  promtool rejects it ("bad number syntax"), and so do we.

Native histogram notation (``{{schema:0 ...}}``) is rejected with a
"native histograms are not supported" error: the embedded engine is float-only.

Errors are :class:`~pytest_selfslo._core.errors.SeriesNotationError` naming the offending
token and its 1-based column, because a typo in a 200-value series is otherwise
hard to find.
"""

from __future__ import annotations

import math
import re

import promql_parser

from pytest_selfslo._core.errors import SeriesNotationError
from pytest_selfslo.promql.exprguard import check_expr
from pytest_selfslo.promql.labels import METRIC_NAME, STALE_NAN, Labels, make_labels

__all__ = ["check_series_values", "count_series_values", "parse_series_line", "parse_series_values",
           "split_series_line"]

_NUMBER = (
    r"(?:[iI][nN][fF]|[nN][aA][nN]"
    r"|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)"
)
#: a duration where a sample value is expected (``5m``, ``0+1mx3``): rejected like promtool
_DURATION_VALUE = re.compile(r"[+-]?\d+(?:ms|[smhdwy])(?:\d+(?:ms|[smhdwy]))*(?:$|[-+x])")
_ITEM = re.compile(
    rf"(?P<base>[+-]?{_NUMBER}|stale)"
    rf"(?:(?P<sign>[+-])(?P<step>{_NUMBER}))?"
    r"(?:x(?P<times>\d+))?"
)
_BLANK = re.compile(r"_(?:x(?P<times>\d+))?")
_MAX_REPEAT = 10_000_000


def _number(text: str) -> float:
    """One PromQL number literal (sign already split off by the caller or included)."""
    sign = 1.0
    body = text
    if body[:1] in "+-":
        sign = -1.0 if body[0] == "-" else 1.0
        body = body[1:]
    lowered = body.lower()
    if lowered == "inf":
        return sign * math.inf
    if lowered == "nan":
        return math.nan
    if lowered.startswith("0x"):
        return sign * float(int(body[2:], 16))
    return sign * float(body)


def _tokens(text: str) -> list[tuple[int, str]]:
    """Whitespace-separated tokens with their 0-based start offsets."""
    return [(m.start(), m.group(0)) for m in re.finditer(r"\S+", text)]


def _fail(text: str, offset: int, token: str, why: str) -> SeriesNotationError:
    return SeriesNotationError(
        f"invalid series values {text!r}: token {token!r} at column {offset + 1}: {why}"
    )


def _repeat(text: str, offset: int, token: str, times: str | None) -> int:
    if times is None:
        return 0
    count = int(times)
    if count > _MAX_REPEAT:
        raise _fail(text, offset, token, f"repetition {count} is larger than {_MAX_REPEAT}")
    return count


def count_series_values(text: str) -> int:
    """How many entries :func:`parse_series_values` returns for ``text``, without expanding.

    Cheap (no number is parsed) so a caller can check a sample budget before
    ``0+1x10000000`` is expanded. Exact for valid notation; a malformed token
    counts as what it asks for (the parse reports it).

    >>> count_series_values("1+2x2 _ stale _x3")
    8
    """
    total = 0
    for token in text.split():
        at = token.rfind("x")
        times = token[at + 1:]
        if at > 0 and times.isdigit():
            total += int(times) + (token[0] != "_")
        else:
            total += 1
    return total


def check_series_values(text: str) -> int:
    """Validate series notation without expanding it; returns its number of entries.

    Raises :class:`SeriesNotationError` like :func:`parse_series_values` (a linter
    can check ``0+1x10000000`` at no cost).
    """
    return _parse_values(text, None)


def parse_series_values(text: str) -> list[float | None]:
    """Expand series notation into one entry per interval: a float, ``STALE_NAN``, or ``None`` (no sample).

    >>> parse_series_values("1+2x2 _ stale")[:4]
    [1.0, 3.0, 5.0, None]
    """
    out: list[float | None] = []
    _parse_values(text, out)
    return out


def _parse_values(text: str, out: list[float | None] | None) -> int:
    """Validate ``text``; append the expanded values to ``out`` unless it is None; count them."""
    total = 0
    for offset, token in _tokens(text):
        if token.startswith("{{") or token.endswith("}}"):
            raise _fail(text, offset, token, "native histograms are not supported "
                        "by the embedded engine (float samples only)")
        blank = _BLANK.fullmatch(token)
        if blank:
            count = 1 if blank.group("times") is None else _repeat(
                text, offset, token, blank.group("times"))
            total += count
            if out is not None:
                out.extend([None] * count)
            continue
        item = _ITEM.fullmatch(token)
        if item is None:
            if _DURATION_VALUE.match(token) or any(_DURATION_VALUE.match(part) for part in
                                                   re.split(r"(?<=\d)[+-]", token)[1:]):
                raise _fail(text, offset, token, "a duration is not a sample value "
                            "(promtool: bad number syntax); write seconds, e.g. 300 for 5m")
            raise _fail(text, offset, token, "expected a number, 'stale', '_', "
                        "'a+bxn', 'a-bxn', 'axn' or '_xn'")
        base_text = item.group("base")
        if base_text == "stale":
            if item.group("step") is not None:
                raise _fail(text, offset, token, "'stale' cannot be incremented")
            base = STALE_NAN
        else:
            base = _number(base_text)
        if item.group("step") is not None and item.group("times") is None:
            raise _fail(text, offset, token, "an increment needs a repetition count "
                        "('a+bxn', e.g. '1+2x3')")
        count = _repeat(text, offset, token, item.group("times"))
        total += count + 1
        if out is None:
            continue
        if item.group("times") is None:
            out.append(base)
            continue
        step = 0.0
        if item.group("step") is not None:
            step = _number(item.group("step"))
            if item.group("sign") == "-":
                step = -step
        value = base
        for _ in range(count + 1):
            out.append(value)
            value += step
    return total


def split_series_line(line: str) -> tuple[str, str]:
    """Split ``'metric{a="b"} 1 2 3'`` into the selector text and the values text.

    The selector ends at the closing brace (quoted strings may contain braces
    and spaces) or, without braces, at the first whitespace.
    """
    text = line.strip()
    i = 0
    in_quote: str | None = None
    depth = 0
    while i < len(text):
        ch = text[i]
        if in_quote:
            if ch == "\\":
                i += 2
                continue
            if ch == in_quote:
                in_quote = None
        elif ch in "\"'`":
            in_quote = ch
        elif ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return text[: i + 1], text[i + 1:].strip()
        elif ch.isspace() and depth == 0:
            return text[:i], text[i:].strip()
        i += 1
    if depth or in_quote:
        raise SeriesNotationError(f"invalid series {line!r}: unterminated label set or string")
    return text, ""


def parse_series_labels(selector: str) -> Labels:
    """Labels of a series descriptor such as ``metric{a="b"}`` (equality matchers only)."""
    if selector.replace(" ", "") == "{}":
        return ()
    check_expr(selector)  # a LimitError before the parser sees a hostile descriptor
    try:
        expr = promql_parser.parse(selector)
    except ValueError as exc:
        raise SeriesNotationError(f"invalid series descriptor {selector!r}: {exc}") from None
    if not isinstance(expr, promql_parser.VectorSelector):
        raise SeriesNotationError(
            f"invalid series descriptor {selector!r}: expected 'metric{{label=\"value\"}}', "
            f"got a {type(expr).__name__}")
    pairs: dict[str, str] = {}
    if expr.name:
        pairs[METRIC_NAME] = expr.name
    for matcher in expr.matchers.matchers:
        if matcher.op != promql_parser.MatchOp.Equal:
            raise SeriesNotationError(
                f"invalid series descriptor {selector!r}: label {matcher.name!r} must use '=', "
                f"not a matcher")
        pairs[matcher.name] = matcher.value
    if expr.matchers.or_matchers:
        raise SeriesNotationError(f"invalid series descriptor {selector!r}: 'or' is not allowed")
    return make_labels(pairs)


def parse_series_line(line: str) -> tuple[Labels, list[float | None]]:
    """Parse one ``load`` line, e.g. ``'metric{a="b"} 1+2x3'`` -> (labels, values)."""
    selector, values = split_series_line(line)
    if not selector:
        raise SeriesNotationError(f"invalid series {line!r}: missing series descriptor")
    labels = parse_series_labels(selector)
    try:
        return labels, parse_series_values(values)
    except SeriesNotationError as exc:
        raise SeriesNotationError(f"series {selector}: {exc}") from None
