"""What the online checks read from a parsed expression: selectors, ranges, label sets.

:func:`label_names` is the offline label inference of :mod:`..promql_walk`
made concrete: a selector's labels are the label names the *server* has on the
series it matches (or, for a recording rule of the linted files, the labels of
that rule's expression), and the operators keep, drop and add names as
Prometheus' engine does. ``None`` means "not known" (a selector the server
could not answer for, a function we do not model); a check then says nothing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import promql_parser as pp

from pytest_selfslo.lint.promql_walk import op_name, unwrap

__all__ = ["Labels", "SelectorUse", "label_names", "selector_text", "selector_uses"]

Labels = frozenset[str] | None
_LEGACY_LABEL = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_LEGACY_METRIC = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_OPS = ((pp.MatchOp.Equal, "="), (pp.MatchOp.NotEqual, "!="), (pp.MatchOp.Re, "=~"),
        (pp.MatchOp.NotRe, "!~"))  # MatchOp values are not hashable


def match_op(op: Any) -> str:
    """The text of a matcher operator (``=``, ``!=``, ``=~``, ``!~``)."""
    return next(text for value, text in _OPS if op == value)
_ABSENT = frozenset({"absent", "absent_over_time"})
_SCALAR_FUNCS = frozenset({"time", "scalar", "vector", "pi", "minute", "hour", "day_of_month",
                           "day_of_week", "day_of_year", "days_in_month", "month", "year"})
_KEEPING_AGGS = frozenset({"topk", "bottomk", "limitk", "limit_ratio"})


def _quote(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def selector_text(sel: Any) -> str | None:
    """``sel`` as a series selector for ``match[]`` (no offset/@); None if it has ``or``."""
    if getattr(sel.matchers, "or_matchers", None):
        return None
    parts = []
    name = sel.name or ""
    prefix = ""
    if name and _LEGACY_METRIC.match(name):
        prefix = name
    elif name:
        parts.append(f"__name__={_quote(name)}")
    for m in sel.matchers.matchers:
        if m.name == "__name__" and name and m.op == pp.MatchOp.Equal and m.value == name:
            continue
        label = m.name if _LEGACY_LABEL.match(m.name) else _quote(m.name)
        parts.append(f"{label}{match_op(m.op)}{_quote(m.value)}")
    if not prefix and not parts:
        return None
    return prefix + ("{" + ",".join(parts) + "}" if parts or not prefix else "")


def name_selector(name: str) -> str:
    """The selector of every series of metric ``name``."""
    return name if _LEGACY_METRIC.match(name) else "{__name__=" + _quote(name) + "}"


@dataclass(frozen=True)
class SelectorUse:
    """A vector selector where it appears: under ``absent()``? in a range of how many seconds
    (None: an instant selector), as the argument of which function (``rate``...)."""

    node: Any
    in_absent: bool
    range_s: float | None
    function: str | None


def selector_uses(ast: Any) -> Iterator[SelectorUse]:
    """Every vector selector of ``ast`` with its context (depth first)."""
    stack: list[tuple[Any, bool, str | None]] = [(ast, False, None)]
    while stack:
        node, absent, fn = stack.pop()
        kind = type(node)
        if kind is pp.VectorSelector:
            yield SelectorUse(node, absent, None, fn)
        elif kind is pp.MatrixSelector:
            rng = node.range.total_seconds() if node.range is not None else None
            yield SelectorUse(node.vector_selector, absent, rng, fn)
        elif kind is pp.Call:
            name = node.func.name
            inner = absent or name in _ABSENT
            stack.extend((arg, inner, name) for arg in reversed(node.args))
        elif kind is pp.BinaryExpr:
            stack.append((node.rhs, absent, None))
            stack.append((node.lhs, absent, None))
        elif kind is pp.AggregateExpr:
            param = node.param
            if param is not None and not isinstance(param, (str, float, int)):
                stack.append((param, absent, None))
            stack.append((node.expr, absent, None))
        elif kind in (pp.ParenExpr, pp.UnaryExpr, pp.SubqueryExpr):
            stack.append((node.expr, absent, fn if kind is pp.ParenExpr else None))


def _vector_arg(call: Any) -> Any | None:
    for arg in call.args:
        if type(unwrap(arg)) not in (pp.NumberLiteral, pp.StringLiteral):
            return arg
    return None


def _is_scalar(node: Any) -> bool:
    node = unwrap(node)
    if type(node) is pp.UnaryExpr:
        return _is_scalar(node.expr)
    if type(node) is pp.NumberLiteral:
        return True
    if type(node) is pp.Call and node.func.name in ("scalar", "time", "pi"):
        return True
    if type(node) is pp.BinaryExpr:
        return _is_scalar(node.lhs) and _is_scalar(node.rhs)
    return False


Leaf = Callable[[Any], Labels]


def label_names(node: Any, leaf: Leaf) -> Labels:
    """The label names (without ``__name__``) the result of ``node`` can carry.

    ``leaf(selector)`` answers for a vector selector (None: unknown).
    """
    node = unwrap(node)
    kind = type(node)
    if kind is pp.VectorSelector:
        return leaf(node)
    if kind is pp.MatrixSelector:
        return leaf(node.vector_selector)
    if kind in (pp.NumberLiteral, pp.StringLiteral):
        return frozenset()
    if kind in (pp.UnaryExpr, pp.SubqueryExpr):
        return label_names(node.expr, leaf)
    if kind is pp.AggregateExpr:
        return _aggregation(node, leaf)
    if kind is pp.Call:
        return _call(node, leaf)
    if kind is pp.BinaryExpr:
        return _binary(node, leaf)
    return None


def _aggregation(node: Any, leaf: Leaf) -> Labels:
    name = op_name(node.op)
    inner = label_names(node.expr, leaf)
    if name in _KEEPING_AGGS:
        return inner
    extra: frozenset[str] = frozenset()
    if name == "count_values" and type(unwrap(node.param)) is pp.StringLiteral:
        extra = frozenset({unwrap(node.param).val})
    mod = node.modifier
    if mod is None:
        return extra
    labels = frozenset(mod.labels)
    if mod.type == pp.AggModifierType.By:
        return labels | extra
    return None if inner is None else (inner - labels) | extra


def _call(node: Any, leaf: Leaf) -> Labels:
    name = node.func.name
    if name in _ABSENT:
        arg = unwrap(node.args[0]) if node.args else None
        if type(arg) is pp.MatrixSelector:
            arg = arg.vector_selector
        if type(arg) is pp.VectorSelector:
            return frozenset(m.name for m in arg.matchers.matchers
                             if m.op == pp.MatchOp.Equal and m.name != "__name__")
        return frozenset()
    if name in _SCALAR_FUNCS:
        return frozenset()
    if name in ("label_replace", "label_join") and len(node.args) > 1:
        base = label_names(node.args[0], leaf)
        dst = unwrap(node.args[1])
        if base is None or type(dst) is not pp.StringLiteral:
            return None
        return base | {dst.val} if dst.val else base
    if name == "info":  # adds the labels of info metrics: not modelled
        return None
    arg = _vector_arg(node)
    if arg is None:
        return frozenset()
    base = label_names(arg, leaf)
    if name == "histogram_quantile" and base is not None:
        return base - {"le"}
    return base


def _binary(node: Any, leaf: Leaf) -> Labels:
    if _is_scalar(node.lhs) and _is_scalar(node.rhs):
        return frozenset()
    if _is_scalar(node.rhs):
        return label_names(node.lhs, leaf)
    if _is_scalar(node.lhs):
        return label_names(node.rhs, leaf)
    lhs, rhs = label_names(node.lhs, leaf), label_names(node.rhs, leaf)
    op = op_name(node.op)
    if op in ("and", "unless"):
        return lhs
    if op == "or":
        return None if lhs is None or rhs is None else lhs | rhs
    mod = node.modifier
    card = str(getattr(mod, "card", "")) if mod is not None else ""
    include = frozenset(getattr(mod, "group_labels", None) or ())
    if "ManyToOne" in card:
        return None if lhs is None else lhs | include
    if "OneToMany" in card:
        return None if rhs is None else rhs | include
    matching = getattr(mod, "matching", None) if mod is not None else None
    if lhs is None:
        return None
    if matching is not None and matching.labels is not None:
        labels = frozenset(matching.labels)
        if matching.type == pp.LabelModifierType.Include:
            return lhs & labels
        return lhs - labels
    return lhs
