"""Faults with the real Prometheus: the scrape target stops, Prometheus restarts."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from pytest_selfslo.api import ApiConfig, create_app
from pytest_selfslo.api_server import serve_in_thread
from pytest_selfslo.canary.policy import DEFAULT_POLICY
from pytest_selfslo.canary.store import CanaryStore
from pytest_selfslo.canary.tuner import CanaryAutoTuner
from pytest_selfslo.demo import scaled_policy
from pytest_selfslo.metrics import SelfMetricsExporter
from pytest_selfslo.prometheus import PrometheusServer
from pytest_selfslo.prometheus_local import LocalPrometheus
from pytest_selfslo.rules.render import render_rules_yaml
from pytest_selfslo.slo import DEFAULT_SLO_SPEC

pytestmark = pytest.mark.selfslo_prometheus

ABSENT = "AURIS_SELF_Exporter_Absent"


def firing(prom: PrometheusServer, name: str) -> bool:
    return any(a["labels"].get("alertname") == name and a["state"] == "firing"
               for a in prom.alerts())


def test_stopped_target_fires_absent_and_a_restarted_prometheus_is_used_again(
        prometheus: PrometheusServer, tmp_path: Path) -> None:
    prom = prometheus
    if not isinstance(prom, LocalPrometheus):
        pytest.skip(f"restarting needs a local prometheus process, got {prom!r}")
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
        time.sleep(2.5)  # a few evaluations with the exporter up
        assert not firing(prom, ABSENT)
    # the target is gone: its series go stale and the absent alert fires (for: 5s scaled)
    prom.wait_until(lambda: firing(prom, ABSENT), timeout=40, what=f"{ABSENT} firing")

    tuner = CanaryAutoTuner(prometheus_url=prom.url, policy=policy,
                            store=CanaryStore(tmp_path / "state", policy=policy),
                            auto_apply=True, registry=CollectorRegistry())
    process = prom.process
    args = process.args
    process.kill()
    process.wait(timeout=10)
    down = tuner.check_and_tune()
    assert down["action"] == "hold" and "metrics source error" in down["reasons"][0]

    # same binary, same flags, same port and TSDB: the tuner's URL works again
    log = (Path(prom.workdir) / "prometheus-restart.log").open("wb")
    try:
        prom.process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL,
                                        cwd=prom.workdir)
        prom.wait_ready(30)
        deadline = time.monotonic() + 30
        decision = tuner.check_and_tune()
        while "metrics source error" in " ".join(decision["reasons"]) and \
                time.monotonic() < deadline:
            time.sleep(0.5)
            decision = tuner.check_and_tune()
        assert not any("metrics source error" in r for r in decision["reasons"]), decision
        assert decision["action"] == "hold"  # at the floor with no data: never advances
        assert tuner.store.load().sampling == 0.05
    finally:
        log.close()
