"""A frozen mirror of the ``promql_parser`` AST that can be rewritten and printed back.

``promql_parser`` gives the AST but its Python nodes cannot be rewritten: the
composite nodes' fields (``BinaryExpr.op``/``lhs``/``modifier``,
``AggregateExpr.op``, ``Call.func``/``args``) are read-only, the leaf setters
(``NumberLiteral.val``, ``MatrixSelector.range``) change a copy that
``prettify()`` never sees, and ``transform()`` only swaps in nodes that were
themselves parsed. So :func:`from_parser` copies a parsed expression into
small frozen dataclasses, mutation operators rewrite those with
:func:`dataclasses.replace`, and :func:`to_promql` prints them.

The printer is checked against the parser, never trusted: :func:`print_checked`
parses the printed text again and requires the mirror of the result to equal
the tree it printed (``from_parser(parse(to_promql(t))) == t``). An
expression whose tree does not survive that round trip is not mutated, and a
mutant that does not survive it is not generated.

    >>> tree = from_parser(promql_parser.parse("avg_over_time(x[5m]) < 0.8"))
    >>> to_promql(dataclasses.replace(tree, op=">="))
    'avg_over_time(x[5m]) >= 0.8'
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeAlias

import promql_parser

from pytest_selfslo._core.durations import format_duration
from pytest_selfslo._core.gofmt import go_quote

__all__ = ["Aggregate", "At", "Binary", "Call", "Matcher", "Matrix", "Node", "Number", "Paren",
           "Selector", "String", "Subquery", "Unary", "UnsupportedExpr", "children",
           "from_parser", "print_checked", "replace_at", "to_promql", "walk"]

_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)
_MATCH_OPS = {"MatchOp.Equal": "=", "MatchOp.NotEqual": "!=", "MatchOp.Re": "=~",
              "MatchOp.NotRe": "!~"}
_SET_OPS = frozenset({"and", "or", "unless"})


class UnsupportedExpr(ValueError):
    """The expression uses syntax the mirror does not print (e.g. experimental ``fill``)."""


@dataclass(frozen=True, eq=False)
class Number:
    """A number literal (equal to another when both are NaN or the values are equal)."""

    value: float

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Number):
            return NotImplemented
        both_nan = math.isnan(self.value) and math.isnan(other.value)
        return both_nan or self.value == other.value

    def __hash__(self) -> int:
        return hash("NaN") if math.isnan(self.value) else hash(self.value)


@dataclass(frozen=True)
class String:
    """A string literal."""

    value: str


@dataclass(frozen=True)
class Matcher:
    """``name op "value"`` with op ``=``, ``!=``, ``=~`` or ``!~``."""

    name: str
    op: str
    value: str


@dataclass(frozen=True)
class At:
    """``@ <time>``, ``@ start()`` or ``@ end()``; ``time_ms`` only for the first."""

    kind: str
    time_ms: int = 0


@dataclass(frozen=True)
class Selector:
    """An instant vector selector (``name{matchers} offset d @ t``)."""

    name: str | None
    matchers: tuple[Matcher, ...] = ()
    or_matchers: tuple[tuple[Matcher, ...], ...] = ()
    offset_ms: int | None = None
    at: At | None = None


@dataclass(frozen=True)
class Matrix:
    """A range selector; its offset and ``@`` live on the inner selector."""

    selector: Selector
    range_ms: int


@dataclass(frozen=True)
class Subquery:
    """``expr[range:step] offset d @ t``."""

    expr: Node
    range_ms: int
    step_ms: int | None = None
    offset_ms: int | None = None
    at: At | None = None


@dataclass(frozen=True)
class Call:
    """A function call."""

    func: str
    args: tuple[Node, ...]


@dataclass(frozen=True)
class Aggregate:
    """``op [by|without (labels)] ([param,] expr)``; ``grouping`` is ``None`` or ``by``/``without``."""

    op: str
    expr: Node
    param: Node | None = None
    grouping: str | None = None
    labels: tuple[str, ...] = ()


@dataclass(frozen=True)
class Binary:
    """``lhs op [bool] [on|ignoring (labels)] [group_left|group_right (labels)] rhs``."""

    op: str
    lhs: Node
    rhs: Node
    return_bool: bool = False
    matching: str | None = None
    matching_labels: tuple[str, ...] = ()
    group: str | None = None
    group_labels: tuple[str, ...] = ()


@dataclass(frozen=True)
class Paren:
    """``(expr)``."""

    expr: Node


@dataclass(frozen=True)
class Unary:
    """``-expr``."""

    expr: Node


Node: TypeAlias = (Number | String | Selector | Matrix | Subquery | Call | Aggregate | Binary
                   | Paren | Unary)


# ---------------------------------------------------------------- from promql_parser
def _ms(delta: _dt.timedelta | None) -> int | None:
    if delta is None:
        return None
    return (delta.days * 86_400_000 + delta.seconds * 1000 + delta.microseconds // 1000)


def _at(node: Any) -> At | None:
    at = node.at
    if at is None:
        return None
    kind = str(at.type).rsplit(".", 1)[-1].lower()
    if kind == "at":
        return At("at", round((at.at - _EPOCH).total_seconds() * 1000))
    return At(kind)


def _matchers(items: Any) -> tuple[Matcher, ...]:
    return tuple(Matcher(m.name, _MATCH_OPS[str(m.op)], m.value) for m in items)


def _selector(node: Any) -> Selector:
    ms = node.matchers
    return Selector(node.name, _matchers(ms.matchers), tuple(_matchers(g) for g in ms.or_matchers),
                    _ms(node.offset), _at(node))


def from_parser(node: Any) -> Node:
    """The mirror of a ``promql_parser`` node (raises :class:`UnsupportedExpr`)."""
    if isinstance(node, promql_parser.NumberLiteral):
        return Number(float(node.val))
    if isinstance(node, promql_parser.StringLiteral):
        return String(str(node.val))
    if isinstance(node, promql_parser.VectorSelector):
        return _selector(node)
    if isinstance(node, promql_parser.MatrixSelector):
        range_ms = _ms(node.range)
        assert range_ms is not None
        return Matrix(_selector(node.vector_selector), range_ms)
    if isinstance(node, promql_parser.SubqueryExpr):
        range_ms = _ms(node.range)
        assert range_ms is not None
        return Subquery(from_parser(node.expr), range_ms, _ms(node.step), _ms(node.offset),
                        _at(node))
    if isinstance(node, promql_parser.Call):
        return Call(str(node.func.name), tuple(from_parser(a) for a in node.args))
    if isinstance(node, promql_parser.AggregateExpr):
        mod = node.modifier
        grouping = None if mod is None else str(mod.type).rsplit(".", 1)[-1].lower()
        labels = () if mod is None else tuple(mod.labels)
        param = None if node.param is None else from_parser(node.param)
        return Aggregate(str(node.op), from_parser(node.expr), param,
                         {"by": "by", "without": "without", None: None}[grouping], labels)
    if isinstance(node, promql_parser.BinaryExpr):
        return _binary(node)
    if isinstance(node, promql_parser.ParenExpr):
        return Paren(from_parser(node.expr))
    if isinstance(node, promql_parser.UnaryExpr):
        return Unary(from_parser(node.expr))
    raise UnsupportedExpr(f"unsupported PromQL node {type(node).__name__}")


def _binary(node: Any) -> Binary:
    op = str(node.op)
    mod = node.modifier
    out = Binary(op, from_parser(node.lhs), from_parser(node.rhs))
    if mod is None:
        return out
    fill = mod.fill_values
    if fill is not None and (fill.lhs is not None or fill.rhs is not None):
        raise UnsupportedExpr("fill() modifiers are not supported")
    card = str(mod.card).rsplit(".", 1)[-1]
    group = {"ManyToOne": "group_left", "OneToMany": "group_right"}.get(card)
    matching = labels = None
    if mod.matching is not None:
        kind = str(mod.matching.type).rsplit(".", 1)[-1]
        matching = "on" if kind == "Include" else "ignoring"
        labels = tuple(mod.matching.labels)
    return dataclasses.replace(
        out, return_bool=bool(mod.return_bool), matching=matching,
        matching_labels=labels or (), group=group,
        group_labels=tuple(mod.group_labels or ()) if group else ())


# ---------------------------------------------------------------- printing
def _number(value: float) -> str:
    value = float(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Inf" if value > 0 else "-Inf"
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def _duration(ms: int) -> str:
    return format_duration(ms)


def _modifiers(offset_ms: int | None, at: At | None) -> str:
    out = ""
    if offset_ms is not None:
        out += f" offset {'-' if offset_ms < 0 else ''}{_duration(abs(offset_ms))}"
    if at is not None:
        out += " @ " + (f"{at.time_ms / 1000:.3f}" if at.kind == "at" else f"{at.kind}()")
    return out


def _matcher(m: Matcher) -> str:
    return f"{m.name}{m.op}{go_quote(m.value)}"


def _selector_text(sel: Selector) -> str:
    text = sel.name or ""
    if sel.matchers or sel.or_matchers or not sel.name:
        groups = ([sel.matchers] if sel.matchers else []) + list(sel.or_matchers) \
            if sel.or_matchers else [sel.matchers]
        text += "{" + " or ".join(", ".join(_matcher(m) for m in g) for g in groups) + "}"
    return text


def _labels(labels: tuple[str, ...]) -> str:
    return "(" + ", ".join(labels) + ")"


def to_promql(node: Node) -> str:
    """PromQL text of a mirror tree (parentheses only where the tree has :class:`Paren`)."""
    if isinstance(node, Number):
        return _number(node.value)
    if isinstance(node, String):
        return go_quote(node.value)
    if isinstance(node, Selector):
        return _selector_text(node) + _modifiers(node.offset_ms, node.at)
    if isinstance(node, Matrix):
        sel = node.selector
        return (_selector_text(sel) + f"[{_duration(node.range_ms)}]"
                + _modifiers(sel.offset_ms, sel.at))
    if isinstance(node, Subquery):
        step = "" if node.step_ms is None else _duration(node.step_ms)
        return (f"{to_promql(node.expr)}[{_duration(node.range_ms)}:{step}]"
                + _modifiers(node.offset_ms, node.at))
    if isinstance(node, Call):
        return f"{node.func}({', '.join(to_promql(a) for a in node.args)})"
    if isinstance(node, Aggregate):
        head = node.op
        if node.grouping is not None:
            head += f" {node.grouping} {_labels(node.labels)} "
        args = ([to_promql(node.param)] if node.param is not None else []) + [to_promql(node.expr)]
        return f"{head}({', '.join(args)})"
    if isinstance(node, Binary):
        mods = " bool" if node.return_bool else ""
        if node.matching is not None:
            mods += f" {node.matching} {_labels(node.matching_labels)}"
        if node.group is not None:
            mods += f" {node.group} {_labels(node.group_labels)}"
        return f"{to_promql(node.lhs)} {node.op}{mods} {to_promql(node.rhs)}"
    if isinstance(node, Paren):
        return f"({to_promql(node.expr)})"
    if isinstance(node, Unary):
        return f"-{to_promql(node.expr)}"
    raise TypeError(f"not a PromQL tree node: {node!r}")


def print_checked(node: Node) -> str | None:
    """Printed text of ``node`` if it parses back to exactly ``node``, else ``None``."""
    text = to_promql(node)
    try:
        parsed = promql_parser.parse(text)
    except BaseException as exc:  # the Rust binding can panic (pyo3 PanicException)
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise
        return None
    try:
        return text if from_parser(parsed) == node else None
    except UnsupportedExpr:
        return None


# ---------------------------------------------------------------- walking and rewriting
Path = tuple[int, ...]


def children(node: Node) -> tuple[Node, ...]:
    """Direct sub-expressions, in printing order."""
    if isinstance(node, Matrix):
        return (node.selector,)
    if isinstance(node, (Subquery, Paren, Unary)):
        return (node.expr,)
    if isinstance(node, Call):
        return node.args
    if isinstance(node, Aggregate):
        return (node.expr,) if node.param is None else (node.param, node.expr)
    if isinstance(node, Binary):
        return (node.lhs, node.rhs)
    return ()


def walk(node: Node, path: Path = ()) -> Iterator[tuple[Path, Node]]:
    """Every node with its path (child indices from the root), pre-order, deterministic."""
    yield path, node
    for i, child in enumerate(children(node)):
        yield from walk(child, (*path, i))


def _with_children(node: Node, kids: tuple[Node, ...]) -> Node:
    if isinstance(node, Matrix):
        selector = kids[0]
        assert isinstance(selector, Selector)
        return dataclasses.replace(node, selector=selector)
    if isinstance(node, (Subquery, Paren, Unary)):
        return dataclasses.replace(node, expr=kids[0])
    if isinstance(node, Call):
        return dataclasses.replace(node, args=kids)
    if isinstance(node, Aggregate):
        if node.param is None:
            return dataclasses.replace(node, expr=kids[0])
        return dataclasses.replace(node, param=kids[0], expr=kids[1])
    if isinstance(node, Binary):
        return dataclasses.replace(node, lhs=kids[0], rhs=kids[1])
    return node


def replace_at(root: Node, path: Path, new: Node | Callable[[Node], Node]) -> Node:
    """A copy of ``root`` with the node at ``path`` replaced (or mapped through ``new``)."""
    if not path:
        return new(root) if callable(new) else new
    kids = list(children(root))
    kids[path[0]] = replace_at(kids[path[0]], path[1:], new)
    return _with_children(root, tuple(kids))
