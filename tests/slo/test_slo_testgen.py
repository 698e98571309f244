"""Generated burn-rate tests pass under our engine and real promtool (skipped when absent)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from promtool_runs import Promtool, params, promtool_file, run

from pytest_selfslo._core.durations import parse_duration
from pytest_selfslo.cli import main
from pytest_selfslo.promql.series import parse_series_values
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


#: two Pyrra objectives in one file, on different metrics; both absent alerts are named
#: SLOMetricAbsent, so each absent group must feed the other's traffic (or expect it)
PYRRA_TWO = Path(__file__).parent / "data" / "pyrra_http_slos.yml"


def _absent_only(out: Path) -> Path:
    doc = yaml.safe_load(out.read_text())
    doc["tests"] = [g for g in doc["tests"] if ": absent alert: " in g["name"]]
    short = out.with_name("absent_test.yml")
    short.write_text(yaml.safe_dump(doc, sort_keys=False))
    return short


def test_absent_groups_of_a_several_slo_file_expect_only_what_they_remove(tmp_path: Path) -> None:
    """Found running benchmarks/slo_rule_tests.py: an absent group of one objective left
    the other objective's metrics out, so its absent alert fired too and the generated
    tests failed under our engine and promtool alike."""
    out = _write(tmp_path, PYRRA_TWO)
    groups = yaml.safe_load(_absent_only(out).read_text())["tests"]
    assert len(groups) >= 4
    for group in groups:
        fed = {s["series"].partition("{")[0] for s in group["input_series"]}
        firing = [a for c in group["alert_rule_test"] for a in c["exp_alerts"]]
        # every objective's metrics but the removed ones are fed
        assert {"http_requests_total", "http_request_duration_seconds_bucket",
                "http_request_duration_seconds_count"} - fed == (
            set(group["name"].partition("no samples of ")[2].split(", ")) - {""})
        assert ("no absent alert" in group["name"]) == (firing == [])
    report = run_rule_tests([str(out)])
    assert report.passed, report.format_text()


@pytest.mark.parametrize("promtool", params())
def test_absent_groups_of_a_several_slo_file_pass_under_promtool(tmp_path: Path,
                                                                 promtool: Promtool) -> None:
    out = _absent_only(_write(tmp_path, PYRRA_TWO))
    output = run(promtool, [out.name], out.parent)
    assert "SUCCESS" in output and "FAILED" not in output, output[:4000]


PYRRA = Path(__file__).parent / "data" / "pyrra_api_latency.yml"


def _window_ratios(group: dict[str, Any], window_ms: int, ends: list[int]) -> list[list[float]]:
    """Error ratio over ``window_ms`` at each evaluation step in ``ends``, per range semantics
    (Prometheus 2's closed range, 3's left-open one), from the group's counters."""
    step = parse_duration(group["interval"])
    first, second = ([v for v in parse_series_values(s["values"]) if v is not None]
                     for s in group["input_series"])
    if group["input_series"][0]["series"].split("{")[0].endswith("_count"):
        total, errors = first, [t - g for t, g in zip(first, second, strict=True)]  # _count, good bucket
    else:
        errors, total = first, [e + g for e, g in zip(first, second, strict=True)]
    k = window_ms // step
    return [[(errors[s] - errors[s - k + drop]) / (total[s] - total[s - k + drop]) for s in ends]
            for drop in (0, 1)]


def test_one_sided_groups_hold_both_windows_over_the_alerts_for() -> None:
    """A mutant threshold just past the near window's value only fires (and fails the test)
    when the condition held over the alert's ``for``: both windows keep the checked values,
    bit for bit, at every evaluation of the ``for`` before the checked one."""
    doc = yaml.safe_load(generate_tests(import_spec(PYRRA), "../slo.yml"))
    held = [g for g in doc["tests"] if "window just below the boundary" in g["name"]]
    assert len(held) == 16  # both sides of the 8 pairs, each an alert with its own for
    for g in held:
        match = re.search(r" (\w+)/(\w+) ×.*the (long|short) window .* for (\w+): ", g["name"])
        assert match, g["name"]
        long_ms, short_ms, for_ms = (parse_duration(match[i]) for i in (1, 2, 4))
        step = parse_duration(g["interval"])
        last = parse_duration(g["alert_rule_test"][0]["eval_time"]) // step
        ends = list(range(last - for_ms // step, last + 1, 300_000 // step))
        long_r, short_r = (_window_ratios(g, w, ends) for w in (long_ms, short_ms))
        for values in [*long_r, *short_r]:
            assert len(set(values)) == 1, (g["name"], values)
        near, far = (long_r, short_r) if match[3] == "long" else (short_r, long_r)
        assert near[0][0] < far[0][0], g["name"]
