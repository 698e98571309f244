"""The *_over_time family on hand-built windows: empty/single windows, NaN/Inf, Kahan, names."""

from __future__ import annotations

import math

import numpy as np
import pytest
from fnhelpers import call, ctx, rseries, rvec, scalar, single

from pytest_selfslo.promql.functions.windows import Windows
from pytest_selfslo.promql.values import InstantVector, RangeVector

S = 10_000


def window(values: list[float], step: int = S) -> tuple[RangeVector, list[int]]:
    """All samples in one window ending at the last sample."""
    samples = [(i * step, v) for i, v in enumerate(values)]
    end = (len(values) - 1) * step
    return rvec([end], len(values) * step, rseries(samples, [end], len(values) * step)), [end]


@pytest.mark.parametrize(("name", "values", "expected"), [
    ("sum_over_time", [1, 2, 3, 4, 5], 15.0),
    ("avg_over_time", [1, 2, 3, 4, 5], 3.0),
    ("count_over_time", [1, 2, 3, 4, 5], 5.0),
    ("min_over_time", [3, 1, 2], 1.0),
    ("max_over_time", [3, 1, 2], 3.0),
    ("last_over_time", [3, 1, 2], 2.0),
    ("first_over_time", [3, 1, 2], 3.0),
    ("present_over_time", [3, 1, 2], 1.0),
    ("stdvar_over_time", [2, 4, 4, 4, 5, 5, 7, 9], 4.0),
    ("stddev_over_time", [2, 4, 4, 4, 5, 5, 7, 9], 2.0),
    ("mad_over_time", [1, 1, 2, 2, 4, 6, 9], 1.0),
    # Kahan summation keeps the small values between huge cancelling ones
    ("sum_over_time", [1, 1e100, 1, -1e100], 2.0),
    ("avg_over_time", [1, 1e100, 1, -1e100], 0.5),
    # overflow of the running sum switches to the incremental mean
    ("avg_over_time", [9.988465674311579e307] * 2, 9.988465674311579e307),
    ("avg_over_time", [1, 2, 3, 4, math.inf], math.inf),
    ("avg_over_time", [1, 2, 3, math.inf, -math.inf], math.nan),
    ("sum_over_time", [math.inf, 0, math.inf], math.inf),
    ("min_over_time", [math.nan, 5, math.nan], 5.0),
    ("max_over_time", [math.nan, math.nan], math.nan),
    ("mad_over_time", [1, math.nan, 3], math.nan),
])
def test_reductions(name: str, values: list[float], expected: float) -> None:
    rv, steps = window(values)
    got, _ = single(call(name, ctx(*steps), rv))
    if math.isnan(expected):
        assert math.isnan(got[0])
    else:
        assert got == [pytest.approx(expected, rel=1e-12)]


def test_avg_of_constant_threshold_value_is_exact() -> None:
    # The alert `avg_over_time(x[5m]) < 0.8` must not fire on a constant 0.8 series.
    rv, steps = window([0.8] * 5)
    got, _ = single(call("avg_over_time", ctx(*steps), rv))
    assert got == [0.8]


def test_empty_window_gives_no_sample_and_single_sample_windows_work() -> None:
    samples = [(0, 1.0), (60_000, 2.0)]
    steps = [0, 30_000, 60_000, 200_000]
    rs = rseries(samples, steps, 10_000)
    got, present = single(call("avg_over_time", ctx(*steps), rvec(steps, 10_000, rs)))
    assert present == [True, False, True, False]
    assert got[0] == 1.0 and got[2] == 2.0
    empty = call("sum_over_time", ctx(*steps), rvec(steps, 10_000))
    assert isinstance(empty, InstantVector) and empty.series == []


def test_name_dropped_except_for_first_and_last_over_time() -> None:
    rv, steps = window([1, 2])
    out = call("max_over_time", ctx(*steps), rv)
    assert isinstance(out, InstantVector) and out.series[0].drop_name
    out = call("last_over_time", ctx(*steps), rv)
    assert isinstance(out, InstantVector) and not out.series[0].drop_name
    assert out.series[0].labels == (("__name__", "m"),)


@pytest.mark.parametrize(("q", "expected"), [
    (0, 1.0), (0.5, 2.5), (0.75, 3.25), (1, 4.0), (-1, -math.inf), (2, math.inf),
])
def test_quantile_over_time_interpolates(q: float, expected: float) -> None:
    rv, steps = window([4, 1, 3, 2])
    got, _ = single(call("quantile_over_time", ctx(*steps), scalar(q), rv))
    assert got == [expected]


def test_quantile_over_time_warns_about_invalid_q() -> None:
    rv, steps = window([4, 1])
    c = ctx(*steps)
    call("quantile_over_time", c, scalar(1.5), rv)
    assert c.annotations == ["PromQL warning: quantile value should be between 0 and 1, got 1.5"]


def test_quantile_over_time_sorts_nan_first() -> None:
    rv, steps = window([math.nan, 1, 2])
    got, _ = single(call("quantile_over_time", ctx(*steps), scalar(0), rv))
    assert math.isnan(got[0])
    got, _ = single(call("quantile_over_time", ctx(*steps), scalar(1), rv))
    assert got == [2.0]


def test_ts_of_min_max_pick_last_extreme_and_ts_of_first_last() -> None:
    rv, steps = window([1, 5, 0, 5, 0, 2])
    assert single(call("ts_of_max_over_time", ctx(*steps), rv))[0] == [30.0]
    assert single(call("ts_of_min_over_time", ctx(*steps), rv))[0] == [40.0]
    assert single(call("ts_of_first_over_time", ctx(*steps), rv))[0] == [0.0]
    assert single(call("ts_of_last_over_time", ctx(*steps), rv))[0] == [50.0]


def test_absent_over_time_is_one_where_every_window_is_empty() -> None:
    import promql_parser
    expr = promql_parser.parse('absent_over_time(x{job="a", env=~"p.*"}[1m])').args[0]
    steps = [0, 60_000, 180_000]
    rs = rseries([(0, 1.0)], steps, 60_000)
    values, present = single(call("absent_over_time", ctx(*steps), rvec(steps, 60_000, rs),
                               exprs=[expr]))
    assert present == [False, True, True]
    assert values[1:] == [1.0, 1.0]
    out = call("absent_over_time", ctx(*steps), rvec(steps, 60_000, rs), exprs=[expr])
    assert isinstance(out, InstantVector) and out.series[0].labels == (("job", "a"),)


def test_many_series_and_steps_match_a_per_window_reference() -> None:
    rng = np.random.default_rng(7)
    steps = list(range(0, 3_600_000, 60_000))
    series = []
    for k in range(5):
        t = np.sort(rng.choice(np.arange(0, 3_600_000, 15_000), 150, replace=False))
        samples = [(int(a), float(b)) for a, b in zip(t, rng.normal(size=150), strict=True)]
        series.append(rseries(samples, steps, 300_000, labels={"k": str(k)}))
    rv = rvec(steps, 300_000, *series)
    out = call("avg_over_time", ctx(*steps), rv)
    assert isinstance(out, InstantVector)
    for rs, s in zip(series, out.series, strict=True):
        for i in range(len(steps)):
            _, v = rs.window(i)
            assert s.present[i] == (len(v) > 0)
            if len(v):
                assert s.values[i] == pytest.approx(float(np.mean(v)), rel=1e-12)


def test_windows_flattening_keeps_series_apart() -> None:
    steps = [60_000]
    a = rseries([(0, 1.0), (60_000, 2.0)], steps, 120_000, labels={"s": "a"})
    b = rseries([(30_000, 5.0)], steps, 120_000, labels={"s": "b"})
    w = Windows.of(rvec(steps, 120_000, a, b), 1)
    assert w.count.tolist() == [2, 1]
    assert w.at(w.lo)[1].tolist() == [1.0, 5.0]


def test_avg_over_time_semantics_2_uses_the_incremental_mean() -> None:
    # promtool 2.42 prints 0.5333333333333334 for avg(1.1, 0.3, 0.2); Prometheus 3 direct
    # mean gives 0.5333333333333333 -- the last bit differs, and alert thresholds care.
    rv, steps = window([1.1, 0.3, 0.2])
    v2, _ = single(call("avg_over_time", ctx(*steps, semantics="2"), rv))
    v3, _ = single(call("avg_over_time", ctx(*steps), rv))
    assert v2 == [0.5333333333333334]
    assert v3 == [0.5333333333333333]
    rv, steps = window([1, math.inf, 2, math.inf])
    assert single(call("avg_over_time", ctx(*steps, semantics="2"), rv))[0] == [math.inf]
