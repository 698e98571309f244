"""Full scan (``selfslo replay --count 0``) vs a bare orjson loop over the same file.

    python benchmarks/replay_scan.py [SIZE] [--dir DIR] [--repeat R]

Baseline: ``for line in f: orjson.loads(line)`` -- parsing only, nothing kept,
nothing checked. Ours: :func:`pytest_selfslo.slo.replay.replay` with count 0, i.e.
validate every line, count the total, keep the score columns and compute the
averages, percentiles and SLO verdicts, in one pass over the file. Runs are
interleaved and the best of R is kept for each (the machine is shared). The
last line prints ours/baseline (lower is better) in CPU (``time.process_time``)
and wall time.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import orjson
from replay_tail import build_log, parse_size

from pytest_selfslo.slo.replay import replay


def bare_loop(path: Path) -> int:
    count = 0
    with open(path, "rb") as f:
        for line in f:
            orjson.loads(line)
            count += 1
    return count


def best(fn: Callable[[], object], store: dict[str, list[float]], name: str) -> object:
    w0, c0 = time.perf_counter(), time.process_time()
    result = fn()
    store.setdefault(name + "_wall", []).append(time.perf_counter() - w0)
    store.setdefault(name + "_cpu", []).append(time.process_time() - c0)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("size", nargs="?", type=parse_size, default=parse_size("100MB"))
    parser.add_argument("--dir", default=tempfile.gettempdir())
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    path = Path(args.dir) / f"selfslo-scan-{os.getpid()}.jsonl"
    lines = build_log(path, args.size)
    try:
        times: dict[str, list[float]] = {}
        for _ in range(args.repeat):
            counted = best(lambda: bare_loop(path), times, "bare")
            result = best(lambda: replay(path, 0), times, "ours")
        assert counted == lines and result.total == lines == result.report.count  # type: ignore[attr-defined]
        t = {k: min(v) for k, v in times.items()}
        mib = path.stat().st_size / 2**20
        print(f"file: {mib:.0f} MiB, {lines} lines; total counted in the same single pass")
        for name in ("bare", "ours"):
            print(f"{name:>4}: wall {t[name + '_wall']:.3f}s ({mib / t[name + '_wall']:.0f} MiB/s)"
                  f"  cpu {t[name + '_cpu']:.3f}s")
        # CPU first: on a shared machine process time is the steadier of the two
        print(f"ratio ours/bare: cpu {t['ours_cpu'] / t['bare_cpu']:.2f}x, "
              f"wall {t['ours_wall'] / t['bare_wall']:.2f}x (target <= 2x)", file=sys.stdout)
    finally:
        os.unlink(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
