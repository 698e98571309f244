"""Exporter -> /metrics/exp -> real Prometheus -> Phase C rules: alerts for the right tokens.

The rules are rendered from the SLO spec with every window and ``for`` scaled
by 1/60 (5m -> 5s): the same generator the committed rule file comes from,
never a hand-edited copy.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from pytest_selfslo.canary.policy import DEFAULT_POLICY
from pytest_selfslo.lint.render import render_rules_yaml
from pytest_selfslo.slo.spec import DEFAULT_SLO_SPEC

pytestmark = pytest.mark.selfslo_prometheus

COHERENCE = "AURIS_SELF_Coherence_Drop"
STRESS = "AURIS_SELF_Stress_High"


def states(loop: Any, alertname: str) -> dict[str, str]:
    """token_id -> state of the active ``alertname`` instances."""
    return {a["labels"].get("token_id", ""): a["state"]
            for a in loop.prometheus.alerts()
            if a["labels"].get("alertname") == alertname}


def test_self_alerts_go_pending_firing_resolved_for_the_right_tokens(
        e2e_loop: Any, wait_evaluated: Callable[[Any, str], dict[str, Any]]) -> None:
    loop = e2e_loop
    prom = loop.prometheus
    prom.load_rules(render_rules_yaml(DEFAULT_SLO_SPEC, policy=DEFAULT_POLICY, scale=1 / 60))
    prom.wait_until(lambda: prom.query_value("count(avg_over_time(self_coherence[5s]))") == 2,
                    timeout=30, what="both tokens' coherence scraped")
    for name in (COHERENCE, STRESS):  # evaluated on green data: quiet
        assert wait_evaluated(prom, name)["state"] == "inactive"
    assert states(loop, COHERENCE) == {} and states(loop, STRESS) == {}

    loop.feeder.mode.update({"tok-a": "coherence_drop", "tok-b": "stress_spike"})
    seen: dict[tuple[str, str], list[str]] = {}
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for name in (COHERENCE, STRESS):
            for token, state in states(loop, name).items():
                history = seen.setdefault((name, token), [])
                if not history or history[-1] != state:
                    history.append(state)
        if seen.get((COHERENCE, "tok-a"), [""])[-1] == "firing" and \
                seen.get((STRESS, "tok-b"), [""])[-1] == "firing":
            break
        time.sleep(0.2)
    assert seen.get((COHERENCE, "tok-a")) == ["pending", "firing"], seen
    assert seen.get((STRESS, "tok-b")) == ["pending", "firing"], seen
    assert (COHERENCE, "tok-b") not in seen and (STRESS, "tok-a") not in seen, seen
    firing = next(a for a in prom.alerts() if a["labels"]["alertname"] == COHERENCE)
    assert firing["labels"]["severity"] == "warning"
    assert "tok-a" in firing["annotations"]["summary"]
    assert firing["annotations"]["runbook_url"].endswith("#self-slo-violations")

    loop.feeder.mode.update({"tok-a": "steady", "tok-b": "steady"})
    prom.wait_until(lambda: not states(loop, COHERENCE) and not states(loop, STRESS),
                    timeout=60, what="both SELF alerts to resolve")
