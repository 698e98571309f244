"""Float native histograms: the value model of Prometheus' ``model/histogram/float_histogram.go``.

A :class:`FloatHistogram` is one native-histogram sample. Two bucket layouts:

* **exponential** (schema ``-4..8``): bucket ``i`` of the positive side covers
  ``(base**(i-1), base**i]`` with ``base = 2**(2**-schema)``; the negative side
  mirrors it; a zero bucket ``[-zero_threshold, zero_threshold]`` counts
  observations close to zero;
* **custom buckets** (NHCB, schema ``-53``): bucket ``i`` covers
  ``(custom_values[i-1], custom_values[i]]`` with ``-Inf``/``+Inf`` at the ends
  (a classic histogram stored natively); no zero bucket, no negative side.

Buckets are kept *dense*: ``pos[k]`` is the count of bucket index
``pos_offset + k`` (empty buckets inside the range are zeros). Prometheus keeps
spans (runs of populated buckets); promqltest and promtool compare histograms
after ``Compact(0)``, i.e. by their non-empty buckets, which is exactly what the
dense form gives, and dense arrays make ``+``, ``-``, scaling and schema
reduction numpy operations instead of span walks.

Arithmetic follows Prometheus: adding histograms of different schemas reduces
the finer one to the coarser schema; different zero thresholds are reconciled to
the larger one (moving buckets inside it into the zero bucket); NHCBs with
different bounds are mapped to the intersection of their bounds; mixing
exponential and custom buckets is an :class:`IncompatibleSchemaError`. The
counter-reset hint follows ``adjustCounterReset``.

Instances are treated as immutable: every operation returns a new histogram.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from pytest_selfslo._core.errors import PromQLEvalError
from pytest_selfslo._core.gofmt import format_float_g
from pytest_selfslo.promql import gomath
from pytest_selfslo.promql.arrays import FloatArray, IntArray
from pytest_selfslo.promql.kahansum import kahan_inc

__all__ = [
    "COUNTER_RESET",
    "CUSTOM_BUCKETS_SCHEMA",
    "GAUGE_TYPE",
    "NOT_COUNTER_RESET",
    "UNKNOWN_COUNTER_RESET",
    "FloatHistogram",
    "IncompatibleSchemaError",
    "avg_histograms",
    "bucket_upper_bounds",
    "chunk_hints",
    "sum_histograms",
]

UNKNOWN_COUNTER_RESET = 0
COUNTER_RESET = 1
NOT_COUNTER_RESET = 2
GAUGE_TYPE = 3
HINT_NAMES = {UNKNOWN_COUNTER_RESET: "unknown", COUNTER_RESET: "reset",
              NOT_COUNTER_RESET: "not_reset", GAUGE_TYPE: "gauge"}

CUSTOM_BUCKETS_SCHEMA = -53
MIN_SCHEMA, MAX_SCHEMA = -4, 8
_MAX_FLOAT = 1.7976931348623157e308
_EMPTY: FloatArray = np.zeros(0, dtype=np.float64)
_EMPTY.setflags(write=False)



def _bound_fractions() -> list[FloatArray]:
    """Per schema 0..8, the bucket bounds in ``[0.5, 1)`` that Prometheus uses, bit for bit.

    Prometheus reads them from a table of float64 literals
    (``model/histogram/generic.go``) that is *not* the correctly rounded
    ``2**(j / 2**schema) / 2``: 178 of the 256 schema-8 entries are 1 to 4 ulp
    below it, so bounds computed that way move ``histogram_quantile``,
    ``histogram_fraction`` and ``histogram_stddev`` by a few ulp. The table is
    exactly what this halving recursion gives: schema 1 is ``{0.5, 1/sqrt(2)}``
    and schema ``s + 1`` keeps the bounds of schema ``s`` and puts
    ``b * f_(s+1)`` after each bound ``b``, where ``f_s = 2**(2**-s)`` is 2
    square-rooted ``s`` times (IEEE ``sqrt`` is correctly rounded, so this is
    the same on every platform). Finer schemas thus repeat the coarser ones'
    bounds at every ``2**(8-s)``-th position, as the table does.
    """
    factor = 2.0
    level = [0.5]
    out = [np.array(level, dtype=np.float64)]
    for s in range(1, MAX_SCHEMA + 1):
        factor = math.sqrt(factor)
        if s == 1:
            level = [0.5, 1 / math.sqrt(2.0)]
        else:
            level = [b for bound in level for b in (bound, bound * factor)]
        out.append(np.array(level, dtype=np.float64))
    return out


#: per schema 0..8, the bucket bounds in [0.5, 1) (``exponentialBounds``)
_FRACTIONS: list[FloatArray] = _bound_fractions()


class IncompatibleSchemaError(PromQLEvalError):
    """Exponential and custom-bucket histograms cannot be combined."""


class IncompatibleBoundsError(IncompatibleSchemaError):
    """NHCBs with different custom bounds (before Prometheus 3.8 reconciled them)."""


def bucket_upper_bounds(idx: IntArray, schema: int,
                        custom_values: FloatArray | None = None) -> FloatArray:
    """Upper bounds of the (positive) buckets ``idx`` in ``schema`` (``getBound``)."""
    idx = np.asarray(idx, dtype=np.int64)
    if schema == CUSTOM_BUCKETS_SCHEMA:
        cv = _EMPTY if custom_values is None else custom_values
        ext = np.concatenate([[-math.inf], cv, [math.inf]])
        out: FloatArray = ext[np.clip(idx + 1, 0, len(ext) - 1)]
        return out
    with np.errstate(over="ignore"):
        if schema <= 0:
            exp = idx << -schema
            res: FloatArray = np.ldexp(1.0, np.clip(exp, -2000, 2000).astype(np.int32))
            res[exp == 1024] = _MAX_FLOAT
            return res
        frac = _FRACTIONS[schema][idx & ((1 << schema) - 1)]
        exp = (idx >> schema) + 1
        scaled: FloatArray = np.ldexp(frac, np.clip(exp, -2000, 2000).astype(np.int32))
        scaled[(frac == 0.5) & (exp == 1025)] = _MAX_FLOAT
        return scaled


def _bound(i: int, schema: int, custom_values: FloatArray | None) -> float:
    return float(bucket_upper_bounds(np.array([i]), schema, custom_values)[0])


def _trim(offset: int, counts: FloatArray) -> tuple[int, FloatArray]:
    """Drop empty buckets at both ends (``Compact``), keeping NaN counts."""
    nz = np.flatnonzero(counts != 0)
    if len(nz) == 0:
        return 0, _EMPTY
    a, b = int(nz[0]), int(nz[-1]) + 1
    if a == 0 and b == len(counts):
        return offset, counts
    return offset + a, counts[a:b]


def _add_dense(oa: int, a: FloatArray, ob: int, b: FloatArray, sign: float) -> tuple[int, FloatArray]:
    """Bucket-wise ``a + sign * b`` of two dense bucket runs."""
    if len(b) == 0:
        return oa, a
    if len(a) == 0:
        return ob, (b.copy() if sign > 0 else -b)
    lo = min(oa, ob)
    hi = max(oa + len(a), ob + len(b))
    out = np.zeros(hi - lo, dtype=np.float64)
    out[oa - lo:oa - lo + len(a)] = a
    if sign > 0:
        out[ob - lo:ob - lo + len(b)] += b
    else:
        out[ob - lo:ob - lo + len(b)] -= b
    return lo, out


def _reduce(offset: int, counts: FloatArray, origin: int, target: int) -> tuple[int, FloatArray]:
    """Merge buckets of schema ``origin`` into the coarser ``target`` (``targetIdx``)."""
    if len(counts) == 0 or origin == target:
        return offset, counts
    idx = np.arange(offset, offset + len(counts), dtype=np.int64)
    new = ((idx - 1) >> (origin - target)) + 1
    first = int(new[0])
    merged = np.bincount(new - first, weights=counts).astype(np.float64)
    return first, merged


@dataclass(frozen=True, eq=False)
class FloatHistogram:
    """One native-histogram sample (see the module docstring for the layout)."""

    schema: int = 0
    count: float = 0.0
    sum: float = 0.0
    zero_threshold: float = 0.0
    zero_count: float = 0.0
    pos_offset: int = 0
    pos: FloatArray = field(default_factory=lambda: _EMPTY)
    neg_offset: int = 0
    neg: FloatArray = field(default_factory=lambda: _EMPTY)
    custom_values: FloatArray | None = None
    hint: int = UNKNOWN_COUNTER_RESET

    # ------------------------------------------------------------------ basics
    @property
    def uses_custom_buckets(self) -> bool:
        return self.schema == CUSTOM_BUCKETS_SCHEMA

    def with_hint(self, hint: int) -> FloatHistogram:
        return self if hint == self.hint else replace(self, hint=hint)

    def validate(self) -> None:
        """Raise :class:`PromQLEvalError` for a histogram Prometheus would reject."""
        if self.uses_custom_buckets:
            cv = self.custom_values
            if cv is None or len(cv) == 0:
                raise PromQLEvalError("histogram with custom buckets must have custom_values")
            if np.any(np.diff(cv) <= 0) or np.any(np.isnan(cv)):
                raise PromQLEvalError("histogram custom bounds must be in strictly increasing order")
            if len(self.neg) or self.zero_count or self.zero_threshold:
                raise PromQLEvalError("histogram with custom buckets must not have negative "
                                      "buckets or a zero bucket")
            if self.pos_offset < 0 or self.pos_offset + len(self.pos) > len(cv) + 1:
                raise PromQLEvalError(
                    f"histogram custom bounds are too few: {len(cv)} bounds for "
                    f"{self.pos_offset + len(self.pos)} buckets")
        elif not MIN_SCHEMA <= self.schema <= MAX_SCHEMA:
            raise PromQLEvalError(f"histogram has an invalid schema {self.schema}, must be "
                                  f"between {MIN_SCHEMA} and {MAX_SCHEMA} or "
                                  f"{CUSTOM_BUCKETS_SCHEMA} for custom buckets")
        elif self.custom_values is not None and len(self.custom_values):
            raise PromQLEvalError("histogram with exponential schema must not have custom_values")

    def compact(self) -> FloatHistogram:
        """Without empty buckets at the ends of either side."""
        po, p = _trim(self.pos_offset, self.pos)
        no, n = _trim(self.neg_offset, self.neg)
        if po == self.pos_offset and p is self.pos and no == self.neg_offset and n is self.neg:
            return self
        return replace(self, pos_offset=po, pos=p, neg_offset=no, neg=n)

    def is_finite(self) -> bool:
        """No count, sum or bucket is Inf or NaN."""
        return bool(math.isfinite(self.count) and math.isfinite(self.sum)
                    and math.isfinite(self.zero_count) and np.all(np.isfinite(self.pos))
                    and np.all(np.isfinite(self.neg)))

    def has_overflow(self) -> bool:
        return bool(math.isinf(self.count) or math.isinf(self.sum) or math.isinf(self.zero_count)
                    or np.any(np.isinf(self.pos)) or np.any(np.isinf(self.neg)))

    # ------------------------------------------------------------------ scaling
    def mul(self, factor: float, gauge: bool = True) -> FloatHistogram:
        """Every count and the sum times ``factor``, ``Mul`` (negative: a gauge, since 3.7)."""
        hint = GAUGE_TYPE if factor < 0 and gauge else self.hint
        return replace(self, count=self.count * factor, sum=self.sum * factor,
                       zero_count=self.zero_count * factor, pos=self.pos * factor,
                       neg=self.neg * factor, hint=hint)

    def div(self, divisor: float, gauge: bool = True) -> FloatHistogram:
        """``Div``: dividing by zero keeps Inf/NaN count, sum and zero count but drops all buckets."""
        with np.errstate(divide="ignore", invalid="ignore"):
            count = _fdiv(self.count, divisor)
            total = _fdiv(self.sum, divisor)
            zero = _fdiv(self.zero_count, divisor)
            if divisor == 0:
                return replace(self, count=count, sum=total, zero_count=zero,
                               pos_offset=0, pos=_EMPTY, neg_offset=0, neg=_EMPTY)
            hint = GAUGE_TYPE if divisor < 0 and gauge else self.hint
            return replace(self, count=count, sum=total, zero_count=zero, pos=self.pos / divisor,
                           neg=self.neg / divisor, hint=hint)

    # ------------------------------------------------------------------ layout changes
    def to_schema(self, target: int) -> FloatHistogram:
        """Buckets merged into the coarser exponential schema ``target`` (``CopyToSchema``)."""
        if target == self.schema or self.uses_custom_buckets:
            return self
        if target > self.schema:
            raise PromQLEvalError(f"cannot reduce histogram schema {self.schema} to the finer "
                                  f"schema {target}")
        po, p = _reduce(self.pos_offset, self.pos, self.schema, target)
        no, n = _reduce(self.neg_offset, self.neg, self.schema, target)
        return replace(self, schema=target, pos_offset=po, pos=p, neg_offset=no, neg=n)

    def _zero_count_for(self, threshold: float) -> tuple[float, float, int, int]:
        """``zeroCountForLargerThreshold``: (zero count, adjusted threshold, #pos, #neg merged)."""
        if threshold == self.zero_threshold:
            return self.zero_count, threshold, 0, 0
        while True:
            zc = self.zero_count
            npos = nneg = 0
            restart = False
            if len(self.pos):
                upper = bucket_upper_bounds(
                    np.arange(self.pos_offset - 1, self.pos_offset + len(self.pos)), self.schema)
                for k in range(len(self.pos)):
                    lower, up = upper[k], upper[k + 1]
                    if lower >= threshold:
                        break
                    zc += self.pos[k]
                    npos = k + 1
                    if up > threshold:
                        if self.pos[k] != 0:
                            threshold = float(up)
                        break
            if len(self.neg):
                upper = bucket_upper_bounds(
                    np.arange(self.neg_offset - 1, self.neg_offset + len(self.neg)), self.schema)
                for k in range(len(self.neg)):
                    # negative bucket k covers [-upper[k+1], -upper[k])
                    if -upper[k] <= -threshold:
                        break
                    zc += self.neg[k]
                    nneg = k + 1
                    if -upper[k + 1] < -threshold:
                        if self.neg[k] != 0:
                            threshold = float(upper[k + 1])
                            restart = True
                        break
            if not restart:
                return zc, threshold, npos, nneg

    def _with_zero_threshold(self, threshold: float) -> FloatHistogram:
        """Widen the zero bucket to ``threshold`` (moving buckets inside it)."""
        zc, new_threshold, npos, nneg = self._zero_count_for(threshold)
        pos, neg = self.pos.copy(), self.neg.copy()
        if npos:
            upper = bucket_upper_bounds(
                np.arange(self.pos_offset - 1, self.pos_offset + len(pos)), self.schema)
            pos[(upper[:-1] < new_threshold)] = 0
        if nneg:
            upper = bucket_upper_bounds(
                np.arange(self.neg_offset - 1, self.neg_offset + len(neg)), self.schema)
            neg[(upper[:-1] < new_threshold)] = 0
        po, p = _trim(self.pos_offset, pos)
        no, n = _trim(self.neg_offset, neg)
        return replace(self, zero_threshold=new_threshold, zero_count=zc, pos_offset=po, pos=p,
                       neg_offset=no, neg=n)

    def _reconcile_zero(self, other: FloatHistogram) -> tuple[FloatHistogram, float, float]:
        """``reconcileZeroBuckets``: (self widened, other's zero count, common threshold)."""
        h = self
        other_zc, other_zt = other.zero_count, other.zero_threshold
        while other_zt != h.zero_threshold:
            if h.zero_threshold > other_zt:
                other_zc, other_zt, _, _ = other._zero_count_for(h.zero_threshold)
            if other_zt > h.zero_threshold:
                h = h._with_zero_threshold(other_zt)
        return h, other_zc, h.zero_threshold

    # ------------------------------------------------------------------ arithmetic
    def add(self, other: FloatHistogram, reconcile: bool = True) -> tuple[FloatHistogram, bool, bool]:
        """``self + other``: (result, counter-reset collision, NHCB bounds reconciled).

        ``reconcile=False`` (before 3.8): NHCBs with different bounds raise
        :class:`IncompatibleBoundsError`.
        """
        return self._combine(other, 1.0, reconcile)

    def sub(self, other: FloatHistogram, reconcile: bool = True) -> tuple[FloatHistogram, bool, bool]:
        """``self - other`` (the hint follows ``adjustCounterReset``; ``-`` sets gauge itself)."""
        return self._combine(other, -1.0, reconcile)

    def _combine(self, other: FloatHistogram, sign: float,
                 reconcile: bool = True) -> tuple[FloatHistogram, bool, bool]:
        if self.uses_custom_buckets != other.uses_custom_buckets:
            raise IncompatibleSchemaError(
                "cannot apply this operation on histograms with a mix of exponential and "
                "custom bucket schemas")
        hint, collision = _adjust_hint(self.hint, other.hint)
        count = self.count + sign * other.count
        total = self.sum + sign * other.sum
        if self.uses_custom_buckets:
            a_cv, b_cv = _cv(self), _cv(other)
            if _bounds_match(a_cv, b_cv):
                po, p = _add_dense(self.pos_offset, self.pos, other.pos_offset, other.pos, sign)
                return replace(self, count=count, sum=total, pos_offset=po, pos=p,
                               hint=hint), collision, False
            if not reconcile:
                raise IncompatibleBoundsError(
                    "cannot apply this operation on custom buckets histograms with different "
                    "custom bounds")
            common = np.intersect1d(a_cv, b_cv)
            mine = _map_custom(self.pos_offset, self.pos, a_cv, common)
            theirs = _map_custom(other.pos_offset, other.pos, b_cv, common)
            po, p = _trim(0, mine + sign * theirs)
            return replace(self, count=count, sum=total, pos_offset=po, pos=p, custom_values=common,
                           hint=hint), collision, True
        h, other_zc, threshold = self._reconcile_zero(other)
        o = other
        if o.schema < h.schema:
            h = h.to_schema(o.schema)
        elif o.schema > h.schema:
            o = o.to_schema(h.schema)
        po, p = _add_dense(h.pos_offset, h.pos, *_above(o.pos_offset, o.pos, o.schema, threshold),
                           sign)
        no, n = _add_dense(h.neg_offset, h.neg, *_above(o.neg_offset, o.neg, o.schema, threshold),
                           sign)
        return replace(h, count=count, sum=total, zero_count=h.zero_count + sign * other_zc,
                       pos_offset=po, pos=p, neg_offset=no, neg=n, hint=hint), collision, False

    # ------------------------------------------------------------------ counter resets
    def detect_reset(self, previous: FloatHistogram) -> bool:
        """Whether ``self`` follows ``previous`` only after a counter reset (``DetectReset``)."""
        if self.hint == COUNTER_RESET:
            return True
        if self.hint == NOT_COUNTER_RESET:
            return False
        if self.count < previous.count:
            return True
        if self.uses_custom_buckets:
            if not previous.uses_custom_buckets:
                return True
            if not _bounds_match(_cv(self), _cv(previous)):
                common = np.intersect1d(_cv(self), _cv(previous))
                cur = _map_custom(self.pos_offset, self.pos, _cv(self), common)
                prev = _map_custom(previous.pos_offset, previous.pos, _cv(previous), common)
                return bool(np.any(cur < prev))
        elif previous.uses_custom_buckets:
            return True
        if self.schema > previous.schema:
            return True
        if self.zero_threshold < previous.zero_threshold:
            return True
        prev_zc, new_threshold, _, _ = previous._zero_count_for(self.zero_threshold)
        if new_threshold != self.zero_threshold:
            return True
        if self.zero_count < prev_zc:
            return True
        before = previous.to_schema(self.schema) if not self.uses_custom_buckets else previous
        for co, c, po, p in ((self.pos_offset, self.pos, before.pos_offset, before.pos),
                             (self.neg_offset, self.neg, before.neg_offset, before.neg)):
            if not self.uses_custom_buckets:
                po, p = _above(po, p, self.schema, self.zero_threshold)
            if len(p) == 0:
                continue
            cur = np.zeros(len(p), dtype=np.float64)
            lo, hi = max(co, po), min(co + len(c), po + len(p))
            if hi > lo:
                cur[lo - po:hi - po] = c[lo - co:hi - co]
            if np.any(cur < p):
                return True
        return False

    # ------------------------------------------------------------------ buckets
    def all_buckets(self) -> tuple[FloatArray, FloatArray, FloatArray]:
        """``AllBucketIterator``: (lower, upper, count) from the most negative bucket up.

        The zero bucket is included only when populated; buckets overlapping it
        are clipped to the zero threshold, as Prometheus does.
        """
        zt = self.zero_threshold
        parts: list[tuple[FloatArray, FloatArray, FloatArray]] = []
        if len(self.neg):
            ub = bucket_upper_bounds(np.arange(self.neg_offset - 1, self.neg_offset + len(self.neg)),
                                     self.schema, self.custom_values)
            lower, upper = -ub[1:][::-1], -ub[:-1][::-1]
            upper = np.where((upper < 0) & (upper > -zt), -zt, upper)
            parts.append((lower, upper, self.neg[::-1]))
        if self.zero_count > 0 and not self.uses_custom_buckets:
            parts.append((np.array([-zt]), np.array([zt]), np.array([self.zero_count])))
        if len(self.pos):
            ub = bucket_upper_bounds(np.arange(self.pos_offset - 1, self.pos_offset + len(self.pos)),
                                     self.schema, self.custom_values)
            lower, upper = ub[:-1], ub[1:]
            if not self.uses_custom_buckets:
                lower = np.where((lower > 0) & (lower < zt), zt, lower)
            parts.append((lower, upper, self.pos))
        if not parts:
            return _EMPTY, _EMPTY, _EMPTY
        return (np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]),
                np.concatenate([p[2] for p in parts]))

    def quantile(self, q: float) -> tuple[float, str | None]:
        """``HistogramQuantile``: the estimated ``q``-quantile and an info about NaN observations."""
        value, note = self.quantile_parts(q)
        if isinstance(value, tuple):
            return float(exponential_interpolation(*(np.array([v]) for v in value))[0]), note
        return value, note

    def quantile_parts(self, q: float) -> tuple[float | tuple[float, float, float], str | None]:
        """:meth:`quantile` up to the exponential interpolation, which is left to the caller
        as ``(lower, upper, fraction)`` so that many steps can share one vectorised pass
        (:func:`exponential_interpolation`)."""
        if q < 0:
            return -math.inf, None
        if q > 1:
            return math.inf, None
        if self.count == 0 or math.isnan(q):
            return math.nan, None
        lower, upper, counts = self.all_buckets()
        keep = counts != 0
        lower, upper, counts = lower[keep], upper[keep], counts[keep]
        forward = math.isnan(self.sum) or q < 0.5
        if forward:
            rank = q * self.count
        else:
            lower, upper, counts = lower[::-1], upper[::-1], counts[::-1]
            rank = (1 - q) * self.count
        if len(counts) == 0:
            if math.isnan(self.sum):
                return math.nan, "nan_result"
            return 0.0, None
        cum = np.cumsum(counts)
        hit = np.flatnonzero(cum >= rank)
        k = int(hit[0]) if len(hit) else len(counts) - 1
        count = float(cum[k])
        b_lower, b_upper, b_count = float(lower[k]), float(upper[k]), float(counts[k])
        if not self.uses_custom_buckets and b_lower < 0 < b_upper:
            if len(self.neg) == 0 and len(self.pos) > 0:
                b_lower = 0.0
            elif len(self.pos) == 0 and len(self.neg) > 0:
                b_upper = 0.0
        elif self.uses_custom_buckets:
            if b_lower == -math.inf:
                if b_upper <= 0:
                    return b_upper, None
                b_lower = 0.0
            elif b_upper == math.inf:
                return b_lower, None
        count = min(count, self.count)
        if count < rank:
            if math.isnan(self.sum):
                return math.nan, "nan_result"
            return b_upper, None
        note = None
        if forward:
            rank -= count - b_count
        else:
            rank = count - rank
        if math.isnan(self.sum) and float(cum[-1]) < self.count:
            note = "nan_skew"
        fraction = rank / b_count
        if self.uses_custom_buckets or (b_lower <= 0 <= b_upper):
            return b_lower + (b_upper - b_lower) * fraction, note
        return (b_lower, b_upper, fraction), note

    def fraction(self, lower: float, upper: float) -> tuple[float, bool]:
        """``HistogramFraction``: share of observations in ``[lower, upper]``, NaN-observations flag."""
        if self.count == 0 or math.isnan(lower) or math.isnan(upper):
            return math.nan, False
        if lower >= upper:
            return 0.0, False
        lows, ups, counts = self.all_buckets()
        rank = 0.0
        lower_rank = upper_rank = 0.0
        lower_set = upper_set = False
        for b_lower, b_upper, b_count in zip(lows.tolist(), ups.tolist(), counts.tolist(),
                                             strict=True):
            zero_bucket = False
            if b_lower <= 0 <= b_upper:
                zero_bucket = True
                if len(self.neg) == 0 and len(self.pos) > 0:
                    b_lower = 0.0
                elif len(self.pos) == 0 and len(self.neg) > 0:
                    b_upper = 0.0
            if not lower_set and b_lower >= lower:
                lower_rank, lower_set = rank, True
            if not upper_set and b_lower >= upper:
                upper_rank, upper_set = rank, True
            if lower_set and upper_set:
                break
            linear = self.uses_custom_buckets or zero_bucket
            if not lower_set and b_lower < lower < b_upper:
                lower_rank = _interpolate(rank, b_lower, b_upper, b_count, lower, linear)
                lower_set = True
            if not upper_set and b_lower < upper < b_upper:
                upper_rank = _interpolate(rank, b_lower, b_upper, b_count, upper, linear)
                upper_set = True
            if lower_set and upper_set:
                break
            rank += b_count
        nan_observations = False
        count = self.count
        if math.isnan(self.sum):
            total = float(np.sum(counts))
            nan_observations = total < self.count
            count = total
        if not lower_set or lower_rank > count:
            lower_rank = count
        if not upper_set or upper_rank > count:
            upper_rank = count
        return (upper_rank - lower_rank) / self.count, nan_observations

    def variance(self) -> float:
        """``histogram_stdvar``: the estimated variance of the observations."""
        mean = self.sum / self.count if self.count else math.nan
        lower, upper, counts = self.all_buckets()
        keep = counts != 0
        lower, upper, counts = lower[keep], upper[keep], counts[keep]
        if self.uses_custom_buckets:
            vals = (upper + lower) / 2.0
        else:
            with np.errstate(invalid="ignore"):
                vals = np.sqrt(upper * lower)
            vals = np.where(upper < 0, -vals, vals)
            vals = np.where((lower <= 0) & (upper >= 0), 0.0, vals)
        with np.errstate(invalid="ignore", over="ignore"):
            delta = vals - mean
            terms = (counts * delta) * delta  # Go's left-to-right count*delta*delta
        total, comp = 0.0, 0.0
        for term in terms.tolist():
            total, comp = _kahan_inc(term, total, comp)
        with np.errstate(divide="ignore", invalid="ignore"):
            return float(np.float64(total + comp) / np.float64(self.count))

    # ------------------------------------------------------------------ comparison and text
    def matches(self, other: FloatHistogram, close: object = None) -> bool:
        """promqltest's ``compareNativeHistogram`` on compacted histograms, ``close(a, b)`` per float."""
        def eq(a: float, b: float) -> bool:
            if close is None:
                return a == b or (math.isnan(a) and math.isnan(b))
            return bool(close(a, b))  # type: ignore[operator]

        if self.schema != other.schema or not eq(self.count, other.count) or not eq(
                self.sum, other.sum):
            return False
        if self.uses_custom_buckets and not _bounds_match(_cv(self), _cv(other)):
            return False
        if self.zero_threshold != other.zero_threshold or not eq(self.zero_count, other.zero_count):
            return False
        for (ao, a), (bo, b) in (((self.pos_offset, self.pos), (other.pos_offset, other.pos)),
                                 ((self.neg_offset, self.neg), (other.neg_offset, other.neg))):
            ia, ib = np.flatnonzero(a != 0), np.flatnonzero(b != 0)
            if len(ia) != len(ib) or not np.array_equal(ia + ao, ib + bo):
                return False
            if not all(eq(x, y) for x, y in zip(a[ia].tolist(), b[ib].tolist(), strict=True)):
                return False
        return True

    def test_expression(self) -> str:
        """The series notation of this histogram (``TestExpression``): ``{{schema:1 count:3 ...}}``."""
        h = self.compact()
        out: list[str] = []
        if h.schema != 0:
            out.append(f"schema:{h.schema}")
        for key, value in (("count", h.count), ("sum", h.sum), ("z_bucket", h.zero_count),
                           ("z_bucket_w", h.zero_threshold)):
            if value != 0:
                out.append(f"{key}:{format_float_g(value)}")
        if h.uses_custom_buckets and h.custom_values is not None:
            out.append("custom_values:[" + " ".join(format_float_g(v) for v in
                                                   h.custom_values.tolist()) + "]")
        if h.hint != UNKNOWN_COUNTER_RESET:
            out.append(f"counter_reset_hint:{HINT_NAMES[h.hint]}")
        for key, okey, offset, counts in (("buckets", "offset", h.pos_offset, h.pos),
                                          ("n_buckets", "n_offset", h.neg_offset, h.neg)):
            if len(counts):
                if offset:
                    out.append(f"{okey}:{offset}")
                out.append(f"{key}:[" + " ".join(format_float_g(v) for v in counts.tolist()) + "]")
        return "{{" + " ".join(out) + "}}"

    def go_string(self) -> str:
        """``FloatHistogram.String()``: ``{count:4, sum:5, [-1,-0.5):1, [-0.001,0.001]:2, (0.5,1]:1}``."""
        parts = [f"{{count:{format_float_g(self.count)}, sum:{format_float_g(self.sum)}"]
        lower, upper, counts = self._raw_buckets(negative=True)
        for lo, up, c in zip(lower[::-1].tolist(), upper[::-1].tolist(), counts[::-1].tolist(),
                             strict=True):
            if c != 0:
                parts.append(_bucket_text(lo, up, c, lo < 0, up > 0, self.uses_custom_buckets))
        if self.zero_count != 0:
            zt = self.zero_threshold
            parts.append(_bucket_text(-zt, zt, self.zero_count, True, True, False))
        lower, upper, counts = self._raw_buckets(negative=False)
        for k, (lo, up, c) in enumerate(zip(lower.tolist(), upper.tolist(), counts.tolist(),
                                            strict=True)):
            if c != 0:
                if self.uses_custom_buckets:
                    parts.append(_bucket_text(lo, up, c, self.pos_offset + k == 0, True, True))
                else:
                    parts.append(_bucket_text(lo, up, c, lo < 0, up > 0, False))
        return ", ".join(parts) + "}"

    def _raw_buckets(self, negative: bool) -> tuple[FloatArray, FloatArray, FloatArray]:
        offset, counts = (self.neg_offset, self.neg) if negative else (self.pos_offset, self.pos)
        ub = bucket_upper_bounds(np.arange(offset - 1, offset + len(counts)), self.schema,
                                 self.custom_values)
        if negative:
            return -ub[1:], -ub[:-1], counts
        return ub[:-1], ub[1:], counts

    def __repr__(self) -> str:
        return f"FloatHistogram({self.test_expression()})"

    def __str__(self) -> str:
        """Go prints a histogram with its ``String()`` (e.g. ``{{ $value }}`` in alert templates)."""
        return self.go_string()


def _bucket_text(lo: float, up: float, count: float, lower_incl: bool, upper_incl: bool,
                 custom: bool) -> str:
    return (("[" if lower_incl else "(") + f"{format_float_g(lo)},{format_float_g(up)}"
            + ("]" if upper_incl else ")") + f":{format_float_g(count)}")


def _fdiv(a: float, b: float) -> float:
    return float(np.float64(a) / np.float64(b))


def _kahan_inc(inc: float, total: float, comp: float) -> tuple[float, float]:
    t = total + inc
    if math.isinf(t):
        comp = 0.0
    elif abs(total) >= abs(inc):
        comp += (total - t) + inc
    else:
        comp += (inc - t) + total
    return t, comp


def _interpolate(rank: float, lower: float, upper: float, count: float, v: float,
                 linear: bool) -> float:
    if linear:
        if lower == -math.inf:
            return count
        return rank + count * ((v - lower) / (upper - lower))
    log_lower, log_upper = _log2(abs(lower)), _log2(abs(upper))
    log_v = _log2(abs(v))
    if v > 0:
        frac = (log_v - log_lower) / (log_upper - log_lower)
    else:
        frac = 1 - ((log_v - log_upper) / (log_lower - log_upper))
    return rank + count * frac


def exponential_interpolation(lower: FloatArray, upper: FloatArray,
                              fraction: FloatArray) -> FloatArray:
    """Interpolation on a log scale inside exponential buckets (Go's Log2/Exp2), vectorised."""
    log_lower = gomath.log2(np.abs(lower))
    log_upper = gomath.log2(np.abs(upper))
    with np.errstate(all="ignore"):
        pos = gomath.exp2(log_lower + (log_upper - log_lower) * fraction)
        neg = -gomath.exp2(log_upper + (log_lower - log_upper) * (1 - fraction))
    out: FloatArray = np.where(lower > 0, pos, neg)
    return out


def _log2(x: float) -> float:
    """Go's ``math.Log2`` (what Prometheus interpolates with)."""
    return float(gomath.log2(np.array([x]))[0])


def _exp2(x: float) -> float:
    """Go's ``math.Exp2``."""
    return float(gomath.exp2(np.array([x]))[0])


def _adjust_hint(mine: int, other: int) -> tuple[int, bool]:
    """``adjustCounterReset``: the combined hint and whether reset and not-reset collided."""
    if other == mine or mine == GAUGE_TYPE:
        return mine, False
    if other == GAUGE_TYPE:
        return GAUGE_TYPE, False
    if UNKNOWN_COUNTER_RESET in (mine, other):
        return UNKNOWN_COUNTER_RESET, False
    return UNKNOWN_COUNTER_RESET, True


def _cv(h: FloatHistogram) -> FloatArray:
    """Custom bounds of an NHCB (empty when unset)."""
    return _EMPTY if h.custom_values is None else h.custom_values


def _bounds_match(a: FloatArray, b: FloatArray) -> bool:
    return len(a) == len(b) and bool(np.array_equal(a, b))


def _above(offset: int, counts: FloatArray, schema: int, threshold: float) -> tuple[int, FloatArray]:
    """Buckets whose upper bound is above the zero threshold (``addBuckets`` ignores the rest)."""
    if len(counts) == 0 or threshold == 0:
        return offset, counts
    upper = bucket_upper_bounds(np.arange(offset, offset + len(counts)), schema)
    skip = int(np.searchsorted(upper, threshold, side="right"))
    return offset + skip, counts[skip:]


def _map_custom(offset: int, counts: FloatArray, bounds: FloatArray,
                common: FloatArray) -> FloatArray:
    """NHCB buckets mapped onto the coarser bounds ``common`` (``addCustomBucketsWithMismatches``)."""
    out = np.zeros(len(common) + 1, dtype=np.float64)
    if len(counts) == 0:
        return out
    idx = np.arange(offset, offset + len(counts))
    src_upper = np.concatenate([bounds, [math.inf]])[np.minimum(idx, len(bounds))]
    target = np.searchsorted(common, src_upper, side="left")
    target = np.where(idx >= len(bounds), len(common), target)
    np.add.at(out, target, counts)
    return out


def _kahan_rows(rows: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Kahan-Neumaier sum of the rows of a 2-d array (column-wise, rows in order):
    (sum, compensation)."""
    total = rows[0].copy()
    comp = np.zeros_like(total)
    with np.errstate(all="ignore"):
        for row in rows[1:]:
            t = total + row
            big = np.abs(total) >= np.abs(row)
            comp = comp + np.where(big, (total - t) + row, (row - t) + total)
            comp = np.where(np.isinf(t), 0.0, comp)
            total = t
    return total, comp


def _kahan_list(values: list[float]) -> tuple[float, float]:
    total, comp = values[0], 0.0
    for v in values[1:]:
        total, comp = _kahan_inc(v, total, comp)
    return total, comp


def sum_histograms(hists: list[FloatHistogram], kahan: bool = True,
                   reconcile: bool = True) -> tuple[FloatHistogram, bool, bool]:
    """Kahan sum of histograms in order, as ``sum`` aggregates them.

    ``kahan=False`` (before 3.10): plain addition in order; ``reconcile``: see
    :meth:`FloatHistogram.add`.

    Returns (sum, counter-reset collision, NHCB bounds reconciled); raises
    :class:`IncompatibleSchemaError` for a mix of exponential and custom buckets.
    """
    total, comp, collision, reconciled = _sum_parts(hists, kahan, reconcile)
    return (total if comp is None else _add_parts(total, comp)), collision, reconciled


def _sum_parts(hists: list[FloatHistogram], kahan: bool,
               reconcile: bool) -> tuple[FloatHistogram, FloatHistogram | None, bool, bool]:
    """:func:`sum_histograms` as (sum, Kahan compensation or None, collision, reconciled)."""
    first = hists[0]
    if len(hists) == 1:
        return first, None, False, False
    custom = first.uses_custom_buckets
    if any(h.uses_custom_buckets != custom for h in hists):
        raise IncompatibleSchemaError(
            "cannot apply this operation on histograms with a mix of exponential and custom "
            "bucket schemas")
    if not kahan or not reconcile:
        acc, collision, reconciled = first, False, False
        for h in hists[1:]:
            acc, hit, rec = acc.add(h, reconcile)
            collision |= hit
            reconciled |= rec
        return acc, None, collision, reconciled
    hint = first.hint
    resets = {h.hint for h in hists}
    collision = COUNTER_RESET in resets and NOT_COUNTER_RESET in resets
    for h in hists[1:]:
        hint = _adjust_hint(hint, h.hint)[0]
    same_layout = (all(_bounds_match(_cv(h), _cv(first)) for h in hists) if custom
                   else all(h.zero_threshold == first.zero_threshold for h in hists))
    if not same_layout:
        acc = first
        reconciled = False
        for h in hists[1:]:
            acc, _, rec = acc.add(h)
            reconciled |= rec
        return acc.with_hint(hint), None, collision, reconciled
    total, comp = _kahan_parts(hists, hint)
    return total, comp, collision, False


def _kahan_parts(hists: list[FloatHistogram],
                 hint: int) -> tuple[FloatHistogram, FloatHistogram]:
    """Kahan sum of histograms of one layout (zero threshold, custom bounds) in order:
    the sum and the compensation histogram (``KahanAdd``), both of the sum's buckets."""
    if not hists[0].uses_custom_buckets:
        schema = min(h.schema for h in hists)
        hists = [h.to_schema(schema) for h in hists]
    count, c_count = _kahan_list([h.count for h in hists])
    total, c_total = _kahan_list([h.sum for h in hists])
    zero, c_zero = _kahan_list([h.zero_count for h in hists])
    sides: list[tuple[int, FloatArray, FloatArray]] = []
    for attr in ("pos", "neg"):
        runs = [(getattr(h, attr + "_offset"), getattr(h, attr)) for h in hists]
        runs = [(o, c) for o, c in runs if len(c)]
        if not runs:
            sides.append((0, _EMPTY, _EMPTY))
            continue
        lo = min(o for o, _ in runs)
        hi = max(o + len(c) for o, c in runs)
        grid = np.zeros((len(runs), hi - lo), dtype=np.float64)
        for k, (o, c) in enumerate(runs):
            grid[k, o - lo:o - lo + len(c)] = c
        sides.append((lo, *_kahan_rows(grid)))
    (po, pos, c_pos), (no, neg, c_neg) = sides
    out = replace(hists[0], count=count, sum=total, zero_count=zero, pos_offset=po, pos=pos,
                  neg_offset=no, neg=neg, hint=hint)
    return out, replace(out, count=c_count, sum=c_total, zero_count=c_zero, pos=c_pos, neg=c_neg)


def _add_parts(h: FloatHistogram, comp: FloatHistogram) -> FloatHistogram:
    """``h.Add(comp)`` for a compensation histogram of ``h``'s layout (field by field)."""
    with np.errstate(all="ignore"):
        return replace(h, count=h.count + comp.count, sum=h.sum + comp.sum,
                       zero_count=h.zero_count + comp.zero_count, pos=h.pos + comp.pos,
                       neg=h.neg + comp.neg)


#: samples per TSDB chunk (Prometheus cuts head chunks at 120 samples)
CHUNK_SAMPLES = 120


def chunk_hints(prev: FloatHistogram | None, hists: list[FloatHistogram],
                in_chunk: int = 0) -> list[FloatHistogram]:
    """The counter-reset hints histograms have when read back from the TSDB after appending.

    Histograms appended in order after ``prev`` (the series' last sample, ``in_chunk``
    samples into its chunk) go into chunks: gauge histograms into gauge chunks
    (read back as ``gauge``); counter histograms start a new chunk on a counter
    reset (an explicit ``reset`` hint included), a change of schema, zero
    threshold or custom bounds, or a full chunk, and are read back as
    ``not_reset`` except the first of each chunk, which reads ``unknown``
    (``counterResetHint`` in ``tsdb/chunkenc``).
    """
    out = []
    n = in_chunk
    for h in hists:
        if h.hint == GAUGE_TYPE:
            n = n + 1 if prev is not None and prev.hint == GAUGE_TYPE else 1
            out.append(h)
            prev = h
            continue
        new_chunk = (prev is None or prev.hint == GAUGE_TYPE or n >= CHUNK_SAMPLES
                     or h.hint == COUNTER_RESET
                     or h.uses_custom_buckets != prev.uses_custom_buckets
                     or h.schema != prev.schema or h.zero_threshold != prev.zero_threshold
                     or not _bounds_match(_cv(h), _cv(prev))
                     or h.with_hint(UNKNOWN_COUNTER_RESET).detect_reset(prev))
        if new_chunk:
            n = 1
            h = h.with_hint(UNKNOWN_COUNTER_RESET)
        else:
            n += 1
            h = h.with_hint(NOT_COUNTER_RESET)
        out.append(h)
        prev = h
    return out


def avg_histograms(hists: list[FloatHistogram], kahan: bool = True,
                   reconcile: bool = True) -> tuple[FloatHistogram, bool, bool]:
    """The mean of histograms as ``avg`` computes it: a direct Kahan mean, incremental on overflow.

    ``kahan=False`` (before 3.10): the incremental mean ``mean += h/n - mean/n`` throughout.
    """
    if not kahan:
        running, collision, reconciled = hists[0], False, False
        for k, h in enumerate(hists[1:], start=2):
            n = float(k)
            delta, _, rec = h.div(n).sub(running.div(n), reconcile)
            running, hit, rec2 = running.add(delta, reconcile)
            collision |= hit
            reconciled |= rec or rec2
        return running, collision, reconciled
    plain, c, collision, reconciled = _sum_parts(hists, True, reconcile)
    n = float(len(hists))
    if plain.is_finite():
        # no running sum overflowed (once Inf, a running sum stays Inf or NaN):
        # ``sum.Div(n).Add(kahanC.Div(n))``, sum and compensation divided separately
        return (plain.div(n) if c is None else _add_parts(plain.div(n), c.div(n)),
                collision, reconciled)
    # Prometheus' path: Kahan sum until it would overflow, then a Kahan-compensated
    # incremental mean (``mean*q + h/count``) carrying the compensation along
    acc, comp = hists[0], _zero_like(hists[0])
    count = 1.0
    mean: FloatHistogram | None = None
    for h in hists[1:]:
        count += 1
        if mean is None:
            cand, cand_c = kahan_add(acc, h, comp)
            if not cand.has_overflow():
                acc, comp = cand, cand_c
                continue
            mean = acc.div(count - 1)
            comp = comp.div(count - 1)
        q = (count - 1) / count
        comp = comp.mul(q)
        mean, comp = kahan_add(mean.mul(q), h.div(count), comp)
    if mean is None:  # NaN, but no running sum overflowed
        return acc.div(count).add(comp.div(count))[0].with_hint(plain.hint), collision, reconciled
    return mean.add(comp)[0].with_hint(plain.hint), collision, reconciled


def _zero_like(h: FloatHistogram) -> FloatHistogram:
    """A compensation histogram: ``h``'s layout, every count zero."""
    return replace(h, count=0.0, sum=0.0, zero_count=0.0, pos=np.zeros_like(h.pos),
                   neg=np.zeros_like(h.neg))


def _align(runs: list[tuple[int, FloatArray]]) -> tuple[int, list[FloatArray]]:
    live = [(o, c) for o, c in runs if len(c)]
    if not live:
        return 0, [_EMPTY for _ in runs]
    lo = min(o for o, _ in live)
    hi = max(o + len(c) for o, c in live)
    out = []
    for o, c in runs:
        grid = np.zeros(hi - lo, dtype=np.float64)
        if len(c):
            grid[o - lo:o - lo + len(c)] = c
        out.append(grid)
    return lo, out


def kahan_add(h: FloatHistogram, other: FloatHistogram,
              comp: FloatHistogram) -> tuple[FloatHistogram, FloatHistogram]:
    """``KahanAdd``: ``h + other`` with the compensation histogram ``comp`` (``h``'s layout).

    Histograms with different zero thresholds or custom bounds fall back to a
    plain addition (the compensation is kept as it is).
    """
    if (h.zero_threshold != other.zero_threshold
            or h.uses_custom_buckets != other.uses_custom_buckets
            or (h.uses_custom_buckets and not _bounds_match(_cv(h), _cv(other)))):
        return h.add(other)[0], comp
    if other.schema < h.schema and not h.uses_custom_buckets:
        h, comp = h.to_schema(other.schema), comp.to_schema(other.schema)
    elif other.schema > h.schema and not h.uses_custom_buckets:
        other = other.to_schema(h.schema)
    count, c_count = kahan_inc(np.array([other.count]), np.array([h.count]),
                               np.array([comp.count]))
    total, c_sum = kahan_inc(np.array([other.sum]), np.array([h.sum]), np.array([comp.sum]))
    zero, c_zero = kahan_inc(np.array([other.zero_count]), np.array([h.zero_count]),
                             np.array([comp.zero_count]))
    po, (hp, op_, cp) = _align([(h.pos_offset, h.pos), (other.pos_offset, other.pos),
                                (comp.pos_offset, comp.pos)])
    no, (hn, on, cn) = _align([(h.neg_offset, h.neg), (other.neg_offset, other.neg),
                               (comp.neg_offset, comp.neg)])
    pos, c_pos = kahan_inc(op_, hp, cp)
    neg, c_neg = kahan_inc(on, hn, cn)
    hint = _adjust_hint(h.hint, other.hint)[0]
    new_h = replace(h, count=float(count[0]), sum=float(total[0]), zero_count=float(zero[0]),
                    pos_offset=po, pos=pos, neg_offset=no, neg=neg, hint=hint)
    new_c = replace(comp, schema=new_h.schema, count=float(c_count[0]), sum=float(c_sum[0]),
                    zero_count=float(c_zero[0]), pos_offset=po, pos=c_pos, neg_offset=no,
                    neg=c_neg)
    return new_h, new_c
