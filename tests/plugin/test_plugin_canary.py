"""Canary policies under ``pytest --self-slo``: a safe policy passes, unsafe ones fail readably."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

# compiled extensions cannot be imported twice per process (in-process pytester drops modules)
import pytest_selfslo.plugin.canary_properties  # noqa: F401  (scipy, numpy)
from pytest_selfslo.canary.policy import DEFAULT_POLICY

PROPERTIES = ["never_advances_on_missing_data", "never_advances_on_failing_gate",
              "has_rollback_alerts", "rollback_alert_rolls_back", "green_run_reaches_100",
              "no_flapping", "gates_agree_with_slo"]


def _policy(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = DEFAULT_POLICY.to_dict()
    data.update(changes)
    return data


@pytest.fixture
def canary_project(pytester: pytest.Pytester) -> pytest.Pytester:
    """A project with only canary policies (plus the built-in default), few examples."""
    (pytester.path / "canary").mkdir()
    pytester.makeini("[pytest]\nselfslo_prometheus = embedded\nselfslo_canary_max_examples = 10\n"
                     "selfslo_rules = alerts/*.yml\nselfslo_rule_tests = alerts/tests/*.yml\n")
    return pytester


def _write(project: pytest.Pytester, name: str, data: dict[str, Any]) -> None:
    (project.path / "canary" / name).write_text(yaml.safe_dump(data, sort_keys=False))


def test_safe_policy_passes_every_property(canary_project: pytest.Pytester) -> None:
    _write(canary_project, "safe.yml", _policy())
    result = canary_project.runpytest("--self-slo", "canary", "-v", "-W",
                                      "ignore::pytest_selfslo.plugin.config.SelfSloConfigWarning")
    result.assert_outcomes(passed=2 * (1 + len(PROPERTIES)) + 2)
    result.stdout.fnmatch_lines_random(
        ["canary/safe.yml::valid PASSED*", "selfslo::canary-default::valid PASSED*"]
        + [f"canary/safe.yml::property?{name}? PASSED*" for name in PROPERTIES]
        + [f"selfslo::canary-default::property?{name}? PASSED*" for name in PROPERTIES])


@pytest.mark.parametrize(("policy", "prop", "expected"), [
    (_policy(min_dwell=["0s"] * 5, consecutive_successes=1, failure_limit=1,
             pause_on_rollback=False),
     "no_flapping", "*the canary flaps*"),
    (_policy(gates=[{**g, "no_data": "ignore"} for g in DEFAULT_POLICY.to_dict()["gates"]]),
     "never_advances_on_missing_data", "*advanced although there was no data at all*"),
])
def test_unsafe_policy_fails_naming_the_property_with_a_timeline(
        canary_project: pytest.Pytester, policy: dict[str, Any], prop: str,
        expected: str) -> None:
    _write(canary_project, "unsafe.yml", policy)
    # only the property under test runs: shrinking a counterexample takes a few seconds
    result = canary_project.runpytest("--self-slo", "canary/unsafe.yml", "-k", f"unsafe and {prop}",
                                      "-W", "ignore::pytest_selfslo.plugin.config.SelfSloConfigWarning")
    result.assert_outcomes(failed=1, deselected=2 * (1 + len(PROPERTIES)) + 2 - 1)
    result.stdout.fnmatch_lines([f"FAILED canary/unsafe.yml::property?{prop}?*"])
    result.stdout.fnmatch_lines([f"*canary policy property {prop!r} violated:*", expected,
                                 "*before: sampling*"])
    result.stdout.no_fnmatch_line("*Traceback*")
    assert result.ret == pytest.ExitCode.TESTS_FAILED


def test_steps_not_increasing_is_invalid_with_position(canary_project: pytest.Pytester) -> None:
    _write(canary_project, "steps.yml", _policy(steps=[0.05, 0.5, 0.25, 1.0],
                                                min_dwell=["10m"] * 4))
    result = canary_project.runpytest("--self-slo", "canary/steps.yml", "-rs", "-W",
                                      "ignore::pytest_selfslo.plugin.config.SelfSloConfigWarning")
    result.assert_outcomes(passed=1 + len(PROPERTIES) + 2, failed=1, skipped=len(PROPERTIES))
    result.stdout.fnmatch_lines([
        "*PolicyError: *steps.yml:4: steps[[]2[]]: expected a value greater than steps[[]1[]] = 0.5"
        " (steps must be strictly increasing), got 0.25*"])
    result.stdout.fnmatch_lines(["*the policy does not load (see ::valid)*"])


def test_gate_contradicting_the_slo_spec_fails_valid_and_property(
        canary_project: pytest.Pytester) -> None:
    gates = [{**g, "threshold": 0.5} if g["name"] == "self_stress" else g
             for g in DEFAULT_POLICY.to_dict()["gates"]]
    _write(canary_project, "drift.yml", _policy(gates=gates))
    result = canary_project.runpytest("--self-slo", "canary/drift.yml", "-k",
                                      "drift.yml and (valid or gates_agree_with_slo)", "-W",
                                      "ignore::pytest_selfslo.plugin.config.SelfSloConfigWarning")
    result.assert_outcomes(failed=2, deselected=2 * (1 + len(PROPERTIES)) + 2 - 2)
    result.stdout.fnmatch_lines([
        "*the canary policy's gates disagree with the SLO spec:*",
        "*drift.yml:*SL041 canary gate 'self_stress' threshold 0.50 differs from the SLO target*"])
    result.stdout.fnmatch_lines([
        "*gate 'self_stress' is <= 0.5 but the SLO spec says self_stress <= 0.3*"])
    result.stdout.fnmatch_lines_random(["FAILED canary/drift.yml::valid*",
                                        "FAILED canary/drift.yml::property?gates_agree_with_slo?*"])


def test_policy_glob_option_and_explicit_glob_matching_nothing(
        canary_project: pytest.Pytester) -> None:
    (canary_project.path / "policies").mkdir()
    (canary_project.path / "policies" / "team.yml").write_text(
        yaml.safe_dump(_policy(), sort_keys=False))
    result = canary_project.runpytest("--self-slo", "policies",
                                      "--self-slo-canary-policies=policies/*.yml", "-q")
    result.stdout.fnmatch_lines(["*passed*"])
    assert result.ret == 0
    result = canary_project.runpytest("--self-slo", "--self-slo-canary-policies=nowhere/*.yml")
    result.stdout.fnmatch_lines(["*--self-slo-canary-policies 'nowhere/*.yml' matched no file*"])


def test_bad_max_examples_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nselfslo_canary_max_examples = lots\n")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*selfslo_canary_max_examples: expected a whole number from 1 "
                                 "to 100000, got 'lots'*"])


REPO = Path(__file__).resolve().parents[2]


def _scenario(project: pytest.Pytester, name: str, header: dict[str, Any]) -> None:
    scenarios = project.path / "fixtures" / "scenarios"
    scenarios.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "fixtures" / "canary" / "stability_green.yml", scenarios / "stability.yml")
    shutil.copy(REPO / "rules" / "phase_c_rules.yml", scenarios / "rules.yml")
    body = (REPO / "fixtures" / "canary" / "stress_spike.jsonl").read_text()
    (scenarios / name).write_text(json.dumps(header) + "\n" + body)


def test_scenarios_are_simulated_through_each_policy(canary_project: pytest.Pytester) -> None:
    companions = {"series": ["stability.yml"], "rules": ["rules.yml"]}
    _scenario(canary_project, "spike.jsonl",
              {"expect": {"final_sampling": 0.05, "rollback_by": "30m"}, **companions})
    _scenario(canary_project, "late.jsonl", {"expect": {"rollback_by": "10m"}, **companions})
    _scenario(canary_project, "typo.jsonl", {"expect": {"final": 1}})
    _write(canary_project, "team.yml", _policy())
    result = canary_project.runpytest("--self-slo", "canary", "-k", "scenario", "-rA", "-W",
                                      "ignore::pytest_selfslo.plugin.config.SelfSloConfigWarning")
    # 3 scenarios under the team policy and under the built-in default
    result.assert_outcomes(passed=2, failed=4, deselected=2 * (1 + len(PROPERTIES)) + 2)
    result.stdout.fnmatch_lines_random(["PASSED canary/team.yml::scenario?spike?",
                                        "PASSED selfslo::canary-default::scenario?spike?",
                                        "FAILED selfslo::canary-default::scenario?late?*"])
    result.stdout.fnmatch_lines([
        "*scenario late.jsonl under this policy: rolled back only 1380s after the first decision "
        "(expected by 10m)",
        "*ROLLBACK   25% -> 5%    rollback alert firing: AURIS_SELF_Stress_BurnRate_Slow*"])
    result.stdout.fnmatch_lines(["*typo.jsonl:1: unknown expect key(s) final (known: "
                                 "final_sampling, reaches, rollback_by, no_rollback)*"])


def test_adaptive_policy_gets_the_adaptive_properties(canary_project: pytest.Pytester) -> None:
    _write(canary_project, "adaptive.yml",
           _policy(adaptive={"stress_high": 0.30, "stress_low": 0.20, "factor": 0.5}))
    _write(canary_project, "narrow.yml",
           _policy(adaptive={"stress_high": 0.30, "stress_low": 0.299, "factor": 0.5}))
    result = canary_project.runpytest("--self-slo", "canary", "-v", "-k", "adaptive", "-W",
                                      "ignore::pytest_selfslo.plugin.config.SelfSloConfigWarning")
    result.stdout.fnmatch_lines_random([
        "canary/adaptive.yml::property?adaptive_no_flapping? PASSED*",
        "canary/adaptive.yml::property?adaptive_monotone_bucketing? PASSED*",
        "canary/narrow.yml::property?adaptive_no_flapping? FAILED*",
        "*switched throttling*widen the hysteresis band*",
    ])
    # the built-in default has no adaptive block, so no adaptive items for it
    assert "canary-default::property[adaptive" not in result.stdout.str()


def test_policy_properties_use_the_configured_slo_spec(canary_project: pytest.Pytester) -> None:
    from pytest_selfslo import __file__ as package_init

    spec = (Path(package_init).parent / "data" / "default_slo.yml").read_text()
    (canary_project.path / "slo.yml").write_text(spec.replace("target: 0.8\n", "target: 0.85\n"))
    _write(canary_project, "safe.yml", _policy())
    result = canary_project.runpytest("--self-slo", "canary", "--self-slo-slo", "slo.yml", "-v",
                                      "-k", "gates_agree_with_slo", "-W",
                                      "ignore::pytest_selfslo.plugin.config.SelfSloConfigWarning")
    result.stdout.fnmatch_lines([
        "*SLO spec says self_coherence >= 0.85*",
    ])
    result.stdout.fnmatch_lines_random([
        "canary/safe.yml::property?gates_agree_with_slo? FAILED*",
        "selfslo::canary-default::property?gates_agree_with_slo? FAILED*",
    ])


COMPARE_PROPERTIES = ["compare_never_advances_on_inconclusive", "compare_identical_cohorts_pass",
                      "compare_detects_shift", "compare_ignores_fleet_dip"]
COMPARE = {"metric": "coherence", "direction": "higher_is_better", "test": "mann_whitney",
           "alpha": 0.05, "min_samples": 50, "max_relative_drop": 0.03}


def test_a_compare_block_gets_its_four_properties(canary_project: pytest.Pytester) -> None:
    _write(canary_project, "compare.yml", _policy(compare=COMPARE))
    result = canary_project.runpytest("--self-slo", "canary/compare.yml", "-v", "-k", "compare.yml",
                                      "-W", "ignore::pytest_selfslo.plugin.config.SelfSloConfigWarning")
    result.assert_outcomes(passed=1 + len(PROPERTIES) + len(COMPARE_PROPERTIES),
                           deselected=1 + len(PROPERTIES) + 2)
    result.stdout.fnmatch_lines_random([f"canary/compare.yml::property?{name}? PASSED*"
                                        for name in COMPARE_PROPERTIES])
    result.stdout.no_fnmatch_line("*canary-default::property?compare_*")


@pytest.mark.parametrize(("compare", "prop", "expected"), [
    # stress moves ~0.03 around 0.15: a 4.5% shift is 0.2 sd, invisible in 50 samples
    ({**COMPARE, "metric": "stress", "direction": "lower_is_better"}, "compare_detects_shift",
     "*a canary 1.5 x max_relative_drop (0.03) worse*was caught: * of 300 trials*, expected >= "
     "90.0%*raise min_samples*"),
    # any drop at all counts: a canary median below the baseline's (half the trials) never passes
    ({**COMPARE, "max_relative_drop": 0.0}, "compare_identical_cohorts_pass",
     "*cohorts drawn from one distribution*passed: * of 300 trials*, expected >= 95.0%*"),
])
def test_a_weak_compare_block_fails_the_rate_property_with_the_numbers(
        canary_project: pytest.Pytester, compare: dict[str, Any], prop: str,
        expected: str) -> None:
    _write(canary_project, "weak.yml", _policy(compare=compare))
    result = canary_project.runpytest("--self-slo", "canary/weak.yml", "-k", f"weak and {prop}",
                                      "-W", "ignore::pytest_selfslo.plugin.config.SelfSloConfigWarning")
    result.assert_outcomes(failed=1,
                           deselected=2 * (1 + len(PROPERTIES)) + len(COMPARE_PROPERTIES) + 2 - 1)
    result.stdout.fnmatch_lines([f"*canary policy property {prop!r} violated:*", expected])
    result.stdout.no_fnmatch_line("*Traceback*")
