"""Exporter -> /metrics/exp -> real Prometheus -> Phase C rules: alerts for the right tokens.

The rules are rendered from the SLO spec with every window and ``for`` scaled
by 1/60 (5m -> 5s): the same generator the committed rule file comes from,
never a hand-edited copy.

Nothing here depends on how fast the machine is. The shared server may still
hold series of an earlier test's target (other values, another ``instance``)
for a window's length, so every check looks at this loop's ``instance`` only.
"Quiet on green data" is checked on evaluations that started after this
loop's series were in the TSDB (``lastEvaluation`` from ``/api/v1/rules``), and
the pending -> firing history is read back from the ``ALERTS`` series
Prometheus writes at every evaluation, not from polls that could miss a state.
"""

from __future__ import annotations

import math
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
    """token_id -> state of the active ``alertname`` instances of this loop's target."""
    instance = loop.api_url.removeprefix("http://")
    return {a["labels"].get("token_id", ""): a["state"]
            for a in loop.prometheus.alerts()
            if a["labels"].get("alertname") == alertname
            and a["labels"].get("instance") == instance}


def alert_history(prom: Any, instance: str, since: float) -> dict[tuple[str, str], dict[str, list[float]]]:
    """(alertname, token) -> alertstate -> sample times of ``ALERTS`` since ``since``."""
    window = math.ceil(time.time() - since) + 1
    out: dict[tuple[str, str], dict[str, list[float]]] = {}
    for series in prom.query(f'ALERTS{{instance="{instance}"}}[{window}s]'):
        labels = series["metric"]
        key = (labels["alertname"], labels.get("token_id", ""))
        out.setdefault(key, {})[labels["alertstate"]] = [float(t) for t, _ in series["values"]]
    return out


def test_self_alerts_go_pending_firing_resolved_for_the_right_tokens(
        e2e_loop: Any, wait_evaluated: Callable[..., dict[str, Any]]) -> None:
    loop = e2e_loop
    prom = loop.prometheus
    instance = loop.api_url.removeprefix("http://")
    started = time.time()
    prom.load_rules(render_rules_yaml(DEFAULT_SLO_SPEC, policy=DEFAULT_POLICY, scale=1 / 60))
    both = f'count(self_coherence{{instance="{instance}"}}) == 2'
    prom.wait_until(lambda: prom.query(both), timeout=60, what="both tokens' coherence scraped")
    scraped = time.time()
    for name in (COHERENCE, STRESS):  # evaluated on green data: quiet
        rule = wait_evaluated(prom, name, after=scraped)
        assert [a for a in rule["alerts"] if a["labels"].get("instance") == instance] == [], rule
    assert states(loop, COHERENCE) == {} and states(loop, STRESS) == {}

    switched = time.time()
    loop.feeder.mode.update({"tok-a": "coherence_drop", "tok-b": "stress_spike"})
    prom.wait_until(lambda: states(loop, COHERENCE).get("tok-a") == "firing"
                    and states(loop, STRESS).get("tok-b") == "firing",
                    timeout=120, what="the coherence alert of tok-a and stress of tok-b firing")
    history = alert_history(prom, instance, started)
    mine = {key: seen for key, seen in history.items() if key[0] in (COHERENCE, STRESS)}
    assert set(mine) == {(COHERENCE, "tok-a"), (STRESS, "tok-b")}, history
    for key, seen in mine.items():
        # Prometheus wrote this alert only after the switch (green data was quiet at every
        # evaluation), pending at every evaluation before its first firing one
        assert set(seen) == {"pending", "firing"}, (key, seen)
        assert min(seen["pending"]) >= switched, (key, seen, switched)
        assert max(seen["pending"]) < min(seen["firing"]), (key, seen)
    firing = next(a for a in prom.alerts() if a["labels"]["alertname"] == COHERENCE
                  and a["labels"].get("instance") == instance)
    assert firing["labels"]["severity"] == "warning"
    assert "tok-a" in firing["annotations"]["summary"]
    assert firing["annotations"]["runbook_url"].endswith("#self-slo-violations")

    loop.feeder.mode.update({"tok-a": "steady", "tok-b": "steady"})
    prom.wait_until(lambda: not states(loop, COHERENCE) and not states(loop, STRESS),
                    timeout=120, what="both SELF alerts to resolve")
