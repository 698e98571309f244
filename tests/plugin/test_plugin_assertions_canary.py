"""Canary assertions: pass on the default policy's happy paths, fail with decision timelines."""

from __future__ import annotations

import dataclasses

import pytest

from pytest_selfslo.canary.machine import Observation
from pytest_selfslo.canary.policy import DEFAULT_POLICY
from pytest_selfslo.plugin.assertions import (
    assert_canary_reaches,
    assert_canary_rolls_back,
    assert_canary_safe,
)
from pytest_selfslo.plugin.canary_strategies import green_observation

GREEN = green_observation(DEFAULT_POLICY, 0.0)
ALERT = dataclasses.replace(GREEN, firing_alerts=(
    {"alertname": "AURIS_SELF_Stress_High", "severity": "warning"},))
NO_DATA = Observation(gates={})


def test_default_policy_is_safe() -> None:
    assert_canary_safe(DEFAULT_POLICY, max_examples=10)


def test_unsafe_policy_names_the_property() -> None:
    unsafe = dataclasses.replace(DEFAULT_POLICY, gates=tuple(
        dataclasses.replace(g, no_data="ignore") for g in DEFAULT_POLICY.gates))
    with pytest.raises(AssertionError,
                       match="canary policy property 'never_advances_on_missing_data' violated"):
        assert_canary_safe(unsafe, max_examples=10)


def test_reaches_full_rollout_on_green_evidence() -> None:
    assert_canary_reaches(DEFAULT_POLICY, [GREEN] * 60, 1.0)
    assert_canary_reaches(DEFAULT_POLICY, [GREEN] * 60, 1.0, within="40m")


def test_reaching_too_late_shows_when_and_the_timeline() -> None:
    with pytest.raises(AssertionError) as exc:
        assert_canary_reaches(DEFAULT_POLICY, [GREEN] * 60, 1.0, within="20m")
    lines = str(exc.value).splitlines()
    assert lines[0] == ("expected the canary to reach 1 within 20m, but it got there only "
                        "after 1920s")
    assert lines[1].startswith("  before: sampling 0.05")
    assert "ADVANCE  0.05 -> 0.1" in str(exc.value)


def test_missing_data_never_reaches() -> None:
    with pytest.raises(AssertionError, match=r"to reach 0.1, but it ended at 0.05 after 5 "
                                             r"decisions\n(.|\n)*<no data>"):
        assert_canary_reaches(DEFAULT_POLICY, [NO_DATA] * 5, 0.1)


def test_rolls_back_on_a_firing_alert() -> None:
    assert_canary_rolls_back(DEFAULT_POLICY, [GREEN, GREEN, ALERT], by="2m")
    with pytest.raises(AssertionError, match=r"to roll back by 1m \(from 0.5\), but the first "
                                             r"rollback came 120s after the first decision"):
        assert_canary_rolls_back(DEFAULT_POLICY, [GREEN, GREEN, ALERT], by="1m")


def test_no_rollback_on_green_evidence() -> None:
    with pytest.raises(AssertionError, match="but no decision rolled back") as exc:
        assert_canary_rolls_back(DEFAULT_POLICY, [GREEN] * 3)
    assert "ADVANCE  0.5 -> 1" in str(exc.value)
