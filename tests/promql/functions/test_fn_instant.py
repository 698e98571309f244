"""Math, clamp/round, scalar/vector, time and calendar functions on hand-built vectors."""

from __future__ import annotations

import math

import pytest
from fnhelpers import call, ctx, iseries, ivec, scalar, single

from pytest_selfslo.promql.functions import FUNCTIONS, UNSUPPORTED
from pytest_selfslo.promql.values import InstantSeries, InstantVector, ScalarValue


@pytest.mark.parametrize(("name", "value", "expected"), [
    ("abs", -2.5, 2.5), ("ceil", 1.2, 2.0), ("floor", -1.2, -2.0), ("exp", 0.0, 1.0),
    ("sqrt", 9.0, 3.0), ("sqrt", -1.0, math.nan), ("ln", math.e, 1.0), ("ln", -1.0, math.nan),
    ("ln", 0.0, -math.inf), ("log2", 8.0, 3.0), ("log10", 1000.0, 3.0),
    ("sin", 0.0, 0.0), ("cos", 0.0, 1.0), ("tan", 0.0, 0.0), ("asin", 1.0, math.pi / 2),
    ("acos", 1.0, 0.0), ("atan", 1.0, math.pi / 4), ("sinh", 0.0, 0.0), ("cosh", 0.0, 1.0),
    ("tanh", 0.0, 0.0), ("asinh", 0.0, 0.0), ("acosh", 1.0, 0.0), ("atanh", 1.0, math.inf),
    ("deg", math.pi, 180.0), ("rad", 180.0, math.pi), ("sgn", -3.0, -1.0), ("sgn", 0.0, 0.0),
    ("sgn", 4.0, 1.0), ("sgn", math.nan, math.nan),
])
def test_elementwise(name: str, value: float, expected: float) -> None:
    got, _ = single(call(name, ctx(0), ivec(iseries([value]))))
    if math.isnan(expected):
        assert math.isnan(got[0])
    else:
        assert got == [pytest.approx(expected)]


def test_elementwise_keeps_labels_flags_name_and_presence() -> None:
    out = call("abs", ctx(0, 1), ivec(iseries([-1, -2], {"__name__": "m", "a": "b"},
                                               present=[True, False])))
    assert isinstance(out, InstantVector)
    s = out.series[0]
    assert s.drop_name and s.labels == (("__name__", "m"), ("a", "b"))
    assert s.present.tolist() == [True, False]


def test_clamp_with_min_above_max_is_empty_only_at_those_steps() -> None:
    out = call("clamp", ctx(0, 1), ivec(iseries([10, 10])), scalar(0, 5), scalar(5, 0))
    got, present = single(out)
    assert present == [True, False] and got[0] == 5.0
    got, _ = single(call("clamp", ctx(0), ivec(iseries([10])), scalar(0), scalar(math.nan)))
    assert math.isnan(got[0])
    assert single(call("clamp_min", ctx(0), ivec(iseries([-3])), scalar(-1)))[0] == [-1.0]
    assert single(call("clamp_max", ctx(0), ivec(iseries([3])), scalar(1)))[0] == [1.0]


@pytest.mark.parametrize(("value", "to_nearest", "expected"), [
    (2.5, None, 3.0), (-2.5, None, -2.0), (1.24, 0.1, 1.2), (1.25, 0.1, 1.3), (17, 5, 15.0),
])
def test_round_ties_up(value: float, to_nearest: float | None, expected: float) -> None:
    args = [ivec(iseries([value]))] + ([scalar(to_nearest)] if to_nearest is not None else [])
    got, _ = single(call("round", ctx(0), *args))
    assert got == [pytest.approx(expected)]


def test_scalar_is_nan_unless_exactly_one_series() -> None:
    vec = ivec(iseries([1, 1, 1], {"a": "1"}, [True, True, False]),
               iseries([2, 2, 2], {"a": "2"}, [True, False, False]))
    out = call("scalar", ctx(0, 1, 2), vec)
    assert isinstance(out, ScalarValue)
    assert math.isnan(out.values[0]) and out.values[1] == 1.0 and math.isnan(out.values[2])


def test_vector_time_pi_and_query_context_functions() -> None:
    c = ctx(0, 30_000, 60_000)
    assert single(call("vector", c, scalar(1, 2, 3)))[0] == [1.0, 2.0, 3.0]
    t = call("time", c)
    assert isinstance(t, ScalarValue) and t.values.tolist() == [0.0, 30.0, 60.0]
    pi = call("pi", c)
    assert isinstance(pi, ScalarValue) and pi.values[0] == math.pi
    for name, expected in (("start", 0.0), ("end", 60.0), ("range", 60.0), ("step", 30.0)):
        value = call(name, c)
        assert isinstance(value, ScalarValue) and value.values.tolist() == [expected] * 3


def test_timestamp_uses_selected_sample_time_when_known() -> None:
    s = iseries([5, 5])
    import numpy as np
    s.timestamps = np.array([0, 10_000], dtype=np.int64)
    assert single(call("timestamp", ctx(5_000, 15_000), ivec(s)))[0] == [0.0, 10.0]
    plain = iseries([5, 5])
    assert single(call("timestamp", ctx(5_000, 15_000), ivec(plain)))[0] == [5.0, 15.0]


@pytest.mark.parametrize(("name", "unix", "expected"), [
    ("year", 1136239445, 2006), ("month", 1136239445, 1), ("day_of_month", 1136239445, 2),
    ("day_of_year", 1136239445, 2), ("day_of_week", 1136239445, 1), ("hour", 1136239445, 22),
    ("minute", 1136239445, 4), ("year", 1230767999, 2008), ("year", 1230768000, 2009),
    ("day_of_year", 1483191420, 366), ("day_of_year", 1672493820, 365),
    ("days_in_month", 1454284800, 29), ("days_in_month", 1485907200, 28),
    ("month", 1456790399, 2), ("day_of_month", 1456790400, 1), ("year", -1, 1969),
    ("day_of_week", -86400 * 3, 1), ("hour", 1136239445.9, 22),
])
def test_calendar_functions(name: str, unix: float, expected: int) -> None:
    assert single(call(name, ctx(0), ivec(iseries([unix]))))[0] == [float(expected)]


def test_calendar_default_is_the_evaluation_time() -> None:
    out = call("year", ctx(0, 1136239445_000))
    assert single(out)[0] == [1970.0, 2006.0]


def test_unsupported_functions_raise_with_reason() -> None:
    from pytest_selfslo._core.errors import PromQLUnsupportedError
    for name in UNSUPPORTED:
        with pytest.raises(PromQLUnsupportedError, match="not supported"):
            FUNCTIONS[name](ctx(0), [ivec()], [])


PROMETHEUS_FUNCTIONS = (
    "abs", "absent", "absent_over_time", "acos", "acosh", "asin", "asinh", "atan", "atanh",
    "avg_over_time", "ceil", "changes", "clamp", "clamp_max", "clamp_min", "cos", "cosh",
    "count_over_time", "days_in_month", "day_of_month", "day_of_week", "day_of_year", "deg",
    "delta", "deriv", "exp", "floor", "histogram_avg", "histogram_count", "histogram_fraction",
    "histogram_quantile", "histogram_sum", "histogram_stddev", "histogram_stdvar",
    "double_exponential_smoothing", "hour", "idelta", "increase", "info", "irate",
    "label_replace", "label_join", "last_over_time", "first_over_time", "ln", "log10", "log2",
    "mad_over_time", "max_over_time", "min_over_time", "minute", "month", "pi",
    "predict_linear", "present_over_time", "quantile_over_time", "rad", "rate", "resets",
    "round", "scalar", "sgn", "sin", "sinh", "sort", "sort_desc", "sort_by_label",
    "sort_by_label_desc", "sqrt", "stddev_over_time", "stdvar_over_time", "sum_over_time",
    "tan", "tanh", "time", "timestamp", "vector", "year", "ts_of_max_over_time",
    "ts_of_min_over_time", "ts_of_first_over_time", "ts_of_last_over_time", "max_of", "min_of",
    "histogram_quantiles", "start", "end", "range", "step",
)


def test_table_covers_prometheus_functions_and_only_parser_known_names() -> None:
    import promql_parser
    assert sorted(set(PROMETHEUS_FUNCTIONS) - set(FUNCTIONS)) == []
    unknown = []
    for name in FUNCTIONS:
        try:
            promql_parser.parse(f"{name}()")
        except Exception as exc:
            if "unknown function" in str(exc):
                unknown.append(name)
    assert unknown == []


def test_instant_series_type_is_returned() -> None:
    out = call("sqrt", ctx(0), ivec(iseries([4])))
    assert isinstance(out, InstantVector) and isinstance(out.series[0], InstantSeries)


@pytest.mark.parametrize(("name", "expected"), [
    ("hour", 15), ("minute", 30), ("year", 292277026596), ("month", 12), ("day_of_month", 4),
    ("day_of_week", 0), ("day_of_year", 339), ("days_in_month", 31),
])
def test_calendar_of_nan_matches_promtool(name: str, expected: int) -> None:
    # promtool 2.42 output for name(vector(NaN)): Go's int64(NaN) and its calendar wrap-around
    assert single(call(name, ctx(0), ivec(iseries([math.nan]))))[0] == [float(expected)]


@pytest.mark.parametrize(("name", "value", "expected"), [
    # promtool 2.42 outputs: Go's pure-Go logarithm differs from the C library in the last bit
    ("log10", 1e15, 14.999999999999998), ("ln", 3.0, 1.0986122886681096),
    ("log10", 2.368105065960997, 0.37440096686627744), ("log2", 3.0, 1.5849625007211563),
    ("log2", 0.3, -1.736965594166206), ("log2", 8.0, 3.0), ("log10", 1000.0, 3.0),
])
def test_logarithms_are_bit_identical_to_go(name: str, value: float, expected: float) -> None:
    assert single(call(name, ctx(0), ivec(iseries([value]))))[0] == [expected]


def test_wrong_argument_types_name_function_position_and_types() -> None:
    from pytest_selfslo._core.errors import PromQLEvalError
    with pytest.raises(PromQLEvalError,
                       match=r"abs\(\): argument 1 must be an instant vector, got ScalarValue"):
        call("abs", ctx(0), scalar(1))
    with pytest.raises(PromQLEvalError, match=r"clamp\(\): missing argument 3 \(expected a scalar\)"):
        call("clamp", ctx(0), ivec(iseries([1])), scalar(0))
    with pytest.raises(PromQLEvalError,
                       match=r"rate\(\): argument 1 must be a range vector, got InstantVector"):
        call("rate", ctx(0), ivec(iseries([1])))
