"""Faults with the real Prometheus: the scrape target stops, Prometheus restarts."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from pytest_selfslo.api.app import ApiConfig, create_app
from pytest_selfslo.api.server import serve_in_thread
from pytest_selfslo.canary.policy import DEFAULT_POLICY
from pytest_selfslo.canary.store import CanaryStore
from pytest_selfslo.canary.tuner import CanaryAutoTuner
from pytest_selfslo.cli.demo import scaled_policy
from pytest_selfslo.lint.render import render_rules_yaml
from pytest_selfslo.metrics.exporter import SelfMetricsExporter
from pytest_selfslo.prometheus.client import PrometheusServer
from pytest_selfslo.prometheus.managed import ManagedPrometheus
from pytest_selfslo.slo.spec import DEFAULT_SLO_SPEC

pytestmark = pytest.mark.selfslo_prometheus

ABSENT = "AURIS_SELF_Exporter_Absent"


def firing(prom: PrometheusServer, name: str) -> bool:
    return any(a["labels"].get("alertname") == name and a["state"] == "firing"
               for a in prom.alerts())


def test_stopped_target_fires_absent_and_a_restarted_prometheus_is_used_again(
        own_prometheus: ManagedPrometheus, tmp_path: Path,
        kill_prometheus: Callable[[PrometheusServer], None],
        restart_prometheus: Callable[[PrometheusServer], None],
        wait_evaluated: Callable[[PrometheusServer, str], dict[str, Any]]) -> None:
    prom = own_prometheus  # killed and restarted below: nobody else's server
    policy = scaled_policy(DEFAULT_POLICY, 60)
    exporter = SelfMetricsExporter(registry=CollectorRegistry(), enabled=True)
    exporter.update("tok-a", 0.9, 0.95, 0.9, 0.1)
    app = create_app(ApiConfig(heartbeats=tmp_path / "hb", state_dir=tmp_path / "state",
                               exporter=exporter))
    with serve_in_thread(app) as url:
        prom.set_scrape_targets([url.removeprefix("http://")], interval="1s",
                                metrics_path="/metrics/exp")
        prom.wait_until(lambda: prom.query_value("self_coherence") == 0.9, timeout=30,
                        what="self_coherence scraped")
        prom.load_rules(render_rules_yaml(DEFAULT_SLO_SPEC, policy=DEFAULT_POLICY,
                                          scale=1 / 60))
        # two evaluations with the exporter up: the absent rule stays inactive
        assert wait_evaluated(prom, ABSENT)["state"] == "inactive"
        assert not firing(prom, ABSENT)
    # the target is gone: its series go stale and the absent alert fires (for: 5s scaled)
    prom.wait_until(lambda: firing(prom, ABSENT), timeout=40, what=f"{ABSENT} firing")

    tuner = CanaryAutoTuner(prometheus_url=prom.url, policy=policy,
                            store=CanaryStore(tmp_path / "state", policy=policy),
                            auto_apply=True, registry=CollectorRegistry())
    kill_prometheus(prom)
    down = tuner.check_and_tune()
    assert down["action"] == "hold" and "metrics source error" in down["reasons"][0]

    restart_prometheus(prom)  # same flags, port and TSDB: the tuner's URL works again
    deadline = time.monotonic() + 30
    decision = tuner.check_and_tune()
    while "metrics source error" in " ".join(decision["reasons"]) and \
            time.monotonic() < deadline:
        time.sleep(0.5)
        decision = tuner.check_and_tune()
    assert not any("metrics source error" in r for r in decision["reasons"]), decision
    assert decision["action"] == "hold"  # at the floor with no data: never advances
    assert tuner.store.load().sampling == 0.05
