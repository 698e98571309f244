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
from dataclasses import dataclass, field

import numpy as np

from pytest_selfslo.promql.functions.util import range_output
from pytest_selfslo.promql.values import (
    BoolArray,
    FloatArray,
    InstantSeries,
    IntArray,
    RangeSeries,
    RangeVector,
)

#: cells (window positions x rows) per dense block: ~0.5 MB of float64, cache-friendly
_BLOCK_CELLS = 1 << 16


@dataclass
class Block:
    """Dense view of some rows: ``v[j, r]`` is the j-th sample of row ``rows[r]``."""

    rows: IntArray
    v: FloatArray
    mask: BoolArray
    t: IntArray | None
    n: IntArray
    #: positions of these rows in the ``rows`` argument of :meth:`Windows.blocks`
    where: IntArray


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
    #: samples per row (set from lo/hi)
    count: IntArray = field(init=False)

    @classmethod
    def of(cls, rv: RangeVector, n_steps: int) -> Windows:
        """Flatten ``rv`` (whose series all have ``n_steps`` windows)."""
        if not rv.series:
            empty = np.zeros(0, dtype=np.int64)
            return cls([], n_steps, empty, np.zeros(0), empty, empty, empty)
        lengths = np.array([len(s.t) for s in rv.series], dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
        t = np.concatenate([s.t for s in rv.series]).astype(np.int64, copy=False)
        v = np.concatenate([s.v for s in rv.series]).astype(np.float64, copy=False)
        lo = np.concatenate([s.lo for s in rv.series]).astype(np.int64, copy=False)
        hi = np.concatenate([s.hi for s in rv.series]).astype(np.int64, copy=False)
        shift = np.repeat(offsets, n_steps)
        lo += shift
        hi += shift
        return cls(list(rv.series), n_steps, t, v, lo, hi, shift)

    def __post_init__(self) -> None:
        self.count: IntArray = self.hi - self.lo

    def at(self, index: IntArray) -> tuple[IntArray, FloatArray]:
        """Timestamps and values at global indices (clipped: callers mask invalid rows)."""
        if len(self.v) == 0:
            return np.zeros(len(index), dtype=np.int64), np.zeros(len(index))
        return np.take(self.t, index, mode="clip"), np.take(self.v, index, mode="clip")

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

    def blocks(self, rows: IntArray | None = None,
               with_t: bool = False) -> Iterator[Block]:
        """Rows in cache-sized blocks, each as dense (window position x row) matrices.

        Positions beyond a row's window hold value 0 (a no-op for Kahan sums)
        and ``mask`` False; blocks are small enough for the column loops of the
        sequential algorithms to run in the CPU cache.
        """
        if rows is None:
            rows = np.arange(len(self.lo), dtype=np.int64)
        if len(rows) == 0 or len(self.v) == 0:
            return
        counts = self.count[rows]
        # Rows grouped by window length (powers of two), so one long window does not make
        # every block wide: a block is at most twice as wide as its shortest row needs.
        order = np.argsort(counts, kind="stable")
        sorted_counts = counts[order]
        classes = np.ceil(np.log2(np.maximum(sorted_counts, 1))).astype(np.int64)
        bounds = np.flatnonzero(np.diff(classes)) + 1
        for group in np.split(np.arange(len(order)), bounds):
            width = max(int(sorted_counts[group[-1]]), 1)
            per_block = max(1, _BLOCK_CELLS // width)
            for start in range(0, len(group), per_block):
                where = order[group[start:start + per_block]]
                block = rows[where]
                n = counts[where]
                w = max(int(n.max()), 1)
                pos = np.arange(w, dtype=np.int64)[:, None]
                if int(n.min()) == w:  # all windows equally long (the usual case): no padding
                    mask = np.ones((w, len(block)), dtype=bool)
                    idx = self.lo[block][None, :] + pos
                    v = self.v[idx]
                else:
                    mask = pos < n[None, :]
                    idx = np.where(mask, self.lo[block][None, :] + pos, 0)
                    v = np.where(mask, self.v[idx], 0.0)
                t = self.t[idx] if with_t else None
                yield Block(block, v, mask, t, n, where)

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


def kahan_sums(w: Windows, rows: IntArray | None = None) -> tuple[FloatArray, FloatArray]:
    """Kahan (Neumaier) sum and compensation of every row's window, in sample order.

    Zero padding beyond a window is an exact no-op of :func:`~pytest_selfslo.promql.kahansum.kahan_inc`, so
    the result equals Prometheus' sequential loop bit for bit.
    """
    size = len(w.lo) if rows is None else len(rows)
    total, comp = np.zeros(size), np.zeros(size)
    with np.errstate(all="ignore"):
        for block in w.blocks(rows):
            s = np.zeros(len(block.rows))
            c = np.zeros(len(block.rows))
            for x in block.v:
                t = s + x
                big = np.abs(s) >= np.abs(x)
                c = c + np.where(big, (s - t) + x, (x - t) + s)
                c[np.isinf(t)] = 0.0
                s = t
            total[block.where], comp[block.where] = s, c
    return total, comp


def pair_prefix(flags: BoolArray, w: Windows) -> IntArray:
    """Prefix counts of a per-sample flag that compares a sample with its predecessor.

    ``flags[k]`` says something about the pair (k-1, k); it is ignored at the
    first sample of each series. The number of flagged pairs inside a row's
    window ``[lo, hi)`` is ``P[hi-1] - P[lo]`` (pairs (lo, lo+1) .. (hi-2, hi-1)).
    """
    flags = flags.copy()
    starts = w.start[:: max(w.n_steps, 1)]  # one row per series: the series' offsets
    flags[starts[starts < len(flags)]] = False
    return np.cumsum(flags).astype(np.int64)


def pairs_in_window(prefix: IntArray, w: Windows) -> IntArray:
    """Count of flagged pairs per row (0 for rows with fewer than two samples)."""
    n = w.count
    if len(prefix) == 0:
        return np.zeros(len(n), dtype=np.int64)
    last = np.take(prefix, w.hi - 1, mode="clip")
    first = np.take(prefix, w.lo, mode="clip")
    counts: IntArray = np.where(n >= 2, last - first, 0)
    return counts
