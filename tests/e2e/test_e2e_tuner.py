"""The tuner against the real Prometheus: advance on green, roll back on an alert, hold without data.

Policy and rules are scaled by 1/120 from the same sources as production
(``scaled_policy`` of the default policy; rules rendered from the SLO spec):
10m gate windows and dwell become 5s, 5m alert windows and ``for`` 2.5s.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry

from pytest_selfslo.canary.policy import DEFAULT_POLICY
from pytest_selfslo.canary.store import CanaryStore
from pytest_selfslo.canary.tuner import CanaryAutoTuner
from pytest_selfslo.cli.demo import scaled_policy
from pytest_selfslo.lint.render import render_rules_yaml
from pytest_selfslo.slo.spec import DEFAULT_SLO_SPEC

pytestmark = pytest.mark.selfslo_prometheus

SCALE = 120


def tune_until(tuner: CanaryAutoTuner, action: str, timeout: float) -> dict[str, Any]:
    """Run the control loop once a second until it decides ``action``; return that decision."""
    deadline = time.monotonic() + timeout
    seen: list[str] = []
    while time.monotonic() < deadline:
        decision = tuner.check_and_tune()
        seen.append(f"{decision['action']}: {'; '.join(decision['reasons'])}")
        if decision["action"] == action:
            return decision
        time.sleep(1)
    raise AssertionError(f"no {action} within {timeout}s; decisions: {seen[-5:]}")


def test_tuner_advances_on_green_rolls_back_on_alert_and_holds_without_data(
        e2e_loop_own: Any, kill_prometheus: Callable[[Any], None]) -> None:
    e2e_loop = e2e_loop_own  # this test kills its server
    prom = e2e_loop.prometheus
    policy = scaled_policy(DEFAULT_POLICY, SCALE)
    prom.load_rules(render_rules_yaml(DEFAULT_SLO_SPEC, policy=DEFAULT_POLICY, scale=1 / SCALE))
    store = CanaryStore(e2e_loop.state_dir, policy=policy)
    tuner = CanaryAutoTuner(prometheus_url=prom.url, policy=policy, store=store,
                            auto_apply=True, registry=CollectorRegistry(), actor="tuner")
    started = time.time()

    advance = tune_until(tuner, "advance", timeout=60)
    assert (advance["current_canary"], advance["next_canary"], advance["applied"]) == (
        0.05, 0.1, True)
    assert time.time() - started >= policy.min_dwell[0] - 1  # dwell respected (scaled)
    assert all(g["ok"] for g in advance["gates"].values()), advance["gates"]
    health = httpx.get(f"{e2e_loop.api_url}/self/health").json()
    assert health["canary_sampling"] == 0.1

    e2e_loop.feeder.mode["tok-a"] = "coherence_drop"
    rollback = tune_until(tuner, "rollback", timeout=60)
    assert rollback["next_canary"] == 0.05
    assert any(a.get("alertname", "").startswith("AURIS_") for a in rollback["firing_alerts"])
    records = store.history()
    assert [r.action for r in records] == ["advance", "rollback"]
    assert records[-1].actor == "tuner" and "alert" in records[-1].reason
    assert store.verify_audit() == 2
    health = httpx.get(f"{e2e_loop.api_url}/self/health").json()
    assert (health["canary_sampling"], health["canary_paused"]) == (0.05, True)
    view = httpx.get(f"{e2e_loop.api_url}/self/canary").json()
    assert view["audit"][-1]["action"] == "rollback"

    # An operator resumes through the API (audited), then Prometheus dies: the tuner
    # holds (missing data never moves the canary); exporter and API keep serving.
    e2e_loop.feeder.mode["tok-a"] = "steady"
    resumed = httpx.post(f"{e2e_loop.api_url}/self/canary/resume", json={"reason": "fixed"},
                         headers={**e2e_loop.auth, "X-Actor": "oncall"})
    assert resumed.status_code == 200 and resumed.json()["paused"] is False
    kill_prometheus(prom)
    hold = tuner.check_and_tune()
    assert hold["action"] == "hold" and hold["applied"] is False
    assert "metrics source error" in hold["reasons"][0], hold["reasons"]
    assert "Connection refused" in hold["reasons"][0], hold["reasons"]
    assert store.load().sampling == 0.05
    assert [r.action for r in store.history()] == ["advance", "rollback", "resume"]
    assert httpx.get(f"{e2e_loop.api_url}/self/health").status_code == 200
    metrics = httpx.get(f"{e2e_loop.api_url}/metrics/exp")
    assert metrics.status_code == 200 and 'token_id="tok-a"' in metrics.text
