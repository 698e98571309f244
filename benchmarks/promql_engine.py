"""Step-vectorised evaluation vs one instant query per step, in the same run.

Usage: python benchmarks/promql_engine.py [SERIES] [STEPS]   (default 1000 x 1440)

The baseline is what a non-vectorised engine does for a range query: one
instant evaluation per step (we use our own engine with a grid of one, so the
same selector and function code is measured). Prints the ratio ours/baseline
on the last line (< 1 means we are faster).
"""

from __future__ import annotations

import math
import sys
import time

import numpy as np

from pytest_selfslo.promql.engine import Engine
from pytest_selfslo.promql.storage import Storage

QUERIES = ("avg_over_time(self_coherence[5m]) < 0.8",
           "sum by (token_id) (self_coherence) > 0.5",
           "self_coherence < 0.8")


def main(series: int, steps: int) -> None:
    rng = np.random.default_rng(0)
    ts = np.arange(steps, dtype=np.int64) * 60_000
    store = Storage()
    for i in range(series):
        store.add_samples({"__name__": "self_coherence", "token_id": str(i)}, ts,
                          rng.random(steps))
    engine = Engine(store)
    store.select([])  # sort pending writes outside the timed region
    end = int(ts[-1])
    for query in QUERIES:  # warm-up: imports the function table, fills numpy caches
        engine.instant(query, end)
    ours_total = base_total = 0.0
    for query in QUERIES:
        ours = math.inf
        for _ in range(3):  # best of three: the machine is shared
            t0 = time.perf_counter()
            engine.range(query, 0, end, 60_000)
            ours = min(ours, time.perf_counter() - t0)
        # baseline: at most 60 steps timed, extrapolated (the full loop takes minutes)
        sample = min(steps, 60)
        t0 = time.perf_counter()
        for k in range(sample):
            engine.instant(query, int(ts[k * (steps // sample)]))
        base = (time.perf_counter() - t0) * steps / sample
        ours_total += ours
        base_total += base
        print(f"{query}: vectorised {ours * 1000:.0f} ms (best of 3), per-step baseline "
              f"{base * 1000:.0f} ms (extrapolated from {sample} steps)")
    print(f"{series} series x {steps} steps")
    print(f"ratio ours/baseline = {ours_total / base_total:.3f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000,
         int(sys.argv[2]) if len(sys.argv) > 2 else 1440)
