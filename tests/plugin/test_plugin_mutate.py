"""``pytest --self-slo --self-slo-mutate``: one item per rule, score in summary, report, junit.

Acceptance 4: on a copy of this repo's assets the mutation items pass; a test
that no longer pins a threshold makes its rule's item fail with the survivor
message (position, operator, diff, suggested test).
"""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
WEAK = REPO / "tests" / "mutate" / "weak"  # docs/mutation.md's worked example


@pytest.fixture
def weak(pytester: pytest.Pytester) -> pytest.Pytester:
    shutil.copytree(WEAK, pytester.path / "rules")
    pytester.makeini("[pytest]\nselfslo_prometheus = embedded\nselfslo_canary_max_examples = 3\n")
    return pytester


def test_survivors_fail_their_rule_item(weak: pytest.Pytester) -> None:
    result = weak.runpytest("--self-slo", "--self-slo-mutate", "rules/alerts.yml", "-p",
                            "no:cacheprovider", "-v", "--junitxml=junit.xml",
                            "--self-slo-report=report.json")
    result.stdout.fnmatch_lines([
        "rules/alerts.yml::mutants?CoherenceLow? FAILED*",
        "*9 of 13 mutants of CoherenceLow survived the rule tests (mutation score 30.8%):",
        "rules/alerts.yml:5:15: MU01 threshold-step survived in CoherenceLow (MU01#1: < 0.8 -> < 0.801)",
        "  - avg_over_time(self_coherence[5m]) < 0.8",
        "  + avg_over_time(self_coherence[5m]) < 0.801",
        "  suggested test (paste under `tests:` in rules/tests/alerts_test.yml):",
        "  - name: 'CoherenceLow: threshold-step < 0.8 -> < 0.801'",
    ])
    result.stdout.fnmatch_lines(["*= mutation score =*",
                                 "CoherenceLow       4         9        0           0   30.8%",
                                 "mutation score: 30.8% (killed 4, survived 9, *"])
    result.stdout.no_fnmatch_line("*Traceback*")
    report = json.loads((weak.path / "report.json").read_text())
    assert report["mutation"]["score"] == 30.77
    assert report["mutation"]["rules"][0]["counts"]["survived"] == 9
    suite = ET.parse(weak.path / "junit.xml").getroot().find("testsuite")
    assert suite is not None
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props["selfslo_mutation_score"] == "30.8"
    assert props["mutants_killed"] == "4" and props["mutation_score"] == "30.8"


def test_fail_under_decides_instead(weak: pytest.Pytester) -> None:
    ok = weak.runpytest("--self-slo", "--self-slo-mutate", "--self-slo-mutation-fail-under=30",
                        "rules/alerts.yml", "-k", "mutants", "-p", "no:cacheprovider")
    assert ok.ret == pytest.ExitCode.OK, ok.stdout.str()  # the weak rules are not the SLO's:
    # -k leaves out selfslo::drift
    bad = weak.runpytest("--self-slo", "--self-slo-mutate", "--self-slo-mutation-fail-under=50",
                         "rules/alerts.yml", "-k", "mutants", "-p", "no:cacheprovider")
    assert bad.ret == pytest.ExitCode.TESTS_FAILED
    bad.stdout.fnmatch_lines([
        "*mutation score of CoherenceLow is 30.8%, below --self-slo-mutation-fail-under 50%:*",
        "FAIL: mutation score 30.8% is below --self-slo-mutation-fail-under 50%"])


def test_bad_fail_under_is_a_usage_error(weak: pytest.Pytester) -> None:
    result = weak.runpytest("--self-slo", "--self-slo-mutation-fail-under=101")
    result.stderr.fnmatch_lines(["*--self-slo-mutation-fail-under: expected a percentage "
                                 "between 0 and 100, got '101'*"])


def test_mutation_items_run_under_xdist(weak: pytest.Pytester) -> None:
    pytest.importorskip("xdist")
    result = weak.runpytest("--self-slo", "--self-slo-mutate", "rules", "-n", "2", "-k",
                            "mutants or alerts_test", "-p", "no:cacheprovider",
                            "--self-slo-report=report.json")
    result.stdout.fnmatch_lines(["*= mutation score =*", "mutation score: 30.8%*"])
    report = json.loads((weak.path / "report.json").read_text())
    assert report["mutation"]["counts"]["killed"] == 4


@pytest.fixture
def repo_copy(pytester: pytest.Pytester) -> pytest.Pytester:
    shutil.copytree(REPO / "rules", pytester.path / "rules")
    shutil.copytree(REPO / "docs", pytester.path / "docs")
    pytester.makeini("[pytest]\nselfslo_prometheus = embedded\nselfslo_canary_max_examples = 3\n")
    return pytester


def test_repository_rules_pass_mutation_testing(repo_copy: pytest.Pytester) -> None:
    result = repo_copy.runpytest("--self-slo", "--self-slo-mutate", "rules", "-p",
                                 "no:cacheprovider", "-v")
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()[-5000:]
    result.stdout.fnmatch_lines_random([
        "rules/phase_c_rules.yml::mutants?AURIS_SELF_Coherence_Drop? PASSED*",
        "rules/phase_c_rules.yml::mutants?selfslo sli_error bool #3? PASSED*",
        "mutation score: 100.0% (killed *, survived 0, equivalent-suspect 0, marked equivalent 30; "
        "* mutants of 28 rules)",
    ])


def test_a_threshold_no_test_pins_fails_with_the_survivor_message(
        repo_copy: pytest.Pytester) -> None:
    # the stress test's "warm" token (0.32, just above 0.30) is what pins the threshold;
    # move it far away and the 10% nudge (> 0.33) survives
    test_file = repo_copy.path / "rules" / "tests" / "self_slo_test.yml"
    text = test_file.read_text()
    assert text.count("'0.32x10'") == 1 and text.count("token warm is 32%") == 3
    test_file.write_text(text.replace("'0.32x10'", "'0.45x10'")
                         .replace("token warm is 32%", "token warm is 45%"))
    result = repo_copy.runpytest("--self-slo", "--self-slo-mutate", "-p", "no:cacheprovider",
                                 "rules/phase_c_rules.yml::mutants[AURIS_SELF_Stress_High]")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines([
        "*1 of 15 mutants of AURIS_SELF_Stress_High survived the rule tests (mutation score 93.3%):",
        "rules/phase_c_rules.yml:27:11: MU02 threshold-10pct survived in AURIS_SELF_Stress_High "
        "(MU02#1: > 0.3 -> > 0.33)",
        "  - avg_over_time(self_stress[5m]) > 0.3",
        "  + avg_over_time(self_stress[5m]) > 0.33",
        "  no test fails; original and mutant differ at eval_time 5m on *",
        "  suggested test (paste under `tests:` in rules/tests/self_slo_test.yml):",
        "  - name: 'AURIS_SELF_Stress_High: threshold-10pct > 0.3 -> > 0.33'",
        "    interval: 1m",
        "    input_series:",
    ])
