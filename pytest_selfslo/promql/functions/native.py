"""Native histograms in functions: ``histogram_*`` and the range functions defined for them.

Series carry histogram samples beside their float arrays (``InstantSeries.hist``,
``RangeSeries.h``; the float array holds the HIST_NAN placeholder there).
Functions not listed in :data:`HISTOGRAM_AWARE` see their arguments through
:func:`floats_only`, which hides histogram samples, as Prometheus' float
functions skip them. The aware ones:

* ``histogram_count/sum/avg/stddev/stdvar``, ``histogram_quantile(s)``,
  ``histogram_fraction`` -- per histogram sample (:mod:`.histogram`); classic
  ``le`` buckets keep their implementation in :mod:`.histograms`;
* ``rate``/``increase``/``delta`` (``histogramRate`` with counter-reset
  handling and extrapolation by the count), ``irate``/``idelta``,
  ``resets``/``changes`` (over mixed float/histogram ranges),
  ``sum/avg/count/last/first/present_over_time``;
* label functions, ``timestamp``, ``absent`` and ``sort_by_label`` pass
  histogram samples through.

Windows containing histogram samples are computed one step at a time (the float
windows stay vectorised); a window mixing floats and histograms gives no result
and the warning Prometheus gives.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from pytest_selfslo._core.gofmt import format_float_g
from pytest_selfslo.promql.functions.util import annotate, result_labels
from pytest_selfslo.promql.histogram import (
    GAUGE_TYPE,
    FloatHistogram,
    IncompatibleBoundsError,
    IncompatibleSchemaError,
    avg_histograms,
    exponential_interpolation,
    sum_histograms,
)
from pytest_selfslo.promql.histops import (
    incompatible_custom_warning,
    mismatched_custom_info,
    mixed_custom_warning,
    mixed_floats_histograms_warning,
    not_counter_warning,
    not_gauge_warning,
    reset_collision_warning,
)
from pytest_selfslo.promql.labels import METRIC_NAME, labels_get
from pytest_selfslo.promql.values import (
    HIST_NAN,
    EvalContext,
    InstantSeries,
    InstantVector,
    RangeSeries,
    RangeVector,
    ScalarValue,
    Value,
    hist_mask,
)

__all__ = ["HISTOGRAM_AWARE", "floats_only", "native_table", "split_native"]

Impl = Callable[[EvalContext, Sequence[Value], Sequence[Any]], Value]
#: a window's result: a float, a histogram, or None (no sample)
WindowResult = float | FloatHistogram | None


# --------------------------------------------------------------------------- arguments
def floats_only(value: Value) -> Value:
    """``value`` without its native-histogram samples (float functions never see them)."""
    if isinstance(value, InstantVector):
        if not any(s.hist is not None for s in value.series):
            return value
        out = []
        for s in value.series:
            if s.hist is None:
                out.append(s)
                continue
            present = s.present & ~s.hist_present()
            if present.any():
                out.append(InstantSeries(s.labels, s.values, present, s.drop_name, s.timestamps))
        return InstantVector(out)
    if isinstance(value, RangeVector):
        if not any(rs.h is not None for rs in value.series):
            return value
        series = []
        for rs in value.series:
            if rs.h is None:
                series.append(rs)
                continue
            keep = ~hist_mask(rs.v)
            cum = np.concatenate([[0], np.cumsum(keep)]).astype(np.int64)
            series.append(RangeSeries(rs.labels, rs.t[keep], rs.v[keep], cum[rs.lo], cum[rs.hi],
                                      rs.drop_name))
        return RangeVector(series, value.range_ms, value.window_end)
    return value


def split_native(vec: InstantVector) -> tuple[InstantVector, list[InstantSeries]]:
    """(the float part of ``vec``, the series that have histogram samples)."""
    floats = floats_only(vec)
    assert isinstance(floats, InstantVector)
    return floats, [s for s in vec.series if s.hist is not None and s.hist_present().any()]


def _metric(labels: Any) -> str:
    return labels_get(labels, METRIC_NAME)


# --------------------------------------------------------------------------- instant functions
def _per_histogram(fn: Callable[[FloatHistogram], float]) -> Impl:
    def impl(ctx: EvalContext, args: Sequence[Value], exprs: Sequence[Any]) -> Value:
        vec = args[0]
        assert isinstance(vec, InstantVector)
        out = []
        for s in vec.series:
            if s.hist is None:
                continue
            hp = s.hist_present()
            if not hp.any():
                continue
            values = np.full(len(s.values), np.nan)
            for i in np.flatnonzero(hp).tolist():
                values[i] = fn(s.hist[i])
            out.append(InstantSeries(result_labels(s.labels), values, hp, True))
        return InstantVector(out)
    return impl


def _avg(h: FloatHistogram) -> float:
    with np.errstate(all="ignore"):
        return float(np.float64(h.sum) / np.float64(h.count))


def _stddev(h: FloatHistogram) -> float:
    v = h.variance()
    return math.sqrt(v) if v >= 0 or math.isnan(v) else math.nan


def with_native_quantile(classic: Impl) -> Impl:
    """``histogram_quantile``: native samples here, classic buckets by ``classic``."""
    def impl(ctx: EvalContext, args: Sequence[Value], exprs: Sequence[Any]) -> Value:
        q_arg, vec = args[0], args[1]
        assert isinstance(q_arg, ScalarValue) and isinstance(vec, InstantVector)
        floats, native = _mixed_classic_native(ctx, *split_native(vec))
        result = classic(ctx, [q_arg, floats], exprs)
        if not native:
            return result
        assert isinstance(result, InstantVector)
        out = list(result.series)
        for s in native:
            hp = s.hist_present()
            out.append(InstantSeries(result_labels(s.labels), _quantiles(ctx, s, q_arg.values),
                                     hp, True))
        return InstantVector(out)
    return impl


def _quantiles(ctx: EvalContext, s: InstantSeries, q: Any) -> Any:
    """Per step, the ``q[i]``-quantile of the histogram sample (NaN elsewhere)."""
    hp = s.hist_present()
    values = np.full(len(hp), np.nan)
    assert s.hist is not None
    idx, lows, ups, fracs = [], [], [], []
    for i in np.flatnonzero(hp).tolist():
        value, note = s.hist[i].quantile_parts(float(q[i]))
        _quantile_note(ctx, note, s.labels)
        if isinstance(value, tuple):
            idx.append(i)
            lows.append(value[0])
            ups.append(value[1])
            fracs.append(value[2])
        else:
            values[i] = value
    if idx:
        values[idx] = exponential_interpolation(np.array(lows), np.array(ups), np.array(fracs))
    return values


def _quantile_note(ctx: EvalContext, note: str | None, labels: Any) -> None:
    if note == "nan_result":
        annotate(ctx, "PromQL info: input to histogram_quantile has NaN observations, "
                 f'result is NaN for metric name "{_metric(labels)}"')
    elif note == "nan_skew":
        annotate(ctx, "PromQL info: input to histogram_quantile has NaN observations, "
                 f'result is skewed higher for metric name "{_metric(labels)}"')


def with_native_fraction(classic: Impl) -> Impl:
    """``histogram_fraction``: native samples here, classic buckets by ``classic``."""
    def impl(ctx: EvalContext, args: Sequence[Value], exprs: Sequence[Any]) -> Value:
        lo_arg, hi_arg, vec = args[0], args[1], args[2]
        assert isinstance(lo_arg, ScalarValue) and isinstance(hi_arg, ScalarValue)
        assert isinstance(vec, InstantVector)
        floats, native = _mixed_classic_native(ctx, *split_native(vec))
        result = classic(ctx, [lo_arg, hi_arg, floats], exprs)
        if not native:
            return result
        assert isinstance(result, InstantVector)
        out = list(result.series)
        for s in native:
            hp = s.hist_present()
            values = np.full(len(hp), np.nan)
            assert s.hist is not None
            for i in np.flatnonzero(hp).tolist():
                values[i], nans = s.hist[i].fraction(float(lo_arg.values[i]),
                                                     float(hi_arg.values[i]))
                if nans:
                    annotate(ctx, "PromQL info: input to histogram_fraction has NaN observations, "
                             "which are excluded from all fractions for metric name "
                             f'"{_metric(s.labels)}"')
            out.append(InstantSeries(result_labels(s.labels), values, hp, True))
        return InstantVector(out)
    return impl


def with_native_quantiles(classic: Impl) -> Impl:
    """``histogram_quantiles``: one output series per quantile, native samples included."""
    def impl(ctx: EvalContext, args: Sequence[Value], exprs: Sequence[Any]) -> Value:
        vec = args[0]
        assert isinstance(vec, InstantVector)
        floats, native = _mixed_classic_native(ctx, *split_native(vec))
        result = classic(ctx, [floats, *args[1:]], exprs)
        if not native:
            return result
        assert isinstance(result, InstantVector)
        label = exprs[1].val if hasattr(exprs[1], "val") else str(args[1])
        out = list(result.series)
        for q_arg in args[2:]:
            assert isinstance(q_arg, ScalarValue)
            for s in native:
                hp = s.hist_present()
                values = _quantiles(ctx, s, q_arg.values)
                q_text = _openmetrics_float(float(q_arg.values[0]))
                labels = tuple(sorted([kv for kv in result_labels(s.labels) if kv[0] != label]
                                      + [(label, q_text)]))
                out.append(InstantSeries(labels, values, hp, True))
        return InstantVector(out)
    return impl


def _openmetrics_float(v: float) -> str:
    """``labels.FormatOpenMetricsFloat``: ``0.5``, ``1.0``, ``NaN``, ``+Inf``."""
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    text = format_float_g(v)
    if all(c.isdigit() or c == "-" for c in text):
        text += ".0"
    return text


def _mixed_classic_native(ctx: EvalContext, floats: InstantVector, native: list[InstantSeries]
                          ) -> tuple[InstantVector, list[InstantSeries]]:
    """Drop classic and native histograms of the same labels at the steps where both exist."""
    if not native or not floats.series:
        return floats, native
    by_key: dict[Any, Any] = {}
    for s in floats.series:
        if any(k == "le" for k, _ in s.labels):
            key = tuple(kv for kv in s.labels if kv[0] != "le")
            prev = by_key.get(key)
            by_key[key] = s.present.copy() if prev is None else (prev | s.present)
    clash_by_key: dict[Any, Any] = {}
    out_native = []
    for s in native:
        classic = by_key.get(s.labels)
        if classic is None:
            out_native.append(s)
            continue
        clash = classic & s.hist_present()
        if not clash.any():
            out_native.append(s)
            continue
        annotate(ctx, "PromQL warning: vector contains a mix of classic and native histograms "
                 f'for metric name "{_metric(s.labels)}"')
        clash_by_key[s.labels] = clash
        present = s.present & ~clash
        if present.any():
            out_native.append(InstantSeries(s.labels, s.values, present, s.drop_name,
                                            hist=s.hist))
    if not clash_by_key:
        return floats, out_native
    out_floats = []
    for s in floats.series:
        clash = clash_by_key.get(tuple(kv for kv in s.labels if kv[0] != "le"))
        if clash is None:
            out_floats.append(s)
        elif (s.present & ~clash).any():
            out_floats.append(InstantSeries(s.labels, s.values, s.present & ~clash, s.drop_name))
    return InstantVector(out_floats), out_native


# --------------------------------------------------------------------------- range functions
def _windows(ctx: EvalContext, rv: RangeVector, fn: Callable[..., WindowResult],
             all_windows: bool = False) -> dict[int, tuple[RangeSeries, list[tuple[int, WindowResult]]]]:
    """Per histogram-bearing series: (series, [(step, result)]) for windows holding histograms."""
    out: dict[int, tuple[RangeSeries, list[tuple[int, WindowResult]]]] = {}
    for k, rs in enumerate(rv.series):
        if rs.h is None:
            continue
        is_h = hist_mask(rs.v)
        cum = np.concatenate([[0], np.cumsum(is_h)])
        nh = cum[rs.hi] - cum[rs.lo]
        todo = np.flatnonzero((rs.hi > rs.lo) & ((nh > 0) | all_windows))
        results = []
        for i in todo.tolist():
            a, b = int(rs.lo[i]), int(rs.hi[i])
            results.append((i, fn(ctx, rs, i, rs.t[a:b], rs.v[a:b], rs.h[a:b], is_h[a:b], rv)))
        out[k] = (rs, results)
    return out


def _merge(base: InstantVector, computed: dict[int, tuple[RangeSeries, list[tuple[int, WindowResult]]]],
           n_steps: int, keep_name: bool = False, override_all: bool = False) -> InstantVector:
    """The float implementation's result with the histogram windows' results laid over it."""
    if not computed:
        return base
    by_labels = {s.labels: idx for idx, s in enumerate(base.series)}
    series = list(base.series)
    for rs, results in computed.values():
        drop = rs.drop_name or not keep_name
        labels = result_labels(rs.labels) if drop else rs.labels
        idx = by_labels.get(labels)
        if idx is not None:
            prev = series[idx]
            values, present = prev.values.copy(), prev.present.copy()
            hist = prev.hist.copy() if prev.hist is not None else None
        else:
            values, present, hist = np.full(n_steps, np.nan), np.zeros(n_steps, bool), None
        if override_all:
            present[:] = False
        for i, res in results:
            if res is None:
                present[i] = False
            elif isinstance(res, FloatHistogram):
                if hist is None:
                    hist = np.full(n_steps, None, dtype=object)
                hist[i] = res
                values[i] = HIST_NAN
                present[i] = True
            else:
                values[i] = res
                present[i] = True
                if hist is not None:
                    hist[i] = None
        new = InstantSeries(labels, values, present, drop, hist=hist)
        if idx is None:
            if present.any():
                by_labels[labels] = len(series)
                series.append(new)
        else:
            series[idx] = new
    return InstantVector([s for s in series if s.present.any()])


def _range_wrapper(float_impl: Impl, fn: Callable[..., WindowResult], *, keep_name: bool = False,
                   all_windows: bool = False, arg: int = 0) -> Impl:
    def impl(ctx: EvalContext, args: Sequence[Value], exprs: Sequence[Any]) -> Value:
        rv = args[arg]
        if not isinstance(rv, RangeVector) or not any(rs.h is not None for rs in rv.series):
            return float_impl(ctx, [floats_only(a) for a in args], exprs)
        base = float_impl(ctx, [floats_only(a) for a in args], exprs)
        assert isinstance(base, InstantVector)
        computed = _windows(ctx, rv, fn, all_windows)
        return _merge(base, computed, len(ctx.steps), keep_name, all_windows)
    return impl


def _mixed(ctx: EvalContext, rs: RangeSeries, is_h: Any) -> bool:
    if is_h.all():
        return False
    annotate(ctx, mixed_floats_histograms_warning(_metric(rs.labels)))
    return True


def _hist_rate(ctx: EvalContext, rs: RangeSeries, hs: list[FloatHistogram], is_counter: bool
               ) -> FloatHistogram | None:
    """``histogramRate``: last minus first, counter resets added back; None if incompatible."""
    name = _metric(rs.labels)
    prev, last = hs[0], hs[-1]
    if is_counter and (prev.hint == GAUGE_TYPE or last.hint == GAUGE_TYPE):
        annotate(ctx, not_counter_warning(name))
    custom = prev.uses_custom_buckets
    if is_counter and hs[1].detect_reset(prev):
        prev = FloatHistogram(schema=hs[1].schema, custom_values=hs[1].custom_values)
        custom = hs[1].uses_custom_buckets
    if last.uses_custom_buckets != custom:
        annotate(ctx, mixed_custom_warning(name))
        return None
    min_schema = min(last.schema, prev.schema)
    for cur in hs[1:-1]:
        if not is_counter:
            continue
        if cur.hint == GAUGE_TYPE:
            annotate(ctx, not_counter_warning(name))
        min_schema = min(min_schema, cur.schema)
        if cur.uses_custom_buckets != custom:
            annotate(ctx, mixed_custom_warning(name))
            return None
    diff = _combine(ctx, name, last.to_schema(min_schema), prev, "subtraction")
    if diff is None:
        return None
    h = diff
    if is_counter:
        p = hs[0] if prev is hs[0] else prev
        for cur in hs[1:]:
            if cur.detect_reset(p):
                total = _combine(ctx, name, h, p, "addition")
                if total is None:
                    return None
                h = total
            p = cur
    elif hs[0].hint != GAUGE_TYPE or hs[-1].hint != GAUGE_TYPE:
        annotate(ctx, not_gauge_warning(name))
    return h.with_hint(GAUGE_TYPE).compact()


def _combine(ctx: EvalContext, name: str, a: FloatHistogram, b: FloatHistogram,
             op: str) -> FloatHistogram | None:
    """``a + b`` (``op="addition"``) or ``a - b`` (``"subtraction"``), annotated as Prometheus
    does: ``None`` with a warning for incompatible custom buckets or a custom/exponential mix,
    an info when custom bounds were reconciled."""
    combine = a.add if op == "addition" else a.sub
    try:
        result, _, reconciled = combine(b, ctx.semantics.nhcb_reconcile)
    except IncompatibleBoundsError:
        annotate(ctx, incompatible_custom_warning(name))
        return None
    except IncompatibleSchemaError:
        annotate(ctx, mixed_custom_warning(name))
        return None
    if reconciled:
        annotate(ctx, mismatched_custom_info(op))
    return result


def _extrapolated(is_counter: bool, is_rate: bool) -> Callable[..., WindowResult]:
    def window(ctx: EvalContext, rs: RangeSeries, i: int, t: Any, v: Any, h: Any, is_h: Any,
               rv: RangeVector) -> WindowResult:
        if _mixed(ctx, rs, is_h):
            return None
        hs = list(h)
        if len(hs) < 2:
            return None
        result = _hist_rate(ctx, rs, hs, is_counter)
        if result is None:
            return None
        range_end = int(rv.window_end[i])
        range_start = range_end - rv.range_ms
        first_t, last_t = int(t[0]), int(t[-1])
        to_start = (first_t - range_start) / 1000
        to_end = (range_end - last_t) / 1000
        sampled = (last_t - first_t) / 1000
        avg_between = sampled / (len(hs) - 1)
        threshold = avg_between * 1.1
        if to_start >= threshold:
            to_start = avg_between / 2
        if (is_counter and ctx.semantics.histogram_rate_zero_point and result.count > 0
                and hs[0].count >= 0):
            to_zero = sampled * (hs[0].count / result.count)
            to_start = min(to_start, to_zero)
        if to_end >= threshold:
            to_end = avg_between / 2
        factor = (sampled + to_start + to_end) / sampled if sampled else 1.0
        if is_rate:
            factor /= rv.range_ms / 1000
        return result.mul(factor)
    return window


def _instant_window(is_rate: bool) -> Callable[..., WindowResult]:
    def window(ctx: EvalContext, rs: RangeSeries, i: int, t: Any, v: Any, h: Any, is_h: Any,
               rv: RangeVector) -> WindowResult:
        if len(t) < 2:
            return None
        # the last histogram and the last float decide; only the last two samples matter
        if not (is_h[-1] and is_h[-2]):
            annotate(ctx, mixed_floats_histograms_warning(_metric(rs.labels)))
            return None
        h0, h1 = h[-2], h[-1]
        interval = int(t[-1]) - int(t[-2])
        if interval == 0:
            return None
        name = _metric(rs.labels)
        if is_rate and (h1.hint == GAUGE_TYPE or h0.hint == GAUGE_TYPE):
            annotate(ctx, not_counter_warning(name))
        if not is_rate and (h1.hint != GAUGE_TYPE or h0.hint != GAUGE_TYPE):
            annotate(ctx, not_gauge_warning(name))
        res = h1
        if not is_rate or not h1.detect_reset(h0):
            diff = _combine(ctx, name, h1, h0, "subtraction")
            if diff is None:
                return None
            res = diff
        res = res.with_hint(GAUGE_TYPE).compact()
        if is_rate:
            res = res.div(interval / 1000)
        out: WindowResult = res
        return out
    return window


def _resets(ctx: EvalContext, rs: RangeSeries, i: int, t: Any, v: Any, h: Any, is_h: Any,
            rv: RangeVector) -> WindowResult:
    count = 0
    for k in range(1, len(t)):
        if is_h[k] and is_h[k - 1]:
            count += bool(h[k].detect_reset(h[k - 1]))
        elif is_h[k] != is_h[k - 1] or v[k] < v[k - 1]:
            count += 1
    return float(count)


def _changes(ctx: EvalContext, rs: RangeSeries, i: int, t: Any, v: Any, h: Any, is_h: Any,
             rv: RangeVector) -> WindowResult:
    count = 0
    for k in range(1, len(t)):
        if is_h[k] and is_h[k - 1]:
            count += not _exactly_equal(h[k], h[k - 1])
        elif is_h[k] != is_h[k - 1] or (v[k] != v[k - 1] and not (math.isnan(v[k]) and math.isnan(v[k - 1]))):
            count += 1
    return float(count)


def _exactly_equal(a: FloatHistogram, b: FloatHistogram) -> bool:
    return a.compact().matches(b.compact())


def _sum_window(avg: bool) -> Callable[..., WindowResult]:
    def window(ctx: EvalContext, rs: RangeSeries, i: int, t: Any, v: Any, h: Any, is_h: Any,
               rv: RangeVector) -> WindowResult:
        if _mixed(ctx, rs, is_h):
            return None
        sem = ctx.semantics
        try:
            combine = avg_histograms if avg else sum_histograms
            total, collision, reconciled = combine(list(h), sem.histogram_kahan,
                                                   sem.nhcb_reconcile)
        except IncompatibleBoundsError:
            annotate(ctx, incompatible_custom_warning(_metric(rs.labels)))
            return None
        except IncompatibleSchemaError:
            annotate(ctx, mixed_custom_warning(_metric(rs.labels)))
            return None
        if collision and sem.histogram_gauge_ops:
            annotate(ctx, reset_collision_warning("aggregation"))
        if reconciled:
            annotate(ctx, mismatched_custom_info("aggregation"))
        return total.compact()
    return window


def _count_window(ctx: EvalContext, rs: RangeSeries, i: int, t: Any, v: Any, h: Any, is_h: Any,
                  rv: RangeVector) -> WindowResult:
    return float(len(t))


def _present_window(ctx: EvalContext, rs: RangeSeries, i: int, t: Any, v: Any, h: Any, is_h: Any,
                    rv: RangeVector) -> WindowResult:
    return 1.0


def _last_window(ctx: EvalContext, rs: RangeSeries, i: int, t: Any, v: Any, h: Any, is_h: Any,
                 rv: RangeVector) -> WindowResult:
    last: WindowResult = h[-1] if is_h[-1] else float(v[-1])
    return last


def _first_window(ctx: EvalContext, rs: RangeSeries, i: int, t: Any, v: Any, h: Any, is_h: Any,
                  rv: RangeVector) -> WindowResult:
    first: WindowResult = h[0] if is_h[0] else float(v[0])
    return first


def _ts_last_window(ctx: EvalContext, rs: RangeSeries, i: int, t: Any, v: Any, h: Any, is_h: Any,
                    rv: RangeVector) -> WindowResult:
    return int(t[-1]) / 1000


def _ts_first_window(ctx: EvalContext, rs: RangeSeries, i: int, t: Any, v: Any, h: Any,
                     is_h: Any, rv: RangeVector) -> WindowResult:
    return int(t[0]) / 1000


# --------------------------------------------------------------------------- table
#: functions that receive histogram samples (all others see :func:`floats_only` arguments)
HISTOGRAM_AWARE = frozenset({
    "histogram_count", "histogram_sum", "histogram_avg", "histogram_stddev", "histogram_stdvar",
    "histogram_quantile", "histogram_quantiles", "histogram_fraction",
    "rate", "increase", "delta", "irate", "idelta", "resets", "changes",
    "sum_over_time", "avg_over_time", "count_over_time", "last_over_time", "first_over_time",
    "present_over_time", "absent_over_time", "label_replace", "label_join", "timestamp",
    "absent", "sort_by_label", "sort_by_label_desc", "ts_of_last_over_time",
    "ts_of_first_over_time",
})


def native_table(floats: dict[str, Impl]) -> dict[str, Impl]:
    """The histogram-aware versions of the functions in ``floats`` (the float table)."""
    table: dict[str, Impl] = {
        "histogram_count": _per_histogram(lambda h: h.count),
        "histogram_sum": _per_histogram(lambda h: h.sum),
        "histogram_avg": _per_histogram(_avg),
        "histogram_stdvar": _per_histogram(lambda h: h.variance()),
        "histogram_stddev": _per_histogram(_stddev),
        "histogram_quantile": with_native_quantile(floats["histogram_quantile"]),
        "histogram_fraction": with_native_fraction(floats["histogram_fraction"]),
        "histogram_quantiles": with_native_quantiles(floats["histogram_quantiles"]),
        "rate": _range_wrapper(floats["rate"], _extrapolated(True, True)),
        "increase": _range_wrapper(floats["increase"], _extrapolated(True, False)),
        "delta": _range_wrapper(floats["delta"], _extrapolated(False, False)),
        "irate": _range_wrapper(floats["irate"], _instant_window(True)),
        "idelta": _range_wrapper(floats["idelta"], _instant_window(False)),
        "resets": _range_wrapper(floats["resets"], _resets, all_windows=True),
        "changes": _range_wrapper(floats["changes"], _changes, all_windows=True),
        "sum_over_time": _range_wrapper(floats["sum_over_time"], _sum_window(False)),
        "avg_over_time": _range_wrapper(floats["avg_over_time"], _sum_window(True)),
        "count_over_time": _range_wrapper(floats["count_over_time"], _count_window),
        "present_over_time": _range_wrapper(floats["present_over_time"], _present_window),
        "last_over_time": _range_wrapper(floats["last_over_time"], _last_window, keep_name=True),
        "first_over_time": _range_wrapper(floats["first_over_time"], _first_window,
                                          keep_name=True),
        "ts_of_last_over_time": _range_wrapper(floats["ts_of_last_over_time"], _ts_last_window),
        "ts_of_first_over_time": _range_wrapper(floats["ts_of_first_over_time"],
                                                _ts_first_window),
    }
    return table
