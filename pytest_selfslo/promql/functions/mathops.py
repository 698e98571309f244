"""Math functions of PromQL: element-wise float functions, clamp, round, scalar/vector, pi.

Element-wise functions keep the input labels and flag the name for removal
(Prometheus' ``simpleFloatFunc``). Their values are Go's ``math`` results on
amd64, bit for bit (:mod:`.gomath`): numpy's C library differs in the last
bit for about one input in six (``exp(-0.49)``, ``log10(1e15)``...), and
thresholds decide on that bit. Go returns NaN/Inf silently where numpy would
warn, so numpy's warnings are silenced in :func:`map_values`.
Query-context functions (``start()``, ``end()``, ``range()``, ``step()``) are
folded by Prometheus into numbers at the query level; here they read the
:class:`EvalContext`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from pytest_selfslo.promql import gomath
from pytest_selfslo.promql.functions.util import (
    Args,
    Exprs,
    constant_series,
    map_values,
    result_labels,
    scalar_arg,
    vector_arg,
)
from pytest_selfslo.promql.semantics import Semantics
from pytest_selfslo.promql.values import (
    EvalContext,
    FloatArray,
    InstantSeries,
    InstantVector,
    ScalarValue,
    Value,
)


def _sgn(v: FloatArray) -> FloatArray:
    # Go returns v itself for 0 and NaN
    return np.where(v < 0, -1.0, np.where(v > 0, 1.0, v))


Elementwise = Callable[[FloatArray, Semantics], FloatArray]


def _plain(fn: Callable[[FloatArray], FloatArray]) -> Elementwise:
    return lambda v, semantics: fn(v)


#: name -> element-wise implementation (each is ``// === name(Vector) Vector ===``); the
#: semantics only matters to functions built on ``math.Exp`` (its FMA path, see gomath)
ELEMENTWISE: dict[str, Elementwise] = {
    "abs": _plain(np.abs),
    "ceil": _plain(np.ceil),
    "floor": _plain(np.floor),
    "exp": lambda v, semantics: gomath.exp(v, semantics.exp_fma),
    "sqrt": _plain(gomath.sqrt),
    "ln": _plain(gomath.log),
    "log2": _plain(gomath.log2),
    "log10": _plain(gomath.log10),
    "sin": _plain(gomath.sin),
    "cos": _plain(gomath.cos),
    "tan": _plain(gomath.tan),
    "asin": _plain(gomath.asin),
    "acos": _plain(gomath.acos),
    "atan": _plain(gomath.atan),
    "sinh": lambda v, semantics: gomath.sinh(v, semantics.exp_fma),
    "cosh": lambda v, semantics: gomath.cosh(v, semantics.exp_fma),
    "tanh": lambda v, semantics: gomath.tanh(v, semantics.exp_fma),
    "asinh": _plain(gomath.asinh),
    "acosh": _plain(gomath.acosh),
    "atanh": _plain(gomath.atanh),
    "rad": _plain(lambda v: v * gomath.PI / 180),
    "deg": _plain(lambda v: v * 180 / gomath.PI),
    "sgn": _plain(_sgn),
}


def elementwise(name: str) -> Callable[[EvalContext, Args, Exprs], Value]:
    """The table entry of one element-wise function ``name(v Vector) Vector``."""
    fn = ELEMENTWISE[name]

    def call(ctx: EvalContext, args: Args, exprs: Exprs) -> Value:
        return map_values(vector_arg(args, 0, name), lambda v: fn(v, ctx.semantics))

    call.__name__ = f"fn_{name}"
    call.__doc__ = f"=== {name}(v Vector) Vector === element-wise ``{name}``."
    return call


# === clamp(v Vector, min, max Scalar) Vector ===
def fn_clamp(ctx: EvalContext, args: Args, exprs: Exprs) -> Value:
    """Clamp every value into [min, max]; steps where max < min produce nothing."""
    return _clamp(vector_arg(args, 0, "clamp"), scalar_arg(args, 1, "clamp"),
                  scalar_arg(args, 2, "clamp"))


# === clamp_max(v Vector, max Scalar) Vector ===
def fn_clamp_max(ctx: EvalContext, args: Args, exprs: Exprs) -> Value:
    """Clamp every value to at most ``max``."""
    hi = scalar_arg(args, 1, "clamp_max")
    return _clamp(vector_arg(args, 0, "clamp_max"), np.full_like(hi, -math.inf), hi)


# === clamp_min(v Vector, min Scalar) Vector ===
def fn_clamp_min(ctx: EvalContext, args: Args, exprs: Exprs) -> Value:
    """Clamp every value to at least ``min``."""
    lo = scalar_arg(args, 1, "clamp_min")
    return _clamp(vector_arg(args, 0, "clamp_min"), lo, np.full_like(lo, math.inf))


def _clamp(vec: InstantVector, lo: FloatArray, hi: FloatArray) -> InstantVector:
    # math.Max(min, math.Min(max, v)) with Go's Max/Min (±Inf beats NaN, +0 > -0); clamp_min
    # and clamp_max pass an infinite other bound, as Prometheus does since 3.1 (same values).
    valid = ~(hi < lo)
    out: list[InstantSeries] = []
    with np.errstate(all="ignore"):
        for s in vec.series:
            present = s.present & valid
            if not present.any():
                continue
            out.append(InstantSeries(labels=result_labels(s.labels),
                                     values=gomath.max_(lo, gomath.min_(hi, s.values)),
                                     present=present, drop_name=True))
    return InstantVector(out)


# === round(v Vector, to_nearest=1 Scalar) Vector ===
def fn_round(ctx: EvalContext, args: Args, exprs: Exprs) -> Value:
    """Round to the nearest multiple of ``to_nearest``; ties round up (floor(x + 0.5))."""
    vec = vector_arg(args, 0, "round")
    to_nearest = scalar_arg(args, 1, "round") if len(args) > 1 else np.ones(len(ctx.steps))
    with np.errstate(all="ignore"):
        # Prometheus multiplies by the inverse: fewer floating point surprises.
        inverse = 1.0 / to_nearest
    return map_values(vec, lambda v: np.floor(v * inverse + 0.5) / inverse)


# === scalar(v Vector) Scalar ===
def fn_scalar(ctx: EvalContext, args: Args, exprs: Exprs) -> Value:
    """The value of the only series present at a step, NaN when there are zero or several."""
    vec = vector_arg(args, 0, "scalar")
    count = np.zeros(len(ctx.steps), dtype=np.int64)
    value = np.full(len(ctx.steps), math.nan)
    for s in vec.series:
        count += s.present
        value = np.where(s.present, s.values, value)
    return ScalarValue(np.where(count == 1, value, math.nan))


# === vector(s Scalar) Vector ===
def fn_vector(ctx: EvalContext, args: Args, exprs: Exprs) -> Value:
    """The scalar as a single label-less series."""
    return constant_series(scalar_arg(args, 0, "vector").copy())


# === pi() Scalar ===
def fn_pi(ctx: EvalContext, args: Args, exprs: Exprs) -> Value:
    """π on every step."""
    return ScalarValue(np.full(len(ctx.steps), math.pi))


# === max_of(a, b Scalar) Scalar ===
def fn_max_of(ctx: EvalContext, args: Args, exprs: Exprs) -> Value:
    """The larger of two scalars (Go ``math.Max``: +Inf, then NaN wins)."""
    return ScalarValue(gomath.max_(scalar_arg(args, 0, "max_of"), scalar_arg(args, 1, "max_of")))


# === min_of(a, b Scalar) Scalar ===
def fn_min_of(ctx: EvalContext, args: Args, exprs: Exprs) -> Value:
    """The smaller of two scalars (Go ``math.Min``: -Inf, then NaN wins)."""
    return ScalarValue(gomath.min_(scalar_arg(args, 0, "min_of"), scalar_arg(args, 1, "min_of")))


def _step_ms(ctx: EvalContext) -> int:
    step = int(getattr(ctx, "step_ms", 0) or 0)
    if step == 0 and len(ctx.steps) > 1:
        step = int(ctx.steps[1] - ctx.steps[0])
    return step


# === start() Scalar ===
def fn_start(ctx: EvalContext, args: Args, exprs: Exprs) -> Value:
    """The query start in seconds (folded per query, not per subquery)."""
    return ScalarValue(np.full(len(ctx.steps), ctx.start_ms / 1000))


# === end() Scalar ===
def fn_end(ctx: EvalContext, args: Args, exprs: Exprs) -> Value:
    """The query end in seconds."""
    return ScalarValue(np.full(len(ctx.steps), ctx.end_ms / 1000))


# === range() Scalar ===
def fn_range(ctx: EvalContext, args: Args, exprs: Exprs) -> Value:
    """The query range (end - start) in seconds; 0 for instant queries."""
    return ScalarValue(np.full(len(ctx.steps), (ctx.end_ms - ctx.start_ms) / 1000))


# === step() Scalar ===
def fn_step(ctx: EvalContext, args: Args, exprs: Exprs) -> Value:
    """The query step in seconds; 0 for instant queries."""
    return ScalarValue(np.full(len(ctx.steps), _step_ms(ctx) / 1000))
