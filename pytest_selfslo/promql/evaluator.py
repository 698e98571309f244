"""What operators and aggregations need from the evaluator: a small Protocol.

``binops`` and ``aggregations`` evaluate their operands through the engine's
evaluator, and the engine dispatches to them; typing them against this
Protocol instead of the engine's private class keeps the dependency one-way
(``engine`` imports them, they import only this module and ``values``).
"""

from __future__ import annotations

from typing import Any, Protocol

from pytest_selfslo.promql.semantics import Semantics
from pytest_selfslo.promql.values import InstantVector, IntArray, Value

__all__ = ["Evaluator"]


class Evaluator(Protocol):
    """One query's evaluation, as seen by an operator or aggregation."""

    #: the Prometheus version imitated (:class:`~.semantics.Semantics`)
    semantics: Semantics
    #: metric names are dropped at the end of the query (delayed name removal), not right away
    delayed: bool

    def eval(self, node: Any, steps: IntArray) -> Value:
        """The value of ``node`` at each step."""

    def eval_instant(self, node: Any, steps: IntArray, what: str) -> InstantVector:
        """The value of ``node``, which must be an instant vector (type error otherwise)."""

    def settle(self, vec: InstantVector) -> InstantVector:
        """Drop metric names now unless removal is delayed, else leave them marked."""

    def annotate(self, message: str) -> None:
        """Record an info/warning annotation once."""
