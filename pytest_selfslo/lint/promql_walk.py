"""Static facts about a parsed PromQL expression: output labels, value domain, nodes.

Works on ``promql_parser`` ASTs only (we never parse PromQL ourselves). The
label inference follows Prometheus' engine: an aggregation ``by (a)`` keeps
exactly ``a``, ``without (a)`` drops ``a``, one-to-one matching ``on (a)``
keeps ``a``, ``absent(sel)`` keeps the selector's equality matchers. The
domain inference propagates a known metric's [low, high] through the
functions and aggregations that cannot leave it (``avg_over_time``, ``max``...).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import promql_parser as pp

from pytest_selfslo._core.goregex import go_parse_error
from pytest_selfslo.lint.domain import metric_info
from pytest_selfslo.promql.astwalk import children, regex_matcher_error, walk
from pytest_selfslo.promql.exprguard import check_expr, ensure_recursion

__all__ = [
    "COMPARISONS",
    "ExprIndex",
    "LabelSet",
    "PromQLSyntaxError",
    "domain_of",
    "has_threshold",
    "index_expr",
    "is_scalar",
    "iter_nodes",
    "op_name",
    "output_labels",
    "parse_promql",
    "unwrap",
]

COMPARISONS = frozenset({"==", "!=", ">", "<", ">=", "<="})
_SET_OPS = frozenset({"and", "or", "unless"})
#: functions whose result stays inside the domain of their (range-)vector argument
_DOMAIN_FUNCS = frozenset({
    "avg_over_time", "min_over_time", "max_over_time", "last_over_time", "quantile_over_time",
    "sort", "sort_desc", "mad_over_time",
})
_DOMAIN_AGGS = frozenset({"avg", "min", "max", "quantile", "topk", "bottomk", "limitk",
                          "limit_ratio"})
_LABEL_KEEPING_AGGS = frozenset({"topk", "bottomk", "limitk", "limit_ratio"})
_SCALAR_FUNCS = frozenset({"time", "scalar", "vector", "pi", "minute", "hour", "day_of_month",
                           "day_of_week", "day_of_year", "days_in_month", "month", "year"})
#: functions whose result is a scalar (not a vector): arithmetic with them keeps the labels
#: of the vector on the other side
_SCALAR_RESULT = frozenset({"time", "scalar", "pi"})
#: date functions: ``hour(v)`` keeps v's labels; ``hour()`` is ``hour(vector(time()))``
_DATE_FUNCS = frozenset({"minute", "hour", "day_of_month", "day_of_week", "day_of_year",
                         "days_in_month", "month", "year"})
#: node classes (all final), bound once for the ``type(n) is X`` dispatch of the hot paths
_BINARY, _VECTOR, _CALL, _AGG = pp.BinaryExpr, pp.VectorSelector, pp.Call, pp.AggregateExpr
_MATRIX, _SUBQUERY, _PAREN, _UNARY = pp.MatrixSelector, pp.SubqueryExpr, pp.ParenExpr, pp.UnaryExpr
_NUMBER = pp.NumberLiteral
_LEAVES = (pp.NumberLiteral, pp.StringLiteral)
_PRIMITIVE = (str, float, int)


class PromQLSyntaxError(ValueError):
    """promql-parser rejected (or panicked on) an expression."""


def parse_promql(text: str, where: str | None = None) -> Any:
    """promql_parser.parse, with a Rust panic (a BaseException) turned into a ValueError.

    Text over the limits of :mod:`pytest_selfslo.promql.exprguard` raises
    :class:`~pytest_selfslo.errors.LimitError` (prefixed with ``where``) unparsed.
    """
    ensure_recursion(check_expr(text, where))
    try:
        node = pp.parse(text)
    except ValueError as exc:
        raise PromQLSyntaxError(go_parse_error(str(exc))) from None
    except BaseException as exc:  # pyo3 PanicException is not an Exception subclass
        if type(exc).__name__ != "PanicException":
            raise
        raise PromQLSyntaxError(f"parser panic: {exc}") from None
    if "~" in text:
        problem = regex_matcher_error(node)
        if problem is not None:
            raise PromQLSyntaxError(problem)
    return node


def op_name(op: Any) -> str:
    """The operator text of a BinaryExpr/AggregateExpr token (``>``, ``sum``...)."""
    text = str(op)
    return _OP_TEXT.get(text) or text.strip().lower()


#: ``str(token)`` -> operator text for the tokens promql-parser prints already stripped
#: and in lower case (all of them today; the fallback keeps op_name exact if that changes)
_OP_TEXT: dict[str, str] = {t: t for t in (
    *COMPARISONS, *_SET_OPS, "+", "-", "*", "/", "%", "^", "atan2", "sum", "avg", "count",
    "min", "max", "group", "stddev", "stdvar", "topk", "bottomk", "count_values", "quantile",
    "limitk", "limit_ratio")}


def unwrap(node: Any) -> Any:
    """Strip parentheses."""
    while type(node) is _PAREN:
        node = node.expr
    return node


def iter_nodes(node: Any) -> Iterator[Any]:
    """Every node of the tree, depth first, parents before children (``promql.astwalk``)."""
    return walk(node)


def _is_number(node: Any) -> bool:
    if type(node) is _NUMBER:  # the common case first: a bare literal
        return True
    node = unwrap(node)
    if isinstance(node, pp.UnaryExpr):
        return _is_number(node.expr)
    return isinstance(node, pp.NumberLiteral)


def is_scalar(node: Any) -> bool:
    """Whether ``node`` evaluates to a scalar: a number, ``time()``, ``scalar(v)``, ``pi()``,
    or arithmetic between scalars (so ``time() - max by (job) (x)`` keeps ``job``)."""
    kind = type(node)
    while kind is _PAREN:
        node = node.expr
        kind = type(node)
    if kind is _NUMBER:
        return True
    if kind is _UNARY:
        return is_scalar(node.expr)
    if kind is _CALL:
        return bool(node.func.name in _SCALAR_RESULT)
    if kind is _BINARY:
        return is_scalar(node.lhs) and is_scalar(node.rhs)
    return False


def number_value(node: Any) -> float | None:
    """The value of a (possibly negated, parenthesised) number literal, else None."""
    kind = type(node)  # node classes are final: ``is`` is isinstance, and cheaper
    while kind is _PAREN:
        node = node.expr
        kind = type(node)
    if kind is _NUMBER:
        return float(node.val)
    if kind is _UNARY:
        inner = number_value(node.expr)
        return None if inner is None else -inner
    return None


@dataclass(slots=True)
class ExprIndex:
    """The nodes of one parsed expression, grouped by what the checks look for.

    Built by :func:`index_expr` in one walk, once per distinct expression text
    of a lint run: a check then visits only the nodes of its kind, and
    operator and function names (each read crosses into Rust and builds a
    Python object) are read once, not once per check.

        >>> index_expr(parse_promql("rate(x_total[5m]) > 1")).binaries[0][1]
        '>'
    """

    #: every node, depth first, parents before children
    nodes: list[Any]
    #: (BinaryExpr, operator text)
    binaries: list[tuple[Any, str]] = field(default_factory=list)
    #: (Call, function name)
    calls: list[tuple[Any, str]] = field(default_factory=list)
    #: (AggregateExpr, operator text)
    aggregations: list[tuple[Any, str]] = field(default_factory=list)
    #: every VectorSelector (also those inside matrix selectors)
    selectors: list[Any] = field(default_factory=list)
    #: MatrixSelector and SubqueryExpr nodes (they carry a range)
    ranges: list[Any] = field(default_factory=list)
    #: the output labels of the root, computed on first use (:meth:`labels`)
    _labels: LabelSet | None = None
    #: True once :meth:`release` dropped the node lists
    released: bool = False

    def release(self, root: Any) -> None:
        """Compute the output labels, then drop every node reference (the lists empty).

        For a lint that keeps no AST (``lint.parse_exprs``): :meth:`labels`
        still answers; the node lists, which would keep the tree alive, do not.
        """
        self.labels(root)
        for nodes in (self.nodes, self.binaries, self.calls, self.aggregations,
                      self.selectors, self.ranges):
            nodes.clear()
        self.released = True

    def labels(self, root: Any) -> LabelSet:
        """``output_labels(root)``, computed once per expression."""
        if self._labels is None:
            self._labels = output_labels(root)
        return self._labels

    def has_threshold(self) -> bool:
        """True when some comparison has a number literal on one side."""
        return any(op in COMPARISONS and (_is_number(n.lhs) or _is_number(n.rhs))
                   for n, op in self.binaries)


def index_expr(ast: Any) -> ExprIndex:
    """Sort the nodes of ``ast`` into an :class:`ExprIndex` in one depth-first pass.

    The visiting order is exactly ``promql.astwalk.walk``'s (parents first,
    children in its order; a test compares the two). The node kinds are
    dispatched here so that each node is classified while it is visited, which
    halves the cost of walking and then classifying; a kind this function does
    not know is descended with ``astwalk.children``.
    """
    index = ExprIndex([])
    nodes, binaries, calls = index.nodes, index.binaries, index.calls
    selectors, ranges = index.selectors, index.ranges
    stack = [ast]
    pop, push = stack.pop, stack.append
    while stack:
        n = pop()
        nodes.append(n)
        kind = type(n)
        if kind is _BINARY:
            binaries.append((n, op_name(n.op)))
            push(n.rhs)
            push(n.lhs)
        elif kind is _VECTOR:
            selectors.append(n)
        elif kind is _CALL:
            calls.append((n, n.func.name))
            stack.extend(reversed(n.args))
        elif kind is _AGG:
            index.aggregations.append((n, op_name(n.op)))
            param = n.param
            if param is not None and not isinstance(param, _PRIMITIVE):
                push(param)
            push(n.expr)
        elif kind is _MATRIX:
            ranges.append(n)
            push(n.vector_selector)
        elif kind is _SUBQUERY:
            ranges.append(n)
            push(n.expr)
        elif kind is _PAREN or kind is _UNARY:
            push(n.expr)
        elif kind not in _LEAVES:
            stack.extend(reversed(children(n)))
    return index


def has_threshold(ast: Any) -> bool:
    """True when the expression compares against a number (see :meth:`ExprIndex.has_threshold`)."""
    return index_expr(ast).has_threshold()


@dataclass(frozen=True)
class LabelSet:
    """Labels an expression's result can carry.

    ``kept`` is the exact set when known (None: whatever the input series
    had); ``dropped`` lists labels certainly removed from an open set.
    """

    kept: frozenset[str] | None = None
    dropped: frozenset[str] = frozenset()

    def lacks(self, label: str) -> bool:
        """True when no result series can carry ``label``."""
        if self.kept is not None:
            return label not in self.kept
        return label in self.dropped

    def without(self, labels: frozenset[str]) -> LabelSet:
        if self.kept is not None:
            return LabelSet(self.kept - labels)
        return LabelSet(None, self.dropped | labels)

    def plus(self, labels: frozenset[str]) -> LabelSet:
        if self.kept is not None:
            return LabelSet(self.kept | labels)
        return LabelSet(None, self.dropped - labels)


_NO_LABELS: frozenset[str] = frozenset()
_OPEN = LabelSet()
_EMPTY = LabelSet(_NO_LABELS)
_BY = pp.AggModifierType.By


def _vector_arg(call: Any) -> Any | None:
    for arg in call.args:
        if type(unwrap(arg)) not in _LEAVES:
            return arg
    return None


def _call_labels(call: Any) -> LabelSet:
    name = call.func.name
    if name in ("absent", "absent_over_time"):
        sel = unwrap(call.args[0]) if call.args else None
        if isinstance(sel, pp.MatrixSelector):
            sel = sel.vector_selector
        if isinstance(sel, pp.VectorSelector):
            return LabelSet(frozenset(m.name for m in sel.matchers.matchers
                                      if m.op == pp.MatchOp.Equal and m.name != "__name__"))
        return _EMPTY
    if name in _SCALAR_FUNCS and not (name in _DATE_FUNCS and call.args):
        return _EMPTY
    if name in ("label_replace", "label_join") and len(call.args) > 1:
        dst = unwrap(call.args[1])
        base = output_labels(call.args[0])
        return base.plus(frozenset({dst.val})) if isinstance(dst, pp.StringLiteral) else base
    arg = _vector_arg(call)
    base = _OPEN if arg is None else output_labels(arg)
    if name == "histogram_quantile":
        return base.without(frozenset({"le"}))
    return base


def _agg_labels(node: Any) -> LabelSet:
    name = op_name(node.op)
    if name in _LABEL_KEEPING_AGGS:
        return output_labels(node.expr)
    mod = node.modifier
    extra = _NO_LABELS
    if name == "count_values" and isinstance(unwrap(node.param), pp.StringLiteral):
        extra = frozenset({unwrap(node.param).val})
    if mod is None:
        return LabelSet(extra) if extra else _EMPTY
    labels = frozenset(mod.labels)
    if mod.type == _BY:
        return LabelSet(labels | extra if extra else labels)
    return output_labels(node.expr).without(labels).plus(extra)


def _binary_labels(node: Any) -> LabelSet:
    # scalar-vector operations keep the vector's labels (scalars have none to match on)
    lhs_num, rhs_num = is_scalar(node.lhs), is_scalar(node.rhs)
    if lhs_num and rhs_num:
        return _EMPTY
    if rhs_num:
        return output_labels(node.lhs)
    if lhs_num:
        return output_labels(node.rhs)
    lhs, rhs = output_labels(node.lhs), output_labels(node.rhs)
    name = op_name(node.op)
    if name in ("and", "unless"):
        return lhs
    if name == "or":
        if lhs.kept is not None and rhs.kept is not None:
            return LabelSet(lhs.kept | rhs.kept)
        return LabelSet(None, lhs.dropped & rhs.dropped)
    mod = node.modifier
    matching = getattr(mod, "matching", None) if mod is not None else None
    card = str(getattr(mod, "card", "")) if mod is not None else ""
    include = frozenset(getattr(mod, "group_labels", None) or [])
    if "ManyToOne" in card:
        return lhs.plus(include)
    if "OneToMany" in card:
        return rhs.plus(include)
    if matching is not None and matching.labels is not None:
        labels = frozenset(matching.labels)
        if matching.type == pp.LabelModifierType.Include:
            return LabelSet(labels) if lhs.kept is None else LabelSet(lhs.kept & labels)
        return lhs.without(labels)
    return lhs


def output_labels(node: Any) -> LabelSet:
    """The labels the result of ``node`` can carry (see :class:`LabelSet`)."""
    kind = type(node)  # node classes are final: ``is`` is isinstance, and cheaper
    while kind is _PAREN:
        node = node.expr
        kind = type(node)
    if kind is _BINARY:
        return _binary_labels(node)
    if kind is _AGG:
        return _agg_labels(node)
    if kind is _CALL:
        return _call_labels(node)
    if kind is _VECTOR or kind is _MATRIX:
        return _OPEN
    if kind in _LEAVES:
        return _EMPTY
    if kind is _UNARY or kind is _SUBQUERY:
        return output_labels(node.expr)
    return _OPEN


def domain_of(node: Any, self_domain: bool = True) -> tuple[float, float, str] | None:
    """(low, high, metric) bounds of ``node``'s values when a known metric fixes them.

    Without ``self_domain`` only the generic facts count (``up`` is 0 or 1), not
    the SELF metrics' domains."""
    kind = type(node)  # node classes are final: ``is`` is isinstance, and cheaper
    while kind is _PAREN:
        node = node.expr
        kind = type(node)
    if kind is _MATRIX:
        node = node.vector_selector
        kind = _VECTOR
    if kind is _VECTOR:
        name = node.name
        info = metric_info(name, self_domain) if name else None
        return (info.low, info.high, info.name) if info is not None else None
    if kind is _SUBQUERY:
        return domain_of(node.expr, self_domain)
    if kind is _CALL and node.func.name in _DOMAIN_FUNCS:
        arg = _vector_arg(node)
        return domain_of(arg, self_domain) if arg is not None else None
    if kind is _AGG and op_name(node.op) in _DOMAIN_AGGS:
        return domain_of(node.expr, self_domain)
    return None
