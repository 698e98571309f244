"""All step windows of a range vector, flattened for vectorised range functions.

A range function reduces, for every series and every step, the samples in
that step's window. :class:`Windows` concatenates the samples of all series
and turns each (series, step) pair into one *row* with a global index window
``[lo, hi)``, so a function runs a handful of numpy operations for the whole
range vector instead of one Python call per series and step.

Reductions that Prometheus computes with a sequential loop (Kahan sums,
Welford variance, Holt's smoothing) are replayed *column by column*: column
``j`` holds the ``j``-th sample of every row's window, so the loop runs
``max window length`` times over arrays of all rows and performs exactly
Prometheus' floating point operations in exactly its order. That keeps the
results bit-identical to Prometheus, which matters for alert thresholds
(``avg_over_time(x[5m]) < 0.8`` on a constant 0.8 series).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from .fn_util import range_output
from .values import BoolArray, FloatArray, InstantSeries, IntArray, RangeSeries, RangeVector


@dataclass
class Windows:
    """Samples of every series concatenated; one row per (series, step)."""

    series: list[RangeSeries]
    n_steps: int
    t: IntArray
    v: FloatArray
    lo: IntArray
    hi: IntArray
    #: global index of each row's series' first sample (for "previous sample" look-ups)
    start: IntArray

    @classmethod
    def of(cls, rv: RangeVector, n_steps: int) -> Windows:
        """Flatten ``rv`` (whose series all have ``n_steps`` windows)."""
        if not rv.series:
            empty = np.zeros(0, dtype=np.int64)
            return cls([], n_steps, empty, np.zeros(0), empty, empty, empty)
        lengths = np.array([len(s.t) for s in rv.series], dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
        t = np.concatenate([s.t for s in rv.series]).astype(np.int64)
        v = np.concatenate([s.v for s in rv.series]).astype(np.float64)
        lo = np.concatenate([s.lo + off for s, off in zip(rv.series, offsets, strict=True)])
        hi = np.concatenate([s.hi + off for s, off in zip(rv.series, offsets, strict=True)])
        start = np.repeat(offsets, n_steps)
        return cls(list(rv.series), n_steps, t, v, lo.astype(np.int64), hi.astype(np.int64),
                   start)

    @property
    def count(self) -> IntArray:
        """Samples per row."""
        return self.hi - self.lo

    def at(self, index: IntArray) -> tuple[IntArray, FloatArray]:
        """Timestamps and values at global indices (clipped: callers mask invalid rows)."""
        if len(self.v) == 0:
            return np.zeros(len(index), dtype=np.int64), np.zeros(len(index))
        safe = np.clip(index, 0, len(self.v) - 1)
        return self.t[safe], self.v[safe]

    def columns(self, rows: IntArray | None = None,
                first: int = 0) -> Iterator[tuple[int, BoolArray, IntArray, FloatArray]]:
        """Yield ``(j, active, t_j, v_j)``: the ``j``-th sample of each row's window.

        ``active`` marks the rows whose window has more than ``j`` samples;
        ``rows`` restricts the iteration to a subset of rows.
        """
        lo = self.lo if rows is None else self.lo[rows]
        hi = self.hi if rows is None else self.hi[rows]
        width = int((hi - lo).max()) if len(lo) else 0
        for j in range(first, width):
            idx = lo + j
            t_j, v_j = self.at(idx)
            yield j, idx < hi, t_j, v_j

    def outputs(self, values: FloatArray, present: BoolArray,
                keep_name: bool = False) -> list[InstantSeries]:
        """Per-series output of per-row ``values``/``present`` (series without samples dropped)."""
        vals = values.reshape(len(self.series), self.n_steps)
        pres = present.reshape(len(self.series), self.n_steps)
        out: list[InstantSeries] = []
        for i, rs in enumerate(self.series):
            s = range_output(rs, vals[i].copy(), pres[i].copy(), keep_name)
            if s is not None:
                out.append(s)
        return out


def kahan_inc(inc: FloatArray, total: FloatArray,
              comp: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Prometheus' ``kahansum.Inc`` (Neumaier variant), element-wise."""
    with np.errstate(all="ignore"):
        t = total + inc
        big = np.abs(total) >= np.abs(inc)
        comp = np.where(np.isinf(t), 0.0,
                        np.where(big, comp + ((total - t) + inc), comp + ((inc - t) + total)))
    return t, comp


def masked_kahan_inc(active: BoolArray, inc: FloatArray, total: FloatArray,
                     comp: FloatArray) -> tuple[FloatArray, FloatArray]:
    """:func:`kahan_inc` applied only where ``active``."""
    t, c = kahan_inc(inc, total, comp)
    return np.where(active, t, total), np.where(active, c, comp)


def pair_prefix(flags: BoolArray, w: Windows) -> IntArray:
    """Prefix counts of a per-sample flag that compares a sample with its predecessor.

    ``flags[k]`` says something about the pair (k-1, k); it is ignored at the
    first sample of each series. The number of flagged pairs inside a row's
    window ``[lo, hi)`` is ``P[hi-1] - P[lo]`` (pairs (lo, lo+1) .. (hi-2, hi-1)).
    """
    flags = flags.copy()
    starts = np.unique(w.start)
    flags[starts[starts < len(flags)]] = False
    return np.cumsum(flags).astype(np.int64)


def pairs_in_window(prefix: IntArray, w: Windows) -> IntArray:
    """Count of flagged pairs per row (0 for rows with fewer than two samples)."""
    n = w.count
    if len(prefix) == 0:
        return np.zeros(len(n), dtype=np.int64)
    last = np.clip(w.hi - 1, 0, len(prefix) - 1)
    first = np.clip(w.lo, 0, len(prefix) - 1)
    return np.where(n >= 2, prefix[last] - prefix[first], 0)
