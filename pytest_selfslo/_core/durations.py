"""Prometheus ``model.Duration`` parsing and printing (``1h30m``, ``5m``, ``0``).

Rule files and promtool unit-test files use Prometheus' own duration type, not
PromQL's: it accepts ``0`` (``promql_parser.parse_duration`` refuses it), needs
the units in descending order (``1h30m`` but not ``30m1h``), and prints back in
the canonical form promtool uses in its messages (``1d``, ``2w``, ``2m59s999ms``,
``0s``). Both directions live here so error messages and test reports quote
durations exactly as promtool would.
"""

from __future__ import annotations

import re

__all__ = ["format_duration", "format_go_duration", "parse_duration"]

_UNITS_MS: tuple[tuple[str, int], ...] = (
    ("y", 365 * 86_400_000),
    ("w", 7 * 86_400_000),
    ("d", 86_400_000),
    ("h", 3_600_000),
    ("m", 60_000),
    ("s", 1000),
    ("ms", 1),
)
_DURATION = re.compile(
    r"^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$"
)
#: time.Duration is an int64 of nanoseconds: the largest duration Go can hold
_MAX_MS = (2**63 - 1) // 1_000_000


def parse_duration(text: str) -> int:
    """Milliseconds of a Prometheus duration such as ``1h30m`` or ``0``.

    Raises ``ValueError`` with the text quoted when it is not a valid duration,
    mirroring ``model.ParseDuration`` (message: ``not a valid duration string``).
    """
    if text == "0":
        return 0
    match = _DURATION.match(text)
    if text == "" or match is None:
        raise ValueError(f"not a valid duration string: {text!r}")
    total = 0
    for (_, mult), part in zip(_UNITS_MS, match.groups(), strict=False):
        if part is not None:
            total += int(part) * mult
    if total > _MAX_MS:
        raise ValueError(f"duration out of range: {text!r}")
    return total


def format_duration(ms: int) -> str:
    """Canonical Prometheus spelling of ``ms`` (years and weeks only when exact)."""
    if ms == 0:
        return "0s"
    sign = "-" if ms < 0 else ""
    rest = abs(ms)
    out = []
    for unit, mult in _UNITS_MS:
        if unit in ("y", "w") and rest % mult != 0:
            continue
        count, rest = divmod(rest, mult)
        if count:
            out.append(f"{count}{unit}")
    return sign + "".join(out)


def format_go_duration(ms: int) -> str:
    """Go ``time.Duration.String()`` of ``ms`` (``2m0s``, ``1h0m0s``, ``500ms``, ``0s``).

    promtool prints rule evaluation times this way (``ts.Sub(epoch)``), unlike the
    ``model.Duration`` spelling it uses for ``eval_time``.
    """
    if ms == 0:
        return "0s"
    sign = "-" if ms < 0 else ""
    rest = abs(ms)
    if rest < 1000:
        return f"{sign}{rest}ms"
    hours, rest = divmod(rest, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    seconds = f"{secs}" + (f".{millis:03d}".rstrip("0") if millis else "") + "s"
    if hours:
        return f"{sign}{hours}h{minutes}m{seconds}"
    if minutes:
        return f"{sign}{minutes}m{seconds}"
    return sign + seconds
