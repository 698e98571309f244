"""Overhead of having pytest-selfslo installed, on a suite that does not use it.

Runs N trivial tests (default 200) in fresh pytest processes, alternating
"plugin loaded" and "plugin disabled" (``-p no:selfslo``) runs, and compares
the smallest CPU time (user + system of the pytest process, from ``wait4``) of
each: on a shared machine CPU time is far less noisy than wall time, and the
minimum is the least disturbed run. Wall times are printed too. The last line
is the ratio ``with / without``; the target is at most 1.05.

    python benchmarks/plugin_overhead.py [N] [--repeat R]
"""

from __future__ import annotations

import argparse
import os
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


def _run(directory: Path, extra: list[str]) -> tuple[float, float]:
    """(cpu seconds, wall seconds) of one pytest run over the suite."""
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *extra,
               str(directory)]
    began = time.perf_counter()
    proc = subprocess.Popen(command, cwd=directory, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - began
    if proc.returncode != 0:
        raise SystemExit(f"benchmark suite failed with exit {proc.returncode}: {' '.join(command)}")
    return usage.ru_utime + usage.ru_stime, wall


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("size", nargs="?", type=int, default=200, help="number of trivial tests")
    parser.add_argument("--repeat", type=int, default=7, help="runs per variant (min is kept)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="selfslo-bench-") as tmp:
        directory = Path(tmp)
        _write_suite(directory, args.size)
        _run(directory, [])  # warm the file system and bytecode caches
        with_plugin: list[tuple[float, float]] = []
        without_plugin: list[tuple[float, float]] = []
        for _ in range(args.repeat):
            without_plugin.append(_run(directory, ["-p", "no:selfslo"]))
            with_plugin.append(_run(directory, []))
    cpu_with, cpu_without = min(c for c, _ in with_plugin), min(c for c, _ in without_plugin)
    wall_with, wall_without = min(w for _, w in with_plugin), min(w for _, w in without_plugin)
    print(f"{args.size} trivial tests, {args.repeat} runs each (minimum of each)")
    print(f"without plugin (-p no:selfslo): cpu {cpu_without:.3f}s  wall {wall_without:.3f}s")
    print(f"with plugin installed:          cpu {cpu_with:.3f}s  wall {wall_with:.3f}s")
    print(f"overhead ratio with/without (cpu): {cpu_with / cpu_without:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
