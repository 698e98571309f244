"""Canary policy YAML: accepted shapes and every rejected one with its exact message."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_selfslo._core.errors import PolicyError
from pytest_selfslo.canary.policy import (
    DEFAULT_POLICY,
    AdaptivePolicy,
    CanaryPolicy,
    Gate,
    load_policy,
    policy_from_mapping,
)
from pytest_selfslo.slo.spec import DEFAULT_SLO_SPEC


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "policy.yml"
    path.write_text(text)
    return path


def test_default_gates_read_the_slo_spec() -> None:
    gates = {g.name: g for g in DEFAULT_POLICY.gates}
    assert list(gates) == ["stability_score_ema", "oscillation_rate", "self_coherence", "self_stress"]
    for metric in ("self_coherence", "self_stress"):
        objective = next(o for o in DEFAULT_SLO_SPEC.objectives if o.metric == metric)
        assert (gates[metric].comparison, gates[metric].threshold) == (objective.comparison,
                                                                       objective.target)
        assert gates[metric].expr == f"avg(avg_over_time({metric}[10m]))"
    assert (gates["stability_score_ema"].comparison, gates["stability_score_ema"].threshold) == (">=", 0.8)
    assert (gates["oscillation_rate"].comparison, gates["oscillation_rate"].threshold) == ("==", 0.0)
    assert DEFAULT_POLICY.steps == (0.05, 0.10, 0.25, 0.50, 1.00)
    assert DEFAULT_POLICY.floor == 0.05 and all(g.no_data == "hold" for g in DEFAULT_POLICY.gates)


@pytest.mark.parametrize("alert", ["AURIS_SELF_Stress_High", "AURIS_SELF_Exporter_Absent",
                                   "AURIS_Stability_Score_Low", "AURIS_Oscillation_Detected"])
def test_default_rollback_alerts_cover_self_and_stability(alert: str) -> None:
    assert any(m.matches({"alertname": alert, "severity": "warning"})
               for m in DEFAULT_POLICY.rollback_alerts)
    assert not any(m.matches({"alertname": alert, "severity": "info"})
                   for m in DEFAULT_POLICY.rollback_alerts)
    assert not any(m.matches({"alertname": "Watchdog", "severity": "critical"})
                   for m in DEFAULT_POLICY.rollback_alerts)


def test_full_policy_file_is_read(tmp_path: Path) -> None:
    policy = load_policy(write(tmp_path, """
steps: [0.1, 0.5, 1.0]
gates:
  - name: latency_ok
    expr: avg(rate(errors_total[5m]))
    comparison: "<"
    threshold: 0.01
    window: 5m
    no_data: fail
rollback_alerts:
  - {alertname: "Team_.*", severity: "critical"}
min_dwell: [5m, 90s, 1h]
consecutive_successes: 2
failure_limit: 4
rollback_to: 0.1
pause_on_rollback: false
enforce_steps: false
adaptive: {stress_high: 0.4, stress_low: 0.25, factor: 0.5}
"""))
    assert policy.steps == (0.1, 0.5, 1.0)
    assert policy.gates == (Gate("latency_ok", "avg(rate(errors_total[5m]))", "<", 0.01, "5m", "fail"),)
    assert policy.min_dwell == (300.0, 90.0, 3600.0)
    assert (policy.consecutive_successes, policy.failure_limit, policy.floor) == (2, 4, 0.1)
    assert not policy.pause_on_rollback and not policy.enforce_steps
    assert policy.adaptive == AdaptivePolicy(0.4, 0.25, 0.5)


def test_empty_file_is_the_default_policy(tmp_path: Path) -> None:
    assert load_policy(write(tmp_path, "")) == DEFAULT_POLICY


def test_new_steps_reset_dwell_and_floor(tmp_path: Path) -> None:
    policy = load_policy(write(tmp_path, "steps: [0.2, 1.0]\n"))
    assert policy.min_dwell == (600.0, 600.0) and policy.floor == 0.2


def test_to_dict_round_trips() -> None:
    assert policy_from_mapping(DEFAULT_POLICY.to_dict()) == DEFAULT_POLICY


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("steps: 0.5\n", ":1: steps: expected a non-empty list of fractions in (0, 1], got 0.5"),
        ("steps: [0.1, 1.5]\n", ":1: steps[1]: expected a finite number > 0 and <= 1, got 1.5"),
        ("steps: [0, 1]\n", ":1: steps[0]: expected a finite number > 0 and <= 1, got 0"),
        ("steps:\n  - 0.5\n  - 0.25\n", ":3: steps[1]: expected a value greater than steps[0] = 0.5"),
        ("gates: {}\n", ":1: gates: expected a list of gates, got {}"),
        ("gates:\n  - name: a\n    expr: up\n    comparison: '>='\n",
         ":2: gates[0].threshold: expected a value (required), got None"),
        ("gates:\n  - {name: a, expr: 'avg(', comparison: '>=', threshold: 1}\n",
         ":2: gates[0].expr: expected a PromQL expression that parses"),
        ("gates:\n  - {name: a, expr: up, comparison: '=>', threshold: 1}\n",
         "gates[0].comparison: expected one of ['>=', '<=', '==', '>', '<'], got '=>'"),
        ("gates:\n  - {name: a, expr: up, comparison: '>=', threshold: 1, no_data: skip}\n",
         "gates[0].no_data: expected one of ['hold', 'fail', 'ignore'], got 'skip'"),
        ("gates:\n  - {name: a, expr: up, comparison: '>=', threshold: 1, window: soon}\n",
         "gates[0].window: expected a duration such as 10m, 90s or 1h30m, got 'soon'"),
        ("gates:\n  - {name: a, expr: up, comparison: '>=', threshold: 1, colour: red}\n",
         "gates[0].colour: expected one of the keys"),
        ("gates:\n  - {name: a, expr: up, comparison: '>=', threshold: 1}\n"
         "  - {name: a, expr: up, comparison: '>=', threshold: 2}\n",
         ":3: gates[1].name: expected a name not used by an earlier gate, got 'a'"),
        ("rollback_alerts:\n  - {alertname: '(['}\n",
         "rollback_alerts[0].alertname: expected a valid regular expression"),
        ("rollback_alerts:\n  - {}\n",
         "rollback_alerts[0]: expected a non-empty mapping of label name to regular expression"),
        ("min_dwell: [1m]\n", ":1: min_dwell: expected one duration per step (5), got ['1m']"),
        ("min_dwell: forever\n", "min_dwell: expected a duration such as 10m, 90s or 1h30m, got 'forever'"),
        ("consecutive_successes: 0\n", ":1: consecutive_successes: expected an integer >= 1, got 0"),
        ("failure_limit: 1.5\n", ":1: failure_limit: expected an integer >= 1, got 1.5"),
        ("rollback_to: 0.3\n", ":1: rollback_to: expected one of the steps [0.05, 0.1, 0.25, 0.5, 1.0], got 0.3"),
        ("pause_on_rollback: maybe\n", ":1: pause_on_rollback: expected true or false, got 'maybe'"),
        ("adaptive: {stress_high: 0.2, stress_low: 0.3}\n",
         "adaptive.stress_low: expected a finite number >= 0 and <= 0.2, got 0.3"),
        ("stepz: [1.0]\n", ":1: stepz: expected one of the keys"),
        ("- 1\n- 2\n", ":1: expected a mapping of policy keys at the top level, got list"),
        ("steps: [0.1\n", "invalid YAML"),
    ],
)
def test_bad_policy_files_name_line_key_and_expectation(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(PolicyError) as exc:
        load_policy(path)
    assert str(exc.value).startswith(str(path))
    assert message in str(exc.value)


def test_missing_and_binary_files(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="cannot read the policy file"):
        load_policy(tmp_path / "absent.yml")
    path = tmp_path / "bin.yml"
    path.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(PolicyError, match="expected UTF-8 text"):
        load_policy(path)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"steps": ()}, "steps: expected at least one step, got none"),
        ({"steps": (0.5, 0.1)}, "steps: expected strictly increasing values, got [0.5, 0.1]"),
        ({"min_dwell": (1.0, 2.0)}, "min_dwell: expected one duration or one per step (5), got 2"),
        ({"consecutive_successes": 0}, "consecutive_successes: expected an integer >= 1, got 0"),
        ({"rollback_to": 0.3}, "rollback_to: expected one of the steps"),
        ({"gates": (Gate("a", "up", "~", 1.0),)}, "gate 'a': comparison: expected one of"),
    ],
)
def test_policy_objects_validate_eagerly(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(PolicyError, match="invalid canary policy") as exc:
        CanaryPolicy(**kwargs)  # type: ignore[arg-type]
    assert message in str(exc.value)
