"""The mutation operators: one table, each with an id, a name and a one-line description.

An operator looks at one rule (its fields and its expression as a
:mod:`~pytest_selfslo.mutate.tree` mirror of the promql-parser AST) and yields
:class:`Change` objects; :mod:`.engine` turns them into checked mutants
(printed, parsed back, validated like ``promtool check rules``) and numbers them.
Expression operators rewrite the tree, never the text.

``threshold-step`` is the one data-dependent operator: it asks the
:class:`DataContext` which values the compared side takes in the rule tests
and moves the threshold just past the nearest one at which the *rule* (not
only the comparison: ``and``, ``for``... may hide it) behaves differently on
the tests' inputs; without such a value it moves by one unit of the
threshold's third significant digit.

    >>> [op.code for op in OPERATORS][:3]
    ['MU01', 'MU02', 'MU03']
    >>> resolve_operators(["comparison-flip", "MU05"])
    ('MU03', 'MU05')

The table is documented in ``docs/mutation.md`` (a test keeps the two in step).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import numpy.typing as npt

from pytest_selfslo._core.durations import format_duration
from pytest_selfslo.mutate.tree import (
    Aggregate,
    Binary,
    Call,
    Matrix,
    Node,
    Number,
    Paren,
    Selector,
    Subquery,
    Unary,
    children,
    replace_at,
    to_promql,
    walk,
)
from pytest_selfslo.rulefmt.model import AlertingRule, RecordingRule, Rule

__all__ = ["OPERATORS", "Change", "DataContext", "NoData", "Operator", "RuleView",
           "resolve_operators", "threshold_literals"]

FloatArray = npt.NDArray[np.float64]
COMPARISONS = ("<", "<=", ">", ">=", "==", "!=")
_FLIPS = {"<": ("<=", ">"), "<=": ("<", ">="), ">": (">=", "<"), ">=": (">", "<="),
          "==": ("!=",), "!=": ("==",)}
_AGG_SWAPS = {"avg": ("max", "min"), "max": ("avg", "min"), "min": ("avg", "max"),
              "sum": ("count",), "count": ("sum",)}
_RATE_SWAPS = {"rate": ("irate", "increase"), "irate": ("rate",), "increase": ("rate",)}
_SCALAR_FUNCS = frozenset({"time", "scalar", "pi", "minute", "hour", "day_of_month",
                           "day_of_week", "day_of_year", "days_in_month", "month", "year"})
_SUFFIX = "_mutant"
#: data-derived thresholds tried per direction before falling back to a fixed step
_MAX_STEP_CANDIDATES = 64


class DataContext(Protocol):
    """What the test data says about a rule (the runner's answer; :class:`NoData` without)."""

    def operand_values(self, expr: Node) -> FloatArray:
        """Finite values ``expr`` takes at the evaluation steps of the tests."""

    def label_values(self, name: str) -> tuple[str, ...]:
        """Values label ``name`` has in the tests' input series and the rules' labels."""

    def changes(self, expr: Node) -> bool:
        """Whether the rule with expression ``expr`` behaves differently on the tests' inputs."""


class NoData:
    """A :class:`DataContext` with no tests: data-dependent operators fall back to fixed steps."""

    def operand_values(self, expr: Node) -> FloatArray:
        return np.zeros(0)

    def label_values(self, name: str) -> tuple[str, ...]:
        return ()

    def changes(self, expr: Node) -> bool:
        return False


@dataclass(frozen=True)
class RuleView:
    """One rule as operators see it: the rule, its parsed tree, its recording neighbour."""

    rule: Rule
    tree: Node
    #: expression of the neighbouring recording rule in the group (``neighbour-expr``)
    neighbour: tuple[str, Node] | None = None
    #: labels the rule itself sets (group labels excluded): what ``template-changed`` edits
    own_labels: tuple[str, ...] = ()


@dataclass(frozen=True)
class Change:
    """One mutation of a rule: what changes and where it is in the rule file.

    ``field`` names the YAML field the mutation lives in (``expr``, ``for``,
    ``keep_firing_for``, ``labels.<name>``, ``annotations.<name>``); ``detail``
    is the short description shown with the mutant id (``< 0.8 -> < 0.81``).
    """

    detail: str
    field: str = "expr"
    expr: Node | None = None
    rule: dict[str, object] = dataclasses.field(default_factory=dict)


@dataclass(frozen=True)
class Operator:
    """A mutation operator: ``code`` (``MU01``), ``name``, one-line ``description``."""

    code: str
    name: str
    description: str
    generate: Callable[[RuleView, DataContext], Iterator[Change]] = field(repr=False,
                                                                           compare=False)


# ---------------------------------------------------------------- helpers
def _unwrap(node: Node) -> Node:
    while isinstance(node, Paren):
        node = node.expr
    return node


def _is_scalar(node: Node) -> bool:
    node = _unwrap(node)
    if isinstance(node, Number):
        return True
    if isinstance(node, Unary):
        return _is_scalar(node.expr)
    if isinstance(node, Call):
        return node.func in _SCALAR_FUNCS
    if isinstance(node, Binary):
        return _is_scalar(node.lhs) and _is_scalar(node.rhs)
    return False


def threshold_literals(tree: Node) -> Iterator[tuple[tuple[int, ...], Binary, int]]:
    """Comparisons with a number literal operand: (path of the literal, comparison, side)."""
    for path, node in walk(tree):
        if not isinstance(node, Binary) or node.op not in COMPARISONS:
            continue
        for side, operand in ((1, node.rhs), (0, node.lhs)):
            inner_path = (*path, side)
            while isinstance(operand, Paren):
                operand, inner_path = operand.expr, (*inner_path, 0)
            if isinstance(operand, Number) and math.isfinite(operand.value):
                yield inner_path, node, side
                break


def _tidy(value: float) -> float:
    """``value`` rounded to 12 significant digits (no ``0.30000000000000004`` thresholds)."""
    if value == 0 or not math.isfinite(value):
        return value
    digits = 11 - math.floor(math.log10(abs(value)))
    return round(value, digits)


def _unit(value: float) -> float:
    """One unit of the third significant digit of ``value`` (0.8 -> 0.001, 14.4 -> 0.1)."""
    if value == 0:
        return 0.01
    return float(10.0 ** (math.floor(math.log10(abs(value))) - 2))


def _outcomes(values: FloatArray, op: str, threshold: float, side: int) -> npt.NDArray[np.bool_]:
    lhs, rhs = (values, threshold) if side == 1 else (threshold, values)
    result: npt.NDArray[np.bool_] = {
        "<": np.less, "<=": np.less_equal, ">": np.greater, ">=": np.greater_equal,
        "==": np.equal, "!=": np.not_equal}[op](lhs, rhs)
    return result


def _data_steps(threshold: float, values: FloatArray, op: str, side: int,
                direction: int) -> Iterator[float]:
    """Thresholds in ``direction``, nearest first, each changing a comparison on ``values``."""
    if len(values) == 0:
        return
    now = _outcomes(values, op, threshold, side)
    distinct = np.unique(values)
    beyond = distinct[distinct >= threshold] if direction > 0 else distinct[distinct <= threshold][::-1]
    seen: set[float] = set()
    for v in beyond.tolist():
        for candidate in (v, _tidy(v + direction * _unit(threshold))):
            if candidate == threshold:
                continue
            changed = _outcomes(values, op, candidate, side)
            if np.any(changed != now):
                short = _shortest(candidate, threshold, values, op, side, changed)
                if short not in seen:
                    seen.add(short)
                    yield short
                break


def _shortest(value: float, threshold: float, values: FloatArray, op: str, side: int,
              outcome: npt.NDArray[np.bool_]) -> float:
    """``value`` with the fewest significant digits that changes the same comparisons."""
    for digits in range(1, 13):
        short = float(f"{value:.{digits}g}")
        if short != threshold and np.array_equal(_outcomes(values, op, short, side), outcome):
            return short
    return value


def _fmt(value: float) -> str:
    return to_promql(Number(value))


# ---------------------------------------------------------------- operators
def _threshold_step(view: RuleView, data: DataContext) -> Iterator[Change]:
    for path, cmp, side in threshold_literals(view.tree):
        operand = cmp.lhs if side == 1 else cmp.rhs
        values = data.operand_values(operand) if not _is_scalar(operand) else np.zeros(0)
        number = _literal(view.tree, path)
        for direction in (1, -1):
            new = None
            for i, candidate in enumerate(_data_steps(number, values, cmp.op, side, direction)):
                if i == _MAX_STEP_CANDIDATES:
                    break
                if data.changes(replace_at(view.tree, path, Number(candidate))):
                    new = candidate
                    break
            if new is None:
                new = _tidy(number + direction * _unit(number))
            yield _set_number(view, path, cmp, number, new)


def _literal(tree: Node, path: tuple[int, ...]) -> float:
    node = tree
    for i in path:
        node = children(node)[i]
    assert isinstance(node, Number)
    return node.value


def _set_number(view: RuleView, path: tuple[int, ...], cmp: Binary, old: float,
                new: float) -> Change:
    return Change(f"{cmp.op} {_fmt(old)} -> {cmp.op} {_fmt(new)}",
                  expr=replace_at(view.tree, path, Number(new)))


def _threshold_10pct(view: RuleView, data: DataContext) -> Iterator[Change]:
    for path, cmp, _side in threshold_literals(view.tree):
        number = _literal(view.tree, path)
        if number == 0:
            continue
        for factor in (1.1, 0.9):
            yield _set_number(view, path, cmp, number, _tidy(number * factor))


def _comparison_flip(view: RuleView, data: DataContext) -> Iterator[Change]:
    for path, node in walk(view.tree):
        if isinstance(node, Binary) and node.op in _FLIPS:
            for op in _FLIPS[node.op]:
                yield Change(f"{node.op} -> {op}",
                             expr=replace_at(view.tree, path, dataclasses.replace(node, op=op)))


def _bool_drop(view: RuleView, data: DataContext) -> Iterator[Change]:
    for path, node in walk(view.tree):
        if (isinstance(node, Binary) and node.return_bool
                and not (_is_scalar(node.lhs) and _is_scalar(node.rhs))):
            yield Change(f"{node.op} bool -> {node.op}", expr=replace_at(
                view.tree, path, dataclasses.replace(node, return_bool=False)))


def _durations(value_ms: int) -> Iterator[tuple[str, int]]:
    if value_ms <= 0:
        return
    if value_ms >= 2:
        yield "halved", value_ms // 2
    yield "doubled", value_ms * 2
    yield "zeroed", 0


def _for_change(view: RuleView, data: DataContext) -> Iterator[Change]:
    rule = view.rule
    if isinstance(rule, AlertingRule):
        for what, ms in _durations(rule.for_ms):
            yield Change(f"for {_dur(rule.for_ms)} -> {_dur(ms)} ({what})", field="for",
                         rule={"for_ms": ms})


def _keep_firing_change(view: RuleView, data: DataContext) -> Iterator[Change]:
    rule = view.rule
    if isinstance(rule, AlertingRule):
        for what, ms in _durations(rule.keep_firing_for_ms):
            yield Change(f"keep_firing_for {_dur(rule.keep_firing_for_ms)} -> {_dur(ms)} ({what})",
                         field="keep_firing_for", rule={"keep_firing_for_ms": ms})


def _dur(ms: int) -> str:
    return format_duration(ms)


def _range_change(view: RuleView, data: DataContext) -> Iterator[Change]:
    for path, node in walk(view.tree):
        if isinstance(node, (Matrix, Subquery)):
            for what, ms in (("halved", node.range_ms // 2), ("doubled", node.range_ms * 2)):
                if ms <= 0:
                    continue
                new = dataclasses.replace(node, range_ms=ms)
                yield Change(f"[{_dur(node.range_ms)}] -> [{_dur(ms)}] ({what})",
                             expr=replace_at(view.tree, path, new))


def _offset_removed(view: RuleView, data: DataContext) -> Iterator[Change]:
    for path, node in walk(view.tree):
        if isinstance(node, (Selector, Subquery)) and node.offset_ms is not None:
            yield Change(f"offset {_dur(node.offset_ms)} removed", expr=replace_at(
                view.tree, path, dataclasses.replace(node, offset_ms=None)))


def _matchers(view: RuleView) -> Iterator[tuple[tuple[int, ...], Selector, int]]:
    for path, node in walk(view.tree):
        if isinstance(node, Selector):
            for i, m in enumerate(node.matchers):
                if m.name != "__name__":
                    yield path, node, i


def _matcher_removed(view: RuleView, data: DataContext) -> Iterator[Change]:
    for path, sel, i in _matchers(view):
        m = sel.matchers[i]
        rest = sel.matchers[:i] + sel.matchers[i + 1:]
        yield Change(f"{m.name}{m.op}{m.value!r} removed", expr=replace_at(
            view.tree, path, dataclasses.replace(sel, matchers=rest)))


def _matcher_value(view: RuleView, data: DataContext) -> Iterator[Change]:
    for path, sel, i in _matchers(view):
        m = sel.matchers[i]
        others = [v for v in data.label_values(m.name) if v != m.value and v]
        value = others[0] if others else m.value + _SUFFIX
        new = dataclasses.replace(m, value=value)
        matchers = (*sel.matchers[:i], new, *sel.matchers[i + 1:])
        yield Change(f"{m.name}{m.op}{m.value!r} -> {m.name}{m.op}{value!r}", expr=replace_at(
            view.tree, path, dataclasses.replace(sel, matchers=matchers)))


def _grouping_label_removed(view: RuleView, data: DataContext) -> Iterator[Change]:
    for path, node in walk(view.tree):
        if isinstance(node, Aggregate) and node.grouping is not None:
            for i, label in enumerate(node.labels):
                new = dataclasses.replace(node, labels=node.labels[:i] + node.labels[i + 1:])
                yield Change(f"{node.grouping} ({label}) removed",
                             expr=replace_at(view.tree, path, new))
        if isinstance(node, Binary) and node.matching is not None:
            for i, label in enumerate(node.matching_labels):
                labels = node.matching_labels[:i] + node.matching_labels[i + 1:]
                yield Change(f"{node.matching} ({label}) removed", expr=replace_at(
                    view.tree, path, dataclasses.replace(node, matching_labels=labels)))


def _aggregation_swap(view: RuleView, data: DataContext) -> Iterator[Change]:
    for path, node in walk(view.tree):
        if isinstance(node, Aggregate) and node.param is None:
            for op in _AGG_SWAPS.get(node.op, ()):
                yield Change(f"{node.op} -> {op}",
                             expr=replace_at(view.tree, path, dataclasses.replace(node, op=op)))


def _rate_swap(view: RuleView, data: DataContext) -> Iterator[Change]:
    for path, node in walk(view.tree):
        if isinstance(node, Call):
            for func in _RATE_SWAPS.get(node.func, ()):
                yield Change(f"{node.func} -> {func}", expr=replace_at(
                    view.tree, path, dataclasses.replace(node, func=func)))


def _set_operand_dropped(view: RuleView, data: DataContext) -> Iterator[Change]:
    for path, node in walk(view.tree):
        if isinstance(node, Binary) and node.op in ("and", "or", "unless"):
            yield Change(f"{node.op}: right operand dropped",
                         expr=replace_at(view.tree, path, node.lhs))
            yield Change(f"{node.op}: left operand dropped",
                         expr=replace_at(view.tree, path, node.rhs))


def _absent_inverted(view: RuleView, data: DataContext) -> Iterator[Change]:
    for path, node in walk(view.tree):
        if isinstance(node, Call) and node.func == "absent" and len(node.args) == 1:
            yield Change("absent(x) -> group(x)",
                         expr=replace_at(view.tree, path, Aggregate("group", node.args[0])))
        if isinstance(node, Call) and node.func == "absent_over_time" and len(node.args) == 1:
            present = Call("present_over_time", node.args)
            yield Change("absent_over_time(x) -> group(present_over_time(x))",
                         expr=replace_at(view.tree, path, Aggregate("group", present)))


def _template_changed(view: RuleView, data: DataContext) -> Iterator[Change]:
    rule = view.rule
    for key in view.own_labels:
        value = rule.labels[key]
        labels = {**rule.labels, key: value + _SUFFIX}
        yield Change(f"label {key}: {value!r} -> {labels[key]!r}", field=f"labels.{key}",
                     rule={"labels": labels})
    if isinstance(rule, AlertingRule):
        for key, text in rule.annotations.items():
            annotations = {**rule.annotations, key: text + " (mutant)"}
            yield Change(f"annotation {key} changed", field=f"annotations.{key}",
                         rule={"annotations": annotations})


def _neighbour_expr(view: RuleView, data: DataContext) -> Iterator[Change]:
    if isinstance(view.rule, RecordingRule) and view.neighbour is not None:
        name, tree = view.neighbour
        if tree != view.tree:
            yield Change(f"expression of {name} swapped in", expr=tree)


OPERATORS: tuple[Operator, ...] = (
    Operator("MU01", "threshold-step",
             "Comparison threshold moved up and down by the smallest step that changes a "
             "comparison on the test data", _threshold_step),
    Operator("MU02", "threshold-10pct", "Comparison threshold moved up and down by 10%",
             _threshold_10pct),
    Operator("MU03", "comparison-flip",
             "Comparison operator flipped: < and <=, > and >=, < and >, == and !=",
             _comparison_flip),
    Operator("MU04", "bool-dropped",
             "The bool modifier of a comparison dropped (it filters instead of returning 0/1)",
             _bool_drop),
    Operator("MU05", "for-changed", "The alert's for duration halved, doubled and zeroed",
             _for_change),
    Operator("MU06", "keep-firing-for-changed",
             "The alert's keep_firing_for duration halved, doubled and zeroed",
             _keep_firing_change),
    Operator("MU07", "range-changed", "A range selector's or subquery's window halved and doubled",
             _range_change),
    Operator("MU08", "offset-removed", "An offset modifier removed", _offset_removed),
    Operator("MU09", "matcher-removed", "One label matcher removed from a selector",
             _matcher_removed),
    Operator("MU10", "matcher-value-changed",
             "One label matcher's value changed (to another value the tests use, if any)",
             _matcher_value),
    Operator("MU11", "grouping-label-removed",
             "One label removed from by, without, on or ignoring", _grouping_label_removed),
    Operator("MU12", "aggregation-swapped", "Aggregation swapped: avg, max and min; sum and count",
             _aggregation_swap),
    Operator("MU13", "rate-swapped", "rate swapped for irate and increase (and back)", _rate_swap),
    Operator("MU14", "set-operand-dropped",
             "One operand of and, or or unless dropped (the other one alone)",
             _set_operand_dropped),
    Operator("MU15", "absent-inverted",
             "absent(x) becomes group(x), absent_over_time(x) group(present_over_time(x)): "
             "fires when the series exists", _absent_inverted),
    Operator("MU16", "template-changed", "One label or annotation (template) value changed",
             _template_changed),
    Operator("MU17", "neighbour-expr",
             "A recording rule's expression swapped for its neighbour's in the group",
             _neighbour_expr),
)
_BY_KEY = {**{op.code: op for op in OPERATORS}, **{op.name: op for op in OPERATORS}}


def resolve_operators(keys: Iterable[str]) -> tuple[str, ...]:
    """Operator codes for ids or names (``MU03``, ``comparison-flip``); ``ValueError`` if unknown."""
    codes: list[str] = []
    for key in keys:
        text = key.strip()
        if not text:
            continue
        op = _BY_KEY.get(text) or _BY_KEY.get(text.upper())
        if op is None:
            known = ", ".join(f"{o.code} {o.name}" for o in OPERATORS)
            raise ValueError(f"unknown mutation operator {text!r} (known: {known})")
        if op.code not in codes:
            codes.append(op.code)
    return tuple(sorted(codes))
