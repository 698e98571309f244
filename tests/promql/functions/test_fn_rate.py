"""rate/increase/delta/irate/idelta/deriv/predict_linear/changes/resets/holt on hand-built windows."""

from __future__ import annotations

import math

import numpy as np
import pytest
from fnhelpers import call, ctx, rseries, rvec, scalar, single
from hypothesis import given, settings, strategies as st

from pytest_selfslo._core.errors import PromQLEvalError
from pytest_selfslo.promql.functions.rate import _counter_corrections
from pytest_selfslo.promql.functions.windows import Windows
from pytest_selfslo.promql.values import InstantVector

M = 60_000


def counter(values: list[float], step: int = M) -> list[tuple[int, float]]:
    return [(i * step, v) for i, v in enumerate(values)]


def test_rate_extrapolates_to_zero_point_and_divides_by_range() -> None:
    # 0,10,...,40 at 0..4m; window (-1m, 4m]: the counter's zero point is the first sample.
    c = ctx(4 * M)
    rs = rseries(counter([0, 10, 20, 30, 40]), [4 * M], 5 * M)
    values, _ = single(call("rate", c, rvec([4 * M], 5 * M, rs)))
    assert values == [pytest.approx(40 / 300)]
    values, _ = single(call("increase", c, rvec([4 * M], 5 * M, rs)))
    assert values == [pytest.approx(40.0)]


def test_rate_handles_counter_reset_by_adding_value_before_drop() -> None:
    c = ctx(4 * M)
    rs = rseries(counter([10, 20, 5, 15, 25]), [4 * M], 5 * M)
    values, _ = single(call("increase", c, rvec([4 * M], 5 * M, rs)))
    # raw increase 15 + 20 (value before the reset) = 35, extrapolated by the 60 s gap
    # to the window start (the zero point, 68.6 s away, is further): 35 * 300 / 240
    assert values == [pytest.approx(43.75)]


def test_rate_needs_two_samples_and_delta_is_not_counter_aware() -> None:
    steps = [M, 4 * M]
    rs = rseries(counter([10, 20, 5, 15, 25]), steps, 5 * M)
    result = call("rate", ctx(*steps), rvec(steps, 5 * M, rs))
    _, present = single(result)
    assert present == [True, True]
    lonely = rseries([(0, 1.0)], steps, 5 * M)
    assert call("rate", ctx(*steps), rvec(steps, 5 * M, lonely)).series == []  # type: ignore[union-attr]
    values, _ = single(call("delta", ctx(4 * M), rvec([4 * M], 5 * M,
                                                      rseries(counter([10, 20, 5, 15, 25]),
                                                              [4 * M], 5 * M))))
    assert values == [pytest.approx(15 * 300 / 240)]


def test_rate_semantics_2_applies_zero_point_before_threshold() -> None:
    # Samples start far after the window start: 3 caps the gap at half an interval
    # before the zero point, 2 uses the zero point when it is closer.
    samples = [(10 * M, 100.0), (11 * M, 110.0), (12 * M, 120.0)]
    steps = [12 * M]
    rs = rseries(samples, steps, 10 * M)
    v3, _ = single(call("increase", ctx(*steps), rvec(steps, 10 * M, rs)))
    v2, _ = single(call("increase", ctx(*steps, semantics="2"), rvec(steps, 10 * M, rs)))
    # 3: gap 480 s >= 66 s -> 30 s; zero point 1200 s is not shorter -> (120+30)/120 * 20
    assert v3 == [pytest.approx(20 * 150 / 120)]
    # 2: zero point 1200 s is not shorter than 480 s -> threshold applies -> same 30 s
    assert v2 == [pytest.approx(20 * 150 / 120)]
    near = rseries([(3 * M, 1.0), (4 * M, 11.0), (5 * M, 21.0)], [5 * M], 5 * M)
    v3, _ = single(call("increase", ctx(5 * M), rvec([5 * M], 5 * M, near)))
    v2, _ = single(call("increase", ctx(5 * M, semantics="2"), rvec([5 * M], 5 * M, near)))
    # gap 120 s >= 66 s; zero point 6 s. 3: min(30, 6) = 6; 2: 6 < 66 -> 6. Both (120+6)/120.
    assert v3 == v2 == [pytest.approx(20 * 126 / 120)]


def test_rate_zero_point_order_changed_in_2_51() -> None:
    # gap to the window start 480 s (>= 1.1 intervals), counter zero point 48 s before the
    # first sample: 2.42 takes the zero point (48 s < 66 s threshold); 2.51+ first caps the
    # gap at half an interval (30 s), which the zero point does not shorten
    samples = [(10 * M, 40.0), (11 * M, 90.0), (12 * M, 140.0)]
    steps = [12 * M]
    rs = rseries(samples, steps, 10 * M)
    old, _ = single(call("increase", ctx(*steps, semantics="2.42"), rvec(steps, 10 * M, rs)))
    new = [single(call("increase", ctx(*steps, semantics=s), rvec(steps, 10 * M, rs)))[0]
           for s in ("2.51", "2.53", "3")]
    assert old == [pytest.approx(100 * (120 + 48) / 120)]
    assert new == [[pytest.approx(100 * (120 + 30) / 120)]] * 3


def test_irate_and_idelta_use_last_two_samples() -> None:
    c = ctx(4 * M)
    rs = rseries(counter([0, 10, 30, 100, 5]), [4 * M], 5 * M)
    irate, _ = single(call("irate", c, rvec([4 * M], 5 * M, rs)))
    assert irate == [pytest.approx(5 / 60)]  # reset: the last value is the increase
    idelta, _ = single(call("idelta", c, rvec([4 * M], 5 * M, rs)))
    assert idelta == [-95.0]


def test_deriv_and_predict_linear() -> None:
    steps = [4 * M]
    rs = rseries(counter([0, 60, 120, 180, 240]), steps, 5 * M)
    slope, _ = single(call("deriv", ctx(*steps), rvec(steps, 5 * M, rs)))
    assert slope == [pytest.approx(1.0)]
    pred, _ = single(call("predict_linear", ctx(*steps), rvec(steps, 5 * M, rs), scalar(60)))
    assert pred == [pytest.approx(300.0)]


def test_deriv_of_constant_and_infinite_series() -> None:
    steps = [4 * M]
    const = rseries(counter([7, 7, 7]), steps, 5 * M)
    assert single(call("deriv", ctx(*steps), rvec(steps, 5 * M, const)))[0] == [0.0]
    inf = rseries(counter([math.inf, math.inf]), steps, 5 * M)
    assert math.isnan(single(call("deriv", ctx(*steps), rvec(steps, 5 * M, inf)))[0][0])


def test_changes_and_resets_count_pairs_inside_window_only() -> None:
    steps = [2 * M, 5 * M]
    rs = rseries(counter([1, 2, 2, 0, math.nan, math.nan]), steps, 4 * M)
    # (-2m, 2m]: 1 2 2 -> one change; (1m, 5m]: 2 0 NaN NaN -> 2->0, 0->NaN (NaN->NaN is none)
    changes, _ = single(call("changes", ctx(*steps), rvec(steps, 4 * M, rs)))
    assert changes == [1.0, 2.0]
    resets, _ = single(call("resets", ctx(*steps), rvec(steps, 4 * M, rs)))
    assert resets == [0.0, 1.0]


def test_single_sample_window_gives_zero_changes() -> None:
    rs = rseries([(0, 5.0)], [0], M)
    assert single(call("changes", ctx(0), rvec([0], M, rs)))[0] == [0.0]


def test_double_exponential_smoothing_matches_holt_recurrence() -> None:
    vals = [1.0, 3.0, 2.0, 5.0]
    rs = rseries(counter(vals), [3 * M], 4 * M)
    sf, tf = 0.5, 0.3
    s1, b, s0 = vals[0], vals[1] - vals[0], 0.0
    for i in range(1, len(vals)):
        if i > 1:
            b = tf * (s1 - s0) + (1 - tf) * b
        s0, s1 = s1, sf * vals[i] + (1 - sf) * (s1 + b)
    got, _ = single(call("double_exponential_smoothing", ctx(3 * M),
                         rvec([3 * M], 4 * M, rs), scalar(sf), scalar(tf)))
    assert got == [pytest.approx(s1)]


@pytest.mark.parametrize(("sf", "tf", "message"), [
    (0.0, 0.5, "invalid smoothing factor. Expected: 0 < sf < 1, got: 0.000000"),
    (0.5, 1.0, "invalid trend factor. Expected: 0 < tf < 1, got: 1.000000"),
])
def test_double_exponential_smoothing_rejects_bad_factors(sf: float, tf: float,
                                                          message: str) -> None:
    rs = rseries(counter([1.0, 2.0]), [M], 2 * M)
    with pytest.raises(PromQLEvalError, match=message.replace(".", r"\.")):
        call("double_exponential_smoothing", ctx(M), rvec([M], 2 * M, rs), scalar(sf), scalar(tf))


def test_empty_range_vector_gives_empty_result() -> None:
    for name in ("rate", "irate", "deriv", "changes", "resets"):
        result = call(name, ctx(0), rvec([0], M))
        assert isinstance(result, InstantVector) and result.series == []


_values = st.lists(st.sampled_from([0.0, 1.0, 2.5, 7.0, 1e16, 3.0, 0.1, float("nan")]),
                   min_size=0, max_size=40)


@settings(max_examples=150, deadline=None)
@given(st.lists(_values, min_size=1, max_size=4), st.integers(1, 12))
def test_counter_corrections_match_prometheus_loop_bit_for_bit(
        series: list[list[float]], range_steps: int) -> None:
    """The reset-by-reset vectorisation adds the same values in the same order as Go's loop."""
    steps = [i * M for i in range(45)]
    ranges = [rseries(counter(vs), steps, range_steps * M, {"__name__": "m", "i": str(i)})
              for i, vs in enumerate(series)]
    w = Windows.of(rvec(steps, range_steps * M, *ranges), len(steps))
    first_v = np.take(w.v, w.lo, mode="clip") if len(w.v) else np.zeros(len(w.lo))
    last_v = np.take(w.v, w.hi - 1, mode="clip") if len(w.v) else np.zeros(len(w.lo))
    base = last_v - first_v
    ok = w.count >= 2
    got = _counter_corrections(w, base, ok)
    for row in np.flatnonzero(ok):
        want = float(base[row])
        previous = 0.0
        for value in w.v[w.lo[row]:w.hi[row]]:  # promql/functions.go extrapolatedRate
            if value < previous:
                want += previous
            previous = float(value)
        assert (math.isnan(want) and math.isnan(got[row])) or got[row] == want, (row, got[row], want)
