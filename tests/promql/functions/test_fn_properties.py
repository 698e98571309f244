"""Property: every range function gives, per step, bit for bit what it gives on that window alone.

The vectorised implementations pad windows of different lengths with zeros
and batch many (series, step) rows into dense blocks; the claim that padding
is an exact no-op (Kahan sums, Welford, regression, min/max) is checked here
against evaluating each window as a one-step grid, on values including NaN,
±Inf, huge magnitudes and repeated values.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from fnhelpers import ctx, rseries, rvec
from hypothesis import given, settings, strategies as st

from pytest_selfslo.promql.functions import FUNCTIONS
from pytest_selfslo.promql.values import InstantVector, RangeVector, ScalarValue, Value

RANGE_FUNCTIONS = sorted(
    ["rate", "increase", "delta", "irate", "idelta", "deriv", "changes", "resets",
     "avg_over_time", "sum_over_time", "count_over_time", "min_over_time", "max_over_time",
     "last_over_time", "first_over_time", "stddev_over_time", "stdvar_over_time",
     "present_over_time", "mad_over_time", "ts_of_min_over_time", "ts_of_max_over_time",
     "ts_of_first_over_time", "ts_of_last_over_time", "quantile_over_time",
     "predict_linear", "double_exponential_smoothing"])

values = st.one_of(
    st.floats(min_value=-5, max_value=5, allow_nan=False).map(lambda f: round(f, 1)),
    st.sampled_from([0.0, 1.0, math.nan, math.inf, -math.inf, 1e308, -1e308, 1e100, 0.8]),
)
samples = st.lists(st.tuples(st.integers(0, 40), values), min_size=1, max_size=30).map(
    lambda pairs: sorted({t * 15_000: v for t, v in pairs}.items()))


def _call(name: str, steps: list[int], rv: RangeVector, semantics: str) -> Value:
    c = ctx(*steps, semantics=semantics)
    extra: dict[str, list[Value]] = {
        "quantile_over_time": [ScalarValue(np.full(len(steps), 0.3))],
        "predict_linear": [rv, ScalarValue(np.full(len(steps), 60.0))],
        "double_exponential_smoothing": [rv, ScalarValue(np.full(len(steps), 0.5)),
                                         ScalarValue(np.full(len(steps), 0.3))],
    }
    args = extra.get(name, [rv])
    if name == "quantile_over_time":
        args = [*args, rv]
    return FUNCTIONS[name](c, args, [])


def _per_series(result: Value, k: int) -> dict[tuple[tuple[str, str], ...], float]:
    assert isinstance(result, InstantVector)
    return {s.labels: float(s.values[k]) for s in result.series if s.present[k]}


@pytest.mark.parametrize("name", RANGE_FUNCTIONS)
@settings(max_examples=10, deadline=None)
@given(series=st.lists(samples, min_size=2, max_size=3),
       range_s=st.sampled_from([30, 60, 150, 400]), semantics=st.sampled_from(["2", "3"]))
def test_vectorised_equals_one_window_at_a_time(name: str, series: list[list[tuple[int, float]]],
                                                range_s: int, semantics: str) -> None:
    steps = list(range(0, 700_000, 45_000))
    range_ms = range_s * 1000

    def vector(grid: list[int]) -> RangeVector:
        return rvec(grid, range_ms, *(rseries(s, grid, range_ms, labels={"s": str(i)})
                                      for i, s in enumerate(series)))

    whole = _call(name, steps, vector(steps), semantics)
    for k, step in enumerate(steps):
        alone = _per_series(_call(name, [step], vector([step]), semantics), 0)
        batched = _per_series(whole, k)
        assert alone.keys() == batched.keys(), (name, step)
        for labels, value in alone.items():
            other = batched[labels]
            assert value == other or (math.isnan(value) and math.isnan(other)), \
                (name, step, labels, value, other)
