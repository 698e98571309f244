"""Benchmark: ``selfslo lint`` vs ``promtool check rules`` on the same generated file.

    python benchmarks/lint.py [N_RULES=1000] [REPEAT=3]

Writes N distinct alerting rules over the SELF metrics (50 per group) to a
temporary file, then measures, in the same run (best of REPEAT each), both
wall time and CPU time (user + system; CPU is what to compare on a loaded
machine, where wall time mostly measures the wait for a core):

* ``promtool check rules FILE`` (subprocess, the baseline; its CPU time is the
  child's rusage, all Go threads included);
* ``lint_paths([FILE])`` cold: every run in a fresh Python process, so no
  in-process memo (template parses, Markdown anchors) survives from an earlier
  run. Imports and first-use initialisation are done before the clock starts
  by linting a small, different file, since the pytest plugin pays them once
  per session, not per file;
* ``lint_paths([FILE], cache_dir=...)`` warm: unchanged file, cached findings;
* online (when the ``prometheus`` binary is installed): ``lint_online`` of the
  same file against a local Prometheus that scrapes a target exposing the
  SELF gauges every second, without and with a query budget (``--max-series``,
  which adds each rule's ``stats=all`` query and a ``count()`` probe per
  selector). Wall time, the requests the client needed and sent, and the API
  requests the server counted (``prometheus_http_requests_total``): each
  distinct request must be sent exactly once.

The last line is the ratio promtool time / our time (CPU and wall).
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pytest_selfslo.lint.runner import lint_paths

METRICS = ("self_coherence", "self_continuity", "self_stress", "self_presence")
_CHILD = "--cold-child"
_WARMUP = """groups:
  - name: warmup
    rules:
      - alert: WarmupStress
        expr: max by (token_id) (max_over_time(self_stress[10m])) > 0.5
        for: 10m
        labels: {severity: critical}
        annotations:
          summary: "stress {{ $value | humanizePercentage }} on {{ $labels.token_id }}"
          runbook_url: https://runbooks.example/warmup
      - record: warmup:self_presence:avg
        expr: avg(self_presence)
"""


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


def _cpu_self() -> float:
    return time.process_time()


def _cpu_children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def best(fn: Callable[[], object], repeat: int, cpu: Callable[[], float]) -> tuple[float, float]:
    """(best wall, best CPU) seconds of ``repeat`` calls of ``fn``."""
    walls, cpus = [], []
    for _ in range(repeat):
        c0, w0 = cpu(), time.perf_counter()
        fn()
        walls.append(time.perf_counter() - w0)
        cpus.append(cpu() - c0)
    return min(walls), min(cpus)


def cold_child(path: str) -> int:
    """One cold lint of ``path`` in this fresh process; prints {"wall", "cpu", "findings"}."""
    with tempfile.TemporaryDirectory() as tmp:
        warm = Path(tmp) / "warmup.yml"
        warm.write_text(_WARMUP)
        if lint_paths([warm]):
            raise SystemExit("the warm-up file is not clean")
    c0, w0 = _cpu_self(), time.perf_counter()
    findings = lint_paths([path])
    wall, cpu = time.perf_counter() - w0, _cpu_self() - c0
    print(json.dumps({"wall": wall, "cpu": cpu, "findings": [f.format() for f in findings]}))
    return 0


def cold_runs(path: Path, repeat: int) -> tuple[float, float]:
    """(best wall, best CPU) of ``repeat`` cold lints, each in a fresh interpreter."""
    walls, cpus = [], []
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [
        str(Path(__file__).resolve().parents[1]), os.environ.get("PYTHONPATH")])))
    for _ in range(repeat):
        proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), _CHILD, str(path)], capture_output=True,
                              text=True, check=False, env=env)
        if proc.returncode != 0:
            raise SystemExit(f"cold lint run failed:\n{proc.stdout}{proc.stderr}")
        result = json.loads(proc.stdout.strip().splitlines()[-1])
        if result["findings"]:
            raise SystemExit(f"generated file is not clean: {result['findings'][0]}")
        walls.append(result["wall"])
        cpus.append(result["cpu"])
    return min(walls), min(cpus)


def online(path: Path) -> list[str]:
    """Online lint of ``path`` against a local server; lines to print (empty: no binary)."""
    if shutil.which("prometheus") is None:
        return ["online: no prometheus binary on PATH, not measured"]
    from collections import Counter

    from prometheus_client import CollectorRegistry, Gauge, start_http_server

    from pytest_selfslo.lint.online import OnlineSettings, lint_online
    from pytest_selfslo.prometheus.managed import LocalPrometheus

    registry = CollectorRegistry()
    for metric in METRICS:
        gauge = Gauge(metric, "SELF score", ["token_id"], registry=registry)
        for token in ("a", "b", "c"):
            gauge.labels(token_id=token).set(0.5)
    http, _thread = start_http_server(0, addr="127.0.0.1", registry=registry)
    lines = []
    try:
        with LocalPrometheus.start() as server:
            server.set_scrape_targets([f"127.0.0.1:{http.server_port}"], interval="1s")
            server.wait_until(lambda: server.query(METRICS[0]), timeout=60, what="a scrape")
            for label, settings in (("no budget", OnlineSettings(server.url)),
                                    ("--max-series 100", OnlineSettings(server.url,
                                                                        max_series=100))):
                before = _counted(server)
                c0, w0 = time.process_time(), time.perf_counter()
                result = lint_online([path], settings)
                wall, cpu = time.perf_counter() - w0, time.process_time() - c0
                answered = _counted(server) - before
                codes = Counter(f.code for f in result.findings)
                stats = result.stats
                lines.append(
                    f"online lint ({label}): wall {wall:.2f} s, cpu {cpu:.2f} s; requests: "
                    f"{stats.distinct} distinct, {stats.sent} sent (the server counted "
                    f"{answered}), {stats.cached} lookups answered from the run's cache; findings "
                    f"{dict(sorted(codes.items()))}; skipped {result.skip_lines() or 'none'}")
                if stats.sent != stats.distinct or answered != stats.sent:
                    raise SystemExit(f"a request was sent twice: {lines[-1]}")
    finally:
        http.shutdown()
        http.server_close()
    return lines


def _counted(server: Any) -> int:
    """API requests the server has answered (``prometheus_http_requests_total`` on its /metrics)."""
    import httpx

    text = httpx.get(f"{server.url}/metrics", timeout=10).text
    total = 0.0
    for line in text.splitlines():
        if line.startswith("prometheus_http_requests_total{") and 'handler="/api/v1/' in line:
            total += float(line.rsplit(" ", 1)[1])
    return int(total)


def main(argv: list[str]) -> int:
    if len(argv) > 2 and argv[1] == _CHILD:
        return cold_child(argv[2])
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

        base_wall, base_cpu = best(run_promtool, repeat, _cpu_children)
        cold_wall, cold_cpu = cold_runs(path, repeat)
        lint_paths([path], cache_dir=cache)
        warm_wall, warm_cpu = best(lambda: lint_paths([path], cache_dir=cache), repeat, _cpu_self)
        online_lines = online(path)
    print(f"rules: {n} (best of {repeat}; load average {os.getloadavg()[0]:.1f})")
    print(f"promtool check rules: cpu {base_cpu * 1000:.1f} ms, wall {base_wall * 1000:.1f} ms")
    print(f"selfslo lint (cold, fresh process): cpu {cold_cpu * 1000:.1f} ms, "
          f"wall {cold_wall * 1000:.1f} ms")
    print(f"selfslo lint (cached): cpu {warm_cpu * 1000:.2f} ms, wall {warm_wall * 1000:.2f} ms")
    for line in online_lines:
        print(line)
    print(f"ratio promtool/selfslo: cold cpu {base_cpu / cold_cpu:.2f}x, "
          f"cold wall {base_wall / cold_wall:.2f}x, cached cpu {base_cpu / max(warm_cpu, 1e-6):.0f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
