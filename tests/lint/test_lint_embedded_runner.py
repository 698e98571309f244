"""The project's rule tests pass on the embedded engine too, with 100% rule coverage."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pytest_selfslo.ruletest.runner import run_rule_tests

ROOT = Path(__file__).resolve().parents[2]
TESTS = sorted(str(p) for p in (ROOT / "rules" / "tests").glob("*.yml"))


@pytest.mark.parametrize("semantics", ["2", "3"])
def test_rule_tests_pass_with_full_coverage(semantics: str) -> None:
    report = run_rule_tests(TESTS, semantics=semantics)
    assert report.passed, report.format_text()
    assert report.coverage.percentage == 100.0
    statuses = report.coverage.status
    assert len(statuses) == 18  # 13 alerts + 5 recording-rule names
    assert all(s == "firing" for k, s in statuses.items() if k.kind == "alert")


def test_mutated_threshold_fails_embedded_rule_tests(tmp_path: Path) -> None:
    copy = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", copy)
    path = copy / "phase_c_rules.yml"
    path.write_text(path.read_text().replace("avg_over_time(self_coherence[5m]) < 0.80",
                                             "avg_over_time(self_coherence[5m]) < 0.85"))
    report = run_rule_tests([str(copy / "tests" / "self_slo_test.yml")])
    assert not report.passed
    assert 'token_id="edge"' in report.format_text()  # 0.80 now counts as a violation
