"""Engine core: selectors, lookback, staleness, offset/@, subqueries, semantics switch, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pytest_selfslo._core.errors import PromQLEvalError, PromQLParseError
from pytest_selfslo.promql.engine import Engine
from pytest_selfslo.promql.semantics import Semantics, SemanticsLike
from pytest_selfslo.promql.storage import Storage
from pytest_selfslo.promql.values import InstantVector, RangeVector, ScalarValue, StringValue

MIN = 60_000


def _engine(text: str, semantics: SemanticsLike = "3", interval: int = MIN) -> Engine:
    store = Storage()
    store.load(text, interval_ms=interval)
    return Engine(store, semantics=semantics)


def _values(engine: Engine, query: str, t: int) -> dict[str, float]:
    return {",".join(f"{k}={v}" for k, v in s.labels): s.value
            for s in engine.instant_samples(query, t)}


def test_lookback_is_left_open_in_3_and_closed_in_2() -> None:
    text = "x 1"
    assert _values(_engine(text, "3"), "x", 5 * MIN) == {}
    assert _values(_engine(text, "2"), "x", 5 * MIN) == {"__name__=x": 1.0}
    assert _values(_engine(text, "3"), "x", 5 * MIN - 1) == {"__name__=x": 1.0}


def test_range_window_left_open_in_3_closed_in_2() -> None:
    text = "x 1 2 3"
    e3, e2 = _engine(text, "3"), _engine(text, "2")
    r3 = e3.instant("x[2m]", 2 * MIN)
    r2 = e2.instant("x[2m]", 2 * MIN)
    assert isinstance(r3, RangeVector) and isinstance(r2, RangeVector)
    assert r3.series[0].window(0)[1].tolist() == [2.0, 3.0]
    assert r2.series[0].window(0)[1].tolist() == [1.0, 2.0, 3.0]


def test_stale_marker_ends_series_and_is_dropped_from_ranges() -> None:
    e = _engine("x 1 stale 3")
    assert _values(e, "x", MIN) == {}
    assert _values(e, "x", MIN + 30_000) == {}
    assert _values(e, "x", 2 * MIN) == {"__name__=x": 3.0}
    r = e.instant("x[3m]", 2 * MIN)
    assert isinstance(r, RangeVector) and r.series[0].window(0)[1].tolist() == [1.0, 3.0]


def test_offset_negative_offset_and_at() -> None:
    e = _engine("x 0+1x10")
    assert _values(e, "x offset 2m", 5 * MIN) == {"__name__=x": 3.0}
    assert _values(e, "x offset -2m", 5 * MIN) == {"__name__=x": 7.0}
    assert _values(e, "x @ 120", 9 * MIN) == {"__name__=x": 2.0}
    assert _values(e, "x @ 120 offset 1m", 9 * MIN) == {"__name__=x": 1.0}
    samples = e.range_samples("x @ end()", 0, 2 * MIN, MIN)
    assert [s.value for s in samples] == [2.0, 2.0, 2.0]
    samples = e.range_samples("x @ start()", MIN, 3 * MIN, MIN)
    assert [s.value for s in samples] == [1.0, 1.0, 1.0]


def test_range_query_grid_and_scalar_results() -> None:
    e = _engine("x 0+10x4")
    samples = e.range_samples("x * 2", 0, 4 * MIN, 2 * MIN)
    assert [(s.timestamp_ms, s.value) for s in samples] == [(0, 0.0), (2 * MIN, 40.0),
                                                            (4 * MIN, 80.0)]
    scalar = e.range("1 + 1", 0, MIN, MIN)
    assert isinstance(scalar, ScalarValue) and scalar.values.tolist() == [2.0, 2.0]
    assert isinstance(e.instant('"hi"', 0), StringValue)


def test_subquery_step_alignment() -> None:
    # inner steps are multiples of the subquery step inside (t - range, t]
    e = _engine("x 0+1x20", interval=MIN)
    r = e.instant("x[5m:2m]", 10 * MIN)
    assert isinstance(r, RangeVector)
    t, v = r.series[0].window(0)
    assert t.tolist() == [6 * MIN, 8 * MIN, 10 * MIN] and v.tolist() == [6.0, 8.0, 10.0]
    # at the left boundary: 3 includes nothing at t-range, 2 includes it
    e2 = _engine("x 0+1x20", "2")
    r2 = e2.instant("x[4m:2m]", 10 * MIN)
    assert isinstance(r2, RangeVector)
    assert r2.series[0].window(0)[0].tolist() == [6 * MIN, 8 * MIN, 10 * MIN]
    r3 = e.instant("x[4m:2m]", 10 * MIN)
    assert isinstance(r3, RangeVector)
    assert r3.series[0].window(0)[0].tolist() == [8 * MIN, 10 * MIN]


def test_delayed_name_dropping_vs_immediate() -> None:
    text = 'a{j="1"} 1\nb{j="1"} 2'
    delayed = Semantics.parse("3").with_options(delayed_name_removal=True)
    # delayed: the collision is only checked at the end; else right after the operator
    for sem in (delayed, "3", "2"):
        with pytest.raises(PromQLEvalError, match="vector cannot contain metrics with the same labelset"):
            _engine(text, sem).instant_samples('-{j="1"}', 0)
    assert _values(_engine(text, delayed), '-{j="1"} > -1.5', 0) == {"j=1": -1.0}
    # promtool's default (feature flag off), in 2.x and 3.x alike
    for sem in ("3", "2"):
        with pytest.raises(PromQLEvalError, match="vector cannot contain metrics with the same labelset"):
            _engine(text, sem).instant_samples('-{j="1"} > -1.5', 0)


def test_binop_matching_errors() -> None:
    e = _engine('a{x="1",y="1"} 1\na{x="1",y="2"} 1\nb{x="1"} 2\nb{x="1",z="2"} 3')
    with pytest.raises(PromQLEvalError, match="many-to-one matching must be explicit"):
        e.instant_samples("a + on(x) b{z=''}", 0)
    with pytest.raises(PromQLEvalError, match="many-to-many matching not allowed") as info:
        e.instant_samples("a + on(x) group_left b", 0)
    assert str(info.value).endswith("(in a{} + on (x) group_left () b{})")
    got = _values(e, "a * on(x) group_left b{z=''}", 0)
    assert got == {"x=1,y=1": 2.0, "x=1,y=2": 2.0}


def test_comparison_filters_and_bool() -> None:
    e = _engine('x{i="1"} 1\nx{i="2"} 5')
    assert _values(e, "x > 2", 0) == {"__name__=x,i=2": 5.0}
    assert _values(e, "x > bool 2", 0) == {"i=1": 0.0, "i=2": 1.0}
    assert _values(e, "2 < x", 0) == {"__name__=x,i=2": 5.0}
    assert _values(e, "x % 3", 0) == {"i=1": 1.0, "i=2": 2.0}


def test_set_operators() -> None:
    e = _engine('a{i="1"} 1\na{i="2"} 2\nb{i="2"} 20\nb{i="3"} 30')
    assert set(_values(e, "a and b", 0)) == {"__name__=a,i=2"}
    assert set(_values(e, "a unless b", 0)) == {"__name__=a,i=1"}
    assert set(_values(e, "a or b", 0)) == {"__name__=a,i=1", "__name__=a,i=2", "__name__=b,i=3"}


def test_aggregations() -> None:
    e = _engine('x{g="a"} 1\nx{g="a",h="1"} 3\nx{g="b"} NaN\nx{g="b",h="1"} 5')
    assert _values(e, "sum by (g) (x)", 0)["g=a"] == 4.0
    assert math.isnan(_values(e, "sum by (g) (x)", 0)["g=b"])
    assert _values(e, "max by (g) (x)", 0)["g=b"] == 5.0   # NaN loses
    assert _values(e, "count without (h) (x)", 0) == {"g=a": 2.0, "g=b": 2.0}
    assert _values(e, "quantile(0.5, x{g='a'})", 0) == {"": 2.0}
    assert _values(e, "stddev(x{g='a'})", 0) == {"": 1.0}
    assert [s.value for s in e.instant_samples("topk(1, x{g='a'})", 0)] == [3.0]


def test_kahan_sum_is_compensated() -> None:
    e = _engine('x{i="1"} 1e100\nx{i="2"} 1\nx{i="3"} -1e100')
    assert _values(e, "sum(x)", 0) == {"": 1.0}


@pytest.mark.parametrize(
    ("query", "error", "fragment"),
    [
        ("sum(", PromQLParseError, "invalid PromQL 'sum('"),
        ("rate(x)", PromQLParseError, "invalid PromQL"),
        ("no_such_fn(x)", PromQLParseError, "no_such_fn"),
        ("x[5m] + 1", PromQLParseError, "invalid PromQL"),
    ],
)
def test_errors(query: str, error: type[Exception], fragment: str) -> None:
    with pytest.raises(error) as info:
        _engine("x 1").instant_samples(query, 0)
    assert fragment in str(info.value)


def test_range_query_rejects_range_vector_and_bad_args() -> None:
    e = _engine("x 1")
    with pytest.raises(PromQLEvalError, match="invalid expression type 'range vector' for range query"):
        e.range("x[1m]", 0, MIN, MIN)
    with pytest.raises(ValueError, match="step must be positive"):
        e.range("x", 0, MIN, 0)
    for bad in ("4", "x", "1.8", ""):
        with pytest.raises(ValueError, match="semantics must be a Prometheus version such as 2, 3"):
            Engine(Storage(), semantics=bad)


def test_evaluate_on_arbitrary_grid() -> None:
    e = _engine("x 0+1x100")
    out = e.evaluate("x", np.array([0, 5 * MIN, 50 * MIN]))
    assert isinstance(out, InstantVector)
    assert out.series[0].values.tolist() == [0.0, 5.0, 50.0]


def test_regex_dot_matches_newline_only_in_3() -> None:
    text = 'x{a="1\\n2"} 1'
    assert len(_engine(text, "3").instant_samples('x{a=~"1.2"}', 0)) == 1
    assert _engine(text, "2").instant_samples('x{a=~"1.2"}', 0) == []


def test_inline_flags_are_scoped_like_re2() -> None:
    e = _engine('x{g="production"} 1\nx{g="canary"} 2')
    assert _values(e, 'x{g=~"((?i)PRO).*"}', 0) == {"__name__=x,g=production": 1.0}
    assert _values(e, 'x{g=~"c(?i)ANARY|PRODUCTION"}', 0) == {
        "__name__=x,g=canary": 2.0, "__name__=x,g=production": 1.0}


def test_pin_at_applies_outside_subqueries_only() -> None:
    e = _engine("x 0+1x20")
    assert _values(e, "x", 10 * MIN) == {"__name__=x": 10.0}
    pinned = e.instant("x", -50 * MIN, pin_at_ms=3 * MIN)
    assert isinstance(pinned, InstantVector) and pinned.series[0].values.tolist() == [3.0]
    # an explicit @ wins over the pin
    explicit = e.instant("x @ 60", 0, pin_at_ms=3 * MIN)
    assert isinstance(explicit, InstantVector) and explicit.series[0].values.tolist() == [1.0]
    # the subquery is pinned, its inner selectors follow the inner grid
    sub = e.instant("max_over_time(x[3m:1m])", 0, pin_at_ms=10 * MIN)
    assert isinstance(sub, InstantVector) and sub.series[0].values.tolist() == [10.0]


def test_semantics_2_aggregation_numerics() -> None:
    text = 'x{i="1"} 1e100\nx{i="2"} 1\nx{i="3"} -1e100\ny{i="1"} Inf'
    assert _values(_engine(text, "2"), "sum(x)", 0) == {"": 0.0}   # plain addition
    assert _values(_engine(text, "3"), "sum(x)", 0) == {"": 1.0}   # Kahan
    assert _values(_engine(text, "2"), "stddev(y)", 0) == {"": 0.0}
    assert math.isnan(_values(_engine(text, "3"), "stddev(y)", 0)[""])
    # promtool 2.42 prints -1.8333333333333335 here (incremental mean)
    thirds = 'z{i="1"} -2\nz{i="2"} -2\nz{i="3"} -1.5'
    assert _values(_engine(thirds, "2"), "avg(z)", 0) == {"": -1.8333333333333335}
    assert _values(_engine(thirds, "3"), "avg(z)", 0) == {"": -1.8333333333333333}


def test_holt_winters_only_in_semantics_2() -> None:
    text = "x 1 2 4 8"
    with pytest.raises(PromQLParseError, match="renamed to double_exponential_smoothing"):
        _engine(text, "3").instant_samples("holt_winters(x[5m], 0.5, 0.5)", 3 * MIN)
    legacy = _values(_engine(text, "2"), "holt_winters(x[5m], 0.5, 0.5)", 3 * MIN)
    modern = _values(_engine(text, "2"), "double_exponential_smoothing(x[5m], 0.5, 0.5)", 3 * MIN)
    assert legacy == modern and len(legacy) == 1


def test_count_values_separates_negative_zero() -> None:
    e = _engine('x{i="1"} 0\nx{i="2"} -0\nx{i="3"} NaN\nx{i="4"} 0')
    assert _values(e, 'count_values("v", x)', 0) == {"v=0": 2.0, "v=-0": 1.0, "v=NaN": 1.0}


def test_steps_are_instants_resolves_start_end_per_step() -> None:
    e = _engine("x 0+1x10")
    grid = np.array([2 * MIN, 5 * MIN])
    as_range = e.evaluate("x @ end()", grid)
    per_step = e.evaluate("x @ end()", grid, steps_are_instants=True)
    assert isinstance(as_range, InstantVector) and isinstance(per_step, InstantVector)
    assert as_range.series[0].values.tolist() == [5.0, 5.0]
    assert per_step.series[0].values.tolist() == [2.0, 5.0]
    with pytest.raises(PromQLEvalError, match="inside a subquery"):
        e.evaluate("max_over_time((x @ start())[2m:1m])", grid, steps_are_instants=True)


def test_count_values_label_names_per_semantics() -> None:
    text = 'x{i="1"} 1'
    assert _values(_engine(text, "3"), 'count_values("a.b", x)', 0) == {"a.b=1": 1.0}
    with pytest.raises(PromQLEvalError, match=r'invalid label name "a\.b"'):
        _engine(text, "2").instant_samples('count_values("a.b", x)', 0)
    with pytest.raises(PromQLEvalError, match='invalid label name ""'):
        _engine(text, "3").instant_samples('count_values("", x)', 0)


def test_subquery_size_guard() -> None:
    e = _engine("x 1")
    with pytest.raises(PromQLEvalError, match=r"would evaluate 86400000 inner steps \(limit"):
        e.instant_samples("max_over_time(x[1d:1ms])", 0)
    # overlapping windows of a range query are evaluated once
    assert len(e.range_samples("max_over_time(x[10m:1s])", 0, 5 * MIN, 1000)) == 301


def test_only_plain_selectors_keep_sample_timestamps() -> None:
    # timestamp() reports the sample time only for a plain selector argument (Prometheus'
    # special case); results of operators and aggregations carry the step time
    e = _engine("x 1\ny 1")
    selected = e.instant("x", 90_000)
    assert isinstance(selected, InstantVector) and selected.series[0].timestamps is not None
    assert selected.series[0].timestamps.tolist() == [0]
    paren = e.instant("(x)", 90_000)   # parentheses are transparent (promtool agrees)
    assert isinstance(paren, InstantVector) and paren.series[0].timestamps is not None
    for query in ("x and y", "x or y", "x unless on() vector(0) == 1", "topk(1, x)",
                  "limitk(1, x)"):
        out = e.instant(query, 90_000)
        assert isinstance(out, InstantVector) and out.series
        assert all(s.timestamps is None for s in out.series), query


def test_rate_of_non_counter_name_is_annotated_once_per_series() -> None:
    e = _engine('g{i="1"} 1 2 3\ng{i="2"} 1\nc_total 1 2 3')
    e.instant_samples("rate(g[5m])", 2 * MIN)
    assert e.annotations == ['PromQL info: metric might not be a counter, name does not end in '
                             '_total/_sum/_count/_bucket: "g"']
    e.instant_samples("rate(c_total[5m])", 2 * MIN)
    assert e.annotations == []
    e.range_samples("sort(c_total)", 0, MIN, MIN)
    assert e.annotations == ["PromQL warning: sort is ineffective for range queries since "
                             "results are always ordered by labels"]


def test_parameter_warnings_and_errors() -> None:
    e = _engine('x{i="1"} 1\nx{i="2"} 2')
    e.instant_samples("limit_ratio(1.5, x)", 0)
    assert e.annotations == ["PromQL warning: ratio value should be between -1 and 1, got 1.5, "
                             "capping to 1"]
    e.instant_samples("quantile(2, x)", 0)
    assert e.annotations == ["PromQL warning: quantile value should be between 0 and 1, got 2"]
    with pytest.raises(PromQLEvalError, match="Parameter value is NaN"):
        e.instant_samples("topk(NaN, x)", 0)
    with pytest.raises(PromQLEvalError, match="Ratio value is NaN"):
        e.instant_samples("limit_ratio(NaN, x)", 0)


def test_function_results_carry_step_time() -> None:
    # promtool 2.42: timestamp(label_replace(x, "a", "b", "", "")) at 2m is 120, timestamp(x) is 0
    e = _engine("x 1")
    assert _values(e, "timestamp(x)", 2 * MIN) == {"": 0.0}
    assert _values(e, 'timestamp(label_replace(x, "a", "b", "", ""))', 2 * MIN) == {"a=b": 120.0}
