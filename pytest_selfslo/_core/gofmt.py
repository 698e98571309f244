"""Go formatting as Prometheus alert templates produce it.

Alert labels and annotations are rendered by Go's ``text/template`` and the
helper functions of Prometheus' ``template`` package; unit tests compare the
rendered strings exactly, so every byte must match: ``{{ $value }}`` prints a
float64 like Go's ``%v`` (shortest round-trip digits, exponent form outside
``1e-4 <= |v| < 1e21``... precisely: when the decimal exponent is < -4 or >= 21
for ``%v``), ``humanize`` uses ``%.4g`` with SI prefixes, ``printf`` follows
``fmt`` verbs. Values flowing through templates are Python ``str``, ``bool``,
``int`` (Go int constants), ``float`` (float64), ``dict`` (Go maps) or ``None``.
"""

from __future__ import annotations

import datetime as _dt
import math
import re
from decimal import Decimal
from typing import Any

__all__ = ["go_print", "go_quote", "go_sprintf", "humanize", "humanize1024",
           "humanize_duration", "humanize_percentage", "humanize_timestamp", "to_float"]


class GoFuncError(Exception):
    """A template function failed (Go: ``error calling <fn>: <msg>``)."""


def _shortest(v: float) -> tuple[str, int]:
    """Shortest round-trip digits of ``|v|`` and the decimal point position (Go ``digs``)."""
    _sign, digits, exp = Decimal(repr(abs(v))).as_tuple()
    text = "".join(str(d) for d in digits).lstrip("0") or "0"
    point = len(digits) + int(exp) - (len(digits) - len("".join(str(d) for d in digits).lstrip("0")))
    text = text.rstrip("0") or "0"
    return text, point


def format_float_g(v: float, *, eprec: int = 6) -> str:
    """Go ``strconv.FormatFloat(v, 'g', -1, 64)`` with the %e switch at exponent ``eprec``.

    Go's ``%v`` on a float64 uses the shortest representation and switches to
    exponent form when the decimal exponent is < -4 or >= 6 (``1e+06``).
    """
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    if v == 0:
        return "-0" if math.copysign(1.0, v) < 0 else "0"
    digits, point = _shortest(v)
    sign = "-" if v < 0 else ""
    exp = point - 1
    if exp < -4 or exp >= eprec:
        mant = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{sign}{mant}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    if point <= 0:
        return f"{sign}0.{'0' * -point}{digits}"
    if point >= len(digits):
        return f"{sign}{digits}{'0' * (point - len(digits))}"
    return f"{sign}{digits[:point]}.{digits[point:]}"


def go_g(v: float, prec: int) -> str:
    """Go ``%.<prec>g`` (identical to C's except for the Inf/NaN spelling)."""
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    return f"%.{prec}g" % v


def go_print(value: Any) -> str:
    """How ``{{ value }}`` prints a value (Go ``fmt.Sprint``)."""
    if value is None:
        return "<no value>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return format_float_g(value)
    if isinstance(value, dict):
        inner = " ".join(f"{go_print(k)}:{go_print(value[k])}" for k in sorted(value))
        return f"map[{inner}]"
    if isinstance(value, (list, tuple)):
        return "[" + " ".join(go_print(v) for v in value) + "]"
    return str(value)


def go_quote(text: str) -> str:
    """Go ``strconv.Quote``: double quotes, Go escapes, printable Unicode kept."""
    out = []
    for ch in text:
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif ch.isprintable():
            out.append(ch)
        elif ord(ch) < 0x10000:
            out.append(f"\\u{ord(ch):04x}" if ord(ch) > 0xFF else f"\\x{ord(ch):02x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    return '"' + "".join(out) + '"'


def _go_type(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dict):
        return "map[string]string"
    return "<nil>" if value is None else type(value).__name__


_VERB = re.compile(r"%([-+# 0]*)(\d+|\*)?(?:\.(\d+|\*)?)?([a-zA-Z%])")


def go_sprintf(fmt: str, *args: Any) -> str:
    """Go ``fmt.Sprintf`` for the verbs templates use (%s %v %d %f %e %g %q %x %t %%)."""
    out: list[str] = []
    pos = 0
    arg_i = 0
    for match in _VERB.finditer(fmt):
        out.append(fmt[pos:match.start()])
        pos = match.end()
        flags, width, prec, verb = match.group(1), match.group(2), match.group(3), match.group(4)
        if _too_large(width) or _too_large(prec):
            # Go's parsenum gives up on a "crazy long number" and consumes the rest of the
            # format, so %0999999999d prints %!(NOVERB) instead of a gigabyte of zeros
            out.append("%!(NOVERB)")
            pos = len(fmt)
            break
        if verb == "%":
            out.append("%")
            continue
        if arg_i >= len(args):
            out.append(f"%!{verb}(MISSING)")
            continue
        arg = args[arg_i]
        arg_i += 1
        out.append(_pad(_verb(verb, arg, prec), flags, width))
    out.append(fmt[pos:])
    if arg_i < len(args):
        extra = ", ".join(f"{_go_type(a)}={go_print(a)}" for a in args[arg_i:])
        out.append(f"%!(EXTRA {extra})")
    return "".join(out)


def _too_large(number: str | None) -> bool:
    """Go's ``parsenum`` overflow: a digit arrives while the number is already > 1e6."""
    if not number or number == "*" or len(number) < 7:
        return False
    value = 0
    for digit in number:
        if value > 1_000_000:
            return True
        value = value * 10 + ord(digit) - 48
    return False


def _pad(text: str, flags: str, width: str | None) -> str:
    if not width or width == "*":
        return text
    size = int(width)
    if "-" in flags:
        return text.ljust(size)
    if "0" in flags and text and text[0] in "+-0123456789":
        sign = text[0] if text[0] in "+-" else ""
        return sign + text[len(sign):].rjust(size - len(sign), "0")
    return text.rjust(size)


def _verb(verb: str, arg: Any, prec: str | None) -> str:
    bad = f"%!{verb}({_go_type(arg)}={go_print(arg)})"
    if verb in "vs":
        text = go_print(arg) if not isinstance(arg, str) or verb == "v" else arg
        if verb == "s" and not isinstance(arg, str):
            return bad
        return text[: int(prec)] if prec and isinstance(arg, str) else text
    if verb == "q":
        return go_quote(arg) if isinstance(arg, str) else bad
    if verb == "t":
        return go_print(arg) if isinstance(arg, bool) else bad
    if verb in "dxXob":
        if isinstance(arg, bool) or not isinstance(arg, int):
            if verb in "xX" and isinstance(arg, str):
                return arg.encode().hex() if verb == "x" else arg.encode().hex().upper()
            return bad
        return format(arg, {"d": "d", "x": "x", "X": "X", "o": "o", "b": "b"}[verb])
    if verb in "feEgG":
        if isinstance(arg, bool) or not isinstance(arg, (int, float)):
            return bad
        if isinstance(arg, int):
            return bad
        if math.isnan(arg):
            return "NaN"
        if math.isinf(arg):
            return "+Inf" if arg > 0 else "-Inf"
        if verb in "gG" and prec is None:
            text = format_float_g(arg)
            return text.upper() if verb == "G" else text
        p = 6 if prec is None else int(prec or 0)
        return f"%.{p}{verb}" % arg
    return bad


def to_float(value: Any) -> float:
    """Prometheus ``ConvertToFloat``: numbers pass, strings are parsed like ``ParseFloat``."""
    if isinstance(value, bool):
        raise GoFuncError(f"can't convert {_go_type(value)} to float")
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return _parse_go_float(value)
        except ValueError:
            raise GoFuncError(f'strconv.ParseFloat: parsing {go_quote(value)}: invalid syntax') from None
    raise GoFuncError(f"can't convert {_go_type(value)} to float")


def _parse_go_float(text: str) -> float:
    lowered = text.lower()
    if lowered in ("inf", "+inf", "infinity", "+infinity"):
        return math.inf
    if lowered in ("-inf", "-infinity"):
        return -math.inf
    if lowered == "nan":
        return math.nan
    if lowered.strip() != lowered or "_" in lowered:
        raise ValueError(text)
    return float(text)


_SI_UP = ("k", "M", "G", "T", "P", "E", "Z", "Y")
_SI_DOWN = ("m", "u", "n", "p", "f", "a", "z", "y")


def humanize(value: Any) -> str:
    """``humanize``: 4 significant digits with an SI prefix (1234567 -> ``1.235M``)."""
    v = to_float(value)
    if v == 0 or math.isnan(v) or math.isinf(v):
        return go_g(v, 4)
    prefix = ""
    if abs(v) >= 1:
        for p in _SI_UP:
            if abs(v) < 1000:
                break
            prefix, v = p, v / 1000
        return go_g(v, 4) + prefix
    for p in _SI_DOWN:
        if abs(v) >= 1:
            break
        prefix, v = p, v * 1000
    return go_g(v, 4) + prefix


def humanize1024(value: Any) -> str:
    """``humanize1024``: binary prefixes (1048576 -> ``1Mi``)."""
    v = to_float(value)
    if abs(v) <= 1 or math.isnan(v) or math.isinf(v):
        return go_g(v, 4)
    prefix = ""
    for p in ("ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"):
        if abs(v) < 1024:
            break
        prefix, v = p, v / 1024
    return go_g(v, 4) + prefix


def humanize_duration(value: Any) -> str:
    """``humanizeDuration``: seconds as ``1d 2h 3m 4s`` (sub-second: ``123.5ms``)."""
    v = to_float(value)
    if math.isnan(v) or math.isinf(v):
        return go_g(v, 4)
    if v == 0:
        return go_g(v, 4) + "s"
    if abs(v) >= 1:
        sign = "-" if v < 0 else ""
        v = abs(v)
        total = int(v)
        seconds, minutes = total % 60, (total // 60) % 60
        hours, days = (total // 3600) % 24, total // 86400
        if days:
            return f"{sign}{days}d {hours}h {minutes}m {seconds}s"
        if hours:
            return f"{sign}{hours}h {minutes}m {seconds}s"
        if minutes:
            return f"{sign}{minutes}m {seconds}s"
        return f"{sign}{go_g(v, 4)}s"
    prefix = ""
    for p in _SI_DOWN:
        if abs(v) >= 1:
            break
        prefix, v = p, v * 1000
    return f"{go_g(v, 4)}{prefix}s"


def humanize_percentage(value: Any) -> str:
    """``humanizePercentage``: a ratio as a percentage (0.1234567 -> ``12.35%``)."""
    return go_g(to_float(value) * 100, 4) + "%"


def humanize_timestamp(value: Any) -> str:
    """``humanizeTimestamp``: unix seconds as Go's ``time.Time.String()`` in UTC."""
    v = to_float(value)
    if math.isnan(v) or math.isinf(v):
        return go_g(v, 4)
    nanos_f = v * 1e9
    if nanos_f >= 2.0**63 or nanos_f < -(2.0**63):
        raise GoFuncError(f"{format_float_g(v)} cannot be represented as a nanoseconds "
                          "timestamp since it overflows int64")
    # model.TimeFromUnixNano keeps milliseconds (Go integer division truncates toward zero)
    millis = int(int(nanos_f) / 1_000_000)
    secs, frac = divmod(millis, 1000)
    stamp = _dt.datetime(1970, 1, 1) + _dt.timedelta(seconds=secs)
    text = stamp.strftime("%Y-%m-%d %H:%M:%S")
    if frac:
        text += "." + f"{frac:03d}".rstrip("0")
    return f"{text} +0000 UTC"
