"""Time and date functions: ``time()``, ``timestamp()`` and the UTC calendar functions.

The calendar functions take unix seconds (default ``vector(time())``) and
convert them like Go's ``time.Unix(int64(v), 0).UTC()``: the float is
truncated toward zero, and NaN, ±Inf and out-of-range values become
``math.MinInt64`` (what amd64 Go produces), whose calendar fields Go computes
with a wrap-around (as unix second 2**63); reproduced so results match
promtool even for nonsense input. The civil-date conversion is Howard Hinnant's
``civil_from_days`` algorithm, vectorised over steps with integer numpy
arithmetic (no Python ``datetime`` per sample, no range limit).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from pytest_selfslo.promql.functions.util import (
    Args,
    Exprs,
    constant_series,
    result_labels,
    vector_arg,
)
from pytest_selfslo.promql.values import (
    EvalContext,
    FloatArray,
    InstantSeries,
    InstantVector,
    IntArray,
    ScalarValue,
    Value,
)

_INT64_MIN = np.iinfo(np.int64).min
_SECONDS_PER_DAY = 86_400


# === time() Scalar ===
def fn_time(ctx: EvalContext, args: Args, exprs: Exprs) -> Value:
    """The evaluation time of every step in seconds."""
    return ScalarValue(ctx.steps.astype(np.float64) / 1000)


# === timestamp(v Vector) Vector ===
def fn_timestamp(ctx: EvalContext, args: Args, exprs: Exprs) -> Value:
    """Timestamp (s) of each sample: the selected sample's own time for a selector, else the step."""
    vec = vector_arg(args, 0, "timestamp")
    out: list[InstantSeries] = []
    for s in vec.series:
        ts = s.timestamps if s.timestamps is not None else ctx.steps
        out.append(InstantSeries(labels=result_labels(s.labels),
                                 values=np.asarray(ts, dtype=np.int64) / 1000,
                                 present=s.present.copy(), drop_name=True))
    return InstantVector(out)


def _unix_seconds(values: FloatArray) -> IntArray:
    """Go's ``int64(f)`` on amd64: truncation, and MinInt64 for NaN/Inf/out of range."""
    ok = np.isfinite(values) & (np.abs(values) < 9.2e18)
    with np.errstate(invalid="ignore"):
        return np.where(ok, np.trunc(np.where(ok, values, 0)), 0).astype(np.int64) + \
            np.where(ok, 0, _INT64_MIN).astype(np.int64)


#: Go's calendar arithmetic on time.Unix(math.MinInt64, 0) wraps around and lands on unix
#: second 2**63 (checked against promtool 2.42: hour(vector(NaN)) is 15); day and second
#: of day of that instant, which int64 arithmetic cannot reach directly
_WRAPPED_DAY, _WRAPPED_SECOND = divmod(2**63, _SECONDS_PER_DAY)


class _Civil:
    """Calendar fields of an array of unix seconds (proleptic Gregorian, UTC)."""

    def __init__(self, secs: IntArray) -> None:
        wrapped = secs == _INT64_MIN
        days = np.where(wrapped, _WRAPPED_DAY, np.floor_divide(secs, _SECONDS_PER_DAY))
        self.second_of_day = np.where(wrapped, _WRAPPED_SECOND, secs - days * _SECONDS_PER_DAY)
        self.weekday = np.mod(days + 4, 7)  # 1970-01-01 was a Thursday
        z = days + 719_468
        era = np.floor_divide(z, 146_097)
        doe = z - era * 146_097
        yoe = (doe - doe // 1460 + doe // 36_524 - doe // 146_096) // 365
        doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
        mp = (5 * doy + 2) // 153
        self.day = doy - (153 * mp + 2) // 5 + 1
        self.month = np.where(mp < 10, mp + 3, mp - 9)
        self.year = yoe + era * 400 + (self.month <= 2)
        self.days = days

    def leap(self) -> np.ndarray:
        y = self.year
        leap: np.ndarray = ((y % 4 == 0) & (y % 100 != 0)) | (y % 400 == 0)
        return leap

    def day_of_year(self) -> IntArray:
        cumulative = np.array([0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334])
        extra = (self.month > 2) & self.leap()
        result: IntArray = cumulative[self.month - 1] + self.day + extra
        return result

    def days_in_month(self) -> IntArray:
        lengths = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])
        result: IntArray = lengths[self.month - 1] + ((self.month == 2) & self.leap())
        return result


_FIELDS: dict[str, Callable[[_Civil], np.ndarray]] = {
    "year": lambda c: c.year,
    "month": lambda c: c.month,
    "day_of_month": lambda c: c.day,
    "day_of_week": lambda c: c.weekday,
    "day_of_year": lambda c: c.day_of_year(),
    "days_in_month": lambda c: c.days_in_month(),
    "hour": lambda c: c.second_of_day // 3600,
    "minute": lambda c: (c.second_of_day % 3600) // 60,
}


def calendar(name: str) -> Callable[[EvalContext, Args, Exprs], Value]:
    """Table entry of ``name(v=vector(time()) Vector) Vector`` (``dateWrapper`` in Prometheus)."""
    field = _FIELDS[name]

    def call(ctx: EvalContext, args: Args, exprs: Exprs) -> Value:
        if not args:
            # time.Unix(enh.Ts/1000, 0): integer division truncating toward zero
            secs = (np.sign(ctx.steps) * (np.abs(ctx.steps) // 1000)).astype(np.int64)
            return constant_series(field(_Civil(secs)).astype(np.float64))
        vec = vector_arg(args, 0, name)
        out: list[InstantSeries] = []
        for s in vec.series:
            values = field(_Civil(_unix_seconds(s.values))).astype(np.float64)
            out.append(InstantSeries(labels=result_labels(s.labels), values=values,
                                     present=s.present.copy(), drop_name=True))
        return InstantVector(out)

    call.__name__ = f"fn_{name}"
    call.__doc__ = f"=== {name}(v=vector(time()) Vector) Vector === UTC calendar field."
    return call


CALENDAR_FUNCTIONS = tuple(_FIELDS)
