"""Go's ``math`` package as Prometheus runs it on linux/amd64, vectorised with numpy.

PromQL's float functions and operators call Go's ``math``; users copy the
values ``promtool`` prints into their tests, and thresholds decide on the last
bit, so numpy's C-library results are not good enough. Every function here
reproduces, operation for operation, the code the amd64 build of Go executes:

* ``Exp`` -- the amd64 assembly (Shibata's method: ``x = k ln 2 + r``, a Taylor
  polynomial in ``r / 16``, four doublings, then scaling by ``2^k``). The
  assembly takes a *fused multiply-add* path when the CPU has AVX and FMA
  (every x86-64 CPU since about 2013) and a plain path otherwise, and the two
  can differ in the last bit; ``fma=True`` (the default) is the former. Go
  honours ``GODEBUG=cpu.fma=off`` for the latter.
* ``Log`` -- the amd64 assembly (fdlibm's algorithm; unlike the pure-Go
  version it takes mantissas ``<=`` sqrt(2)/2 down, and reads subnormal
  inputs as if they were normal).
* ``Sqrt``, ``Floor``, ``Ceil`` -- single instructions: numpy's are identical.
* ``Mod`` -- exact (each reduction step is an exact subtraction), i.e. C's
  ``fmod``: numpy's is identical.
* ``Max``/``Min`` -- the amd64 assembly: +Inf (-Inf) wins over NaN, ``+0 > -0``.
* everything else (``Pow``, ``Log2``, ``Log10``, ``Log1p``, trigonometric,
  inverse trigonometric, hyperbolic and inverse hyperbolic functions,
  ``Atan2``) is pure Go, which the amd64 compiler never fuses into FMAs;
  the ports keep Go's evaluation order and its constants (Go folds constant
  expressions such as ``Pi/2`` or ``1/Ln10`` exactly before rounding).

Checked bit for bit against Go 1.19 (Debian's promtool 2.42 is built with
go1.19.8) on about 300,000 inputs per function, both Exp paths
(``tests/promql/functions/test_gomath.py``, table in ``tests/data/``).

    >>> float(exp(np.array([0.01 - 0.5]))[0])
    0.612626394184416
"""

from __future__ import annotations

from fractions import Fraction
from functools import cache

import numpy as np

from pytest_selfslo.promql.arrays import FloatArray

__all__ = [
    "acos",
    "acosh",
    "asin",
    "asinh",
    "atan",
    "atan2",
    "atanh",
    "cos",
    "cosh",
    "exp",
    "exp2",
    "log",
    "log1p",
    "log2",
    "log10",
    "max_",
    "min_",
    "mod",
    "pow_",
    "sin",
    "sinh",
    "sqrt",
    "tan",
    "tanh",
]

_U = np.uint64
_SIGN = _U(1 << 63)
_EXP_MASK = _U(0x7FF << 52)
_FRAC_MASK = _U((1 << 52) - 1)
_INF = np.inf
_NAN = np.nan

# Go's untyped constants (math/const.go), kept as exact rationals so that constant
# expressions fold exactly before the one rounding to float64, as the Go compiler does.
_PI = Fraction("3.14159265358979323846264338327950288419716939937510582097494459")
_LN2 = Fraction("0.693147180559945309417232121458176568075500134360255254120680009")
_LN10 = Fraction("2.30258509299404568401799145468436420760110148862877297603332790")

PI = float(_PI)
_PI_2 = float(_PI / 2)
_PI_4 = float(_PI / 4)
_3PI_4 = float(3 * _PI / 4)
_4_PI = float(4 / _PI)
_INV_LN2 = float(1 / _LN2)
_INV_LN10 = float(1 / _LN10)
_GO_LN2 = float(_LN2)


def _f64(x: FloatArray | float) -> FloatArray:
    return np.asarray(x, dtype=np.float64)


def _unsign(x: FloatArray) -> FloatArray:
    """Go's ``if x < 0 { x = -x }``: unlike ``abs``, keeps ``-0``."""
    out: FloatArray = np.where(x < 0, -x, x)
    return out


def _bits(x: FloatArray) -> np.ndarray:
    return np.ascontiguousarray(x, dtype=np.float64).view(_U)


def _from_bits(b: np.ndarray) -> FloatArray:
    out: FloatArray = np.ascontiguousarray(b, dtype=_U).view(np.float64)
    return out


# --------------------------------------------------------------------------- exact arithmetic
_SPLIT = 134217729.0  # 2^27 + 1, Veltkamp's splitter


def _two_sum(a: FloatArray, b: FloatArray) -> tuple[FloatArray, FloatArray]:
    s = a + b
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


def _two_prod(a: FloatArray, b: FloatArray) -> tuple[FloatArray, FloatArray]:
    p = a * b
    ca = _SPLIT * a
    ah = ca - (ca - a)
    al = a - ah
    cb = _SPLIT * b
    bh = cb - (cb - b)
    bl = b - bh
    return p, ((ah * bh - p) + ah * bl + al * bh) + al * bl


def _add_round_odd(a: FloatArray, b: FloatArray) -> FloatArray:
    """``a + b`` rounded to odd: inexact results get an odd last mantissa bit."""
    s, err = _two_sum(a, b)
    even = (_bits(s) & _U(1)) == 0
    step = np.nextafter(s, np.where(err > 0, _INF, -_INF))
    return np.where((err != 0) & even, step, s)


def fma(a: FloatArray | float, b: FloatArray | float, c: FloatArray | float) -> FloatArray:
    """``a * b + c`` with one rounding (the VFMADD instruction).

    Boldo and Melquiond's emulation (exact product, exact sum, rounding to odd,
    one final rounding); exact for the finite, non-underflowing operands the
    exponential passes it.
    """
    ph, pl = _two_prod(_f64(a), _f64(b))
    th, tl = _two_sum(_f64(c), ph)
    return th + _add_round_odd(tl, pl)


# --------------------------------------------------------------------------- exp (exp_amd64.s)
_LOG2E = 1.4426950408889634073599246810018920
_LN2U = 0.69314718055966295651160180568695068359375
_LN2L = 0.28235290563031577122588448175013436025525412068e-12
_EXP_OVERFLOW = 7.09782712893384e+02
#: Taylor coefficients 1/8! ... 1/2!, 1 in the order the assembly applies them
_EXP_TAYLOR = (2.4801587301587301587e-5, 1.9841269841269841270e-4, 1.3888888888888888889e-3,
               8.3333333333333333333e-3, 4.1666666666666666667e-2, 1.6666666666666666667e-1,
               0.5, 1.0)


def exp(x: FloatArray, fma_path: bool = True) -> FloatArray:
    """``math.Exp`` on amd64; ``fma_path`` selects the AVX+FMA branch of the assembly."""
    x = _f64(x)
    with np.errstate(all="ignore"):
        t = x * _LOG2E
        # CVTSD2SL: round to nearest even; out of range (or NaN) gives INT32_MIN
        k = np.where(np.abs(t) < 2.0**31, np.rint(t), -(2.0**31))
        r = x
        if fma_path:
            r = fma(-k, _LN2U, r)
            r = fma(-k, _LN2L, r)
        else:
            r = r - k * _LN2U
            r = r - k * _LN2L
        r = r * 0.0625
        p = np.full_like(r, _EXP_TAYLOR[0])
        for c in _EXP_TAYLOR[1:]:
            p = fma(p, r, c) if fma_path else p * r + c
        y = p * r
        for i in range(4):
            two = y + 2.0
            y = fma(two, y, 1.0) if fma_path and i == 3 else y * two
        if not fma_path:
            y = y + 1.0
        biased = k.astype(np.int64) + 1023
        scale = _from_bits(np.clip(biased, 1, 2046).astype(_U) << _U(52))
        normal = y * scale
        # subnormal results: scale by 2^(biased - 1) * 2^-1022 (two roundings, as the assembly)
        sub_scale = _from_bits((np.clip(biased, -52, 0) + 0x3FE).astype(_U) << _U(52))
        subnormal = (y * sub_scale) * 2.0**-1022
        out = np.where(biased <= 0, np.where(biased < -52, 0.0, subnormal),
                       np.where(biased >= 0x7FF, _INF, normal))
        out = np.where(x > _EXP_OVERFLOW, _INF, out)
        out = np.where(np.isnan(x) | (x == _INF), x, np.where(x == -_INF, 0.0, out))
    result: FloatArray = out
    return result


# --------------------------------------------------------------------------- log (log_amd64.s)
_HSQRT2 = 7.07106781186547524401e-01
_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10
_L1, _L2, _L3, _L4, _L5, _L6, _L7 = (
    6.666666666666735130e-01, 3.999999999940941908e-01, 2.857142874366239149e-01,
    2.222219843214978396e-01, 1.818357216161805012e-01, 1.531383769920937332e-01,
    1.479819860511658591e-01)


def log(x: FloatArray) -> FloatArray:
    """``math.Log`` on amd64 (the assembly; see the module docstring)."""
    x = _f64(x)
    bits = _bits(x)
    with np.errstate(all="ignore"):
        f1 = _from_bits((bits & _FRAC_MASK) | _bits(np.array(0.5)))
        k = (((bits >> _U(52)) & _U(0x7FF)).astype(np.int64) - 0x3FE).astype(np.float64)
        down = ~(f1 > _HSQRT2)  # the assembly compares "not less than": <= or NaN
        k = k - np.where(down, 1.0, 0.0)
        f = f1 * np.where(down, 2.0, 1.0) - 1.0
        s = f / (2.0 + f)
        s2 = s * s
        s4 = s2 * s2
        t1 = s2 * (((_L7 * s4 + _L5) * s4 + _L3) * s4 + _L1)
        t2 = s4 * ((_L6 * s4 + _L4) * s4 + _L2)
        big_r = t1 + t2
        hfsq = 0.5 * f * f
        out = k * _LN2_HI - ((hfsq - (s * (hfsq + big_r) + k * _LN2_LO)) - f)
    negative = bits >= _SIGN
    zero = (bits & ~_SIGN) == 0
    out = np.where(bits >= _EXP_MASK, x, out)  # +Inf, NaN
    out = np.where(negative, _NAN, out)
    result: FloatArray = np.where(zero, -_INF, out)
    return result


def _frexp(x: FloatArray) -> tuple[FloatArray, np.ndarray]:
    """``math.Frexp``: frac in [0.5, 1) (sign kept); ±0, ±Inf, NaN give (x, 0)."""
    frac, e = np.frexp(x)
    special = ~np.isfinite(x) | (x == 0)
    return np.where(special, x, frac), np.where(special, 0, e).astype(np.int64)


def log2(x: FloatArray) -> FloatArray:
    """``math.Log2``: exact for powers of two, else ``Log(frac)*(1/Ln2) + exp``."""
    frac, e = _frexp(_f64(x))
    with np.errstate(all="ignore"):
        general = log(frac) * _INV_LN2 + e.astype(np.float64)
    result: FloatArray = np.where(frac == 0.5, (e - 1).astype(np.float64), general)
    return result


_EXPM_P = (1.66666666666666657415e-01, -2.77777777770155933842e-03, 6.61375632143793436117e-05,
           -1.65339022054652515390e-06, 4.13813679705723846039e-08)


def exp2(x: FloatArray) -> FloatArray:
    """``math.Exp2`` (pure Go on amd64: fdlibm's ``expmulti`` after reducing ``x = k + t``)."""
    x = _f64(x)
    with np.errstate(all="ignore"):
        k = np.where(x > 0, np.trunc(x + 0.5), np.where(x < 0, np.trunc(x - 0.5), 0.0))
        k = np.where(np.isfinite(k) & (np.abs(k) < 2.0**31), k, 0.0)
        t = x - k
        hi = t * _LN2_HI
        lo = -t * _LN2_LO
        r = hi - lo
        tt = r * r
        p1, p2, p3, p4, p5 = _EXPM_P
        c = r - tt * (p1 + tt * (p2 + tt * (p3 + tt * (p4 + tt * p5))))
        y = 1 - ((lo - (r * c) / (2 - c)) - hi)
        out = np.ldexp(y, k.astype(np.int64))
        out = np.where(x > 1.0239999999999999e+03, _INF, out)
        out = np.where(x < -1.0740e+03, 0.0, out)
        out = np.where(np.isnan(x) | (x == _INF), x, np.where(x == -_INF, 0.0, out))
    result: FloatArray = out
    return result


def log10(x: FloatArray) -> FloatArray:
    """``math.Log10``: ``Log(x) * (1/Ln10)``."""
    with np.errstate(all="ignore"):
        result: FloatArray = log(x) * _INV_LN10
    return result


# --------------------------------------------------------------------------- log1p (pure Go)
_SQRT2M1 = 4.142135623730950488017e-01
_SQRT2HALFM1 = -2.928932188134524755992e-01
_LP = (6.666666666666735130e-01, 3.999999999940941908e-01, 2.857142874366239149e-01,
       2.222219843214978396e-01, 1.818357216161805012e-01, 1.531383769920937332e-01,
       1.479819860511658591e-01)


def log1p(x: FloatArray) -> FloatArray:
    """``math.Log1p`` (fdlibm's s_log1p.c as Go writes it)."""
    x = _f64(x)
    ax = np.abs(x)
    with np.errstate(all="ignore"):
        # k == 0 branch: |x| < sqrt(2)-1 and x > sqrt(2)/2-1
        direct = (ax < _SQRT2M1) & (x > _SQRT2HALFM1)
        small_u = ax < 2.0**53
        u = np.where(small_u, 1.0 + x, x)
        iu = _bits(u)
        k = ((iu >> _U(52)).astype(np.int64) - 1023)
        c = np.where(k > 0, 1.0 - (u - x), x - (u - 1.0)) / u
        c = np.where(small_u, c, 0.0)
        iu = iu & _FRAC_MASK
        low = iu < _U(0x0006A09E667F3BCD)
        u = np.where(low, _from_bits(iu | _U(0x3FF0000000000000)),
                     _from_bits(iu | _U(0x3FE0000000000000)))
        k = np.where(low, k, k + 1)
        iu = np.where(low, iu, (_U(0x0010000000000000) - iu) >> _U(2))
        f = np.where(direct, x, u - 1.0)
        k = np.where(direct, 0, k)
        iu = np.where(direct, _U(1), iu)
        c = np.where(direct, 0.0, c)
        kf = k.astype(np.float64)
        hfsq = 0.5 * f * f
        # |f| < 2^-20 (iu == 0)
        r_tiny = hfsq * (1.0 - 0.66666666666666666 * f)
        zero_f = np.where(k == 0, 0.0, kf * _LN2_HI + (c + kf * _LN2_LO))
        tiny = np.where(f == 0, zero_f,
                        np.where(k == 0, f - r_tiny,
                                 kf * _LN2_HI - ((r_tiny - (kf * _LN2_LO + c)) - f)))
        s = f / (2.0 + f)
        z = s * s
        big_r = z * (_LP[0] + z * (_LP[1] + z * (_LP[2] + z * (_LP[3] + z * (
            _LP[4] + z * (_LP[5] + z * _LP[6]))))))
        general = np.where(k == 0, f - (hfsq - s * (hfsq + big_r)),
                           kf * _LN2_HI - ((hfsq - (s * (hfsq + big_r) + (kf * _LN2_LO + c))) - f))
        out = np.where(iu == 0, tiny, general)
        out = np.where(ax < 2.0**-29, np.where(ax < 2.0**-54, x, x - x * x * 0.5), out)
    out = np.where(x == _INF, _INF, out)
    out = np.where(x == -1.0, -_INF, out)
    result: FloatArray = np.where((x < -1.0) | np.isnan(x), _NAN, out)
    return result


# --------------------------------------------------------------------------- pow (pure Go)
def _is_odd_int(y: FloatArray) -> np.ndarray:
    """``isOddInt``: an integer-valued float whose int64 conversion is odd."""
    with np.errstate(all="ignore"):
        integral = np.isfinite(y) & (np.trunc(y) == y) & (np.abs(y) < 2.0**53)
        odd: np.ndarray = integral & (np.abs(np.fmod(y, 2.0)) == 1.0)
    return odd


def _ldexp(frac: FloatArray, e: np.ndarray) -> FloatArray:
    """``math.Ldexp`` (one correct rounding, like C's ``ldexp``); exponents clipped."""
    with np.errstate(all="ignore"):
        result: FloatArray = np.ldexp(frac, np.clip(e, -5000, 5000).astype(np.int32))
    return result


def pow_(x: FloatArray, y: FloatArray, fma_path: bool = True) -> FloatArray:
    """``math.Pow``: repeated squaring on the mantissa for the integer part of ``y``,
    ``Exp(yf*Log(x))`` for the fractional part, special cases in Go's order."""
    x, y = np.broadcast_arrays(_f64(x), _f64(y))
    x, y = x.astype(np.float64), y.astype(np.float64)
    ay = np.abs(y)
    with np.errstate(all="ignore"):
        yf, yi = np.modf(ay)  # numpy returns (fraction, integer part)
        frac = yf != 0
        rounds_up = frac & (yf > 0.5)
        yf = np.where(rounds_up, yf - 1.0, yf)
        yi = np.where(rounds_up, yi + 1.0, yi)
        a1 = np.where(frac, exp(yf * log(x), fma_path), 1.0)
        x1, xe = _frexp(x)
        ae = np.zeros(x.shape, dtype=np.int64)
        i = np.where(np.isfinite(yi) & (yi < 2.0**63), yi, 0.0).astype(np.int64)
        live = i != 0
        while live.any():
            escape = live & ((xe < -(1 << 12)) | (xe > (1 << 12)))
            ae = np.where(escape, ae + xe, ae)
            live &= ~escape
            odd = live & ((i & 1) == 1)
            a1 = np.where(odd, a1 * x1, a1)
            ae = np.where(odd, ae + xe, ae)
            x1 = np.where(live, x1 * x1, x1)
            xe = np.where(live, xe << 1, xe)
            halve = live & (x1 < 0.5)
            x1 = np.where(halve, x1 + x1, x1)
            xe = np.where(halve, xe - 1, xe)
            i = np.where(live, i >> 1, i)
            live &= i != 0
        neg = y < 0
        a1 = np.where(neg, 1.0 / a1, a1)
        ae = np.where(neg, -ae, ae)
        out = _ldexp(a1, ae)
        ax = np.abs(x)
        huge = np.where(x == -1.0, 1.0, np.where((ax < 1) == (y > 0), 0.0, _INF))
        out = np.where(yi >= 2.0**63, huge, out)
        out = np.where(frac & (x < 0), _NAN, out)
        sq = np.sqrt(x)
        out = np.where(y == 0.5, sq, np.where(y == -0.5, 1.0 / sq, out))
        # x = ±Inf (y is finite, non-zero, not NaN here); -Inf is Pow(-0, -y)
        odd_y = _is_odd_int(y)
        pos_inf_x = np.where(y < 0, 0.0, _INF)
        neg_inf_x = np.where(-y < 0, np.where(odd_y, -_INF, _INF),
                             np.where(odd_y, -0.0, 0.0))
        out = np.where(x == _INF, pos_inf_x, np.where(x == -_INF, neg_inf_x, out))
        inf_y = np.where(x == -1.0, 1.0, np.where((ax < 1) == (y == _INF), 0.0, _INF))
        out = np.where(np.isinf(y), inf_y, out)
        zero_x = np.where(y < 0, np.where(odd_y, np.copysign(_INF, x), _INF),
                          np.where(odd_y, x, 0.0))
        out = np.where(x == 0, zero_x, out)
        out = np.where(np.isnan(x) | np.isnan(y), _NAN, out)
        out = np.where(y == 1.0, x, out)
    result: FloatArray = np.where((y == 0) | (x == 1.0), 1.0, out)
    return result


# --------------------------------------------------------------------------- mod, max, min
def mod(x: FloatArray, y: FloatArray) -> FloatArray:
    """``math.Mod``: Go's reduction loop subtracts exactly, so it equals C's ``fmod``."""
    with np.errstate(all="ignore"):
        result: FloatArray = np.fmod(_f64(x), _f64(y))
    return result


def max_(x: FloatArray, y: FloatArray) -> FloatArray:
    """``math.Max``: +Inf beats NaN, NaN beats numbers, ``+0`` beats ``-0``."""
    x, y = _f64(x), _f64(y)
    with np.errstate(all="ignore"):
        out = np.where(x > y, x, y)
        both_zero = (x == 0) & (y == 0)
        out = np.where(both_zero, np.where(np.signbit(x), y, x), out)
        out = np.where(np.isnan(x) | np.isnan(y), _NAN, out)
    result: FloatArray = np.where((x == _INF) | (y == _INF), _INF, out)
    return result


def min_(x: FloatArray, y: FloatArray) -> FloatArray:
    """``math.Min``: -Inf beats NaN, NaN beats numbers, ``-0`` beats ``+0``."""
    x, y = _f64(x), _f64(y)
    with np.errstate(all="ignore"):
        out = np.where(x < y, x, y)
        both_zero = (x == 0) & (y == 0)
        out = np.where(both_zero, np.where(np.signbit(x), x, y), out)
        out = np.where(np.isnan(x) | np.isnan(y), _NAN, out)
    result: FloatArray = np.where((x == -_INF) | (y == -_INF), -_INF, out)
    return result


def sqrt(x: FloatArray) -> FloatArray:
    """``math.Sqrt``: the SQRTSD instruction, correctly rounded like numpy's."""
    with np.errstate(all="ignore"):
        result: FloatArray = np.sqrt(_f64(x))
    return result


# --------------------------------------------------------------------------- trigonometry
_PI4A = 7.85398125648498535156e-1
_PI4B = 3.77489470793079817668e-8
_PI4C = 2.69515142907905952645e-15
_SIN = (1.58962301576546568060e-10, -2.50507477628578072866e-8, 2.75573136213857245213e-6,
        -1.98412698295895385996e-4, 8.33333333332211858878e-3, -1.66666666666666307295e-1)
_COS = (-1.13585365213876817300e-11, 2.08757008419747316778e-9, -2.75573141792967388112e-7,
        2.48015872888517045348e-5, -1.38888888888730564116e-3, 4.16666666666665929218e-2)
_TAN_P = (-1.30936939181383777646e4, 1.15351664838587416140e6, -1.79565251976484877988e7)
_TAN_Q = (1.00000000000000000000e0, 1.36812963470692954678e4, -1.32089234440210967447e6,
          2.50083801823357915839e7, -5.38695755929454629881e7)
#: arguments from here on are reduced with Payne and Hanek's method (trigReduce)
_REDUCE_THRESHOLD = float(1 << 29)
_M64 = (1 << 64) - 1


@cache
def _four_over_pi_words() -> tuple[int, ...]:
    """4/pi in binary as 20 64-bit words (word 0 the integer part), from Machin's formula."""
    bits = 64 * 20 + 64
    one = 1 << bits

    def arctan_inv(n: int) -> int:
        total, term, k, sign = 0, one // n, 1, 1
        while term:
            total += sign * (term // k)
            term //= n * n
            k += 2
            sign = -sign
        return total

    pi_fixed = 16 * arctan_inv(5) - 4 * arctan_inv(239)  # pi * 2^bits
    four_over_pi = (4 << (2 * bits)) // pi_fixed          # 4/pi * 2^bits
    shift = bits - 64 * 19
    value = four_over_pi >> shift
    return tuple((value >> (64 * (19 - i))) & _M64 for i in range(20))


_M32 = _U(0xFFFFFFFF)


def _mul64(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``bits.Mul64`` on uint64 arrays: the high and low words of the 128-bit product."""
    a0, a1, b0, b1 = a & _M32, a >> _U(32), b & _M32, b >> _U(32)
    p00, p01, p10, p11 = a0 * b0, a0 * b1, a1 * b0, a1 * b1
    mid = (p00 >> _U(32)) + (p01 & _M32) + (p10 & _M32)
    lo = (mid << _U(32)) | (p00 & _M32)
    hi = p11 + (p01 >> _U(32)) + (p10 >> _U(32)) + (mid >> _U(32))
    return hi, lo


def _shl(v: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Go's ``v << n`` for uint64 (0 once ``n >= 64``; numpy would wrap the count)."""
    out: np.ndarray = np.where(n < 64, v << np.minimum(n, 63).astype(_U), _U(0))
    return out


def _shr(v: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Go's ``v >> n`` for uint64."""
    out: np.ndarray = np.where(n < 64, v >> np.minimum(n, 63).astype(_U), _U(0))
    return out


def _bit_length(v: np.ndarray) -> np.ndarray:
    n = np.zeros(v.shape, dtype=np.int64)
    for step in (32, 16, 8, 4, 2, 1):
        high = (v >> _U(step)) != 0
        n = np.where(high, n + step, n)
        v = np.where(high, v >> _U(step), v)
    out: np.ndarray = n + (v != 0)
    return out


def _trig_reduce(x: FloatArray) -> tuple[np.ndarray, FloatArray]:
    """``trigReduce`` (Payne and Hanek): octant and reduced argument for ``x >= 2^29``.

    Multiplies the 53-bit mantissa by the 192 bits of 4/pi that matter for this
    exponent, keeping the integer part's low 3 bits (the octant) and the fraction.
    """
    words = np.array(_four_over_pi_words(), dtype=_U)
    ix = _bits(x)
    e = ((ix >> _U(52)) & _U(0x7FF)).astype(np.int64) - 1023 - 52
    ix = (ix & _FRAC_MASK) | _U(1 << 52)
    digit, bitshift = (e + 61) // 64, (e + 61) % 64

    def word(i: np.ndarray) -> np.ndarray:
        out: np.ndarray = _shl(words[i], bitshift) | _shr(words[i + 1], 64 - bitshift)
        return out

    z0, z1, z2 = word(digit), word(digit + 1), word(digit + 2)
    z2hi, _ = _mul64(z2, ix)
    z1hi, z1lo = _mul64(z1, ix)
    z0lo = z0 * ix
    lo = z1lo + z2hi
    carry = (lo < z1lo).astype(_U)
    hi = z0lo + z1hi + carry
    j = hi >> _U(61)
    hi = (hi << _U(3)) | (lo >> _U(61))
    shift = 64 - _bit_length(hi) + 1
    exponent = (1023 - shift).astype(_U)
    hi = _shl(hi, shift) | _shr(lo, 64 - shift)
    hi = (hi >> _U(12)) | (exponent << _U(52))
    z = _from_bits(hi)
    odd = (j & _U(1)) == 1
    j = np.where(odd, (j + _U(1)) & _U(7), j)
    z = np.where(odd, z - 1.0, z)
    return j, z * _PI_4


def _reduce(ax: FloatArray) -> tuple[np.ndarray, FloatArray]:
    """Octant (as uint64) and reduced argument of ``|x|`` (finite), as sin/cos/tan do."""
    with np.errstate(all="ignore"):
        small = ax < _REDUCE_THRESHOLD
        j = np.where(small, np.trunc(ax * _4_PI), 0.0).astype(_U)
        y = j.astype(np.float64)
        odd = (j & _U(1)) == 1
        j = np.where(odd, j + _U(1), j)
        y = np.where(odd, y + 1.0, y)
        z = ((ax - y * _PI4A) - y * _PI4B) - y * _PI4C
    big = np.flatnonzero(~small & np.isfinite(ax))
    if len(big):
        j[big], z[big] = _trig_reduce(ax[big])
    return j, z


def _sin_poly(z: FloatArray, zz: FloatArray) -> FloatArray:
    s0, s1, s2, s3, s4, s5 = _SIN
    return z + z * zz * (((((s0 * zz + s1) * zz + s2) * zz + s3) * zz + s4) * zz + s5)


def _cos_poly(zz: FloatArray) -> FloatArray:
    c0, c1, c2, c3, c4, c5 = _COS
    return 1.0 - 0.5 * zz + zz * zz * (((((c0 * zz + c1) * zz + c2) * zz + c3) * zz + c4) * zz + c5)


def sin(x: FloatArray) -> FloatArray:
    """``math.Sin`` (Cephes' sin.c as Go writes it; Payne-Hanek beyond 2^29)."""
    x = _f64(x)
    ax = np.abs(x)
    j, z = _reduce(ax)
    j = j & _U(7)
    sign = np.signbit(x) ^ (j > 3)
    j = np.where(j > 3, j - _U(4), j)
    with np.errstate(all="ignore"):
        zz = z * z
        y = np.where((j == 1) | (j == 2), _cos_poly(zz), _sin_poly(z, zz))
    y = np.where(sign, -y, y)
    y = np.where(np.isinf(x), _NAN, y)
    result: FloatArray = np.where((x == 0) | np.isnan(x), x, y)
    return result


def cos(x: FloatArray) -> FloatArray:
    """``math.Cos``."""
    x = _f64(x)
    ax = np.abs(x)
    j, z = _reduce(ax)
    j = j & _U(7)
    sign = j > 3
    j = np.where(j > 3, j - _U(4), j)
    sign ^= j > 1
    with np.errstate(all="ignore"):
        zz = z * z
        y = np.where((j == 1) | (j == 2), _sin_poly(z, zz), _cos_poly(zz))
    y = np.where(sign, -y, y)
    result: FloatArray = np.where(np.isnan(x) | np.isinf(x), _NAN, y)
    return result


def tan(x: FloatArray) -> FloatArray:
    """``math.Tan``."""
    x = _f64(x)
    ax = np.abs(x)
    j, z = _reduce(ax)
    with np.errstate(all="ignore"):
        zz = z * z
        num = zz * ((_TAN_P[0] * zz + _TAN_P[1]) * zz + _TAN_P[2])
        den = (((zz + _TAN_Q[1]) * zz + _TAN_Q[2]) * zz + _TAN_Q[3]) * zz + _TAN_Q[4]
        y = np.where(zz > 1e-14, z + z * (num / den), z)
        y = np.where((j & _U(2)) == 2, -1.0 / y, y)
    y = np.where(np.signbit(x), -y, y)
    y = np.where(np.isinf(x), _NAN, y)
    result: FloatArray = np.where((x == 0) | np.isnan(x), x, y)
    return result


# --------------------------------------------------------------------------- inverse trigonometry
_ATAN_P = (-8.750608600031904122785e-01, -1.615753718733365076637e+01,
           -7.500855792314704667340e+01, -1.228866684490136173410e+02,
           -6.485021904942025371773e+01)
_ATAN_Q = (+2.485846490142306297962e+01, +1.650270098316988542046e+02,
           +4.328810604912902668951e+02, +4.853903996359136964868e+02,
           +1.945506571482613964425e+02)
_MOREBITS = 6.123233995736765886130e-17
_HALF_MOREBITS = float(Fraction("6.123233995736765886130e-17") / 2)
_TAN3PIO8 = 2.41421356237309504880


def _xatan(x: FloatArray) -> FloatArray:
    z = x * x
    num = (((_ATAN_P[0] * z + _ATAN_P[1]) * z + _ATAN_P[2]) * z + _ATAN_P[3]) * z + _ATAN_P[4]
    den = ((((z + _ATAN_Q[0]) * z + _ATAN_Q[1]) * z + _ATAN_Q[2]) * z + _ATAN_Q[3]) * z + _ATAN_Q[4]
    z = z * num / den
    return x * z + x


def _satan(x: FloatArray) -> FloatArray:
    """Arctangent of a non-negative argument (or NaN)."""
    with np.errstate(all="ignore"):
        low = _xatan(x)
        high = _PI_2 - _xatan(1.0 / x) + _MOREBITS
        mid = _PI_4 + _xatan((x - 1.0) / (x + 1.0)) + _HALF_MOREBITS
    out: FloatArray = np.where(x <= 0.66, low, np.where(x > _TAN3PIO8, high, mid))
    return out


def atan(x: FloatArray) -> FloatArray:
    """``math.Atan``."""
    x = _f64(x)
    out = np.where(x > 0, _satan(x), -_satan(-x))
    result: FloatArray = np.where(x == 0, x, out)
    return result


def asin(x: FloatArray) -> FloatArray:
    """``math.Asin``: via ``satan`` after reduction with ``sqrt(1 - x*x)``."""
    x = _f64(x)
    ax = np.abs(x)
    with np.errstate(all="ignore"):
        temp = np.sqrt(1.0 - ax * ax)
        out = np.where(ax > 0.7, _PI_2 - _satan(temp / ax), _satan(ax / temp))
    out = np.where(ax > 1, _NAN, np.where(np.signbit(x) & ~np.isnan(x), -out, out))
    result: FloatArray = np.where(x == 0, x, out)
    return result


def acos(x: FloatArray) -> FloatArray:
    """``math.Acos``: ``Pi/2 - Asin(x)``."""
    result: FloatArray = _PI_2 - asin(x)
    return result


def atan2(y: FloatArray, x: FloatArray) -> FloatArray:
    """``math.Atan2`` with Go's special cases."""
    y, x = np.broadcast_arrays(_f64(y), _f64(x))
    with np.errstate(all="ignore"):
        q = atan(y / x)
        out = np.where(x < 0, np.where(q <= 0, q + PI, q - PI), q)
    out = np.where(np.isinf(y), np.copysign(_PI_2, y), out)
    inf_x = np.where(x == _INF, np.where(np.isinf(y), np.copysign(_PI_4, y), np.copysign(0.0, y)),
                     np.where(np.isinf(y), np.copysign(_3PI_4, y), np.copysign(PI, y)))
    out = np.where(np.isinf(x), inf_x, out)
    out = np.where(x == 0, np.copysign(_PI_2, y), out)
    zero_y = np.where((x >= 0) & ~np.signbit(x), np.copysign(0.0, y), np.copysign(PI, y))
    out = np.where(y == 0, zero_y, out)
    result: FloatArray = np.where(np.isnan(x) | np.isnan(y), _NAN, out)
    return result


# --------------------------------------------------------------------------- hyperbolic
_SINH_P = (-0.6307673640497716991184787251e+6, -0.8991272022039509355398013511e+5,
           -0.2894211355989563807284660366e+4, -0.2630563213397497062819489e+2)
_SINH_Q = (-0.6307673640497716991212077277e+6, 0.1521517378790019070696485176e+5,
           -0.173678953558233699533450911e+3)
_TANH_P = (-9.64399179425052238628e-1, -9.92877231001918586564e1, -1.61468768441708447952e3)
_TANH_Q = (1.12811678491632931402e2, 2.23548839060100448583e3, 4.84406305325125486048e3)
_MAXLOG = 8.8029691931113054295988e+01


def sinh(x: FloatArray, fma_path: bool = True) -> FloatArray:
    """``math.Sinh``: a rational approximation up to 0.5, ``Exp`` beyond."""
    x = _f64(x)
    ax = _unsign(x)
    with np.errstate(all="ignore"):
        ex = exp(ax, fma_path)
        sq = ax * ax
        series = (((_SINH_P[3] * sq + _SINH_P[2]) * sq + _SINH_P[1]) * sq + _SINH_P[0]) * ax
        series = series / (((sq + _SINH_Q[2]) * sq + _SINH_Q[1]) * sq + _SINH_Q[0])
        temp = np.where(ax > 21, ex * 0.5, np.where(ax > 0.5, (ex - 1.0 / ex) * 0.5, series))
    result: FloatArray = np.where(x < 0, -temp, temp)
    return result


def cosh(x: FloatArray, fma_path: bool = True) -> FloatArray:
    """``math.Cosh``: ``(e^|x| + e^-|x|) / 2``."""
    ax = np.abs(_f64(x))
    with np.errstate(all="ignore"):
        ex = exp(ax, fma_path)
        result: FloatArray = np.where(ax > 21, ex * 0.5, (ex + 1.0 / ex) * 0.5)
    return result


def tanh(x: FloatArray, fma_path: bool = True) -> FloatArray:
    """``math.Tanh``: ±1 beyond log(2^127)/2, ``1 - 2/(e^2z + 1)`` from 0.625, else rational."""
    x = _f64(x)
    z = np.abs(x)
    with np.errstate(all="ignore"):
        s = exp(2.0 * z, fma_path)
        mid = 1.0 - 2.0 / (s + 1.0)
        mid = np.where(x < 0, -mid, mid)
        s2 = x * x
        low = x + x * s2 * ((_TANH_P[0] * s2 + _TANH_P[1]) * s2 + _TANH_P[2]) / (
            ((s2 + _TANH_Q[0]) * s2 + _TANH_Q[1]) * s2 + _TANH_Q[2])
        low = np.where(x == 0, x, low)
        out = np.where(z > 0.5 * _MAXLOG, np.where(x < 0, -1.0, 1.0),
                       np.where(z >= 0.625, mid, low))
    return out


def asinh(x: FloatArray) -> FloatArray:
    """``math.Asinh``."""
    x = _f64(x)
    ax = _unsign(x)
    with np.errstate(all="ignore"):
        large = log(ax) + 6.93147180559945286227e-01
        mid = log(2.0 * ax + 1.0 / (np.sqrt(ax * ax + 1.0) + ax))
        low = log1p(ax + ax * ax / (1.0 + np.sqrt(1.0 + ax * ax)))
        temp = np.where(ax > float(1 << 28), large,
                        np.where(ax > 2, mid, np.where(ax < 2.0**-28, ax, low)))
    out = np.where(x < 0, -temp, temp)
    result: FloatArray = np.where(np.isnan(x) | np.isinf(x), x, out)
    return result


def acosh(x: FloatArray) -> FloatArray:
    """``math.Acosh``."""
    x = _f64(x)
    with np.errstate(all="ignore"):
        t = x - 1.0
        out = np.where(x >= float(1 << 28), log(x) + _GO_LN2,
                       np.where(x > 2, log(2.0 * x - 1.0 / (x + np.sqrt(x * x - 1.0))),
                                log1p(t + np.sqrt(2.0 * t + t * t))))
    out = np.where(x == 1, 0.0, out)
    result: FloatArray = np.where((x < 1) | np.isnan(x), _NAN, out)
    return result


def atanh(x: FloatArray) -> FloatArray:
    """``math.Atanh``."""
    x = _f64(x)
    ax = _unsign(x)
    with np.errstate(all="ignore"):
        twice = ax + ax
        low = 0.5 * log1p(twice + twice * ax / (1.0 - ax))
        high = 0.5 * log1p((ax + ax) / (1.0 - ax))
        temp = np.where(ax < 2.0**-28, ax, np.where(ax < 0.5, low, high))
    out = np.where(x < 0, -temp, temp)
    out = np.where(x == 1, _INF, np.where(x == -1, -_INF, out))
    result: FloatArray = np.where((x < -1) | (x > 1) | np.isnan(x), _NAN, out)
    return result
