"""Aggregation operators (``sum by (job) (...)`` and friends), vectorised over steps.

Series are grouped once by their (static) labels; each group is reduced with
one numpy pass per member series over the whole step grid, members in input
(storage) order, the first member initialising the group as in Prometheus'
``engine.go``, whose numerics depend on the version (:class:`.Semantics`):

* ``sum`` -- Kahan-Neumaier compensated summation, compensation reset when the
  running sum becomes infinite (2.54+); plain left-to-right addition before;
* ``avg`` -- compensated direct mean until the running sum would overflow,
  then incremental mean from that step on: ``sum/n + c/n`` (3.5+) or
  ``(sum + c)/n`` (2.55-3.4); before 2.55 the incremental
  ``mean += v/n - mean/n`` throughout;
* ``stddev``/``stdvar`` -- Welford's online algorithm (a lone Inf/NaN gives NaN
  since 3.0, 0 before);
* ``min``/``max`` -- NaN loses against any number;
* ``quantile`` -- NaN sorts first, linear interpolation between ranks
  (``promql/quantile.go``); q < 0 gives -Inf, q > 1 gives +Inf;
* ``topk``/``bottomk`` -- NaN counts as the worst value; ties keep input order;
* ``limitk`` -- the first k present series; ``limit_ratio`` -- series whose
  label-hash offset (xxhash64 of the labels, as Prometheus) falls in the ratio.
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np

from pytest_selfslo._core.errors import PromQLEvalError
from pytest_selfslo.promql import gomath
from pytest_selfslo.promql.arrays import BoolArray, FloatArray, IntArray
from pytest_selfslo.promql.evaluator import Evaluator
from pytest_selfslo.promql.histogram import (
    IncompatibleBoundsError,
    IncompatibleSchemaError,
    avg_histograms,
    sum_histograms,
)
from pytest_selfslo.promql.histops import (
    ignored_in_aggregation_info,
    incompatible_custom_warning,
    mismatched_custom_info,
    mixed_custom_warning,
    mixed_floats_histograms_agg_warning,
    reset_collision_warning,
)
from pytest_selfslo.promql.kahansum import kahan_inc
from pytest_selfslo.promql.labels import METRIC_NAME, Labels
from pytest_selfslo.promql.semantics import Semantics
from pytest_selfslo.promql.values import (
    HIST_NAN,
    InstantSeries,
    InstantVector,
    ScalarValue,
    StringValue,
    Value,
)

__all__ = ["eval_aggregation", "format_go_float", "format_go_g", "labels_hash"]

_SIMPLE = frozenset({"sum", "avg", "min", "max", "count", "group", "stddev", "stdvar",
                     "quantile"})
_K_OPS = frozenset({"topk", "bottomk", "limitk", "limit_ratio"})
_LEGACY_LABEL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
#: aggregations whose result over one series is that series' value (or 1 for count/group)
_SINGLE_IDENTITY = frozenset({"sum", "avg", "min", "max", "count", "group"})


def format_go_float(value: float) -> str:
    """``strconv.FormatFloat(v, 'f', -1, 64)``: shortest round-trip, no exponent."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return np.format_float_positional(value, unique=True, trim="-")


def format_go_g(value: float) -> str:
    """Go's ``%g`` for a float64: shortest round-trip digits, ``+Inf``/``-Inf``/``NaN``."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text


# --------------------------------------------------------------------------- xxhash64
_P1, _P2, _P3 = 0x9E3779B185EBCA87, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9
_P4, _P5 = 0x85EBCA77C2B2AE63, 0x27D4EB2F165667C5
_M64 = (1 << 64) - 1


def _rotl(x: int, r: int) -> int:
    return ((x << r) | (x >> (64 - r))) & _M64


def _round(acc: int, lane: int) -> int:
    return (_rotl((acc + lane * _P2) & _M64, 31) * _P1) & _M64


def _xxhash64(data: bytes) -> int:
    """xxHash64 with seed 0 (the hash Prometheus' ``labels.Hash`` uses)."""
    n = len(data)
    i = 0
    if n >= 32:
        v = [(_P1 + _P2) & _M64, _P2, 0, (-_P1) & _M64]
        while i + 32 <= n:
            for j in range(4):
                v[j] = _round(v[j], int.from_bytes(data[i + 8 * j:i + 8 * j + 8], "little"))
            i += 32
        h = (_rotl(v[0], 1) + _rotl(v[1], 7) + _rotl(v[2], 12) + _rotl(v[3], 18)) & _M64
        for lane in v:
            h = ((h ^ _round(0, lane)) * _P1 + _P4) & _M64
    else:
        h = _P5
    h = (h + n) & _M64
    while i + 8 <= n:
        h ^= _round(0, int.from_bytes(data[i:i + 8], "little"))
        h = (_rotl(h, 27) * _P1 + _P4) & _M64
        i += 8
    if i + 4 <= n:
        h ^= (int.from_bytes(data[i:i + 4], "little") * _P1) & _M64
        h = (_rotl(h, 23) * _P2 + _P3) & _M64
        i += 4
    while i < n:
        h ^= (data[i] * _P5) & _M64
        h = (_rotl(h, 11) * _P1) & _M64
        i += 1
    h ^= h >> 33
    h = (h * _P2) & _M64
    h ^= h >> 29
    h = (h * _P3) & _M64
    return h ^ (h >> 32)


def labels_hash(labels: Labels) -> int:
    """Prometheus' ``labels.Labels.Hash()``: xxhash64 of ``name\\xffvalue\\xff...``."""
    buf = b"".join(k.encode() + b"\xff" + v.encode() + b"\xff" for k, v in labels)
    return _xxhash64(buf)


# --------------------------------------------------------------------------- grouping
def _grouping_key(labels: Labels, grouping: frozenset[str], without: bool) -> Labels:
    if without:
        return tuple(kv for kv in labels if kv[0] not in grouping and kv[0] != METRIC_NAME)
    return tuple(kv for kv in labels if kv[0] in grouping)


def eval_aggregation(ev: Evaluator, node: Any, steps: IntArray) -> Value:
    """Evaluate an ``AggregateExpr`` node on the step grid."""
    op = str(node.op)
    mod = node.modifier
    without = mod is not None and str(mod.type).endswith("Without")
    grouping = frozenset(mod.labels) if mod is not None else frozenset()
    param: Value | None = ev.eval(node.param, steps) if node.param is not None else None
    vec = ev.eval_instant(node.expr, steps, f"{op}()")
    if any(s.hist is not None for s in vec.series) and op not in (
            "sum", "avg", "count", "group", "limitk", "limit_ratio", "count_values"):
        vec = _without_histograms(vec, op, ev)
    if op == "count_values":
        if not isinstance(param, StringValue):
            raise PromQLEvalError("count_values: expected a string label name as parameter")
        return _count_values(vec, param.value, grouping, without, len(steps),
                             utf8_names=ev.semantics.utf8_label_names)
    if (op in _K_OPS or op == "quantile") and not isinstance(param, ScalarValue):
        raise PromQLEvalError(f"{op}: expected a scalar parameter")
    groups: dict[Labels, list[InstantSeries]] = {}
    for s in vec.series:
        groups.setdefault(_grouping_key(s.labels, grouping, without), []).append(s)
    if op in ("sum", "avg") and any(s.hist is not None for s in vec.series):
        return _aggregate_histograms(op, groups, len(steps), ev)
    if op in _K_OPS:
        assert isinstance(param, ScalarValue)
        if op == "limit_ratio" and not np.any(np.isnan(param.values)):
            high, low = float(np.max(param.values)), float(np.min(param.values))
            if high > 1.0:
                ev.annotate(f"PromQL warning: ratio value should be between -1 and 1, got "
                            f"{format_go_g(high)}, capping to 1")
            if low < -1.0:
                ev.annotate(f"PromQL warning: ratio value should be between -1 and 1, got "
                            f"{format_go_g(low)}, capping to -1")
        return _aggregate_k(op, groups, param.values, len(vec.series), len(steps))
    if op not in _SIMPLE:
        raise PromQLEvalError(f"unknown aggregation operator {op!r}")
    q = param.values if isinstance(param, ScalarValue) else None
    if op == "quantile" and q is not None and np.any(np.isnan(q) | (q < 0) | (q > 1)):
        bad = q[np.isnan(q) | (q < 0) | (q > 1)][0]
        ev.annotate(
            f"PromQL warning: quantile value should be between 0 and 1, got {format_go_g(bad)}")
    out: list[InstantSeries] = []
    for key, members in groups.items():
        if len(members) == 1 and op in _SINGLE_IDENTITY:
            m = members[0]
            if m.present.any():
                single = np.ones(len(steps)) if op in ("count", "group") else m.values
                out.append(InstantSeries(key, single, m.present, m.drop_name))
            continue
        values = np.array([m.values for m in members])
        present = np.array([m.present for m in members])
        any_present: BoolArray = np.asarray(present.any(axis=0), dtype=bool)
        if not any_present.any():
            continue
        result = _reduce(op, values, present, q, ev.semantics)
        labels = key
        out.append(InstantSeries(labels, result, any_present,
                                 any(m.drop_name for m in members)))
    return out_vector(out)


def out_vector(series: list[InstantSeries]) -> InstantVector:
    return InstantVector(series)


def _without_histograms(vec: InstantVector, op: str, ev: Evaluator) -> InstantVector:
    """Histogram samples are ignored by min, max, stddev, ... (with an info annotation)."""
    out = []
    for s in vec.series:
        if s.hist is None:
            out.append(s)
            continue
        hp = s.hist_present()
        if hp.any() and op != "count_values":
            ev.annotate(ignored_in_aggregation_info(op))
        present = s.present & ~hp
        out.append(InstantSeries(s.labels, s.values, present, s.drop_name))
    return InstantVector(out)


def _aggregate_histograms(op: str, groups: dict[Labels, list[InstantSeries]], n_steps: int,
                          ev: Evaluator) -> InstantVector:
    """``sum``/``avg`` over groups that hold native histograms at some steps."""
    out: list[InstantSeries] = []
    for key, members in groups.items():
        fp = np.array([m.float_present() for m in members])
        hp = np.array([m.hist_present() for m in members])
        any_f, any_h = fp.any(axis=0), hp.any(axis=0)
        mixed = any_f & any_h
        if mixed.any():
            ev.annotate(mixed_floats_histograms_agg_warning(op))
        values = np.full(n_steps, np.nan)
        present = np.zeros(n_steps, dtype=bool)
        only_f = any_f & ~any_h
        if only_f.any():
            rows = np.array([m.values for m in members])
            result = _reduce(op, rows, fp & only_f, None, ev.semantics)
            values = np.where(only_f, result, values)
            present |= only_f
        hist = None
        only_h = np.flatnonzero(any_h & ~any_f)
        if len(only_h):
            hist = np.full(n_steps, None, dtype=object)
            for i in only_h.tolist():
                hs = [m.hist[i] for m, p in zip(members, hp[:, i], strict=True)  # type: ignore[index]
                      if p]
                try:
                    sem = ev.semantics
                    combine = sum_histograms if op == "sum" else avg_histograms
                    total, collision, reconciled = combine(hs, sem.histogram_kahan,
                                                           sem.nhcb_reconcile)
                except IncompatibleBoundsError:
                    ev.annotate(incompatible_custom_warning(_metric_name(members)))
                    continue
                except IncompatibleSchemaError:
                    ev.annotate(mixed_custom_warning(_metric_name(members)))
                    continue
                if collision and ev.semantics.histogram_gauge_ops:
                    ev.annotate(reset_collision_warning("aggregation"))
                if reconciled:
                    ev.annotate(mismatched_custom_info("aggregation"))
                hist[i] = total.compact()
                values[i] = HIST_NAN
                present[i] = True
        if present.any():
            out.append(InstantSeries(key, values, present, any(m.drop_name for m in members),
                                     hist=hist))
    return InstantVector(out)


def _metric_name(members: list[InstantSeries]) -> str:
    for m in members:
        for k, v in m.labels:
            if k == METRIC_NAME:
                return v
    return ""


def _reduce(op: str, values: FloatArray, present: BoolArray, q: FloatArray | None,
            semantics: Semantics) -> FloatArray:
    """One aggregation over member rows (in input order) with the numerics of ``semantics``."""
    n = values.shape[1]
    count: FloatArray = present.sum(axis=0).astype(np.float64)
    if op == "count":
        return count
    if op == "group":
        return np.ones(n)
    if op == "quantile":
        assert q is not None
        return _quantile(values, present, q)
    with np.errstate(all="ignore"):
        if op == "sum":
            return _kahan_sum(values, present) if semantics.kahan_sum else _plain_sum(values, present)
        if op == "avg":
            if semantics.avg_mode == "incremental":
                return _avg_incremental(values, present)
            return _avg(values, present, split=semantics.avg_mode == "direct_split")
        if op in ("min", "max"):
            acc = np.full(n, np.nan)
            seen = np.zeros(n, dtype=bool)
            for row, p in zip(values, present, strict=True):
                better = (acc > row) if op == "min" else (acc < row)
                take = p & (~seen | better | np.isnan(acc))
                acc = np.where(take, row, acc)
                seen |= p
            return acc
        # stddev / stdvar: Welford
        mean, m2, cnt = np.zeros(n), np.zeros(n), np.zeros(n)
        seen = np.zeros(n, dtype=bool)
        lone = np.nan if semantics.stddev_nan_for_inf else 0.0
        for row, p in zip(values, present, strict=True):
            first = p & ~seen
            later = p & seen
            cnt = cnt + p
            delta = row - mean
            new_mean = mean + delta / np.where(cnt == 0, 1, cnt)
            mean = np.where(first, row, np.where(later, new_mean, mean))
            m2 = np.where(first, np.where(np.isfinite(row), 0.0, lone),
                          np.where(later, m2 + delta * (row - mean), m2))
            seen |= p
        var = m2 / np.where(cnt == 0, 1, cnt)
        return gomath.sqrt(var) if op == "stddev" else var


def _plain_sum(values: FloatArray, present: BoolArray) -> FloatArray:
    """``sum`` before 2.54: the first value, then plain left-to-right addition."""
    total = np.zeros(values.shape[1])
    seen = np.zeros(values.shape[1], dtype=bool)
    for row, p in zip(values, present, strict=True):
        total = np.where(p, np.where(seen, total + row, row), total)
        seen |= p
    return total


def _kahan_sum(values: FloatArray, present: BoolArray) -> FloatArray:
    """``sum`` since 2.54: Kahan-Neumaier from the first value, compensation added at the end."""
    n = values.shape[1]
    total, comp = np.zeros(n), np.zeros(n)
    seen = np.zeros(n, dtype=bool)
    for row, p in zip(values, present, strict=True):
        t, c = kahan_inc(row, total, comp)
        total = np.where(p, np.where(seen, t, row), total)
        comp = np.where(p & seen, c, comp)
        seen |= p
    result: FloatArray = total + comp
    return result


def _avg_incremental(values: FloatArray, present: BoolArray) -> FloatArray:
    """``avg`` before 2.55: ``mean += v/n - mean/n``, keeping an infinite mean."""
    n = values.shape[1]
    mean, cnt = np.zeros(n), np.zeros(n)
    seen = np.zeros(n, dtype=bool)
    for row, p in zip(values, present, strict=True):
        first = p & ~seen
        later = p & seen
        cnt = cnt + p
        keep_inf = _keeps_infinite_mean(mean, row)
        safe = np.where(cnt == 0, 1, cnt)
        updated = mean + (row / safe - mean / safe)
        mean = np.where(first, row, np.where(later & ~keep_inf, updated, mean))
        seen |= p
    return mean


def _keeps_infinite_mean(mean: FloatArray, row: FloatArray) -> BoolArray:
    """An infinite mean stays when the new value is the same Inf or any finite number."""
    keep: BoolArray = np.isinf(mean) & (
        (np.isinf(row) & ((mean > 0) == (row > 0))) | (~np.isinf(row) & ~np.isnan(row)))
    return keep


def _avg(values: FloatArray, present: BoolArray, split: bool) -> FloatArray:
    """``avg`` since 2.55: direct Kahan mean, incremental once the sum would overflow.

    ``split`` (3.5+): the incremental step is ``kahan(v/n, q*mean, q*c)`` with
    ``q = (n-1)/n`` and the result ``sum/n + c/n``; otherwise (2.55-3.4) the step
    is ``kahan(v/n - (mean+c)/n, mean, c)`` guarded for infinite means and the
    result ``(sum + c)/n``.
    """
    n = values.shape[1]
    total, comp, mean = np.zeros(n), np.zeros(n), np.zeros(n)
    cnt = np.zeros(n)
    incremental = np.zeros(n, dtype=bool)
    seen = np.zeros(n, dtype=bool)
    for row, p in zip(values, present, strict=True):
        first = p & ~seen
        later = p & seen
        total = np.where(first, row, total)
        mean = np.where(first, row, mean)
        cnt = cnt + p
        direct = later & ~incremental
        t, c = kahan_inc(row, total, comp)
        ok = direct & ~np.isinf(t)
        total, comp = np.where(ok, t, total), np.where(ok, c, comp)
        switch = direct & np.isinf(t)
        prev = np.where(cnt > 1, cnt - 1, 1)
        mean = np.where(switch, total / prev, mean)
        comp = np.where(switch, comp / prev, comp)
        incremental |= switch
        step = later & incremental
        safe = np.where(cnt == 0, 1, cnt)
        if split:
            qf = (cnt - 1) / safe
            m, c = kahan_inc(row / safe, qf * mean, qf * comp)
        else:
            step &= ~_keeps_infinite_mean(mean, row)
            m, c = kahan_inc(row / safe - (mean + comp) / safe, mean, comp)
        mean, comp = np.where(step, m, mean), np.where(step, c, comp)
        seen |= p
    safe = np.where(cnt == 0, 1, cnt)
    direct_mean = total / safe + comp / safe if split else (total + comp) / safe
    result: FloatArray = np.where(incremental, mean + comp, direct_mean)
    return result


def _quantile(values: FloatArray, present: BoolArray, q: FloatArray) -> FloatArray:
    """Per-step quantile over present values (NaN sorts first, absent values last)."""
    cls = np.where(~present, 2, np.where(np.isnan(values), 0, 1))
    filled = np.where(present & ~np.isnan(values), values, 0.0)
    order = np.lexsort((filled, cls), axis=0)
    ordered = np.take_along_axis(values, order, axis=0)
    n = present.sum(axis=0).astype(np.float64)
    with np.errstate(all="ignore"):
        rank = q * (n - 1)
        lower = np.maximum(0, np.floor(rank))
        upper = np.minimum(n - 1, lower + 1)
        weight = rank - np.floor(rank)
        li = np.clip(np.nan_to_num(lower), 0, max(values.shape[0] - 1, 0)).astype(np.int64)
        ui = np.clip(np.nan_to_num(upper), 0, max(values.shape[0] - 1, 0)).astype(np.int64)
        cols = np.arange(values.shape[1])
        result = ordered[li, cols] * (1 - weight) + ordered[ui, cols] * weight
    result = np.where(q < 0, -np.inf, np.where(q > 1, np.inf, result))
    return np.where(np.isnan(q) | (n == 0), np.nan, result)


def _aggregate_k(op: str, groups: dict[Labels, list[InstantSeries]], param: FloatArray,
                 n_input: int, n_steps: int) -> InstantVector:
    if op == "limit_ratio":
        if np.all(param == 0):
            return InstantVector([])
        if np.any(np.isnan(param)):
            raise PromQLEvalError("Ratio value is NaN")
        ratio = np.clip(param, -1.0, 1.0)
        out: list[InstantSeries] = []
        for members in groups.values():
            for m in members:
                offset = labels_hash(m.labels) / float(2**64 - 1)
                keep = np.where(ratio >= 0, offset < ratio, offset >= 1 + ratio)
                present = m.present & keep & (param != 0)
                if present.any():
                    out.append(InstantSeries(m.labels, m.values, present, m.drop_name,
                                             hist=m.hist))
        return InstantVector(out)
    if np.max(param) < 1:
        return InstantVector([])
    if np.any(np.isnan(param)):
        raise PromQLEvalError("Parameter value is NaN")
    if np.min(param) <= -(2.0**63):
        raise PromQLEvalError(f"Scalar value {format_go_g(float(np.min(param)))} underflows int64")
    if np.max(param) >= 2.0**63:
        raise PromQLEvalError(f"Scalar value {format_go_g(float(np.max(param)))} overflows int64")
    k = np.minimum(np.trunc(param), n_input)
    ranked: list[tuple[int, InstantSeries, FloatArray]] = []
    for members in groups.values():
        values = np.array([m.values for m in members])
        present = np.array([m.present for m in members])
        if op == "limitk":
            rank = np.cumsum(present, axis=0) - 1
        else:
            bad = np.isnan(values)
            key = np.where(bad, 0.0, values if op == "bottomk" else -values)
            cls = np.where(~present, 2, np.where(bad, 1, 0))
            order = np.lexsort((key, cls), axis=0)
            rank = np.empty_like(order)
            np.put_along_axis(rank, order, np.arange(len(members))[:, None].repeat(n_steps, 1), 0)
        selected = present & (rank < k)
        for i, m in enumerate(members):
            if selected[i].any():
                ranked.append((int(rank[i, 0]), InstantSeries(
                    m.labels, m.values, selected[i], m.drop_name, hist=m.hist), values[i]))
    if n_steps == 1 and op != "limitk":
        ranked.sort(key=lambda item: item[0])
    return InstantVector([s for _, s, _ in ranked])


def _count_values(vec: InstantVector, label: str, grouping: frozenset[str], without: bool,
                  n_steps: int, utf8_names: bool = True) -> InstantVector:
    """``count_values``; label names: any UTF-8 (Prometheus 3) or ``[a-zA-Z_][a-zA-Z0-9_]*`` (2)."""
    legacy_ok = bool(_LEGACY_LABEL.fullmatch(label))
    if not label or not (utf8_names or legacy_ok):
        raise PromQLEvalError(f'invalid label name "{label}"')
    counts: dict[Labels, FloatArray] = {}
    for s in vec.series:
        key = dict(_grouping_key(s.labels, grouping, without))
        # group by the printed value: -0 and 0 are different groups, every NaN is "NaN"
        bits = s.values.view(np.uint64)
        hp = s.hist_present()
        for i in np.flatnonzero(hp).tolist():
            # a histogram counts under its Go String() form
            assert s.hist is not None
            key[label] = s.hist[i].go_string()
            labels = tuple(sorted(key.items()))
            counts.setdefault(labels, np.zeros(n_steps))[i] += 1
        for pattern in np.unique(bits[s.present & ~hp]):
            value = float(np.array([pattern], dtype=np.uint64).view(np.float64)[0])
            key[label] = format_go_float(value)
            labels = tuple(sorted(key.items()))
            match = s.present & ~hp & (bits == pattern)
            counts[labels] = counts.get(labels, np.zeros(n_steps)) + match
    return InstantVector([InstantSeries(lbl, c, c > 0) for lbl, c in counts.items()])
