"""Benchmark: ``selfslo lint`` vs ``promtool check rules`` on the same generated file.

    python benchmarks/lint.py [N_RULES=1000] [REPEAT=3]

Writes N distinct alerting rules over the SELF metrics (50 per group) to a
temporary file, then times, in the same run (best of REPEAT each):

* ``promtool check rules FILE`` (subprocess, the baseline);
* ``lint_paths([FILE])`` in-process, cold (what the pytest plugin calls);
* ``lint_paths([FILE], cache_dir=...)`` warm (unchanged file, cached findings).

The last line is the ratio promtool time / our time for both.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from pytest_selfslo.rules.lint import lint_paths

METRICS = ("self_coherence", "self_continuity", "self_stress", "self_presence")


def rule_file(n: int) -> str:
    """N distinct, clean alerting rules (each with for, severity, summary, runbook)."""
    lines = ["groups:"]
    for i in range(n):
        if i % 50 == 0:
            lines += [f"  - name: group-{i // 50}", "    rules:"]
        metric = METRICS[i % 4]
        op, target = ("<", f"0.{10 + i % 80:02d}") if metric != "self_stress" else (">", "0.30")
        lines += [
            f"      - alert: Alert_{i}",
            f'        expr: avg by (token_id) (avg_over_time({metric}{{job="j{i}"}}'
            f"[{5 + i % 10}m])) {op} {target}",
            "        for: 5m",
            "        labels: {severity: warning}",
            "        annotations:",
            '          summary: "token {{ $labels.token_id }} is {{ $value | humanize }}"',
            f"          runbook_url: https://runbooks.example/self#{i}",
        ]
    return "\n".join(lines) + "\n"


def best(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main(argv: list[str]) -> int:
    n = int(argv[1]) if len(argv) > 1 else 1000
    repeat = int(argv[2]) if len(argv) > 2 else 3
    promtool = shutil.which("promtool")
    if promtool is None:
        print("promtool not found on PATH: no baseline to compare with")
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "rules.yml"
        path.write_text(rule_file(n))
        cache = Path(tmp) / "cache"

        def run_promtool() -> None:
            proc = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True,
                                  text=True, check=False)
            if proc.returncode != 0:
                raise SystemExit(f"promtool rejected the generated file:\n{proc.stdout}")

        findings = lint_paths([path])
        if findings:
            raise SystemExit(f"generated file is not clean: {findings[0].format()}")
        base = best(run_promtool, repeat)
        cold = best(lambda: lint_paths([path]), repeat)
        lint_paths([path], cache_dir=cache)
        warm = best(lambda: lint_paths([path], cache_dir=cache), repeat)
    print(f"rules: {n}")
    print(f"promtool check rules: {base * 1000:.1f} ms")
    print(f"selfslo lint (cold, in-process): {cold * 1000:.1f} ms")
    print(f"selfslo lint (cached, in-process): {warm * 1000:.1f} ms")
    print(f"ratio promtool/selfslo: cold {base / cold:.2f}x, cached {base / warm:.1f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
