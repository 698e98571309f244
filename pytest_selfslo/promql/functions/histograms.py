"""Histogram functions over *classic* histograms (``_bucket`` series with an ``le`` label).

``histogram_quantile``, ``histogram_quantiles`` and ``histogram_fraction`` group the input series by
their labels without ``le`` (the metric name included, as in Prometheus) and
evaluate Prometheus' ``BucketQuantile``/``BucketFraction`` per step:
buckets sorted by bound, duplicate bounds coalesced, bucket counts forced to be
monotonic (with a 1e-12 relative tolerance for float noise) and linear
interpolation inside the bucket. Steps are vectorised: all steps of a group
that have the same set of buckets present are computed together.

Native histogram samples are handled by :mod:`.native`, which wraps these.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from pytest_selfslo._core.gofmt import format_float_g, go_quote
from pytest_selfslo.promql.functions.labels import merge_same_labelsets
from pytest_selfslo.promql.functions.util import (
    Args,
    Exprs,
    annotate,
    quantile_warning,
    result_labels,
    scalar_arg,
    string_arg,
    vector_arg,
)
from pytest_selfslo.promql.semantics import DEFAULT_SEMANTICS, Semantics
from pytest_selfslo.promql.values import (
    METRIC_NAME,
    EvalContext,
    FloatArray,
    InstantSeries,
    InstantVector,
    Labels,
    ScalarValue,
    Value,
    labels_get,
    make_labels,
)

_TOLERANCE = 1e-12
_MIN_NORMAL = 2.2250738585072014e-308


def parse_le(text: str) -> float | None:
    """Go's ``strconv.ParseFloat`` for bucket bounds; ``None`` when it would fail."""
    if text != text.strip() or "_" in text or text == "":
        return None
    try:
        return float(text)
    except ValueError:
        try:
            return float.fromhex(text) if text.lower().lstrip("+-").startswith("0x") else None
        except ValueError:
            return None


def _almost_equal(a: FloatArray, b: FloatArray, eps: float) -> np.ndarray:
    """Prometheus' ``almost.Equal`` element-wise."""
    with np.errstate(all="ignore"):
        abs_sum = np.abs(a) + np.abs(b)
        diff = np.abs(a - b)
        tiny = (a == 0) | (b == 0) | (abs_sum < _MIN_NORMAL)
        rel = diff / np.minimum(abs_sum, np.finfo(np.float64).max)
        close = np.where(tiny, diff < eps * _MIN_NORMAL, rel < eps)
    equal: np.ndarray = (a == b) | (np.isnan(a) & np.isnan(b)) | close
    return equal


def _coalesce(bounds: FloatArray, counts: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Sort buckets by bound and sum buckets with equal bounds (``coalesceBuckets``)."""
    order = np.argsort(bounds, kind="stable")
    bounds, counts = bounds[order], counts[order]
    unique, first = np.unique(bounds, return_index=True)
    if len(unique) == len(bounds):
        return bounds, counts
    return unique, np.add.reduceat(counts, first, axis=0)


def bucket_quantile(q: FloatArray, bounds: FloatArray, counts: FloatArray,
                    semantics: Semantics = DEFAULT_SEMANTICS) -> tuple[FloatArray, bool]:
    """``BucketQuantile`` for one set of buckets: ``counts`` is (buckets, steps), ``q`` (steps,).

    Returns the quantiles and whether any step's counts had to be forced
    monotonic. Before Prometheus 2.49 decreasing counts are only raised to the
    running maximum; since then float noise (1e-12 relative) is ironed out too
    (``Semantics.histogram_small_deltas``).
    """
    bounds, counts = _coalesce(bounds, counts.copy())
    steps = counts.shape[1]
    forced = False
    if not math.isinf(bounds[-1]) or bounds[-1] < 0 or len(bounds) < 2:
        result = np.full(steps, math.nan)
    elif not semantics.histogram_small_deltas:
        running = counts[0].copy()
        for i in range(1, len(bounds)):
            curr = counts[i].copy()
            lower = curr < running
            forced = forced or bool((lower & (q >= 0) & (q <= 1)).any())
            counts[i] = np.where(lower, running, curr)
            running = np.where(curr > running, curr, running)
        result = _interpolate(q, bounds, counts)
    else:
        # ensureMonotonicAndIgnoreSmallDeltas: walk the buckets keeping the last kept count.
        prev = counts[0].copy()
        for i in range(1, len(bounds)):
            curr = counts[i].copy()
            same = curr == prev
            close = ~same & _almost_equal(prev, curr, _TOLERANCE)
            lower = ~same & ~close & (curr < prev)
            forced = forced or bool((lower & (q >= 0) & (q <= 1)).any())
            counts[i] = np.where(close | lower, prev, curr)
            prev = np.where(same | close | lower, prev, curr)
        result = _interpolate(q, bounds, counts)
    with np.errstate(invalid="ignore"):
        result = np.where(q < 0, -math.inf, np.where(q > 1, math.inf, result))
    return np.where(np.isnan(q), math.nan, result), forced


def _interpolate(q: FloatArray, bounds: FloatArray, counts: FloatArray) -> FloatArray:
    k = len(bounds)
    observations = counts[-1]
    with np.errstate(all="ignore"):
        rank = q * observations
        reached = counts[:-1] >= rank[None, :]
        b = np.where(reached.any(axis=0), reached.argmax(axis=0), k - 1)
        cols = np.arange(counts.shape[1])
        start = np.where(b > 0, bounds[np.maximum(b - 1, 0)], 0.0)
        below = np.where(b > 0, counts[np.maximum(b - 1, 0), cols], 0.0)
        end = bounds[b]
        count = counts[b, cols] - below
        inside = start + (end - start) * ((rank - below) / count)
    result = np.where(b == k - 1, bounds[k - 2],
                      np.where((b == 0) & (bounds[0] <= 0), bounds[0], inside))
    return np.where(observations == 0, math.nan, result)


def bucket_fraction(lower: FloatArray, upper: FloatArray, bounds: FloatArray,
                    counts: FloatArray) -> FloatArray:
    """``BucketFraction``: estimated share of observations in ``(lower, upper]`` per step."""
    bounds, counts = _coalesce(bounds, counts.copy())
    steps = counts.shape[1]
    if not (math.isinf(bounds[-1]) and bounds[-1] > 0):
        return np.full(steps, math.nan)
    total = counts[-1]
    rank = np.zeros(steps)
    lower_rank, upper_rank = np.zeros(steps), np.zeros(steps)
    lower_set, upper_set = np.zeros(steps, dtype=bool), np.zeros(steps, dtype=bool)
    with np.errstate(all="ignore"):
        for i, upper_bound in enumerate(bounds):
            lower_bound = bounds[i - 1] if i > 0 else (-math.inf if bounds[0] <= 0 else 0.0)
            c = counts[i]
            set_lo = ~lower_set & (lower_bound >= lower)
            lower_rank = np.where(set_lo, rank, lower_rank)
            lower_set |= set_lo
            set_hi = ~upper_set & (lower_bound >= upper)
            upper_rank = np.where(set_hi, rank, upper_rank)
            upper_set |= set_hi
            for value, rank_arr, flag in ((lower, lower_rank, lower_set),
                                          (upper, upper_rank, upper_set)):
                inside = ~flag & (lower_bound < value) & (upper_bound > value)
                if math.isinf(lower_bound) and lower_bound < 0:
                    interp = c
                else:
                    interp = rank + (c - rank) * (value - lower_bound) / (upper_bound - lower_bound)
                rank_arr[...] = np.where(inside, interp, rank_arr)
                flag |= inside
            rank = np.where(lower_set & upper_set, rank, c)
        lower_rank = np.where(~lower_set | (lower_rank > total), total, lower_rank)
        upper_rank = np.where(~upper_set | (upper_rank > total), total, upper_rank)
        result = (upper_rank - lower_rank) / total
    result = np.where(lower >= upper, 0.0, result)
    return np.where((total == 0) | np.isnan(lower) | np.isnan(upper), math.nan, result)


def _groups(ctx: EvalContext,
            vec: InstantVector) -> dict[Labels, list[tuple[float, InstantSeries]]]:
    groups: dict[Labels, list[tuple[float, InstantSeries]]] = {}
    for s in vec.series:
        le = labels_get(s.labels, "le")
        bound = parse_le(le)
        if bound is None:
            annotate(ctx, _for_metric('PromQL warning: bucket label "le" is missing or has a '
                                      f"malformed value of {go_quote(le)}", s.labels))
            continue
        key = tuple(kv for kv in s.labels if kv[0] != "le")
        groups.setdefault(key, []).append((bound, s))
    return groups


def _for_metric(message: str, labels: Labels) -> str:
    name = labels_get(labels, METRIC_NAME)
    return f"{message} for metric name {go_quote(name)}" if name else message


def _per_group(ctx: EvalContext, vec: InstantVector,
               compute: Callable[[np.ndarray, FloatArray, FloatArray], FloatArray]) -> InstantVector:
    """Evaluate ``compute(step_indices, bounds, counts)`` for every bucket pattern of each group."""
    out: list[InstantSeries] = []
    for labels, members in _groups(ctx, vec).items():
        bounds = np.array([b for b, _ in members])
        values = np.vstack([s.values for _, s in members])
        present = np.vstack([s.present for _, s in members])
        result = np.full(len(ctx.steps), math.nan)
        any_present: np.ndarray = np.asarray(present.any(axis=0), dtype=bool)
        cols = np.flatnonzero(any_present)
        if present[:, cols].all():  # every bucket at every step: one pattern, no grouping
            result[cols] = compute(cols, bounds, values[:, cols])
        else:
            patterns, inverse = np.unique(present[:, cols].T, axis=0, return_inverse=True)
            for p, pattern in enumerate(patterns):
                idx = cols[np.asarray(inverse).ravel() == p]
                rows = np.flatnonzero(pattern)
                result[idx] = compute(idx, bounds[rows], values[np.ix_(rows, idx)])
        if any_present.any():
            out.append(InstantSeries(labels=result_labels(labels), values=result,
                                     present=any_present, drop_name=True))
    return InstantVector(out)


# === histogram_quantile(q Scalar, v Vector) Vector ===
def fn_histogram_quantile(ctx: EvalContext, args: Args, exprs: Exprs) -> Value:
    """The q-quantile of classic histograms, interpolated linearly inside the bucket."""
    q = scalar_arg(args, 0, "histogram_quantile")
    vec = vector_arg(args, 1, "histogram_quantile")
    quantile_warning(ctx, q)
    forced: list[bool] = []

    def compute(idx: np.ndarray, bounds: FloatArray, counts: FloatArray) -> FloatArray:
        result, fixed = bucket_quantile(q[idx], bounds, counts, ctx.semantics)
        forced.append(fixed)
        return result

    out = _per_group(ctx, vec, compute)
    if any(forced):
        annotate(ctx, "PromQL info: input to histogram_quantile needed to be fixed for "
                 "monotonicity (see https://prometheus.io/docs/prometheus/latest/querying/"
                 "functions/#histogram_quantile)")
    return out


# === histogram_fraction(lower, upper Scalar, v Vector) Vector ===
def fn_histogram_fraction(ctx: EvalContext, args: Args, exprs: Exprs) -> Value:
    """Estimated fraction of observations between ``lower`` and ``upper`` (classic buckets).

    Prometheus 3.4 accepts classic buckets; earlier versions only native
    histograms, so with an older semantics the result is empty, as there.
    """
    lower = scalar_arg(args, 0, "histogram_fraction")
    upper = scalar_arg(args, 1, "histogram_fraction")
    vec = vector_arg(args, 2, "histogram_fraction")
    if not ctx.semantics.histogram_fraction_classic:
        return InstantVector([])  # before 3.4: native histograms only, floats are skipped
    return _per_group(ctx, vec, lambda idx, b, c: bucket_fraction(lower[idx], upper[idx], b, c))


# === histogram_quantiles(v Vector, label String, q0 Scalar, qs Scalar...) Vector ===
def fn_histogram_quantiles(ctx: EvalContext, args: Args, exprs: Exprs) -> Value:
    """Several quantiles at once, told apart by ``label`` (OpenMetrics float text of q)."""
    vec = vector_arg(args, 0, "histogram_quantiles")
    label = string_arg(args, 1, "histogram_quantiles")
    out: list[InstantSeries] = []
    for i in range(2, len(args)):
        q = scalar_arg(args, i, "histogram_quantiles")
        single = fn_histogram_quantile(ctx, [ScalarValue(q), vec], exprs)
        assert isinstance(single, InstantVector)
        names = np.array([openmetrics_float(float(x)) for x in q])
        for s in single.series:
            for name in np.unique(names[s.present]):
                present = s.present & (names == name)
                labels = make_labels([kv for kv in s.labels if kv[0] != label] + [(label, name)])
                out.append(InstantSeries(labels=labels, values=s.values, present=present,
                                         drop_name=True))
    return InstantVector(merge_same_labelsets(out))


def openmetrics_float(value: float) -> str:
    """``labels.FormatOpenMetricsFloat``: Go's shortest %g, with ".0" on integers."""
    if value == 0:
        return "0.0"  # -0 included, as in Go (-0 == 0)
    text = format_float_g(value)
    if math.isnan(value) or math.isinf(value) or "e" in text or "." in text:
        return text
    return text + ".0"
