"""Tail read vs a naive full read of the same heartbeat log.

    python benchmarks/replay_tail.py [SIZE] [--last N] [--dir DIR] [--keep]

SIZE like ``1GB``, ``200MB`` or a byte count (default 200MB). The log is
generated under DIR (default: the system temp dir) unless a file of that size
from an earlier ``--keep`` run is there. Baseline: what replay tools usually
do, ``f.readlines()`` then parse the last N lines. Ours:
``read_heartbeats(path, last=N)``, which seeks backwards. Both must return the
same records. The last line prints the speed-up and our absolute time.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

import orjson

from pytest_selfslo.heartbeat import Heartbeat, generate_heartbeats, read_heartbeats

_UNITS = {"": 1, "B": 1, "K": 1 << 10, "KB": 1 << 10, "M": 1 << 20, "MB": 1 << 20,
          "G": 1 << 30, "GB": 1 << 30}


def parse_size(text: str) -> int:
    """``1GB`` -> 1073741824 (binary units)."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([KMG]?B?)", text.strip().upper())
    if match is None:
        raise argparse.ArgumentTypeError(f"expected a size like 1GB, 200MB or 5000000, got {text!r}")
    return int(float(match.group(1)) * _UNITS[match.group(2)])


def build_log(path: Path, size: int, scenario: str = "steady") -> int:
    """Write a log of at least ``size`` bytes, fast: a 10k-record block re-stamped in time."""
    base = [hb.to_dict() for hb in generate_heartbeats(scenario, 10_000, tokens=("a", "b"))]
    span = base[-1]["ts"] - base[0]["ts"] + 10.0
    written = lines = 0
    shift = 0.0
    with open(path, "wb") as f:
        while written < size:
            block = b"".join(orjson.dumps({**d, "ts": d["ts"] + shift}) + b"\n" for d in base)
            f.write(block)
            written += len(block)
            lines += len(base)
            shift += span
    return lines


def naive_last(path: Path, n: int) -> list[Heartbeat]:
    """The baseline: read every line, keep the last n valid ones."""
    with open(path, "rb") as f:
        all_lines = f.readlines()
    out: list[Heartbeat] = []
    for raw in reversed(all_lines):
        if len(out) == n:
            break
        try:
            out.append(Heartbeat.from_dict(orjson.loads(raw)))
        except (orjson.JSONDecodeError, ValueError):
            continue
    out.reverse()
    return out


def timed(fn, repeat: int) -> tuple[float, object]:  # type: ignore[no-untyped-def]
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("size", nargs="?", type=parse_size, default=parse_size("200MB"))
    parser.add_argument("--last", type=int, default=50)
    parser.add_argument("--dir", default=tempfile.gettempdir())
    parser.add_argument("--keep", action="store_true", help="Keep the generated log for reuse")
    args = parser.parse_args(argv)
    path = Path(args.dir) / f"selfslo-bench-{args.size}.jsonl"
    if not (path.exists() and path.stat().st_size >= args.size):
        t0 = time.perf_counter()
        lines = build_log(path, args.size)
        print(f"generated {path} ({path.stat().st_size / 2**20:.0f} MiB, {lines} lines) "
              f"in {time.perf_counter() - t0:.1f}s", file=sys.stderr)
    try:
        size_mib = path.stat().st_size / 2**20
        t_naive, naive = timed(lambda: naive_last(path, args.last), 1 if size_mib > 300 else 3)
        t_tail, tail = timed(lambda: read_heartbeats(path, last=args.last), 20)
        assert list(tail) == naive, "tail read and naive read disagree"  # type: ignore[call-overload]
        print(f"file: {size_mib:.0f} MiB, last={args.last}")
        print(f"naive full read (readlines + parse): {t_naive * 1000:10.1f} ms")
        print(f"read_heartbeats(last={args.last}):         {t_tail * 1000:10.3f} ms (median of 20)")
        print(f"ratio naive/tail: {t_naive / t_tail:.0f}x, tail read {t_tail * 1000:.2f} ms")
    finally:
        if not args.keep:
            os.unlink(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
