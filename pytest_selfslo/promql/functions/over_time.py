"""The ``*_over_time`` family: aggregations of each series over each step's window.

All functions are vectorised over every (series, step) window with
:class:`~.windows.Windows`; sequential algorithms (Kahan sums, the
overflow-safe mean, Welford variance, min/max with NaN rules) are replayed
column by column so results are bit-identical to Prometheus'.
``last_over_time``/``first_over_time`` keep the metric name (they act like an
offset); every other function flags it for removal.

Semantics difference (:attr:`.Semantics.avg_mode`): ``avg_over_time`` is a
Kahan-compensated *incremental* mean before 2.55, a direct Kahan mean
``(sum + c) / n`` in 2.55-3.4 and ``sum/n + c/n`` since 3.5 (both incremental
only after the sum overflows); they differ in the last bit, which decides
alert thresholds. Checked bit for bit against promtool 2.42, 2.53 and 3.5.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from pytest_selfslo.promql import gomath
from pytest_selfslo.promql.functions.labels import absent_series
from pytest_selfslo.promql.functions.util import (
    Args,
    Exprs,
    quantile_warning,
    range_arg,
    scalar_arg,
)
from pytest_selfslo.promql.functions.windows import Windows, kahan_sums
from pytest_selfslo.promql.kahansum import kahan_inc
from pytest_selfslo.promql.semantics import Semantics
from pytest_selfslo.promql.values import BoolArray, EvalContext, FloatArray, InstantVector, Value

#: cells (rows x window length) gathered at once by the sort-based functions
_CHUNK_CELLS = 2_000_000

RangeFunction = Callable[[EvalContext, Args, Exprs], Value]


def _windows(ctx: EvalContext, args: Args, name: str) -> Windows:
    return Windows.of(range_arg(args, 0, name), len(ctx.steps))


Reducer = Callable[[Windows], FloatArray]


def _reduce(name: str, fn: Reducer, keep_name: bool = False, doc: str = "",
            by_version: Callable[[Semantics], Reducer] | None = None) -> RangeFunction:
    """Table entry for a function whose result exists wherever the window is non-empty.

    ``by_version`` picks the algorithm of the semantics' Prometheus version
    where versions differ numerically (``fn`` otherwise).
    """
    def call(ctx: EvalContext, args: Args, exprs: Exprs) -> Value:
        w = _windows(ctx, args, name)
        if not w.series:
            return InstantVector([])
        reducer = fn if by_version is None else by_version(ctx.semantics)
        with np.errstate(all="ignore"):
            values = reducer(w)
        return InstantVector(w.outputs(values, w.count >= 1, keep_name))

    call.__name__ = f"fn_{name}"
    call.__doc__ = doc
    return call


def _sum(w: Windows) -> FloatArray:
    # === sum_over_time(v Matrix) Vector ===
    total, comp = kahan_sums(w)
    result: FloatArray = np.where(np.isinf(total), total, total + comp)
    return result


def _avg(w: Windows, split: bool = True) -> FloatArray:
    # === avg_over_time(v Matrix) Vector ===
    # Prometheus 2.55+: direct Kahan mean while the running sum stays finite, incremental
    # mean after. Overflow to ±Inf (or NaN) is sticky, so a finite final sum proves the
    # direct path was taken all along; only the other rows replay the full algorithm.
    total, comp = kahan_sums(w)
    n = w.count.astype(np.float64)
    result: FloatArray = total / n + comp / n if split else (total + comp) / n
    dirty = np.flatnonzero(~np.isfinite(total) & (w.count >= 1))
    if len(dirty):
        result[dirty] = _avg_general(w, dirty, split)
    return result


def _avg_for(semantics: Semantics) -> Reducer:
    """avg_over_time of a version: incremental (< 2.55), ``(sum+c)/n`` (< 3.5), ``sum/n+c/n``."""
    mode = semantics.avg_mode
    if mode == "incremental":
        return _avg_v2
    return _avg if mode == "direct_split" else lambda w: _avg(w, split=False)


def _avg_v2(w: Windows) -> FloatArray:
    # Prometheus < 2.55 avg_over_time: Kahan-compensated incremental mean, Inf kept once reached.
    out = np.full(len(w.lo), math.nan)
    for block in w.blocks(np.flatnonzero(w.count >= 1)):
        mean = np.zeros(len(block.rows))
        comp = np.zeros(len(block.rows))
        for j, x in enumerate(block.v):
            count = float(j + 1)
            inf_mean = np.isinf(mean)
            keep = inf_mean & ((np.isinf(x) & ((mean > 0) == (x > 0)))
                               | (~np.isinf(x) & ~np.isnan(x)))
            update = block.mask[j] & ~keep
            inc = x / count - mean / count
            t = mean + inc
            big = np.abs(mean) >= np.abs(inc)
            c = comp + np.where(big, (mean - t) + inc, (inc - t) + mean)  # no Inf reset in 2.x
            mean = np.where(update, t, mean)
            comp = np.where(update, c, comp)
        out[block.rows] = np.where(np.isinf(mean), mean, mean + comp)
    return out


def _avg_general(w: Windows, rows: np.ndarray, split: bool) -> FloatArray:
    sub = Windows(w.series, w.n_steps, w.t, w.v, w.lo[rows], w.hi[rows], w.start[rows])
    _, total = sub.at(sub.lo)
    size = len(sub.lo)
    comp = np.zeros(size)
    mean = np.zeros(size)
    incremental = np.zeros(size, dtype=bool)
    for j, active, _, v_j in sub.columns(first=1):
        count = float(j + 1)
        direct = active & ~incremental
        new_total, new_comp = kahan_inc(v_j, total, comp)
        keep = direct & ~np.isinf(new_total)
        total = np.where(keep, new_total, total)
        comp = np.where(keep, new_comp, comp)
        switch = direct & np.isinf(new_total)
        mean = np.where(switch, total / (count - 1), mean)
        comp = np.where(switch, comp / (count - 1), comp)
        incremental |= switch
        step = active & incremental
        if split:  # 3.5+
            q = (count - 1) / count
            new_mean, new_comp = kahan_inc(v_j / count, q * mean, q * comp)
        else:  # 2.55-3.4: an infinite mean is kept, as in the incremental algorithm
            step &= ~(np.isinf(mean) & ((np.isinf(v_j) & ((mean > 0) == (v_j > 0)))
                                        | (~np.isinf(v_j) & ~np.isnan(v_j))))
            new_mean, new_comp = kahan_inc(v_j / count - (mean + comp) / count, mean, comp)
        mean = np.where(step, new_mean, mean)
        comp = np.where(step, new_comp, comp)
    n = sub.count.astype(np.float64)
    direct_mean = total / n + comp / n if split else (total + comp) / n
    result: FloatArray = np.where(incremental, mean + comp, direct_mean)
    return result


def _variance(w: Windows) -> FloatArray:
    # Welford's algorithm with Kahan-compensated mean and sum of squares (varianceOverTime).
    out = np.full(len(w.lo), math.nan)
    for block in w.blocks(np.flatnonzero(w.count >= 1)):
        size = len(block.rows)
        mean, c_mean, aux, c_aux = (np.zeros(size) for _ in range(4))
        for j, x in enumerate(block.v):
            active = block.mask[j]
            delta = np.where(active, x - (mean + c_mean), 0.0)
            mean, c_mean = kahan_inc(delta / (j + 1), mean, c_mean)
            spread = np.where(active, delta * (x - (mean + c_mean)), 0.0)
            aux, c_aux = kahan_inc(spread, aux, c_aux)
        out[block.rows] = (aux + c_aux) / block.n
    return out


def _compare(w: Windows, better: Callable[[FloatArray, FloatArray], BoolArray],
             timestamp: bool) -> FloatArray:
    # compareOverTime: take a sample when it is "better" or the current best is NaN.
    out = np.full(len(w.lo), math.nan)
    for block in w.blocks(np.flatnonzero(w.count >= 1), with_t=timestamp):
        best = block.v[0]
        best_t = block.t[0] if block.t is not None else best
        for j in range(1, len(block.v)):
            x = block.v[j]
            take = block.mask[j] & (better(x, best) | np.isnan(best))
            best = np.where(take, x, best)
            if block.t is not None:
                best_t = np.where(take, block.t[j], best_t)
        out[block.rows] = best_t / 1000 if timestamp else best
    return out


def _gathered(w: Windows, rows: np.ndarray) -> tuple[FloatArray, BoolArray]:
    width = int(w.count[rows].max()) if len(rows) else 0
    idx = w.lo[rows][:, None] + np.arange(width)[None, :]
    mask = idx < w.hi[rows][:, None]
    _, v = w.at(idx.ravel())
    return v.reshape(idx.shape), mask


def _row_chunks(w: Windows) -> list[np.ndarray]:
    rows = np.flatnonzero(w.count >= 1)
    if len(rows) == 0:
        return []
    width = max(int(w.count.max()), 1)
    per_chunk = max(1, _CHUNK_CELLS // width)
    return [rows[i:i + per_chunk] for i in range(0, len(rows), per_chunk)]


def sorted_quantile(values: FloatArray, mask: BoolArray, q: FloatArray) -> FloatArray:
    """Prometheus' ``quantile``: NaN sorts first, linear interpolation between ranks.

    ``values``/``mask`` are rows of samples; ``q`` is one quantile per row.
    """
    n = mask.sum(axis=1)
    # Sort ascending with NaN first: sort the negation (NaN last), then reverse.
    neg = np.where(mask, -values, -math.inf)
    ordered = -np.sort(neg, axis=1)[:, ::-1]
    # ``ordered`` now holds NaNs, then ascending values, then padding (+inf) at the end.
    with np.errstate(all="ignore"):
        rank = q * (n - 1)
        lower = np.maximum(0, np.floor(rank))
        upper = np.minimum(n - 1, lower + 1)
        weight = rank - np.floor(rank)
        li = np.clip(np.nan_to_num(lower), 0, values.shape[1] - 1).astype(np.int64)
        ui = np.clip(np.nan_to_num(upper), 0, values.shape[1] - 1).astype(np.int64)
        rows = np.arange(len(n))
        result = ordered[rows, li] * (1 - weight) + ordered[rows, ui] * weight
    result = np.where(q < 0, -math.inf, np.where(q > 1, math.inf, result))
    return np.where(np.isnan(q) | (n == 0), math.nan, result)


# === quantile_over_time(q Scalar, v Matrix) Vector ===
def fn_quantile_over_time(ctx: EvalContext, args: Args, exprs: Exprs) -> Value:
    """The q-quantile (0 <= q <= 1) of each window's values."""
    q_steps = scalar_arg(args, 0, "quantile_over_time")
    rv = range_arg(args, 1, "quantile_over_time")
    w = Windows.of(rv, len(ctx.steps))
    if not w.series:
        return InstantVector([])
    q_rows = np.tile(q_steps, len(w.series))
    quantile_warning(ctx, q_rows[w.count >= 1])
    out = np.full(len(w.lo), math.nan)
    for rows in _row_chunks(w):
        values, mask = _gathered(w, rows)
        out[rows] = sorted_quantile(values, mask, q_rows[rows])
    return InstantVector(w.outputs(out, w.count >= 1))


def _mad(w: Windows) -> FloatArray:
    # === mad_over_time(v Matrix) Vector ===
    out = np.full(len(w.lo), math.nan)
    for rows in _row_chunks(w):
        values, mask = _gathered(w, rows)
        half = np.full(len(rows), 0.5)
        median = sorted_quantile(values, mask, half)
        deviation = np.abs(values - median[:, None])
        mad = sorted_quantile(deviation, mask, half)
        has_nan = (np.isnan(values) & mask).any(axis=1)
        out[rows] = np.where(has_nan, math.nan, mad)
    return out


# === absent_over_time(v Matrix) Vector ===
def fn_absent_over_time(ctx: EvalContext, args: Args, exprs: Exprs) -> Value:
    """1 at steps where no series has a sample in the window (labels from the selector)."""
    rv = range_arg(args, 0, "absent_over_time")
    covered = np.zeros(len(ctx.steps), dtype=bool)
    for rs in rv.series:
        covered |= rs.hi > rs.lo
    return absent_series(ctx, covered, exprs[0])


def _first(w: Windows) -> FloatArray:
    return w.at(w.lo)[1]


def _last(w: Windows) -> FloatArray:
    return w.at(w.hi - 1)[1]


OVER_TIME: dict[str, RangeFunction] = {
    "sum_over_time": _reduce("sum_over_time", _sum,
                             doc="=== sum_over_time(v Matrix) Vector === Kahan sum per window."),
    "avg_over_time": _reduce("avg_over_time", _avg, by_version=_avg_for,
                             doc="=== avg_over_time(v Matrix) Vector === overflow-safe mean."),
    "count_over_time": _reduce("count_over_time", lambda w: w.count.astype(np.float64),
                               doc="=== count_over_time(v Matrix) Vector ==="),
    "min_over_time": _reduce("min_over_time", lambda w: _compare(w, np.less, False),
                             doc="=== min_over_time(v Matrix) Vector === NaN only if all NaN."),
    "max_over_time": _reduce("max_over_time", lambda w: _compare(w, np.greater, False),
                             doc="=== max_over_time(v Matrix) Vector === NaN only if all NaN."),
    "ts_of_min_over_time": _reduce(
        "ts_of_min_over_time", lambda w: _compare(w, np.less_equal, True),
        doc="=== ts_of_min_over_time(v Matrix) Vector === time (s) of the last minimum."),
    "ts_of_max_over_time": _reduce(
        "ts_of_max_over_time", lambda w: _compare(w, np.greater_equal, True),
        doc="=== ts_of_max_over_time(v Matrix) Vector === time (s) of the last maximum."),
    "last_over_time": _reduce("last_over_time", _last, keep_name=True,
                              doc="=== last_over_time(v Matrix) Vector === keeps the name."),
    "first_over_time": _reduce("first_over_time", _first, keep_name=True,
                               doc="=== first_over_time(v Matrix) Vector === keeps the name."),
    "ts_of_last_over_time": _reduce(
        "ts_of_last_over_time", lambda w: w.at(w.hi - 1)[0] / 1000,
        doc="=== ts_of_last_over_time(v Matrix) Vector === time (s) of the last sample."),
    "ts_of_first_over_time": _reduce(
        "ts_of_first_over_time", lambda w: w.at(w.lo)[0] / 1000,
        doc="=== ts_of_first_over_time(v Matrix) Vector === time (s) of the first sample."),
    "present_over_time": _reduce("present_over_time", lambda w: np.ones(len(w.lo)),
                                 doc="=== present_over_time(v Matrix) Vector === 1 if any."),
    "stdvar_over_time": _reduce("stdvar_over_time", _variance,
                                doc="=== stdvar_over_time(v Matrix) Vector === population."),
    "stddev_over_time": _reduce("stddev_over_time", lambda w: gomath.sqrt(_variance(w)),
                                doc="=== stddev_over_time(v Matrix) Vector === population."),
    "mad_over_time": _reduce("mad_over_time", _mad,
                             doc="=== mad_over_time(v Matrix) Vector === median abs deviation."),
    "quantile_over_time": fn_quantile_over_time,
    "absent_over_time": fn_absent_over_time,
}
