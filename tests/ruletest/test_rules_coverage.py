"""Rule coverage: statuses, merging, percentage and table; the project's own rules."""

from __future__ import annotations

from pathlib import Path

from pytest_selfslo.rulefmt.rulefile import check_rule_file
from pytest_selfslo.ruletest.coverage import RuleCoverage, RuleKey
from pytest_selfslo.ruletest.runner import run_rule_tests

ROOT = Path(__file__).resolve().parents[2]
DOWN = RuleKey("r.yml", "g", "Down", "alert")
QUIET = RuleKey("r.yml", "g", "Quiet", "alert")
REC = RuleKey("r.yml", "g", "job:up:sum", "record")


def test_statuses_never_go_down_and_merge_takes_the_best() -> None:
    a = RuleCoverage.of([DOWN, QUIET, REC])
    a.mark(DOWN, "firing")
    a.mark(DOWN, "silent")
    a.mark(QUIET, "silent")
    b = RuleCoverage.of([DOWN, REC])
    b.mark(REC, "tested")
    merged = a.merge(b)
    assert merged.status == {DOWN: "firing", QUIET: "silent", REC: "tested"}
    assert a.status[REC] == "untested"  # merge returns a new object
    assert merged.percentage == 200 / 3
    assert merged.untested() == []
    assert a.untested() == [REC]
    table = merged.format_table().splitlines()
    assert table[0].split() == ["FILE", "GROUP", "KIND", "RULE", "STATUS"]
    assert table[-1] == "rule coverage: 66.7% of 3 rules"
    assert RuleCoverage().percentage == 100.0


def test_project_rules_are_valid_and_their_tests_pass() -> None:
    rules = sorted((ROOT / "rules").glob("*.yml"))
    tests = sorted((ROOT / "rules" / "tests").glob("*.yml"))
    if not rules or not tests:
        return
    for path in rules:
        assert check_rule_file(path) == [], path
    report = run_rule_tests([str(p) for p in tests])
    assert report.passed, report.format_text()
    assert report.coverage.status, "the project's rule tests should load rules"
