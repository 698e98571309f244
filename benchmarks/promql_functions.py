"""Vectorised range functions vs a per-window loop, in the same run.

Usage: python benchmarks/promql_functions.py [SERIES] [STEPS]   (default 200 x 1440)

``ours`` calls the function table on a whole range vector (every series and
step at once, see ``promql/fn_windows.py``). The baseline is what a
straightforward engine does: one call per (series, step) window on the
window's samples (numpy for the arithmetic, so only the looping differs).
Both use 1-minute samples and 5-minute windows. CPU time is measured (the
machine is shared). Prints the ratio ours/baseline on the last line (< 1 means
we are faster).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

import numpy as np

from pytest_selfslo.promql.functions import FUNCTIONS
from pytest_selfslo.promql.values import EvalContext, RangeSeries, RangeVector

RANGE_MS = 300_000
STEP_MS = 60_000


def _rate_window(t: np.ndarray, v: np.ndarray, end: int) -> float:
    # the Prometheus 3 extrapolatedRate arithmetic for one window
    result = v[-1] - v[0] + float(np.sum(v[:-1][v[1:] < v[:-1]]))
    start = end - RANGE_MS
    to_start, to_end = (t[0] - start) / 1000, (end - t[-1]) / 1000
    sampled = (t[-1] - t[0]) / 1000
    average = sampled / (len(v) - 1)
    if to_start >= average * 1.1:
        to_start = average / 2
    if result > 0 and v[0] >= 0:
        to_start = min(to_start, sampled * (v[0] / result))
    if to_end >= average * 1.1:
        to_end = average / 2
    return float(result * (sampled + to_start + to_end) / sampled / (RANGE_MS / 1000))


BASELINES: dict[str, Callable[[np.ndarray, np.ndarray, int], float]] = {
    "avg_over_time": lambda t, v, end: float(np.mean(v)),
    "max_over_time": lambda t, v, end: float(np.max(v)),
    "rate": _rate_window,
}


def _data(series: int, steps: int) -> tuple[RangeVector, EvalContext]:
    rng = np.random.default_rng(0)
    grid = np.arange(steps, dtype=np.int64) * STEP_MS + RANGE_MS
    t = np.arange(steps + RANGE_MS // STEP_MS, dtype=np.int64) * STEP_MS
    out = []
    for i in range(series):
        v = np.cumsum(rng.random(len(t)))  # a counter (no resets) doubles as a gauge
        lo = np.searchsorted(t, grid - RANGE_MS, side="right")
        hi = np.searchsorted(t, grid, side="right")
        out.append(RangeSeries((("token_id", str(i)),), t, v, lo, hi))
    return RangeVector(out, RANGE_MS, grid), EvalContext(steps=grid)


def main(series: int, steps: int) -> None:
    rv, ctx = _data(series, steps)
    timings: dict[str, tuple[float, float]] = {}
    for name, baseline in BASELINES.items():
        t0 = time.process_time()
        result = FUNCTIONS[name](ctx, [rv], [])
        t1 = time.process_time()
        expected = [[baseline(*rs.window(i), int(ctx.steps[i])) for i in range(steps)]
                    for rs in rv.series]
        timings[name] = (t1 - t0, time.process_time() - t1)
        got = [s.values.tolist() for s in getattr(result, "series", [])]
        if not np.allclose(got, expected, rtol=1e-9):
            raise SystemExit(f"{name}: vectorised result differs from the per-window baseline")
    for name, (ours, base) in timings.items():
        print(f"{name}: vectorised {ours * 1000:.0f} ms, per-window baseline {base * 1000:.0f} ms")
    print(f"{series} series x {steps} steps, 5m windows of 1m samples (CPU time)")
    ours_total = sum(o for o, _ in timings.values())
    base_total = sum(b for _, b in timings.values())
    print(f"ratio ours/baseline = {ours_total / base_total:.3f}")

if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:3]]
    main(args[0] if args else 200, args[1] if len(args) > 1 else 1440)
