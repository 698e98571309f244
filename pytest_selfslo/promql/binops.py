"""Binary operators: arithmetic, comparison (``bool``), set operators, vector matching.

Labels of a series never change over the step grid, so vector matching
(``on``/``ignoring``, ``group_left``/``group_right``) is resolved *once* per
pair of series; only presence varies per step. Matching errors are raised
exactly at the steps where Prometheus would raise them, i.e. when two
conflicting series are present at the same step:

* "found duplicate series for the match group ... many-to-many matching not allowed"
  (two series on the "one" side share a match group),
* "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)",
* "multiple matches for labels: grouping labels must ensure unique matches".

Value semantics follow Go: ``%`` is ``math.Mod`` (sign of the dividend), ``^`` is
``math.Pow`` and ``atan2`` ``math.Atan2``, computed as Go computes them on amd64
(:mod:`.gomath`; ``^`` uses ``math.Exp`` for fractional powers), division by zero
gives ``±Inf``/``NaN``; a comparison without ``bool`` filters and keeps the
left-hand value.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from pytest_selfslo._core.errors import PromQLEvalError
from pytest_selfslo.promql import gomath
from pytest_selfslo.promql.arrays import BoolArray, FloatArray, IntArray
from pytest_selfslo.promql.evaluator import Evaluator
from pytest_selfslo.promql.histops import elem_binop
from pytest_selfslo.promql.labels import METRIC_NAME, Labels, format_labels_go, make_labels
from pytest_selfslo.promql.semantics import DEFAULT_SEMANTICS, Semantics
from pytest_selfslo.promql.values import (
    HIST_NAN,
    InstantSeries,
    InstantVector,
    ScalarValue,
    Value,
    value_type_name,
)

__all__ = ["ARITHMETIC", "COMPARISON", "apply_op", "eval_binary"]

ARITHMETIC = frozenset({"+", "-", "*", "/", "^", "%", "atan2"})
#: arithmetic that keeps ``__name__`` before Prometheus 2.47 (``Semantics.atan2_drops_name``)
_KEEPS_NAME_BEFORE_2_47 = frozenset({"atan2"})
COMPARISON = frozenset({"==", "!=", ">", "<", ">=", "<="})
SET_OPS = frozenset({"and", "or", "unless"})

_FUNCS: dict[str, Callable[[FloatArray, FloatArray], Any]] = {
    "+": np.add, "-": np.subtract, "*": np.multiply, "/": np.divide,
    "%": gomath.mod, "atan2": gomath.atan2,
    "==": np.equal, "!=": np.not_equal, ">": np.greater, "<": np.less,
    ">=": np.greater_equal, "<=": np.less_equal,
}


def apply_op(op: str, lhs: FloatArray, rhs: FloatArray, exp_fma: bool = True) -> FloatArray:
    """Elementwise ``lhs op rhs`` with Go float semantics; comparisons give 0.0/1.0.

    ``exp_fma``: which path of Go's ``math.Exp`` ``^`` relies on (see :mod:`.gomath`).
    """
    with np.errstate(all="ignore"):
        out = gomath.pow_(lhs, rhs, exp_fma) if op == "^" else _FUNCS[op](lhs, rhs)
    return np.asarray(out, dtype=np.float64)


def eval_binary(ev: Evaluator, node: Any, steps: IntArray) -> Value:
    """Evaluate a ``BinaryExpr`` node on the step grid."""
    op = str(node.op)
    mod = node.modifier
    return_bool = bool(mod.return_bool) if mod is not None else False
    lhs = ev.eval(node.lhs, steps)
    rhs = ev.eval(node.rhs, steps)
    for side, value in (("left", lhs), ("right", rhs)):
        if not isinstance(value, (ScalarValue, InstantVector)):
            raise PromQLEvalError(
                f"binary expression must contain only scalar and instant vector types, got "
                f"{value_type_name(value)} on the {side} side of {op!r} in {node}")
    if op in SET_OPS and not (isinstance(lhs, InstantVector) and isinstance(rhs, InstantVector)):
        raise PromQLEvalError(f"set operator {op!r} not allowed in binary scalar expression {node}")
    fma = ev.semantics.exp_fma
    name_ops = ARITHMETIC if ev.semantics.atan2_drops_name else (
        ARITHMETIC - _KEEPS_NAME_BEFORE_2_47)
    if isinstance(lhs, ScalarValue) and isinstance(rhs, ScalarValue):
        return ScalarValue(apply_op(op, lhs.values, rhs.values, fma))
    if isinstance(lhs, InstantVector) and isinstance(rhs, ScalarValue):
        return ev.settle(_vector_scalar(op, lhs, rhs.values, False, return_bool, ev.delayed, fma,
                                        name_ops, ev.annotate, ev.semantics))
    if isinstance(lhs, ScalarValue) and isinstance(rhs, InstantVector):
        return ev.settle(_vector_scalar(op, rhs, lhs.values, True, return_bool, ev.delayed, fma,
                                        name_ops, ev.annotate, ev.semantics))
    assert isinstance(lhs, InstantVector) and isinstance(rhs, InstantVector)
    on, names = _matching(mod)
    if op in SET_OPS:
        return _set_op(op, lhs, rhs, on, names)
    card = str(mod.card) if mod is not None else "VectorMatchCardinality.OneToOne"
    include = list(mod.group_labels or []) if mod is not None else []
    try:
        result = _vector_vector(op, lhs, rhs, on, names, card, include, return_bool, ev.delayed,
                                fma, name_ops, ev.annotate, ev.semantics)
    except PromQLEvalError as exc:
        # Prometheus' text first (scripts match on it), then where it happened
        raise PromQLEvalError(f"{exc} (in {node})") from None
    return ev.settle(result)


def _matching(mod: Any) -> tuple[bool, frozenset[str]]:
    if mod is None or mod.matching is None:
        return False, frozenset()
    return str(mod.matching.type).endswith("Include"), frozenset(mod.matching.labels)


def _signature(labels: Labels, on: bool, names: frozenset[str]) -> Labels:
    if on:
        return tuple(kv for kv in labels if kv[0] in names)
    return tuple(kv for kv in labels if kv[0] not in names and kv[0] != METRIC_NAME)


def _hist_steps(values: FloatArray, present: BoolArray, hist: Any, lf: FloatArray,
                rf: FloatArray, lh: Any, rh: Any, op: str, return_bool: bool,
                annotate: Callable[[str], None] | None,
                comparison_keeps_left: bool = True,
                semantics: Semantics = DEFAULT_SEMANTICS) -> Any:
    """Overwrite ``values``/``present`` at histogram steps (``lh``/``rh``: object arrays or None).

    Returns the result's histogram object array (or None when no step yields one).
    """
    steps = np.zeros(len(present), dtype=bool)
    for side in (lh, rh):
        if side is not None:
            steps |= _has(side)
    idx = np.flatnonzero(present & steps)
    out_h = None
    for i in idx.tolist():
        hl = lh[i] if lh is not None else None
        hr = rh[i] if rh is not None else None
        f, h, keep, notes = elem_binop(op, float(lf[i]), float(rf[i]), hl, hr, semantics)
        for note in notes:
            if annotate is not None:
                annotate(note)
        if op in COMPARISON and return_bool and (keep or not notes):
            values[i] = 1.0 if keep else 0.0
            continue
        if not keep:
            present[i] = False
            continue
        if op in COMPARISON and comparison_keeps_left:
            h = hl if hl is not None else None
            if h is None:
                values[i] = lf[i]
                continue
        if h is not None:
            if out_h is None:
                out_h = np.full(len(values), None, dtype=object)
            out_h[i] = h
            values[i] = HIST_NAN
        else:
            values[i] = f
    return out_h


def _has(objs: Any) -> Any:
    return np.array([o is not None for o in objs], dtype=bool)


def _vector_scalar(op: str, vec: InstantVector, scalar: FloatArray, swap: bool,
                   return_bool: bool, delayed: bool, fma: bool = True,
                   name_ops: frozenset[str] = ARITHMETIC,
                   annotate: Callable[[str], None] | None = None,
                   semantics: Semantics = DEFAULT_SEMANTICS) -> InstantVector:
    out: list[InstantSeries] = []
    drops = op in name_ops or return_bool
    for s in vec.series:
        values = (apply_op(op, scalar, s.values, fma) if swap
                  else apply_op(op, s.values, scalar, fma))
        present = s.present
        if op in COMPARISON:
            if return_bool:
                present = present.copy()
            else:
                present = present & (values == 1.0)
                values = s.values
        hist = None
        if s.hist is not None:
            values = np.array(values, dtype=np.float64)
            present = s.present.copy()
            if op in COMPARISON and not return_bool:
                fp = s.float_present()
                cmp = (apply_op(op, scalar, s.values, fma) if swap
                       else apply_op(op, s.values, scalar, fma))
                present = np.where(fp, fp & (cmp == 1.0), present)
            lf, rf, lh, rh = ((scalar, s.values, None, s.hist) if swap
                              else (s.values, scalar, s.hist, None))
            hp = s.hist_present()
            mask = present & hp
            hist = _hist_steps(values, mask, None, lf, rf, lh, rh, op, return_bool, annotate,
                               semantics=semantics)
            present = np.where(hp, mask, present)
        labels = s.labels
        if drops and not delayed:
            labels = tuple(kv for kv in labels if kv[0] != METRIC_NAME)
        out.append(InstantSeries(labels, values, present, s.drop_name or (drops and delayed),
                                 hist=hist))
    return InstantVector(out)


def _set_op(op: str, lhs: InstantVector, rhs: InstantVector, on: bool,
            names: frozenset[str]) -> InstantVector:
    def presence_by_sig(vec: InstantVector) -> dict[Labels, BoolArray]:
        table: dict[Labels, BoolArray] = {}
        for s in vec.series:
            sig = _signature(s.labels, on, names)
            prev = table.get(sig)
            table[sig] = s.present.copy() if prev is None else (prev | s.present)
        return table

    if op == "or":
        left = presence_by_sig(lhs)
        out = [InstantSeries(s.labels, s.values, s.present, s.drop_name, hist=s.hist)
               for s in lhs.series]
        for s in rhs.series:
            blocked = left.get(_signature(s.labels, on, names))
            present = s.present if blocked is None else (s.present & ~blocked)
            if present.any():
                out.append(InstantSeries(s.labels, s.values, present, s.drop_name, hist=s.hist))
        return InstantVector(out)
    right = presence_by_sig(rhs)
    out = []
    for s in lhs.series:
        hit = right.get(_signature(s.labels, on, names))
        if op == "and":
            present = np.zeros_like(s.present) if hit is None else (s.present & hit)
        else:
            present = s.present if hit is None else (s.present & ~hit)
        if present.any():
            out.append(InstantSeries(s.labels, s.values, present, s.drop_name, hist=s.hist))
    return InstantVector(out)


def _result_labels(lhs: Labels, rhs: Labels, op: str, on: bool, names: frozenset[str],
                   one_to_one: bool, include: list[str], drop_name: bool,
                   name_ops: frozenset[str] = ARITHMETIC) -> Labels:
    out = dict(lhs)
    if drop_name or op in name_ops:
        out.pop(METRIC_NAME, None)
    if one_to_one:
        out = {k: v for k, v in out.items() if (k in names) == on}
    right = dict(rhs)
    for name in include:
        if right.get(name, ""):
            out[name] = right[name]
        else:
            out.pop(name, None)
    return make_labels(out)


def _vector_vector(op: str, lhs: InstantVector, rhs: InstantVector, on: bool,
                   names: frozenset[str], card: str, include: list[str], return_bool: bool,
                   delayed: bool, fma: bool = True,
                   name_ops: frozenset[str] = ARITHMETIC,
                   annotate: Callable[[str], None] | None = None,
                   semantics: Semantics = DEFAULT_SEMANTICS) -> InstantVector:
    one_to_one = card.endswith("OneToOne")
    swapped = card.endswith("OneToMany")
    many, one = (rhs, lhs) if swapped else (lhs, rhs)
    any_many = np.logical_or.reduce([s.present for s in many.series]) if many.series else None
    if any_many is None or not one.series:
        return InstantVector([])
    one_groups: dict[Labels, list[InstantSeries]] = {}
    for s in one.series:
        one_groups.setdefault(_signature(s.labels, on, names), []).append(s)
    for sig, members in one_groups.items():
        _check_one_side(sig, members, any_many, "left" if swapped else "right")

    out: list[InstantSeries] = []
    matched_count: dict[Labels, Any] = {}
    result_seen: dict[tuple[Labels, Labels], Any] = {}
    for ls in many.series:
        sig = _signature(ls.labels, on, names)
        for rs in one_groups.get(sig, ()):
            present = ls.present & rs.present
            if not present.any():
                continue
            if one_to_one:
                matched_count[sig] = matched_count.get(sig, 0) + present.astype(np.int64)
            fl, fr = (rs.values, ls.values) if swapped else (ls.values, rs.values)
            values = apply_op(op, fl, fr, fma)
            if op in COMPARISON:
                if return_bool:
                    keep = present
                else:
                    keep = present & (values == 1.0)
                    values = fl
            else:
                keep = present
            hist = None
            if ls.hist is not None or rs.hist is not None:
                hl, hr = (rs.hist, ls.hist) if swapped else (ls.hist, rs.hist)
                fl_all, fr_all = (rs.values, ls.values) if swapped else (ls.values, rs.values)
                values = np.array(values, dtype=np.float64)
                keep = keep.copy()
                hsteps = np.zeros(len(present), dtype=bool)
                for side in (hl, hr):
                    if side is not None:
                        hsteps |= _has(side)
                mask = present & hsteps
                keep[mask] = True
                hist = _hist_steps(values, keep, None, fl_all, fr_all, hl, hr, op, return_bool,
                                   annotate, semantics=semantics)
            labels = _result_labels(ls.labels, rs.labels, op, on, names, one_to_one, include,
                                    return_bool and not delayed, name_ops)
            if not one_to_one:
                key = (sig, labels)
                seen = result_seen.get(key)
                if seen is not None and np.any(seen & present):
                    raise PromQLEvalError(
                        "multiple matches for labels: grouping labels must ensure unique matches")
                result_seen[key] = present if seen is None else (seen | present)
            out.append(InstantSeries(labels, values, keep, return_bool and delayed, hist=hist))
    for count in matched_count.values():
        if np.any(np.asarray(count) > 1):
            raise PromQLEvalError("multiple matches for labels: many-to-one matching must be "
                                  "explicit (group_left/group_right)")
    return InstantVector(out)


def _check_one_side(sig: Labels, members: list[InstantSeries], any_other: BoolArray,
                    side: str) -> None:
    """Two series of one match group on the "one" side present at a step is an error."""
    if len(members) < 2:
        return
    counts = np.sum([m.present for m in members], axis=0)
    bad = np.flatnonzero((counts > 1) & any_other)
    if len(bad) == 0:
        return
    step = bad[0]
    dupes = sorted(format_labels_go(m.labels) for m in members if m.present[step])[:2]
    group = format_labels_go(sig)
    raise PromQLEvalError(
        f"found duplicate series for the match group {group} on the {side} hand-side of the "
        f"operation: [{dupes[0]}, {dupes[1]}];many-to-many matching not allowed: matching "
        f"labels must be unique on one side")
