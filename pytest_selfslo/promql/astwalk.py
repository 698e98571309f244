"""Walking ``promql_parser`` ASTs: children, selectors and function calls of a query.

``promql_parser`` nodes have no generic child accessor, so this module knows
which attributes hold sub-expressions. Used by the promqltest runner to decide
skips (native-histogram selectors, experimental functions) and the ``@``
re-runs (functions that are not step invariant).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import promql_parser

from pytest_selfslo._core.goregex import GoRegexError, matcher_regex

__all__ = ["at_unsafe", "calls", "children", "regex_matcher_error", "selectors",
           "unimplemented_experimental", "walk"]

_REGEX_OPS = (promql_parser.MatchOp.Re, promql_parser.MatchOp.NotRe)


def children(n: Any) -> list[Any]:
    """Direct sub-expressions of a node (call arguments, operands, inner expressions)."""
    kids: list[Any] = []
    if isinstance(n, promql_parser.Call):
        kids.extend(n.args)
    for attr in ("expr", "lhs", "rhs", "param", "vector_selector"):
        child = getattr(n, attr, None)
        if child is not None and not isinstance(child, (str, float, int)):
            kids.append(child)
    return kids


def walk(node: Any) -> Iterator[Any]:
    """Every node of the tree, the root first."""
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        stack.extend(reversed(children(n)))


def selectors(node: Any) -> list[Any]:
    """Every vector selector (also those inside matrix selectors)."""
    return [n for n in walk(node) if isinstance(n, promql_parser.VectorSelector)]


def regex_matcher_error(node: Any) -> str | None:
    """Go's error for the first ``=~``/``!~`` pattern Prometheus' parser would refuse.

    ``promql-parser`` checks patterns with Rust's regex crate, which accepts some
    that Go rejects (``a{1001}``, ``a**``); Prometheus refuses those when it parses.
    """
    for sel in selectors(node):
        groups = [sel.matchers.matchers, *(sel.matchers.or_matchers or ())]
        for matchers in groups:
            for m in matchers:
                if m.op in _REGEX_OPS:
                    try:
                        matcher_regex(m.value)
                    except GoRegexError as exc:
                        return str(exc)
    return None


def calls(node: Any) -> list[Any]:
    """Every function call."""
    return [n for n in walk(node) if isinstance(n, promql_parser.Call)]


#: Prometheus' ``AtModifierUnsafeFunctions``: results vary with evaluation time under ``@``
_AT_UNSAFE = frozenset({"days_in_month", "day_of_month", "day_of_week", "day_of_year", "end",
                        "hour", "minute", "month", "year", "predict_linear", "range", "start",
                        "step", "time", "timestamp"})


def at_unsafe(node: Any) -> bool:
    """Whether the query calls a function whose result varies with evaluation time under ``@``."""
    return any(call.func.name in _AT_UNSAFE for call in calls(node))


def unimplemented_experimental(node: Any, table: Mapping[str, Any]) -> str | None:
    """Name of an experimental function in ``node`` missing from ``table`` (the engine's FUNCTIONS).

    The table is passed in so that this module stays free of numpy: the linter walks ASTs too.
    """
    for call in calls(node):
        if getattr(call.func, "experimental", False) and call.func.name not in table:
            return str(call.func.name)
    return None
