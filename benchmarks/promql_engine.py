"""Step-vectorised evaluation vs one instant query per step, in the same run.

Usage: python benchmarks/promql_engine.py [SERIES] [STEPS]   (default 1000 x 1440)

The baseline is what a non-vectorised engine does for a range query: one
instant evaluation per step (we use our own engine with a grid of one, so the
same selector and function code is measured). Prints the ratio ours/baseline
on the last line (< 1 means we are faster): the float queries' ratio, then the
native-histogram case's -- one histogram series of STEPS samples x 160
buckets, ``histogram_quantile(0.99, sum(rate(h[5m])))`` over the whole series
at 1m (24 h by default; target < 1 s).
"""

from __future__ import annotations

import math
import sys
import time

import numpy as np

from pytest_selfslo.promql.engine import Engine
from pytest_selfslo.promql.histogram import FloatHistogram
from pytest_selfslo.promql.storage import Storage

QUERIES = ("avg_over_time(self_coherence[5m]) < 0.8",
           "sum by (token_id) (self_coherence) > 0.5",
           "self_coherence < 0.8")


HISTOGRAM_QUERY = "histogram_quantile(0.99, sum(rate(h[5m])))"
HISTOGRAM_BUCKETS = 160


def histogram_case(steps: int) -> tuple[float, float]:
    """(vectorised seconds, per-step baseline seconds) of :data:`HISTOGRAM_QUERY`."""
    rng = np.random.default_rng(1)
    ts = np.arange(steps, dtype=np.int64) * 60_000
    counts = np.zeros(HISTOGRAM_BUCKETS)
    total = 0.0
    hists = []
    for k in range(steps):
        if k and k % 400 == 0:  # a counter reset now and then
            counts[:] = 0
            total = 0.0
        add = rng.poisson(3.0, HISTOGRAM_BUCKETS).astype(np.float64)
        counts = counts + add
        total += float(add.sum()) * 0.25
        hists.append(FloatHistogram(schema=3, count=float(counts.sum()), sum=total,
                                    pos_offset=-80, pos=counts.copy()))
    store = Storage()
    store.add_histograms({"__name__": "h"}, ts, hists)
    engine = Engine(store)
    store.select([])
    end = int(ts[-1])
    engine.instant(HISTOGRAM_QUERY, end)
    ours = math.inf
    for _ in range(3):
        t0 = time.perf_counter()
        engine.range(HISTOGRAM_QUERY, 0, end, 60_000)
        ours = min(ours, time.perf_counter() - t0)
    sample = min(steps, 60)
    t0 = time.perf_counter()
    for k in range(sample):
        engine.instant(HISTOGRAM_QUERY, int(ts[k * (steps // sample)]))
    base = (time.perf_counter() - t0) * steps / sample
    print(f"{HISTOGRAM_QUERY}: 1 histogram series x {steps} samples x {HISTOGRAM_BUCKETS} "
          f"buckets: vectorised {ours * 1000:.0f} ms (best of 3), per-step baseline "
          f"{base * 1000:.0f} ms (extrapolated from {sample} steps)")
    return ours, base


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
    hist_ours, hist_base = histogram_case(steps)
    print(f"ratio ours/baseline = {ours_total / base_total:.3f}; native histograms "
          f"{hist_ours / hist_base:.3f} ({hist_ours * 1000:.0f} ms)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000,
         int(sys.argv[2]) if len(sys.argv) > 2 else 1440)
