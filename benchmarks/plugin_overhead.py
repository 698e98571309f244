"""Overhead of having pytest-selfslo installed, on a suite that does not use it.

Runs N trivial tests (default 200) in fresh pytest processes, alternating
"plugin loaded" and "plugin disabled" (``-p no:selfslo``) runs, and compares
the fastest wall time of each (the minimum is the least noisy estimate on a
shared machine). The last line is the ratio ``with / without``; the target is
at most 1.05.

    python benchmarks/plugin_overhead.py [N] [--repeat R]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _write_suite(directory: Path, count: int) -> None:
    per_file = 50
    for start in range(0, count, per_file):
        lines = [f"def test_trivial_{i}():\n    assert {i} == {i}\n"
                 for i in range(start, min(start + per_file, count))]
        (directory / f"test_trivial_{start // per_file}.py").write_text("\n".join(lines))
    (directory / "pytest.ini").write_text("[pytest]\n")


def _run(directory: Path, extra: list[str]) -> float:
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *extra,
               str(directory)]
    began = time.perf_counter()
    proc = subprocess.run(command, cwd=directory, capture_output=True, text=True)
    elapsed = time.perf_counter() - began
    if proc.returncode != 0:
        raise SystemExit(f"benchmark suite failed ({' '.join(command)}):\n{proc.stdout}{proc.stderr}")
    return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("size", nargs="?", type=int, default=200, help="number of trivial tests")
    parser.add_argument("--repeat", type=int, default=7, help="runs per variant (min is kept)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="selfslo-bench-") as tmp:
        directory = Path(tmp)
        _write_suite(directory, args.size)
        _run(directory, [])  # warm the file system and bytecode caches
        with_plugin: list[float] = []
        without_plugin: list[float] = []
        for _ in range(args.repeat):
            without_plugin.append(_run(directory, ["-p", "no:selfslo"]))
            with_plugin.append(_run(directory, []))
    best_with, best_without = min(with_plugin), min(without_plugin)
    print(f"{args.size} trivial tests, {args.repeat} runs each, fastest wall time")
    print(f"without plugin (-p no:selfslo): {best_without:.3f}s")
    print(f"with plugin installed:          {best_with:.3f}s")
    print(f"overhead ratio with/without: {best_with / best_without:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
