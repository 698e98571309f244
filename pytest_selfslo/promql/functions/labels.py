"""Label and ordering functions: label_replace, label_join, sort*, absent.

These work on series rather than samples. ``label_replace``/``label_join``
may make two series identical; like Prometheus' ``mergeSeriesWithSameLabelset``
they are merged when they never have a sample at the same step, and the query
fails with "vector cannot contain metrics with the same labelset" otherwise.
Sorting only changes the order of an instant query's result; range query
results are matrices whose order Prometheus does not define, so they are
returned unchanged.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from functools import cmp_to_key

import numpy as np
import promql_parser

from pytest_selfslo._core.errors import PromQLEvalError
from pytest_selfslo._core.goregex import GoRegexError, Regexp, label_replace_regex
from pytest_selfslo.promql.functions.util import Args, Exprs, annotate, string_arg, vector_arg
from pytest_selfslo.promql.semantics import DEFAULT_SEMANTICS, Semantics
from pytest_selfslo.promql.values import (
    METRIC_NAME,
    EvalContext,
    InstantSeries,
    InstantVector,
    Labels,
    Value,
    labels_get,
    make_labels,
)

_LEGACY_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")


def _check_label_name(ctx: EvalContext, function: str, role: str, name: str) -> None:
    # Prometheus 3 accepts any non-empty UTF-8 label name, 2.x only [a-zA-Z_][a-zA-Z0-9_]*.
    valid = name != "" if ctx.semantics.utf8_label_names else _LEGACY_LABEL_NAME.fullmatch(name)
    if not valid:
        raise PromQLEvalError(f"invalid {role} label name in {function}(): {name}")


def compile_go_regex(function: str, pattern: str,
                     semantics: Semantics = DEFAULT_SEMANTICS) -> Regexp:
    """``label_replace``'s regex: RE2, anchored ``^(?s:...)$`` when the semantics'
    ``regex_dotall`` (3.x), ``^(?:...)$`` before.

    A pattern Go rejects gives Prometheus' error text (which names only the pattern).
    """
    try:
        return label_replace_regex(pattern, semantics.regex_dotall)
    except GoRegexError:
        raise PromQLEvalError(
            f"invalid regular expression in {function}(): {pattern}") from None


# === label_replace(v Vector, dst_label, replacement, src_label, regex String) Vector ===
def fn_label_replace(ctx: EvalContext, args: Args, exprs: Exprs) -> Value:
    """Set ``dst`` to the expanded replacement where ``regex`` fully matches ``src``'s value."""
    vec = vector_arg(args, 0, "label_replace")
    dst = string_arg(args, 1, "label_replace")
    repl = string_arg(args, 2, "label_replace")
    src = string_arg(args, 3, "label_replace")
    regex = compile_go_regex("label_replace", string_arg(args, 4, "label_replace"),
                             ctx.semantics)
    _check_label_name(ctx, "label_replace", "destination", dst)
    out: list[InstantSeries] = []
    for s in vec.series:
        groups = regex.groups(labels_get(s.labels, src))
        if groups is None:
            out.append(s)
            continue
        out.append(_relabel(s, dst, regex.expand(repl, groups)))
    return InstantVector(merge_same_labelsets(out))


# === label_join(v Vector, dst_label, separator, src_label... String) Vector ===
def fn_label_join(ctx: EvalContext, args: Args, exprs: Exprs) -> Value:
    """Set ``dst`` to the values of the source labels joined by ``separator``."""
    vec = vector_arg(args, 0, "label_join")
    dst = string_arg(args, 1, "label_join")
    sep = string_arg(args, 2, "label_join")
    sources = [string_arg(args, i, "label_join") for i in range(3, len(args))]
    for src in sources:
        _check_label_name(ctx, "label_join", "source", src)
    _check_label_name(ctx, "label_join", "destination", dst)
    out = [_relabel(s, dst, sep.join(labels_get(s.labels, src) for src in sources))
           for s in vec.series]
    return InstantVector(merge_same_labelsets(out))


def _relabel(s: InstantSeries, dst: str, value: str) -> InstantSeries:
    labels = make_labels([kv for kv in s.labels if kv[0] != dst] + [(dst, value)])
    # Writing __name__ explicitly revives it even if an inner function dropped it.
    drop = False if dst == METRIC_NAME else s.drop_name
    return InstantSeries(labels=labels, values=s.values, present=s.present,
                         drop_name=drop, timestamps=s.timestamps)


def merge_same_labelsets(series: list[InstantSeries]) -> list[InstantSeries]:
    """Merge series that became identical; fail if two have a sample at the same step."""
    by_labels: dict[Labels, InstantSeries] = {}
    order: list[Labels] = []
    for s in series:
        prev = by_labels.get(s.labels)
        if prev is None:
            by_labels[s.labels] = s
            order.append(s.labels)
            continue
        if (prev.present & s.present).any():
            raise PromQLEvalError("vector cannot contain metrics with the same labelset")
        by_labels[s.labels] = InstantSeries(
            labels=s.labels, values=np.where(s.present, s.values, prev.values),
            present=prev.present | s.present, drop_name=prev.drop_name and s.drop_name)
    return [by_labels[k] for k in order]


def _sorted_if_instant(ctx: EvalContext, vec: InstantVector,
                       key: Callable[[InstantSeries, InstantSeries], int]) -> InstantVector:
    if ctx.start_ms != ctx.end_ms:
        annotate(ctx, "PromQL warning: sort is ineffective for range queries since results "
                 "are always ordered by labels")
    if len(ctx.steps) != 1:
        return vec
    present = [s for s in vec.series if s.present[0]]
    return InstantVector(sorted(present, key=cmp_to_key(key)))


def _by_value(descending: bool) -> Callable[[InstantSeries, InstantSeries], int]:
    # Ascending or descending by value, NaN always last (Prometheus' reversed heaps).
    def cmp(a: InstantSeries, b: InstantSeries) -> int:
        va, vb = float(a.values[0]), float(b.values[0])
        if math.isnan(va) or math.isnan(vb):
            return int(math.isnan(va)) - int(math.isnan(vb))
        if va == vb:
            return 0
        return (-1 if va < vb else 1) * (-1 if descending else 1)
    return cmp


# === sort(v Vector) Vector ===
def fn_sort(ctx: EvalContext, args: Args, exprs: Exprs) -> Value:
    """Series in ascending value order (instant queries only)."""
    return _sorted_if_instant(ctx, vector_arg(args, 0, "sort"), _by_value(False))


# === sort_desc(v Vector) Vector ===
def fn_sort_desc(ctx: EvalContext, args: Args, exprs: Exprs) -> Value:
    """Series in descending value order (instant queries only)."""
    return _sorted_if_instant(ctx, vector_arg(args, 0, "sort_desc"), _by_value(True))


def _chunks(value: str) -> list[str]:
    return re.findall(r"\d+|\D+", value)


def natural_less(a: str, b: str) -> bool:
    """``natsort.Compare`` (facette/natsort): digit runs compare as integers."""
    ca, cb = _chunks(a), _chunks(b)
    for i, x in enumerate(ca):
        if i >= len(cb):
            return False
        y = cb[i]
        if x.isdigit() and y.isdigit() and x.isascii() and y.isascii():
            if int(x) != int(y):
                return int(x) < int(y)
        elif x != y:
            return x < y
        if i == len(ca) - 1:
            return True
        if i == len(cb) - 1:
            return False
    return False


def _by_labels(names: list[str], descending: bool) -> Callable[[InstantSeries, InstantSeries], int]:
    sign = -1 if descending else 1

    def cmp(a: InstantSeries, b: InstantSeries) -> int:
        for name in names:
            la, lb = labels_get(a.labels, name), labels_get(b.labels, name)
            if la == lb:
                continue
            return sign * (-1 if natural_less(la, lb) else 1)
        if a.labels == b.labels:
            return 0
        return sign * (-1 if a.labels < b.labels else 1)
    return cmp


# === sort_by_label(v Vector, label String...) Vector ===
def fn_sort_by_label(ctx: EvalContext, args: Args, exprs: Exprs) -> Value:
    """Series ordered by the given labels (natural order), then by the full label set."""
    names = [string_arg(args, i, "sort_by_label") for i in range(1, len(args))]
    return _sorted_if_instant(ctx, vector_arg(args, 0, "sort_by_label"), _by_labels(names, False))


# === sort_by_label_desc(v Vector, label String...) Vector ===
def fn_sort_by_label_desc(ctx: EvalContext, args: Args, exprs: Exprs) -> Value:
    """Reverse of ``sort_by_label``."""
    names = [string_arg(args, i, "sort_by_label_desc") for i in range(1, len(args))]
    return _sorted_if_instant(ctx, vector_arg(args, 0, "sort_by_label_desc"),
                              _by_labels(names, True))


def absent_labels(expr: promql_parser.Expr) -> Labels:
    """Labels of absent()'s output: the selector's unique equality matchers (``__name__`` excluded).

    A label constrained twice, or by a non-equality matcher, is left out, exactly
    like Prometheus' ``createLabelsForAbsentFunction``.
    """
    # Like Prometheus, parentheses are not looked through: absent((x{a="b"})) has no labels.
    if isinstance(expr, promql_parser.MatrixSelector):
        expr = expr.vector_selector
    if not isinstance(expr, promql_parser.VectorSelector):
        return ()
    result: dict[str, str] = {}
    seen: set[str] = set()
    for m in expr.matchers.matchers:
        if m.name == METRIC_NAME:
            continue
        if m.op == promql_parser.MatchOp.Equal and m.name not in seen:
            result[m.name] = m.value
            seen.add(m.name)
        else:
            result.pop(m.name, None)
    return make_labels(result)


def absent_series(ctx: EvalContext, covered: np.ndarray, expr: promql_parser.Expr) -> InstantVector:
    """A value-1 series on every step not ``covered`` by any input series."""
    present = ~covered
    if not present.any():
        return InstantVector([])
    return InstantVector([InstantSeries(labels=absent_labels(expr),
                                        values=np.ones(len(ctx.steps)), present=present)])


# === absent(v Vector) Vector ===
def fn_absent(ctx: EvalContext, args: Args, exprs: Exprs) -> Value:
    """1 with labels from the selector's equality matchers at steps where ``v`` is empty."""
    vec = vector_arg(args, 0, "absent")
    covered = np.zeros(len(ctx.steps), dtype=bool)
    for s in vec.series:
        covered |= s.present
    return absent_series(ctx, covered, exprs[0])
