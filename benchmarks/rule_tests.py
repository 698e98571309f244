"""Rule unit tests: our in-process runner vs ``promtool test rules``, timed in the same run.

Part 1 runs every promtool unit-test file of ../shared/conformance/promtool and
rules/tests/ with both. Part 2 generates SERIES series x HOURS hours at 1m with
13 alert rules over 5m windows (evaluated every minute) and times both on it.
The last line is the scale ratio ours/promtool (< 1.0: we are faster).

    python benchmarks/rule_tests.py [SERIES] [HOURS]      # default 1000 24
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402

from pytest_selfslo._core.durations import parse_duration  # noqa: E402
from pytest_selfslo.prometheus.client import binary_semantics  # noqa: E402
from pytest_selfslo.ruletest.runner import (  # noqa: E402
    load_test_file,
    observe_group,
    run_rule_tests,
)

METRICS = ("self_coherence", "self_continuity", "self_presence", "self_stress")
RULES = [
    ("CoherenceLow", "avg_over_time(self_coherence[5m]) < 0.80"),
    ("ContinuityLow", "avg_over_time(self_continuity[5m]) < 0.90"),
    ("StressHigh", "avg_over_time(self_stress[5m]) > 0.30"),
    ("PresenceLow", "avg_over_time(self_presence[5m]) < 0.5"),
    ("CoherenceMin", "min_over_time(self_coherence[5m]) < 0.5"),
    ("StressMax", "max_over_time(self_stress[5m]) > 0.9"),
    ("CoherenceDrop", "delta(self_coherence[5m]) < -0.3"),
    ("StressRise", "deriv(self_stress[5m]) > 0.001"),
    ("PresenceFlap", "changes(self_presence[5m]) > 3"),
    ("ContinuityQ", "quantile_over_time(0.1, self_continuity[5m]) < 0.7"),
    ("CoherenceStd", "stddev_over_time(self_coherence[5m]) > 0.2"),
    ("StressCount", "count_over_time(self_stress[5m]) < 5"),
    ("AllLow", "avg by (token_id) (avg_over_time(self_coherence[5m])) < 0.6"),
]


def _values(i: int, minutes: int) -> str:
    """Compact series notation: a healthy plateau, a dip and a recovery, varying by series."""
    dip_at = (i * 37) % max(minutes - 60, 1)
    dip_len = 10 + i % 20
    base = 0.5 + (i % 5) / 10
    rest = minutes - dip_at - dip_len
    parts = [f"{base}+0x{dip_at}", f"{base - 0.4:.2f}+0.01x{dip_len - 1}"]
    if rest > 0:
        parts.append(f"{base}x{rest - 1}")
    return " ".join(parts)


def _write_scale(folder: Path, series: int, hours: int) -> Path:
    minutes = hours * 60
    rules = ["groups:", "  - name: scale", "    rules:"]
    for name, expr in RULES:
        rules += [f"      - alert: {name}", f"        expr: {expr}", "        for: 5m",
                  "        labels: {severity: warning}",
                  "        annotations: {summary: '{{ $labels.token_id }} at {{ $value }}'}"]
    (folder / "scale_rules.yml").write_text("\n".join(rules) + "\n")
    lines = ["rule_files: [scale_rules.yml]", "evaluation_interval: 1m", "tests:",
             "  - interval: 1m", "    input_series:"]
    for i in range(series):
        metric = METRICS[i % len(METRICS)]
        lines += [f"      - series: '{metric}{{token_id=\"t{i // len(METRICS)}\"}}'",
                  f"        values: '{_values(i, minutes)}'"]
    lines += ["    alert_rule_test:"]
    for name, _ in RULES:
        for at in (hours * 30, hours * 60 - 1):
            lines += [f"      - eval_time: {at}m", f"        alertname: {name}"]
    path = folder / "scale_test.yml"
    path.write_text("\n".join(lines) + "\n")
    return path


def _expect_our_results(path: Path, semantics: str) -> int:
    """Rewrite the test with *our* firing alerts as expectations; returns how many.

    promtool passing the rewritten file then means it computed exactly the same
    alerts, labels and annotations at scale.
    """
    test_file = load_test_file(path)
    group = test_file.groups[0]
    obs = observe_group(test_file, group, semantics=semantics)
    doc = yaml.safe_load(path.read_text())
    total = 0
    for case in doc["tests"][0]["alert_rule_test"]:
        ms = parse_duration(case["eval_time"])
        alerts = obs.alerts.get((case["alertname"], ms), [])
        case["exp_alerts"] = [{"exp_labels": {k: v for k, v in labels.items() if k != "alertname"},
                               "exp_annotations": notes} for labels, notes in alerts]
        total += len(alerts)
    path.write_text(json.dumps(doc))
    return total


def _semantics() -> str:
    """The semantics of the promtool on PATH: its ``major.minor`` (the numerics depend on it)."""
    return binary_semantics("promtool")


def _time_promtool(path: Path) -> tuple[float, int]:
    start = time.perf_counter()
    proc = subprocess.run(["promtool", "test", "rules", path.name], cwd=path.parent,
                          capture_output=True, check=False)
    return time.perf_counter() - start, proc.returncode


def _time_ours(path: Path, semantics: str) -> tuple[float, int]:
    start = time.perf_counter()
    report = run_rule_tests([str(path)], semantics=semantics)
    return time.perf_counter() - start, report.exit_code


def main() -> None:
    series = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    hours = int(sys.argv[2]) if len(sys.argv) > 2 else 24
    if shutil.which("promtool") is None:
        print("promtool not on PATH: nothing to compare against")
        print("ratio: n/a")
        return
    semantics = _semantics()
    files = sorted((ROOT.parent / "shared" / "conformance" / "promtool").glob("*.yml"))
    files += sorted((ROOT / "rules" / "tests").glob("*.yml"))
    files = [f for f in files if "tests:" in f.read_text()]
    ours_total = theirs_total = 0.0
    for path in files:
        theirs, rc_t = _time_promtool(path)
        ours, rc_o = _time_ours(path, semantics)
        ours_total += ours
        theirs_total += theirs
        print(f"{path.name:32s} promtool {theirs * 1000:8.1f} ms (exit {rc_t})  "
              f"ours {ours * 1000:8.1f} ms (exit {rc_o})")
    print(f"small files: {len(files)} files, promtool {theirs_total:.2f} s, ours {ours_total:.2f} s, "
          f"ratio {ours_total / theirs_total:.3f}")
    with tempfile.TemporaryDirectory() as tmp:
        path = _write_scale(Path(tmp), series, hours)
        expected = _expect_our_results(path, semantics)
        theirs, rc_t = _time_promtool(path)
        ours, rc_o = _time_ours(path, semantics)
    print(f"scale: {series} series x {hours} h at 1m, {len(RULES)} alert rules: "
          f"promtool {theirs:.2f} s (exit {rc_t}), ours {ours:.2f} s (exit {rc_o}); "
          f"{expected} expected alerts from our engine, promtool "
          f"{'agrees' if rc_t == 0 else 'DISAGREES'}")
    print(f"ratio (ours/promtool, scale): {ours / theirs:.3f}")


if __name__ == "__main__":
    main()
