"""Canary hot paths against their baselines, all measured in the same run.

    python benchmarks/canary.py [N] [--repeat 5]

1. ``decide()`` on a rotating set of observations (green, failing, missing,
   alert) -- decisions per second; target >= 100,000/s, so the ratio printed
   is ours / 100k (higher is better, >= 1 meets it); then the same with a
   ``compare:`` block and precomputed statistics (pass, regression,
   inconclusive) on the observations, same target;
1b. the comparison itself -- :func:`compare_samples` (scipy's Mann-Whitney U
   plus both medians) on 2 x 10,000 samples, milliseconds per test (target
   < 5 ms), next to a bare ``np.sort`` of the 20,000 pooled values as a floor;
2. ``should_activate_self(token, sampling)`` vs a bare ``mmh3.hash(token)``
   over the same tokens -- ratio ours / bare, target <= 3;
3. cached ``current_sampling(state_dir)`` vs a dict lookup plus ``os.stat`` of
   the same state file -- ratio ours / baseline, target <= 3.

Each measurement is the best of ``--repeat`` rounds of N calls (process CPU
time, so other processes on a shared machine disturb it less), and the two
sides of a ratio alternate round by round. The LAST line holds the ratios.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import tempfile
import time
from collections.abc import Callable

import mmh3
import numpy as np

from pytest_selfslo.canary import runtime
from pytest_selfslo.canary.cohorts import compare_samples
from pytest_selfslo.canary.comparison import CohortStats
from pytest_selfslo.canary.machine import CanaryState, Observation, decide
from pytest_selfslo.canary.policy import DEFAULT_POLICY, CanaryPolicy, ComparePolicy
from pytest_selfslo.canary.store import CanaryStore


def _best(fn: Callable[[], None], rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        start = time.process_time()
        fn()
        best = min(best, time.process_time() - start)
    return max(best, 1e-9)


def _pair(ours: Callable[[], None], base: Callable[[], None], rounds: int) -> tuple[float, float]:
    """Best time of each, the two alternating round by round."""
    a = b = float("inf")
    for _ in range(rounds):
        a = min(a, _best(ours, 1))
        b = min(b, _best(base, 1))
    return a, b


#: precomputed comparison statistics: pass, regression, too few samples, a source note
STATS = (CohortStats(80, 900, u=36000.0, p=0.5, effect=0.0),
         CohortStats(80, 900, u=1200.0, p=1e-9, effect=0.11),
         CohortStats(12, 900, u=5000.0, p=0.4, effect=0.01),
         CohortStats(0, 0, note="no samples in the canary cohort"))


def bench_decide(n: int, rounds: int, policy: CanaryPolicy = DEFAULT_POLICY) -> float:
    green = {g.name: g.threshold for g in policy.gates}
    observations = [
        Observation(gates=green, at=5000.0),
        Observation(gates={**green, "self_stress": 0.9}, at=5000.0),
        Observation(gates={k: v for k, v in green.items() if k != "self_coherence"}, at=5000.0),
        Observation(gates=green, at=5000.0,
                    firing_alerts=[{"alertname": "AURIS_SELF_Stress_High", "severity": "warning"}]),
    ]
    if policy.compare is not None:  # every observation carries one of the precomputed results
        observations = [dataclasses.replace(o, comparison=STATS[(i + j) % len(STATS)])
                        for i, o in enumerate(observations) for j in range(len(STATS))]
    states = [CanaryState(sampling=s, since=0.0, consecutive_successes=5) for s in policy.steps]
    pairs = [(states[i % len(states)], observations[i % len(observations)]) for i in range(64)]

    def run() -> None:
        for i in range(n):
            state, obs = pairs[i & 63]
            decide(policy, state, obs, 6000.0)

    return n / _best(run, rounds)


def bench_compare(rounds: int, size: int = 10_000) -> tuple[float, float]:
    """Seconds per comparison of 2 x ``size`` samples, and per bare sort of the pooled values."""
    rng = np.random.default_rng(0)
    canary = np.round(rng.normal(0.90, 0.02, size), 4)
    baseline = np.round(rng.normal(0.92, 0.02, size), 4)
    spec = ComparePolicy()
    pooled = np.concatenate([canary, baseline])
    repeat = 20

    def ours() -> None:
        for _ in range(repeat):
            compare_samples(spec, canary, baseline)

    def floor() -> None:
        for _ in range(repeat):
            np.sort(pooled)

    a, b = _pair(ours, floor, rounds)
    return a / repeat, b / repeat


def bench_activate(n: int, rounds: int) -> tuple[float, float]:
    tokens = [f"token-{i}" for i in range(1024)]
    should = runtime.should_activate_self
    hash_ = mmh3.hash

    def ours() -> None:
        for i in range(n):
            should(tokens[i & 1023], 0.25)

    def bare() -> None:
        for i in range(n):
            hash_(tokens[i & 1023])

    return _pair(ours, bare, rounds)


def bench_current_sampling(n: int, rounds: int, directory: str) -> tuple[float, float]:
    CanaryStore(directory).apply(0.25, reason="benchmark", actor="bench")
    path = os.path.join(directory, "canary_state.json")
    current = runtime.current_sampling
    current(directory)  # warm the cache
    cache = {path: 0.25}
    stat = os.stat

    def ours() -> None:
        for _ in range(n):
            current(directory)

    def base() -> None:
        for _ in range(n):
            stat(path)
            cache.get(path)

    return _pair(ours, base, rounds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("n", nargs="?", type=int, default=200_000, help="Calls per round")
    parser.add_argument("--repeat", type=int, default=5, help="Rounds (best is kept)")
    args = parser.parse_args()
    runtime.reload()

    rate = bench_decide(args.n, args.repeat)
    print(f"decide(): {rate:,.0f} decisions/s (target >= 100,000/s)")
    compare_policy = dataclasses.replace(DEFAULT_POLICY, compare=ComparePolicy())
    compare_rate = bench_decide(args.n, args.repeat, compare_policy)
    print(f"decide() with a compare: block, precomputed statistics: {compare_rate:,.0f} "
          "decisions/s (target >= 100,000/s)")
    test_s, sort_s = bench_compare(args.repeat)
    print(f"compare_samples, 2 x 10,000 samples (Mann-Whitney U + medians): "
          f"{test_s * 1e3:.2f} ms (target < 5 ms; a bare np.sort of the 20,000: "
          f"{sort_s * 1e3:.2f} ms)")
    ours, bare = bench_activate(args.n, args.repeat)
    activate_ratio = ours / bare
    print(f"should_activate_self: {ours / args.n * 1e9:.0f} ns/call vs bare mmh3.hash "
          f"{bare / args.n * 1e9:.0f} ns/call")
    with tempfile.TemporaryDirectory() as directory:
        ours, base = bench_current_sampling(max(args.n // 4, 1000), args.repeat, directory)
    n = max(args.n // 4, 1000)
    sampling_ratio = ours / base
    print(f"current_sampling (cached): {ours / n * 1e9:.0f} ns/call vs dict+os.stat "
          f"{base / n * 1e9:.0f} ns/call")
    print(f"ratios: decide {rate / 100_000:.2f}x of 100k/s (>= 1 ok); decide+compare "
          f"{compare_rate / 100_000:.2f}x of 100k/s (>= 1 ok); compare test {test_s * 1e3 / 5:.2f}x "
          f"of 5 ms (<= 1 ok); should_activate_self "
          f"{activate_ratio:.2f}x mmh3.hash (<= 3 ok); current_sampling {sampling_ratio:.2f}x "
          f"dict+os.stat (<= 3 ok)")


if __name__ == "__main__":
    main()
