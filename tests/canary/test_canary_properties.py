"""Policy safety properties (issue 10, canary side) and the canary package's exports."""

from __future__ import annotations

import dataclasses
import importlib
from pathlib import Path

import pytest

import pytest_selfslo.canary as canary
from pytest_selfslo.canary.policy import DEFAULT_POLICY, CanaryPolicy, load_policy
from pytest_selfslo.plugin.canary_properties import (
    ADAPTIVE_PROPERTIES,
    COMPARE_PROPERTIES,
    PROPERTIES,
    PolicyPropertyError,
    applicable_properties,
    check_policy,
)

FAST = {"max_examples": 30}


def test_default_policy_is_safe() -> None:
    results = check_policy(DEFAULT_POLICY, **FAST)
    assert [r.name for r in results] == applicable_properties(DEFAULT_POLICY)
    assert [r.name for r in results] == [p for p in PROPERTIES if p not in ADAPTIVE_PROPERTIES
                                         and p not in COMPARE_PROPERTIES]
    assert all(r.ok for r in results)


def _fails(policy: CanaryPolicy, name: str) -> str:
    with pytest.raises(PolicyPropertyError) as exc:
        check_policy(policy, properties=[name], **FAST)
    assert exc.value.property == name
    message = str(exc.value)
    assert message.startswith(f"canary policy property {name!r} violated:")
    return message


def test_ignoring_missing_data_everywhere_is_caught_with_a_timeline() -> None:
    policy = dataclasses.replace(
        DEFAULT_POLICY, gates=tuple(dataclasses.replace(g, no_data="ignore") for g in DEFAULT_POLICY.gates))
    message = _fails(policy, "never_advances_on_missing_data")
    assert "advanced although there was no data at all" in message
    assert "ADVANCE" in message and "self_stress=<no data>" in message


def test_no_dwell_and_no_hysteresis_flaps() -> None:
    policy = dataclasses.replace(DEFAULT_POLICY, min_dwell=(0.0,) * 5, consecutive_successes=1,
                                 failure_limit=1, pause_on_rollback=False)
    message = _fails(policy, "no_flapping")
    assert "the canary flaps" in message
    # the shrunk counterexample is the minimal flip: one advance, one rollback
    assert message.count("ADVANCE") + message.count("ROLLBACK") == 2  # rollback, re-advance
    # the timeline shows why it rolled back: a failing gate or a firing alert (which one
    # hypothesis shrinks to depends on the strategies' internals)
    assert "FAIL" in message or "firing: " in message


def test_gate_threshold_contradicting_the_slo_spec() -> None:
    gates = tuple(dataclasses.replace(g, threshold=0.5) if g.name == "self_stress" else g
                  for g in DEFAULT_POLICY.gates)
    message = _fails(dataclasses.replace(DEFAULT_POLICY, gates=gates), "gates_agree_with_slo")
    assert "gate 'self_stress' is <= 0.5 but the SLO spec says self_stress <= 0.3" in message


def test_policy_without_rollback_alerts() -> None:
    message = _fails(dataclasses.replace(DEFAULT_POLICY, rollback_alerts=()), "has_rollback_alerts")
    assert "no alert can ever roll the canary back" in message


def test_unreachable_100_percent_is_caught() -> None:
    # a gate no green observation can pass: its threshold is the unreachable side of ==
    gates = (*DEFAULT_POLICY.gates[:-1],
             dataclasses.replace(DEFAULT_POLICY.gates[-1], comparison="<", threshold=0.3))
    message = _fails(dataclasses.replace(DEFAULT_POLICY, gates=gates), "green_run_reaches_100")
    assert "a green run produced" in message or "expected 100%" in message


def test_steps_not_increasing_are_refused_at_load(tmp_path: Path) -> None:
    path = tmp_path / "p.yml"
    path.write_text("steps: [0.1, 0.5, 0.25, 1.0]\n")
    with pytest.raises(Exception, match=r"p.yml:1: steps\[2\]: expected a value greater than "
                                        r"steps\[1\] = 0.5 \(steps must be strictly increasing\)"):
        load_policy(path)


def test_unknown_property_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="unknown canary properties"):
        check_policy(DEFAULT_POLICY, properties=["nope"])


def test_collect_all_results_without_raising() -> None:
    policy = dataclasses.replace(DEFAULT_POLICY, rollback_alerts=())
    results = {r.name: r for r in check_policy(policy, raise_on_failure=False,
                                               properties=["has_rollback_alerts", "gates_agree_with_slo"])}
    assert not results["has_rollback_alerts"].ok and results["gates_agree_with_slo"].ok


def test_every_exported_name_resolves() -> None:
    for name in canary.__all__:
        assert getattr(canary, name) is not None, name
    assert sorted(dir(canary)) == sorted(canary.__all__)
    with pytest.raises(AttributeError):
        canary.nope  # noqa: B018


def test_cli_module_is_importable_without_heavy_imports() -> None:
    module = importlib.import_module("pytest_selfslo.cli.canary")
    assert callable(module.configure) and callable(module.run)


def test_replay_and_render_a_timeline() -> None:
    from pytest_selfslo.canary.machine import CanaryState, Observation
    from pytest_selfslo.plugin.canary_properties import render_timeline, replay_observations
    from pytest_selfslo.plugin.canary_strategies import green_observation

    start = CanaryState(sampling=0.25, since=0.0)
    alert = Observation(gates={}, firing_alerts=[{"alertname": "AURIS_SELF_Stress_High",
                                                  "severity": "critical"}])
    run = replay_observations(DEFAULT_POLICY, start, [green_observation(DEFAULT_POLICY, 0), alert],
                              start_at=1000.0, interval=60.0)
    assert [d.action.value for _, d in run] == ["hold", "rollback"]
    text = render_timeline(DEFAULT_POLICY, start, run)
    assert "t    +60s  ROLLBACK 0.25 -> 0.05" in text
    assert "firing: AURIS_SELF_Stress_High" in text
    assert "because: rollback alert firing: AURIS_SELF_Stress_High; rolling back to 0.05" in text


@pytest.mark.parametrize("module", ["policy", "machine", "runtime", "bucketing", "__init__"])
def test_docstring_examples_run(module: str) -> None:
    import doctest

    name = "pytest_selfslo.canary" if module == "__init__" else f"pytest_selfslo.canary.{module}"
    failures, _ = doctest.testmod(importlib.import_module(name))
    assert failures == 0
