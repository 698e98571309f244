"""``rollback_on_alerts``: the push path decides with ``decide()`` and retries a lost race."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pytest_selfslo._core.errors import ConcurrentModificationError
from pytest_selfslo.canary.policy import DEFAULT_POLICY
from pytest_selfslo.canary.push import rollback_on_alerts
from pytest_selfslo.canary.store import CanaryStore

FIRING = ("firing", {"alertname": "AURIS_SELF_Stress_High", "severity": "critical"})


def test_a_change_between_reading_and_writing_is_decided_again(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    store = CanaryStore(tmp_path, policy=DEFAULT_POLICY)
    store.apply(0.25, reason="release", actor="alice")
    real_load = store.load
    calls = 0

    def racing_load() -> Any:
        nonlocal calls
        calls += 1
        state = real_load()
        if calls == 1:  # the tuner advances right after we read
            store.apply(0.5, reason="tuner advance", actor="tuner", action="advance")
        return state

    monkeypatch.setattr(store, "load", racing_load)
    outcome = rollback_on_alerts(store, DEFAULT_POLICY, [FIRING], actor="am@token:x", now=1e9)
    assert calls == 2 and outcome.applied
    records = store.history()
    assert [(r.action, r.old, r.new) for r in records] == [
        ("manual", 0.05, 0.25), ("advance", 0.25, 0.5), ("rollback", 0.5, 0.05)]
    assert records[-1].ts == 1e9 and outcome.audit_seq == 3


def test_a_state_that_never_settles_is_a_conflict(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    store = CanaryStore(tmp_path, policy=DEFAULT_POLICY)
    store.apply(0.25, reason="release", actor="alice")

    def always_stale(*args: Any, **kwargs: Any) -> Any:
        raise ConcurrentModificationError("expected state version 1, got 2")

    monkeypatch.setattr(store, "apply", always_stale)
    with pytest.raises(ConcurrentModificationError, match="changed 5 times"):
        rollback_on_alerts(store, DEFAULT_POLICY, [FIRING], actor="am", now=1e9)


def test_only_firing_alerts_matching_the_policy_count(tmp_path: Path) -> None:
    store = CanaryStore(tmp_path, policy=DEFAULT_POLICY)
    store.apply(0.25, reason="release", actor="alice")
    alerts = [("resolved", FIRING[1]), ("firing", {"alertname": "AURIS_SELF_Stress_High",
                                                   "severity": "info"})]
    outcome = rollback_on_alerts(store, DEFAULT_POLICY, alerts, actor="am", now=1e9)
    assert (outcome.action, outcome.applied, outcome.matched) == ("ignored", False, ())
    assert [r.action for r in store.history()] == ["manual"]
