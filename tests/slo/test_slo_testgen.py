"""Generated burn-rate tests pass under our engine and real promtool (skipped when absent)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from promtool_runs import Promtool, params, promtool_file, run

from pytest_selfslo.cli import main
from pytest_selfslo.ruletest.runner import run_rule_tests
from pytest_selfslo.slo.burnrate import generate_rules
from pytest_selfslo.slo.importers import import_spec, import_text
from pytest_selfslo.slo.testgen import generate_tests

SLOTH = Path(__file__).parent / "data" / "sloth_getting_started.yml"
GUARDED = """\
version: selfslo/v1
service: api
slos:
  - name: latency
    objective: 99
    window: 28d
    min_events: 5000
    sli:
      latency:
        metric: http_request_duration_seconds
        selector: job="api"
        threshold: 0.3
"""


def _write(tmp_path: Path, spec_path: Path) -> Path:
    (tmp_path / "tests").mkdir()
    assert main(["slo", "generate", str(spec_path), "-o", str(tmp_path / "slo.yml")]) == 0
    out = tmp_path / "tests" / "slo_test.yml"
    assert main(["slo", "tests", str(spec_path), "-o", str(out)]) == 0
    return out


def test_generated_tests_cover_every_pair_both_sides() -> None:
    doc = yaml.safe_load(generate_tests(import_spec(SLOTH), "../slo.yml"))
    names = [g["name"] for g in doc["tests"]]
    # 8 boundary, 8 one-sided, 4 stopped-burn, the period's ratio, 7 window shapes
    assert len(names) == 28
    # the sloth dialect records Sloth's period ratio, not our budget-remaining series
    assert sum("the period's error ratio covers 30d" in n for n in names) == 1
    assert sum("budget exhaustion" in n for n in names) == 0
    for pair in ("page 1h/5m", "page 6h/30m", "ticket 1d/2h", "ticket 3d/6h"):
        assert sum(pair in n and "just above" in n for n in names) == 1
        assert sum(pair in n and "just below" in n for n in names) == 3  # 2 one-sided
        assert sum(pair in n and "burn that stopped" in n for n in names) == 1
    assert sum("error ratio over" in n for n in names) == 7  # one per window
    above = [g for g in doc["tests"] if "just above the boundary" in g["name"]]
    below = [g for g in doc["tests"] if "just below the boundary" in g["name"]]
    assert all(g["alert_rule_test"][0]["exp_alerts"] for g in above)
    # just below the 1h/5m page boundary nothing pages
    page_below = next(g for g in below if "page 1h/5m" in g["name"])
    severities = [a["exp_labels"]["sloth_severity"] for a in page_below["alert_rule_test"][0]["exp_alerts"]]
    assert "page" not in severities


def test_generated_tests_pass_under_our_engine(tmp_path: Path) -> None:
    out = _write(tmp_path, SLOTH)
    report = run_rule_tests([str(out)])
    assert report.passed, report.format_text()


def test_generated_tests_fail_against_wrong_thresholds(tmp_path: Path) -> None:
    out = _write(tmp_path, SLOTH)
    rules = tmp_path / "slo.yml"
    threshold = repr(14.4 * 0.0009999999999999432)  # Sloth's dialect: its float budget
    assert f"> {threshold})" in rules.read_text()
    rules.write_text(rules.read_text().replace(f"> {threshold})", "> 0.014)"))
    report = run_rule_tests([str(out)])
    assert not report.passed
    assert "page 1h/5m ×14.4 just below" in report.format_text()


def test_guard_and_latency_sli_under_our_engine(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yml"
    spec.write_text(GUARDED)
    out = _write(tmp_path, spec)
    doc = yaml.safe_load(out.read_text())
    assert any("low-traffic guard" in g["name"] for g in doc["tests"])
    report = run_rule_tests([str(out)])
    assert report.passed, report.format_text()
    # without the guard in the rules, the guard group fails
    rules = tmp_path / "slo.yml"
    unguarded = generate_rules(import_text(GUARDED.replace("    min_events: 5000\n", ""), "x"))
    rules.write_text(unguarded)
    assert not run_rule_tests([str(out)]).passed


@pytest.mark.parametrize("promtool", params())
def test_generated_tests_pass_under_real_promtool(tmp_path: Path, promtool: Promtool) -> None:
    out = _write(tmp_path, SLOTH)
    name, left_out = promtool_file(promtool, out)  # long groups: newest promtool only
    output = run(promtool, [name], out.parent)
    assert "SUCCESS" in output and "FAILED" not in output, (
        f"{output}\n({left_out} long group(s) left to the newest promtool)")
