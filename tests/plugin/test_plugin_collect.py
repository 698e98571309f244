"""``pytest --self-slo`` end to end on copies of this repo's rules (pytester)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

# Compiled extensions (promql-parser) cannot be imported twice in one process; in-process
# pytester runs drop modules they imported, so import the engine before any of them.

REPO = Path(__file__).resolve().parents[2]

TEST_FILE = """\
rule_files:
  - ../phase_c_rules.yml
evaluation_interval: 1m
tests:
  - name: coherence drop fires
    interval: 1m
    input_series:
      - series: 'self_coherence{token_id="low"}'
        values: '0.7x20'
    alert_rule_test:
      - eval_time: 4m
        alertname: AURIS_SELF_Coherence_Drop
        exp_alerts: []
      - eval_time: 10m
        alertname: AURIS_SELF_Coherence_Drop
        exp_alerts:
          - exp_labels: {severity: warning, token_id: low}
            exp_annotations:
              summary: SELF coherence below its SLO for token low
              description: The 5m average of self_coherence for token low is 70%; the Phase C SLO is self_coherence >= 0.80.
              runbook_url: docs/PHASE_B_TO_C_RUNBOOK.md#self-slo-violations
  - interval: 1m
    input_series:
      - series: 'self_stress{token_id="calm"}'
        values: '0.1x20'
    alert_rule_test:
      - eval_time: 10m
        alertname: AURIS_SELF_Stress_High
        exp_alerts: []
"""


#: embedded engine only; few hypothesis examples for the default canary policy's 8 items
INI = "[pytest]\nselfslo_prometheus = embedded\nselfslo_canary_max_examples = 3\n"
#: items every run adds for the built-in canary policy (valid + 7 properties)
CANARY = 8


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    """A copy of the repo's rule file and runbook, one small rule test file, embedded mode."""
    (pytester.path / "rules" / "tests").mkdir(parents=True)
    shutil.copy(REPO / "rules" / "phase_c_rules.yml", pytester.path / "rules")
    shutil.copytree(REPO / "docs", pytester.path / "docs")
    (pytester.path / "rules" / "tests" / "coherence_test.yml").write_text(TEST_FILE)
    pytester.makeini(INI)
    return pytester


def _break_threshold(project: pytest.Pytester) -> None:
    rules = project.path / "rules" / "phase_c_rules.yml"
    text = rules.read_text()
    assert "avg_over_time(self_coherence[5m]) < 0.80" in text
    rules.write_text(text.replace("avg_over_time(self_coherence[5m]) < 0.80",
                                  "avg_over_time(self_coherence[5m]) < 0.60"))


def test_items_are_named_per_test_and_check(project: pytest.Pytester) -> None:
    result = project.runpytest("--self-slo", "rules", "-v")
    result.assert_outcomes(passed=7 + CANARY)
    result.stdout.fnmatch_lines_random([
        "rules/phase_c_rules.yml::valid PASSED*",
        "rules/phase_c_rules.yml::lint PASSED*",
        "rules/tests/coherence_test.yml::lint PASSED*",
        "rules/tests/coherence_test.yml::coherence drop fires PASSED*",
        "rules/tests/coherence_test.yml::unnamed#1 PASSED*",
        "selfslo::slo-spec PASSED*",
        "selfslo::drift PASSED*",
    ])


def test_without_the_flag_nothing_is_collected(project: pytest.Pytester) -> None:
    result = project.runpytest("rules")
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED


def test_ini_selfslo_enabled_turns_it_on(project: pytest.Pytester) -> None:
    project.makeini(INI + "selfslo_enabled = true\n")
    project.runpytest("rules").assert_outcomes(passed=7 + CANARY)


def test_failing_rule_test_shows_the_engines_diff_not_a_traceback(
        project: pytest.Pytester) -> None:
    test_file = project.path / "rules" / "tests" / "coherence_test.yml"
    test_file.write_text(TEST_FILE.replace("eval_time: 10m", "eval_time: 3m"))
    result = project.runpytest("--self-slo", "rules")
    result.assert_outcomes(passed=6 + CANARY, failed=1)
    result.stdout.fnmatch_lines([
        "*rule test 'coherence drop fires' in coherence_test.yml failed (embedded engine,*",
        "*alertname: AURIS_SELF_Coherence_Drop, time: 3m,*",
        "*exp:[*",
        "*Labels:{alertname=\"AURIS_SELF_Coherence_Drop\", severity=\"warning\", token_id=\"low\"}*",
        "*got:[]*",
        "*is pending for 3m at 3m, `for` is 5m*",
    ])
    result.stdout.no_fnmatch_line("*Traceback*")
    result.stdout.no_fnmatch_line("*def runtest*")


def test_breaking_a_threshold_fails_drift_and_the_rule_test(project: pytest.Pytester) -> None:
    _break_threshold(project)
    result = project.runpytest("--self-slo", "rules")
    result.assert_outcomes(passed=5 + CANARY, failed=2)
    result.stdout.fnmatch_lines([
        "*the rules disagree with the SLO spec*",
        "*0.6*0.8*",
    ])
    result.stdout.fnmatch_lines(["FAILED rules/tests/coherence_test.yml::coherence drop fires*"])


def test_invalid_rule_yaml_fails_validity_with_position(project: pytest.Pytester) -> None:
    (project.path / "rules" / "broken.yml").write_text(
        "groups:\n  - name: g\n    rules:\n      - alert: X\n        expr: sum(\n")
    result = project.runpytest("--self-slo", "rules")
    result.stdout.fnmatch_lines(["*broken.yml is not a valid rule file (1 problem(s)):*",
                                 "*broken.yml:5:*"])
    assert result.ret == pytest.ExitCode.TESTS_FAILED


def test_invalid_test_file_is_a_readable_collection_error(project: pytest.Pytester) -> None:
    (project.path / "rules" / "tests" / "bad_test.yml").write_text(
        "rule_files: [../phase_c_rules.yml]\ntests:\n  - interval: banana\n")
    result = project.runpytest("--self-slo", "rules")
    result.stdout.fnmatch_lines(["*ERROR collecting rules/tests/bad_test.yml*",
                                 "*invalid rule test file: *bad_test.yml:3*"])
    assert result.ret == pytest.ExitCode.INTERRUPTED


def test_globs_matching_nothing_warn(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_x(): pass")
    result = pytester.runpytest("--self-slo", "--self-slo-rules=alerts/*.yml")
    result.assert_outcomes(passed=1, warnings=2)
    result.stdout.fnmatch_lines([
        "*SelfSloConfigWarning: --self-slo-rules 'alerts/*.yml' matched no file under*",
        "*SelfSloConfigWarning: --self-slo-rule-tests 'rules/tests/*.yml rules/tests/*.yaml' "
        "matched no file*",
    ])


def test_coverage_table_in_summary(project: pytest.Pytester) -> None:
    """By default the table lists what needs attention (untested, silent); -v lists all."""
    result = project.runpytest("--self-slo", "rules")
    result.stdout.fnmatch_lines([
        "*= rule coverage =*",
        "FILE*GROUP*KIND*RULE*STATUS",
        "rules/phase_c_rules.yml*auris-self-phase-c*alert*AURIS_SELF_Continuity_Drop*untested",
        "rules/phase_c_rules.yml*auris-self-phase-c*alert*AURIS_SELF_Stress_High*silent",
        "rule coverage: 5.6% of 18 rules",
    ])
    result.stdout.no_fnmatch_line("*SELF rule coverage*")
    result.stdout.no_fnmatch_line("*AURIS_SELF_Coherence_Drop*firing")


def test_coverage_table_lists_every_rule_with_verbose(project: pytest.Pytester) -> None:
    result = project.runpytest("--self-slo", "rules", "-v")
    result.stdout.fnmatch_lines([
        "*= rule coverage =*",
        "FILE*GROUP*KIND*RULE*STATUS",
        "rules/phase_c_rules.yml*auris-self-phase-c*alert*AURIS_SELF_Coherence_Drop*firing",
        "rules/phase_c_rules.yml*auris-self-phase-c*alert*AURIS_SELF_Continuity_Drop*untested",
        "rules/phase_c_rules.yml*auris-self-phase-c*alert*AURIS_SELF_Stress_High*silent",
        "rule coverage: 5.6% of 18 rules",
        "alerting rules: 1 firing, 1 only silent, 11 untested; recording rules: 0 tested, "
        "5 untested",
    ])


def test_coverage_fail_under_fails_the_session(project: pytest.Pytester) -> None:
    result = project.runpytest("--self-slo", "rules", "--self-slo-coverage-fail-under=50",
                               "--junitxml=junit.xml")
    result.assert_outcomes(passed=7 + CANARY, failed=1)  # the miss is selfslo::coverage
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["FAIL: rule coverage 5.6% is below "
                                 "--self-slo-coverage-fail-under 50%"])
    result.stdout.fnmatch_lines(["FAILED selfslo::coverage - rule coverage 5.6% is below*"])
    # a junit testcase too, so CI dashboards that read only the XML see the miss
    xml = (project.path / "junit.xml").read_text()
    case = xml[xml.index('name="coverage"') - 200:]
    assert 'classname="selfslo" name="coverage"' in xml
    assert "<failure" in case.split("</testcase>")[0]
    assert "AURIS_SELF_Continuity_Drop (untested)" in case.split("</testcase>")[0]


def test_coverage_at_threshold_passes(project: pytest.Pytester) -> None:
    project.makeini(INI + "selfslo_coverage_fail_under = 5\n")
    result = project.runpytest("--self-slo", "rules")
    assert result.ret == pytest.ExitCode.OK
    result.stdout.no_fnmatch_line("FAIL: rule coverage*")


def test_json_report(project: pytest.Pytester) -> None:
    _break_threshold(project)
    result = project.runpytest("--self-slo", "rules", "--self-slo-report=out/report.json",
                               "--self-slo-coverage-fail-under=1")
    report = json.loads((project.path / "out" / "report.json").read_text())
    assert report["exitstatus"] == result.ret == 1
    assert report["counts"] == {"passed": 5 + CANARY, "failed": 2}
    by_id = {i["nodeid"]: i for i in report["items"]}
    assert by_id["selfslo::drift"]["outcome"] == "failed"
    assert "disagree with the SLO spec" in by_id["selfslo::drift"]["message"]
    assert by_id["rules/phase_c_rules.yml::valid"]["kind"] == "rule-file"
    assert report["coverage"]["total"] == 18
    assert report["coverage_ok"] is False  # nothing fires with the broken threshold


def test_report_hook_may_add_keys_and_coverage_hook_sees_summary(
        project: pytest.Pytester) -> None:
    project.makeconftest("""
        def pytest_selfslo_report(config, report):
            report["build"] = "ci-42"
        def pytest_selfslo_coverage(config, coverage):
            print("COVERAGE-HOOK", coverage["covered"], coverage["total"])
    """)
    result = project.runpytest("--self-slo", "rules", "--self-slo-report=r.json", "-s")
    result.stdout.fnmatch_lines(["COVERAGE-HOOK 1 18"])
    assert json.loads((project.path / "r.json").read_text())["build"] == "ci-42"


def test_heartbeat_items_one_per_objective(project: pytest.Pytester) -> None:
    from pytest_selfslo.heartbeat import HeartbeatLog, generate_heartbeats

    with HeartbeatLog(project.path / "beats.jsonl") as log:
        log.extend(generate_heartbeats("coherence_drop", 200, seed=1))
    result = project.runpytest("--self-slo", "rules", "--self-slo-heartbeats=beats.jsonl", "-v")
    result.assert_outcomes(passed=9 + CANARY, failed=1)
    result.stdout.fnmatch_lines_random([
        "selfslo::heartbeats?coherence? FAILED*",
        "selfslo::heartbeats?continuity? PASSED*",
        "selfslo::heartbeats?stress? PASSED*",
    ])
    result.stdout.fnmatch_lines(["*SLO not met over 200 heartbeats in beats.jsonl:*",
                                 "*coherence >= 0.80: average coherence 0.7*below the target*"])


def test_empty_heartbeat_log_never_passes(project: pytest.Pytester) -> None:
    (project.path / "empty.jsonl").write_text("")
    result = project.runpytest("--self-slo", "rules", "--self-slo-heartbeats=empty.jsonl")
    result.assert_outcomes(passed=7 + CANARY, failed=3)
    result.stdout.fnmatch_lines(["*has no heartbeats: missing data never meets coherence >= 0.80*"])


def test_custom_slo_spec_file_is_used_for_drift(project: pytest.Pytester) -> None:
    from pytest_selfslo.slo.spec import DEFAULT_SLO_SPEC, dump_slo_spec

    spec = dump_slo_spec(DEFAULT_SLO_SPEC).replace("0.8", "0.85")
    (project.path / "slo.yml").write_text(spec)
    result = project.runpytest("--self-slo", "rules", "--self-slo-slo=slo.yml")
    # the rules and the built-in canary policy both still say 0.80: drift, the policy's
    # `valid` item and its gates_agree_with_slo property (checked against this spec) fail
    result.assert_outcomes(passed=6 + CANARY - 2, failed=3)
    result.stdout.fnmatch_lines(["*the rules disagree with the SLO spec*"])
    result.stdout.fnmatch_lines(["*SLO spec says self_coherence >= 0.85*"])
    result.stdout.fnmatch_lines(["*the canary policy's gates disagree with the SLO spec:*",
                                 "*canary gate 'self_coherence' threshold 0.80 differs from the "
                                 "SLO target of objective 'coherence' 0.85*"])


def test_invalid_slo_spec_fails_the_spec_item(project: pytest.Pytester) -> None:
    (project.path / "slo.yml").write_text("objectives:\n  - name: x\n")
    result = project.runpytest("--self-slo", "rules", "--self-slo-slo=slo.yml")
    result.stdout.fnmatch_lines(["*SLOSpecError: *slo.yml*"])
    assert result.ret == pytest.ExitCode.TESTS_FAILED


def test_junitxml_names(project: pytest.Pytester) -> None:
    result = project.runpytest("--self-slo", "rules", "--junitxml=junit.xml")
    assert result.ret == 0
    xml = (project.path / "junit.xml").read_text()
    assert 'classname="rules.tests.coherence_test.yml" name="coherence drop fires"' in xml
    assert 'classname="selfslo" name="drift"' in xml


def test_xdist_gives_the_same_results_and_coverage(project: pytest.Pytester) -> None:
    result = project.runpytest_subprocess("--self-slo", "rules", "-n", "2",
                                          "--self-slo-coverage-fail-under=50",
                                          "--self-slo-report=report.json")
    result.assert_outcomes(passed=7 + CANARY, failed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["rule coverage: 5.6% of 18 rules",
                                 "FAIL: rule coverage 5.6% is below*"])
    # the controller's report holds every worker's items and the merged coverage
    report = json.loads((project.path / "report.json").read_text())
    assert report["counts"] == {"passed": 7 + CANARY}
    assert report["coverage"]["covered"] == 1 and report["coverage_ok"] is False


def test_a_named_rule_file_that_is_missing_is_a_usage_error(project: pytest.Pytester) -> None:
    result = project.runpytest("--self-slo", "rules", "--self-slo-rules=rules/missing.yml")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--self-slo-rules: no such file: rules/missing.yml (looked at *"])


def test_a_rule_test_loading_a_missing_rule_file_fails_readably(project: pytest.Pytester) -> None:
    test_file = project.path / "rules" / "tests" / "coherence_test.yml"
    test_file.write_text(TEST_FILE.replace("../phase_c_rules.yml", "../gone.yml"))
    result = project.runpytest("--self-slo", "rules")
    result.stdout.fnmatch_lines(["*gone.yml*"])
    assert result.ret != pytest.ExitCode.OK
    result.stdout.no_fnmatch_line("*Traceback*")


def test_yaml_files_named_on_the_command_line_are_collected_by_content(
        project: pytest.Pytester) -> None:
    (project.path / "elsewhere").mkdir()
    shutil.copy(project.path / "rules" / "phase_c_rules.yml", project.path / "elsewhere" / "a.yml")
    test_file = project.path / "elsewhere" / "a_test.yml"
    test_file.write_text(TEST_FILE.replace("../phase_c_rules.yml", "a.yml"))
    result = project.runpytest("--self-slo", "elsewhere/a.yml", "elsewhere/a_test.yml", "-v")
    result.stdout.fnmatch_lines_random(["elsewhere/a.yml::valid PASSED*",
                                        "elsewhere/a_test.yml::coherence drop fires PASSED*"])
    assert result.ret == pytest.ExitCode.OK
    # not named: a YAML file under a directory argument that matches no glob is not collected
    result = project.runpytest("--self-slo", "elsewhere", "-q")
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED


def test_no_coverage_verdict_when_no_slo_asset_ran(project: pytest.Pytester) -> None:
    project.makepyfile(test_plain="def test_x(): pass")
    result = project.runpytest("--self-slo", "test_plain.py", "--self-slo-coverage-fail-under=90")
    result.assert_outcomes(passed=1)
    assert result.ret == pytest.ExitCode.OK
    result.stdout.no_fnmatch_line("*rule coverage*")


def test_malformed_heartbeat_lines_are_skipped_with_a_warning(project: pytest.Pytester) -> None:
    from pytest_selfslo.heartbeat import generate_heartbeats

    lines = [hb.to_json_line() for hb in generate_heartbeats("steady", 20)]
    lines.insert(3, '{"ts": 1, "kind": "heartbeat", "token_id": "t", "coherence": 7}')
    (project.path / "beats.jsonl").write_text("\n".join(lines) + "\n")
    result = project.runpytest("--self-slo", "rules", "--self-slo-heartbeats=beats.jsonl",
                               "-k", "heartbeats")
    result.assert_outcomes(passed=3, deselected=7 + CANARY, warnings=3)
    result.stdout.fnmatch_lines(["*SelfSloLintWarning: beats.jsonl: skipped 1 malformed line(s), "
                                 "first at line 4: *"])
