"""Shared helpers of the PromQL function implementations (``fn_*.py``).

Every function module works on the step-vectorised values of
:mod:`pytest_selfslo.promql.values`: one numpy array per series covering the
whole step grid. These helpers keep the repetitive parts -- unpacking typed
arguments, building output series, the ``__name__`` policy -- in one place so
the implementations read like their Prometheus counterparts.

``__name__`` policy: Prometheus 3 with delayed name removal (what promqltest
and promtool 3.x use) keeps the metric name on a function's output series and
only flags it (``DropName``); the engine removes flagged names when the query
result is produced, so ``label_replace(rate(x[5m]), "n", "$1", "__name__", "(.+)")``
can still see ``x``. :data:`DELAYED_NAME_REMOVAL` selects that behaviour; with
``False`` the name is dropped immediately (Prometheus 2.x behaviour).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import promql_parser

from pytest_selfslo._core.errors import PromQLEvalError
from pytest_selfslo._core.gofmt import format_float_g
from pytest_selfslo.promql.values import (
    BoolArray,
    EvalContext,
    FloatArray,
    InstantSeries,
    InstantVector,
    Labels,
    RangeSeries,
    RangeVector,
    ScalarValue,
    StringValue,
    Value,
    drop_metric_name,
)

#: keep ``__name__`` on outputs and flag them with ``drop_name`` (Prometheus 3 delayed removal)
DELAYED_NAME_REMOVAL = True

Args = Sequence[Value]
Exprs = Sequence[promql_parser.Expr]


def annotate(ctx: EvalContext, message: str) -> None:
    """Record a Prometheus annotation (``PromQL warning: ...``/``PromQL info: ...``) once.

    The engine copies ``ctx.annotations`` into its per-query list; a context
    without that list (an older engine) silently drops annotations.
    """
    sink = getattr(ctx, "annotations", None)
    if isinstance(sink, list) and message not in sink:
        sink.append(message)


def quantile_warning(ctx: EvalContext, q: FloatArray) -> None:
    """Prometheus' invalid-quantile warning for the first q outside [0, 1] (or NaN)."""
    with np.errstate(invalid="ignore"):
        bad = np.isnan(q) | (q < 0) | (q > 1)
    if bad.any():
        annotate(ctx, "PromQL warning: quantile value should be between 0 and 1, got "
                 + format_float_g(float(q[np.flatnonzero(bad)[0]])))


def result_labels(labels: Labels) -> Labels:
    """Labels of a series whose name a function drops (see the module docstring)."""
    return labels if DELAYED_NAME_REMOVAL else drop_metric_name(labels)


def _arg(args: Args, i: int, name: str, kind: type, what: str) -> Value:
    if i >= len(args):
        raise PromQLEvalError(f"{name}(): missing argument {i + 1} (expected {what})")
    value = args[i]
    if not isinstance(value, kind):
        raise PromQLEvalError(
            f"{name}(): argument {i + 1} must be {what}, got {type(value).__name__}")
    return value


def vector_arg(args: Args, i: int, name: str) -> InstantVector:
    """Argument ``i`` as an instant vector (the engine already type-checked it)."""
    value = _arg(args, i, name, InstantVector, "an instant vector")
    assert isinstance(value, InstantVector)
    return value


def range_arg(args: Args, i: int, name: str) -> RangeVector:
    """Argument ``i`` as a range vector."""
    value = _arg(args, i, name, RangeVector, "a range vector")
    assert isinstance(value, RangeVector)
    return value


def scalar_arg(args: Args, i: int, name: str) -> FloatArray:
    """Argument ``i`` as a per-step array of scalar values."""
    value = _arg(args, i, name, ScalarValue, "a scalar")
    assert isinstance(value, ScalarValue)
    return np.asarray(value.values, dtype=np.float64)


def string_arg(args: Args, i: int, name: str) -> str:
    """Argument ``i`` as a string literal."""
    value = _arg(args, i, name, StringValue, "a string")
    assert isinstance(value, StringValue)
    return value.value


def map_values(vec: InstantVector, fn: Callable[[FloatArray], FloatArray]) -> InstantVector:
    """Apply an element-wise float function to every series (``simpleFloatFunc``).

    Values at steps where a series is absent are garbage and may produce
    warnings; numpy's error state is silenced because Go's math returns
    NaN/Inf silently, which is the behaviour we reproduce.
    """
    out: list[InstantSeries] = []
    with np.errstate(all="ignore"):
        for s in vec.series:
            out.append(InstantSeries(
                labels=result_labels(s.labels),
                values=np.asarray(fn(s.values), dtype=np.float64),
                present=s.present.copy(),
                drop_name=True,
            ))
    return InstantVector(out)


def range_output(rs: RangeSeries, values: FloatArray, present: BoolArray,
                 keep_name: bool = False) -> InstantSeries | None:
    """One output series of a range function, or ``None`` when it has no sample at all.

    ``keep_name`` is for ``first_over_time``/``last_over_time`` which act like an
    offset and keep the metric name unless the input already dropped it.
    """
    if not present.any():
        return None
    drop = rs.drop_name or not keep_name
    labels = result_labels(rs.labels) if drop else rs.labels
    return InstantSeries(labels=labels, values=values, present=present, drop_name=drop)


def constant_series(values: FloatArray) -> InstantVector:
    """An instant vector with one label-less series present on every step."""
    return InstantVector([InstantSeries(
        labels=(), values=np.asarray(values, dtype=np.float64),
        present=np.ones(len(values), dtype=bool))])
