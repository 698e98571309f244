"""Math functions of PromQL: element-wise float functions, clamp, round, scalar/vector, pi.

Element-wise functions keep the input labels and flag the name for removal
(Prometheus' ``simpleFloatFunc``); Go's math returns NaN/Inf silently where
numpy would warn, so numpy's warnings are silenced in :func:`map_values`.
Query-context functions (``start()``, ``end()``, ``range()``, ``step()``) are
folded by Prometheus into numbers at the query level; here they read the
:class:`EvalContext`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from pytest_selfslo.promql.functions.util import (
    Args,
    Exprs,
    constant_series,
    map_values,
    result_labels,
    scalar_arg,
    vector_arg,
)
from pytest_selfslo.promql.values import (
    EvalContext,
    FloatArray,
    InstantSeries,
    InstantVector,
    ScalarValue,
    Value,
)

# fdlibm's log (the algorithm Go's pure-Go math.Log implements): x = 2^k * (1 + f) with
# sqrt(2)/2 <= 1 + f < sqrt(2), then a degree-14 minimax polynomial in s = f / (2 + f).
# Go's results differ from the C library's in the last bit for some inputs (Go's
# log10(1e15) is 14.999999999999998), and thresholds on logarithms must agree with
# Prometheus, so ln, log2 and log10 reproduce Go's arithmetic exactly.
_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10
# 1/ln 2 and 1/ln 10 correctly rounded (Go folds these constants exactly at compile time;
# 1 / math.log(10) is one ulp off)
_INV_LN2 = 1.4426950408889634
_INV_LN10 = 0.4342944819032518
_LG = (6.666666666666735130e-01, 3.999999999940941908e-01, 2.857142874366239149e-01,
       2.222219843214978396e-01, 1.818357216161805012e-01, 1.531383769920937332e-01,
       1.479819860511658591e-01)


def go_log(x: FloatArray) -> FloatArray:
    """Natural logarithm computed the way Go's ``math.Log`` does (bit-identical)."""
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(all="ignore"):
        frac, exp = np.frexp(x)
        low = frac < math.sqrt(2) / 2
        frac = np.where(low, frac * 2, frac)
        k = (exp - low).astype(np.float64)
        f = frac - 1
        s = f / (2 + f)
        s2 = s * s
        s4 = s2 * s2
        t1 = s2 * (_LG[0] + s4 * (_LG[2] + s4 * (_LG[4] + s4 * _LG[6])))
        t2 = s4 * (_LG[1] + s4 * (_LG[3] + s4 * _LG[5]))
        r = t1 + t2
        hfsq = 0.5 * f * f
        result: FloatArray = k * _LN2_HI - ((hfsq - (s * (hfsq + r) + k * _LN2_LO)) - f)
    special = np.isnan(x) | np.isinf(x) | (x <= 0)
    if not special.any():
        return result
    fixed = np.where(x == 0, -math.inf, np.where(x < 0, math.nan, x))  # NaN, +Inf pass
    return np.where(special, np.where(np.isneginf(x), math.nan, fixed), result)


def go_log2(x: FloatArray) -> FloatArray:
    """Go's ``math.Log2``: exact for powers of two, else Log(frac)/ln 2 + exponent."""
    x = np.asarray(x, dtype=np.float64)
    frac, exp = np.frexp(x)
    with np.errstate(all="ignore"):
        general = go_log(frac) * _INV_LN2 + exp
    special = np.isnan(x) | np.isinf(x) | (x <= 0)
    result = np.where(frac == 0.5, (exp - 1).astype(np.float64), general)
    return np.where(special, go_log(x), result)


def go_log10(x: FloatArray) -> FloatArray:
    """Go's ``math.Log10``: Log(x) * (1 / ln 10)."""
    return go_log(x) * _INV_LN10


def _sgn(v: FloatArray) -> FloatArray:
    # Go returns v itself for 0 and NaN; np.sign does the same for NaN and 0.
    return np.where(v < 0, -1.0, np.where(v > 0, 1.0, v))


#: name -> element-wise implementation (each is ``// === name(Vector) Vector ===``)
ELEMENTWISE: dict[str, Callable[[FloatArray], FloatArray]] = {
    "abs": np.abs,
    "ceil": np.ceil,
    "floor": np.floor,
    "exp": np.exp,
    "sqrt": np.sqrt,
    "ln": go_log,
    "log2": go_log2,
    "log10": go_log10,
    "sin": np.sin,
    "cos": np.cos,
    "tan": np.tan,
    "asin": np.arcsin,
    "acos": np.arccos,
    "atan": np.arctan,
    "sinh": np.sinh,
    "cosh": np.cosh,
    "tanh": np.tanh,
    "asinh": np.arcsinh,
    "acosh": np.arccosh,
    "atanh": np.arctanh,
    "rad": lambda v: v * math.pi / 180,
    "deg": lambda v: v * 180 / math.pi,
    "sgn": _sgn,
}


def elementwise(name: str) -> Callable[[EvalContext, Args, Exprs], Value]:
    """The table entry of one element-wise function ``name(v Vector) Vector``."""
    fn = ELEMENTWISE[name]

    def call(ctx: EvalContext, args: Args, exprs: Exprs) -> Value:
        return map_values(vector_arg(args, 0, name), fn)

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
    # math.Max(min, math.Min(max, v)): NaN anywhere propagates, like np.maximum/np.minimum.
    valid = ~(hi < lo)
    out: list[InstantSeries] = []
    with np.errstate(all="ignore"):
        for s in vec.series:
            present = s.present & valid
            if not present.any():
                continue
            out.append(InstantSeries(labels=result_labels(s.labels),
                                     values=np.maximum(lo, np.minimum(hi, s.values)),
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
    """The larger of two scalars (Go ``math.Max``: NaN wins)."""
    return ScalarValue(np.maximum(scalar_arg(args, 0, "max_of"), scalar_arg(args, 1, "max_of")))


# === min_of(a, b Scalar) Scalar ===
def fn_min_of(ctx: EvalContext, args: Args, exprs: Exprs) -> Value:
    """The smaller of two scalars (Go ``math.Min``: NaN wins)."""
    return ScalarValue(np.minimum(scalar_arg(args, 0, "min_of"), scalar_arg(args, 1, "min_of")))


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
