"""Counter and trend functions over range vectors.

rate, increase, delta (``extrapolatedRate``), irate, idelta (last two
samples), deriv, predict_linear (least squares with Kahan sums), changes,
resets and double_exponential_smoothing -- each vectorised over all
(series, step) windows with :class:`~.windows.Windows`.

Semantics differences implemented (``EvalContext.semantics``):

* **2.51 and later** (``Semantics.rate_caps_gap_first``): the gap to the
  window start is first capped at half the average sample interval when it
  exceeds 1.1 intervals, *then* the counter zero point may shorten it further.
* **before 2.51**: the zero point shortens the gap first, and only then is
  the 1.1-interval threshold applied, so a counter that started inside the
  window is extrapolated to its zero point even when that is far away.

Window boundaries themselves (left-open in 3, closed in 2) are the engine's job.
"""

from __future__ import annotations

import math

import numpy as np

from pytest_selfslo._core.errors import PromQLEvalError
from pytest_selfslo._core.gofmt import go_quote
from pytest_selfslo.promql.functions.util import Args, Exprs, annotate, range_arg, scalar_arg
from pytest_selfslo.promql.functions.windows import Windows, pair_prefix, pairs_in_window
from pytest_selfslo.promql.kahansum import kahan_inc
from pytest_selfslo.promql.semantics import Semantics
from pytest_selfslo.promql.values import (
    METRIC_NAME,
    EvalContext,
    FloatArray,
    InstantVector,
    IntArray,
    Value,
    labels_get,
)


def _windows(ctx: EvalContext, args: Args, name: str) -> tuple[Windows, IntArray, int]:
    rv = range_arg(args, 0, name)
    end = np.asarray(rv.window_end, dtype=np.int64)
    if len(end) != len(ctx.steps):
        end = np.broadcast_to(end, (len(ctx.steps),)) if len(end) == 1 else ctx.steps
    return Windows.of(rv, len(ctx.steps)), end, rv.range_ms


def _counter_corrections(w: Windows, base: FloatArray, ok: np.ndarray) -> FloatArray:
    """``base`` plus, in sample order, every value before a decrease (Prometheus' reset fix).

    Vectorised over resets rather than over samples: the ``k``-th reset of
    every row's window is added in round ``k``, so the additions happen in
    the same order as Prometheus' loop (bit-exact sums) while a 30-day window
    of 1m samples costs as many rounds as it has resets, not 43,200.
    """
    if len(w.v) < 2:
        return base
    drops = np.zeros(len(w.v), dtype=bool)
    drops[1:] = w.v[1:] < w.v[:-1]
    starts = w.start[:: max(w.n_steps, 1)]
    drops[starts[starts < len(drops)]] = False  # no pair across two series
    at = np.flatnonzero(drops)
    if len(at) == 0:
        return base
    rows = np.flatnonzero(ok)
    # pairs (k-1, k) inside a row's window [lo, hi) have k in [lo + 1, hi)
    first = np.searchsorted(at, w.lo[rows] + 1, side="left")
    count = np.searchsorted(at, w.hi[rows], side="left") - first
    keep = count > 0
    rows, first, count = rows[keep], first[keep], count[keep]
    if len(rows) == 0:
        return base
    result: FloatArray = base.copy()
    acc = base[rows]
    k = 0
    live = np.arange(len(rows))
    while len(live):
        before = w.v[at[first[live] + k] - 1]
        acc[live] = acc[live] + before
        k += 1
        live = live[count[live] > k]
    result[rows] = acc
    return result


#: rows per chunk of the element-wise extrapolation arithmetic (keeps temporaries in cache)
_CHUNK_ROWS = 1 << 15


def _extrapolated_rate(ctx: EvalContext, args: Args, name: str, is_counter: bool,
                       is_rate: bool) -> Value:
    w, end, range_ms = _windows(ctx, args, name)
    if not w.series:
        return InstantVector([])
    ok = w.count >= 2
    first_t, first_v = w.at(w.lo)
    last_t, last_v = w.at(w.hi - 1)
    with np.errstate(all="ignore"):
        result = last_v - first_v
        if is_counter:
            result = _counter_corrections(w, result, ok)
        range_end = np.tile(end, len(w.series))
        for a in range(0, len(result), _CHUNK_ROWS):
            rows = slice(a, a + _CHUNK_ROWS)
            factor = _extrapolation_factor(
                ctx.semantics, is_counter, result[rows], first_t[rows], first_v[rows],
                last_t[rows], range_end[rows], w.count[rows], range_ms)
            # Prometheus divides the factor (not the result) by the range: same rounding
            result[rows] *= factor / (range_ms / 1000) if is_rate else factor
    if is_counter:
        _non_counter_info(ctx, w, ok)
    return InstantVector(w.outputs(result, ok))


def _extrapolation_factor(semantics: Semantics, is_counter: bool, result: FloatArray,
                          first_t: IntArray, first_v: FloatArray, last_t: IntArray,
                          range_end: IntArray, n: IntArray, range_ms: int) -> FloatArray:
    """How much to scale the sampled increase to cover the whole window (extrapolatedRate)."""
    to_start = (first_t - (range_end - range_ms)) / 1000
    to_end = (range_end - last_t) / 1000
    sampled = (last_t - first_t) / 1000
    average = sampled / np.maximum(n - 1, 1)
    threshold = average * 1.1
    zero_ok = (result > 0) & (first_v >= 0)
    to_zero = np.where(zero_ok, sampled * (first_v / result), to_start)
    if not semantics.rate_caps_gap_first:
        if is_counter:
            to_start = np.where(to_zero < to_start, to_zero, to_start)
        to_start = np.where(to_start < threshold, to_start, average / 2)
    else:
        to_start = np.where(to_start >= threshold, average / 2, to_start)
        if is_counter:
            to_zero = np.where(zero_ok, to_zero, to_start)
            to_start = np.where(to_zero < to_start, to_zero, to_start)
    to_end = np.where(to_end >= threshold, average / 2, to_end)
    factor: FloatArray = (sampled + to_start + to_end) / sampled
    if semantics.rate_caps_gap_first:
        factor = np.where(sampled != 0, factor, 1.0)
    return factor


def _non_counter_info(ctx: EvalContext, w: Windows, ok: np.ndarray) -> None:
    """Prometheus' hint when rate()/increase() is applied to something not named like a counter."""
    per_series = np.asarray(ok).reshape(len(w.series), w.n_steps)
    for i, rs in enumerate(w.series):
        out = bool(per_series[i].any())
        name = labels_get(rs.labels, METRIC_NAME)
        if out and name and not name.endswith(("_total", "_sum", "_count", "_bucket")):
            annotate(ctx, "PromQL info: metric might not be a counter, name does not end in "
                     f"_total/_sum/_count/_bucket: {go_quote(name)}")


# === rate(v Matrix) Vector ===
def fn_rate(ctx: EvalContext, args: Args, exprs: Exprs) -> Value:
    """Per-second increase of a counter, extrapolated to the window edges."""
    return _extrapolated_rate(ctx, args, "rate", True, True)


# === increase(v Matrix) Vector ===
def fn_increase(ctx: EvalContext, args: Args, exprs: Exprs) -> Value:
    """Increase of a counter over the window, extrapolated to the window edges."""
    return _extrapolated_rate(ctx, args, "increase", True, False)


# === delta(v Matrix) Vector ===
def fn_delta(ctx: EvalContext, args: Args, exprs: Exprs) -> Value:
    """Difference of a gauge over the window, extrapolated (no counter-reset handling)."""
    return _extrapolated_rate(ctx, args, "delta", False, False)


def _instant_value(ctx: EvalContext, args: Args, name: str, is_rate: bool) -> Value:
    w, _, _ = _windows(ctx, args, name)
    if not w.series:
        return InstantVector([])
    prev_t, prev_v = w.at(w.hi - 2)
    last_t, last_v = w.at(w.hi - 1)
    interval = last_t - prev_t
    ok = (w.count >= 2) & (interval != 0)
    with np.errstate(all="ignore"):
        if is_rate:
            # A counter reset between the two samples: the last value is the increase.
            result = np.where(last_v < prev_v, last_v, last_v - prev_v) / (interval / 1000)
        else:
            result = last_v - prev_v
    return InstantVector(w.outputs(result, ok))


# === irate(v Matrix) Vector ===
def fn_irate(ctx: EvalContext, args: Args, exprs: Exprs) -> Value:
    """Per-second rate from the last two samples of each window."""
    return _instant_value(ctx, args, "irate", True)


# === idelta(v Matrix) Vector ===
def fn_idelta(ctx: EvalContext, args: Args, exprs: Exprs) -> Value:
    """Difference of the last two samples of each window."""
    return _instant_value(ctx, args, "idelta", False)


def _linear_regression(w: Windows, intercept_ms: IntArray) -> tuple[FloatArray, FloatArray]:
    """Least-squares slope/intercept per row, Kahan-summed in sample order like Prometheus."""
    rows = len(w.lo)
    slope, intercept = np.full(rows, math.nan), np.full(rows, math.nan)
    with np.errstate(all="ignore"):
        for block in w.blocks(np.flatnonzero(w.count >= 2), with_t=True):
            assert block.t is not None
            size = len(block.rows)
            sx, cx, sy, cy, sxy, cxy, sx2, cx2 = (np.zeros(size) for _ in range(8))
            init_y = block.v[0]
            const_y = np.all((block.v[1:] == init_y) | ~block.mask[1:], axis=0)
            ref = intercept_ms[block.rows]
            for j in range(len(block.v)):
                x = np.where(block.mask[j], (block.t[j] - ref) / 1e3, 0.0)
                y = block.v[j]
                sx, cx = kahan_inc(x, sx, cx)
                sy, cy = kahan_inc(y, sy, cy)
                sxy, cxy = kahan_inc(x * y, sxy, cxy)
                sx2, cx2 = kahan_inc(x * x, sx2, cx2)
            n = block.n.astype(np.float64)
            sx, sy, sxy, sx2 = sx + cx, sy + cy, sxy + cxy, sx2 + cx2
            b = (sxy - sx * sy / n) / (sx2 - sx * sx / n)
            a = sy / n - b * sx / n
            inf_y = np.isinf(init_y)
            slope[block.rows] = np.where(const_y, np.where(inf_y, math.nan, 0.0), b)
            intercept[block.rows] = np.where(const_y, np.where(inf_y, math.nan, init_y), a)
    return slope, intercept


# === deriv(v Matrix) Vector ===
def fn_deriv(ctx: EvalContext, args: Args, exprs: Exprs) -> Value:
    """Per-second slope of a simple linear regression over each window."""
    w, _, _ = _windows(ctx, args, "deriv")
    if not w.series:
        return InstantVector([])
    first_t, _ = w.at(w.lo)
    slope, _ = _linear_regression(w, first_t)
    return InstantVector(w.outputs(slope, w.count >= 2))


# === predict_linear(v Matrix, t Scalar) Vector ===
def fn_predict_linear(ctx: EvalContext, args: Args, exprs: Exprs) -> Value:
    """Value predicted ``t`` seconds after the evaluation time by linear regression."""
    w, _, _ = _windows(ctx, args, "predict_linear")
    if not w.series:
        return InstantVector([])
    duration = np.tile(scalar_arg(args, 1, "predict_linear"), len(w.series))
    slope, intercept = _linear_regression(w, np.tile(ctx.steps, len(w.series)))
    with np.errstate(all="ignore"):
        result = slope * duration + intercept
    return InstantVector(w.outputs(result, w.count >= 2))


def _pair_count(ctx: EvalContext, args: Args, name: str, changed: np.ndarray) -> Value:
    w, _, _ = _windows(ctx, args, name)
    if not w.series:
        return InstantVector([])
    flags = np.zeros(len(w.v), dtype=bool)
    if len(w.v) > 1:
        flags[1:] = changed
    counts = pairs_in_window(pair_prefix(flags, w), w).astype(np.float64)
    return InstantVector(w.outputs(counts, w.count >= 1))


# === changes(v Matrix) Vector ===
def fn_changes(ctx: EvalContext, args: Args, exprs: Exprs) -> Value:
    """How often the value changed within each window (NaN to NaN is no change)."""
    v = np.concatenate([s.v for s in range_arg(args, 0, "changes").series] or [np.zeros(0)])
    changed = (v[1:] != v[:-1]) & ~(np.isnan(v[1:]) & np.isnan(v[:-1]))
    return _pair_count(ctx, args, "changes", changed)


# === resets(v Matrix) Vector ===
def fn_resets(ctx: EvalContext, args: Args, exprs: Exprs) -> Value:
    """How often a counter decreased within each window."""
    v = np.concatenate([s.v for s in range_arg(args, 0, "resets").series] or [np.zeros(0)])
    return _pair_count(ctx, args, "resets", v[1:] < v[:-1])


# === double_exponential_smoothing(v Matrix, sf, tf Scalar) Vector ===
def fn_double_exponential_smoothing(ctx: EvalContext, args: Args, exprs: Exprs) -> Value:
    """Holt's linear smoothing (formerly holt_winters); 0 < sf < 1 and 0 < tf < 1 are required."""
    name = "double_exponential_smoothing"
    w, _, _ = _windows(ctx, args, name)
    if not w.series:
        return InstantVector([])
    sf = np.tile(scalar_arg(args, 1, name), len(w.series))
    tf = np.tile(scalar_arg(args, 2, name), len(w.series))
    ok = w.count >= 2
    has_data = w.count >= 1
    for factor, label in ((sf, "smoothing"), (tf, "trend")):
        bad = has_data & ~((factor > 0) & (factor < 1))
        if bad.any():
            got = float(factor[np.flatnonzero(bad)[0]])
            raise PromQLEvalError(
                f"invalid {label} factor. Expected: 0 < {label[0]}f < 1, got: {got:f}")
    smoothed = np.full(len(w.lo), math.nan)
    with np.errstate(all="ignore"):
        for block in w.blocks(np.flatnonzero(ok)):
            s_f, t_f = sf[block.rows], tf[block.rows]
            s0, s1 = np.zeros(len(block.rows)), block.v[0]
            b = block.v[1] - block.v[0]
            for j in range(1, len(block.v)):
                active = block.mask[j]
                x = s_f * block.v[j]
                if j > 1:  # calcTrendValue(i-1, ...) keeps b unchanged for i == 1
                    b = np.where(active, t_f * (s1 - s0) + (1 - t_f) * b, b)
                y = (1 - s_f) * (s1 + b)
                s0, s1 = np.where(active, s1, s0), np.where(active, x + y, s1)
            smoothed[block.rows] = s1
    return InstantVector(w.outputs(smoothed, ok))
