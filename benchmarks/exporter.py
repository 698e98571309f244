"""``update_self_metrics`` vs four bare ``Gauge.labels(...).set(...)`` calls.

    python benchmarks/exporter.py [N] [--tokens T]

Both sides do N updates cycling over T tokens on their own registries in the
same run. Ours validates all four values and the token, checks the
``AURIS_METRICS_EXP`` gate (module-level function) and keeps the LRU
cardinality bound. The last line prints ours/bare (lower is better).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Gauge

from pytest_selfslo.metrics import exporter as metrics
from pytest_selfslo.metrics.exporter import SelfMetricsExporter, update_self_metrics


def bench(fn: Callable[[str, float], None], n: int, tokens: list[str]) -> float:
    values = [(i % 97) / 100 for i in range(n)]
    t0 = time.perf_counter()
    for i in range(n):
        fn(tokens[i % len(tokens)], values[i])
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("n", nargs="?", type=int, default=200_000)
    parser.add_argument("--tokens", type=int, default=100)
    args = parser.parse_args(argv)
    tokens = [f"token-{i}" for i in range(args.tokens)]

    registry = CollectorRegistry()
    gauges = [Gauge(f"bare_{s}", s, ["token_id"], registry=registry)
              for s in ("coherence", "continuity", "presence", "stress")]
    c, n_, p, s = gauges

    def bare(tok: str, v: float) -> None:
        c.labels(tok).set(v)
        n_.labels(tok).set(v)
        p.labels(tok).set(v)
        s.labels(tok).set(v)

    exporter = SelfMetricsExporter(enabled=True)
    metrics._default = SelfMetricsExporter(registry=CollectorRegistry(), enabled=True)

    def method(tok: str, v: float) -> None:
        exporter.update(tok, v, v, v, v)

    def module_level(tok: str, v: float) -> None:
        update_self_metrics(tok, v, v, v, v)

    results: dict[str, list[float]] = {"bare": [], "method": [], "module": []}
    for _ in range(3):  # interleaved, best of 3 (shared machine)
        results["bare"].append(bench(bare, args.n, tokens))
        results["method"].append(bench(method, args.n, tokens))
        results["module"].append(bench(module_level, args.n, tokens))
    t = {k: min(v) for k, v in results.items()}
    for name, secs in t.items():
        print(f"{name:>6}: {secs / args.n * 1e6:6.2f} us/update")
    print(f"exporter.update/bare: {t['method'] / t['bare']:.2f}x; "
          f"ratio update_self_metrics/bare: {t['module'] / t['bare']:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
