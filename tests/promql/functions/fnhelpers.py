"""Hand-built values for the PromQL function unit tests (no engine involved)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from pytest_selfslo.promql.functions import FUNCTIONS
from pytest_selfslo.promql.values import (
    EvalContext,
    InstantSeries,
    InstantVector,
    RangeSeries,
    RangeVector,
    ScalarValue,
    StringValue,
    Value,
    make_labels,
)


def ctx(*steps_ms: int, semantics: str = "3") -> EvalContext:
    """A context whose step grid is ``steps_ms``."""
    grid = np.array(steps_ms, dtype=np.int64)
    return EvalContext(steps=grid, semantics=semantics, start_ms=int(grid[0]),
                       end_ms=int(grid[-1]))


def rseries(samples: Sequence[tuple[int, float]], steps: Sequence[int], range_ms: int,
            labels: dict[str, str] | None = None, left_open: bool = True) -> RangeSeries:
    """A range series with Prometheus 3 (left-open) or 2 (closed) windows."""
    t = np.array([s[0] for s in samples], dtype=np.int64)
    v = np.array([s[1] for s in samples], dtype=np.float64)
    ref = np.array(steps, dtype=np.int64)
    lo = np.searchsorted(t, ref - range_ms, side="right" if left_open else "left")
    hi = np.searchsorted(t, ref, side="right")
    return RangeSeries(make_labels(labels or {"__name__": "m"}), t, v,
                       lo.astype(np.int64), hi.astype(np.int64))


def rvec(steps: Sequence[int], range_ms: int, *series: RangeSeries) -> RangeVector:
    """A range vector whose windows end at the steps."""
    return RangeVector(list(series), range_ms, np.array(steps, dtype=np.int64))


def iseries(values: Sequence[float], labels: dict[str, str] | None = None,
            present: Sequence[bool] | None = None) -> InstantSeries:
    """An instant series over the step grid."""
    vals = np.array(values, dtype=np.float64)
    pres = np.ones(len(vals), dtype=bool) if present is None else np.array(present, dtype=bool)
    return InstantSeries(make_labels(labels or {"__name__": "m"}), vals, pres)


def ivec(*series: InstantSeries) -> InstantVector:
    """An instant vector."""
    return InstantVector(list(series))


def scalar(*values: float) -> ScalarValue:
    """A scalar with one value per step."""
    return ScalarValue(np.array(values, dtype=np.float64))


def string(value: str) -> StringValue:
    """A string literal argument."""
    return StringValue(value)


def call(name: str, context: EvalContext, *args: Value, exprs: Sequence[object] = ()) -> Value:
    """Call a table entry the way the engine does."""
    return FUNCTIONS[name](context, list(args), list(exprs))  # type: ignore[arg-type]


def single(result: Value) -> tuple[list[float], list[bool]]:
    """Values and presence of the only output series (NaN where absent)."""
    assert isinstance(result, InstantVector)
    assert len(result.series) == 1, result.series
    s = result.series[0]
    return [float(x) if p else float("nan") for x, p in zip(s.values, s.present, strict=True)], \
        [bool(p) for p in s.present]
