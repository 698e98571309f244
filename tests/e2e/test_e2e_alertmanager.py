"""Push rollback end to end: real Prometheus -> real Alertmanager -> ``selfslo serve`` webhook.

A coherence drop of one token makes the (time-scaled, 1/120) rule
``AURIS_SELF_Coherence_Drop`` fire; Prometheus sends it to Alertmanager
(``group_wait`` 1s), whose webhook receiver is ``POST /self/alerts`` of a
``selfslo serve`` process. The tuner runs too (``selfslo canary run``), but
with its poll interval at 10 minutes it decides once at start-up and then
sleeps: the rollback in the audit log can only come from the webhook. The
latency from the alert's ``activeAt`` to the audit record is reported
(``record_property``, printed), never asserted: timing thresholds do not belong
in tests on a shared machine.
"""

from __future__ import annotations

import datetime as _dt
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from prometheus_client import CollectorRegistry, Gauge

from pytest_selfslo._core.net import free_port
from pytest_selfslo.canary.policy import DEFAULT_POLICY
from pytest_selfslo.canary.store import CanaryStore
from pytest_selfslo.lint.render import render_rules_yaml
from pytest_selfslo.metrics.exporter import SelfMetricsExporter
from pytest_selfslo.plugin.fixtures import ScrapeTarget
from pytest_selfslo.prometheus.alertmanager import ManagedAlertmanager
from pytest_selfslo.prometheus.managed import ManagedPrometheus
from pytest_selfslo.slo.spec import DEFAULT_SLO_SPEC

pytestmark = pytest.mark.selfslo_prometheus

SCALE = 120
TOKEN = "alertmanager-e2e-token-0123"
GROUP_WAIT = 1.0


def _selfslo(*argv: str, **kwargs: Any) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "pytest_selfslo", *argv], text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kwargs)


def _stop(proc: subprocess.Popen[str]) -> tuple[str, str]:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        return proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.communicate(timeout=10)


def _wait_http(proc: subprocess.Popen[str], url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"process exited early: {proc.communicate()}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{url} did not answer within {timeout}s")


def _rfc3339(text: str) -> float:
    """Unix seconds of Prometheus' ``activeAt`` (nanosecond fractions cut to microseconds)."""
    head, _, frac = text.rstrip("Z").partition(".")
    micro = (frac + "000000")[:6]
    stamp = _dt.datetime.fromisoformat(f"{head}.{micro}+00:00")
    return stamp.timestamp()


class _Scores:
    """Exports two tokens' SELF scores every 0.25 s; tokens in ``dropped`` have coherence 0.5."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.exporter = SelfMetricsExporter(registry=registry, enabled=True)
        Gauge("stability_score_ema", "healthy", registry=registry).set(0.93)
        Gauge("oscillation_rate", "healthy", registry=registry).set(0.0)
        self.dropped: set[str] = set()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="e2e-am-scores", daemon=True)

    def _run(self) -> None:
        while not self.stop.is_set():
            for token in ("tok-a", "tok-b"):
                coherence = 0.5 if token in self.dropped else 0.95
                self.exporter.update(token, coherence, 0.97, 0.9, 0.1)
            self.stop.wait(0.25)


@pytest.fixture
def scores(prometheus: ManagedPrometheus) -> Iterator[_Scores]:
    if not isinstance(prometheus, ManagedPrometheus):
        pytest.skip(f"the test configures its server; {prometheus!r} cannot be configured")
    registry = CollectorRegistry()
    feeder = _Scores(registry)
    feeder.thread.start()
    target = ScrapeTarget(prometheus, registry)
    try:
        yield feeder
    finally:
        feeder.stop.set()
        feeder.thread.join(timeout=5)
        target.close()


def test_webhook_rolls_back_within_seconds_of_the_alert(
        prometheus: ManagedPrometheus, alertmanager: Any, scores: _Scores, tmp_path: Path,
        record_property: Any) -> None:
    if not isinstance(alertmanager, ManagedAlertmanager):
        pytest.skip(f"the test configures its Alertmanager; {alertmanager!r} cannot be configured")
    state = tmp_path / "state"
    tokens = tmp_path / "tokens"
    tokens.write_text(f"alertmanager {TOKEN}\n")
    port = free_port()
    api = f"http://127.0.0.1:{port}"
    env = {**os.environ, "SELFSLO_STATE_DIR": str(state)}
    serve = _selfslo("serve", "--port", str(port), "--state-dir", str(state),
                     "--heartbeats", str(tmp_path / "hb.jsonl"), "--token-file", str(tokens),
                     "--log-level", "info", env=env)
    tuner: subprocess.Popen[str] | None = None
    first = ""
    group = yaml.safe_load(render_rules_yaml(DEFAULT_SLO_SPEC, policy=DEFAULT_POLICY,
                                             scale=1 / SCALE))["groups"][0]
    assert group["name"] == "auris-self-phase-c"
    try:
        _wait_http(serve, f"{api}/healthz")
        auth = {"Authorization": f"Bearer {TOKEN}"}
        raised = httpx.post(f"{api}/self/canary", headers=auth,
                            json={"new_sampling": 0.25, "reason": "release 42 at 25%"})
        assert raised.status_code == 200, raised.text
        # alerts another test left in this worker's Alertmanager would be notified at once
        alertmanager.wait_until(lambda: not any(
            a["labels"].get("alertname", "").startswith("AURIS_SELF_")
            for a in alertmanager.alerts(active=True)), timeout=60,
            what="no AURIS_SELF_ alert left active by an earlier test")
        alertmanager.set_webhook(f"{api}/self/alerts", bearer=TOKEN,
                                 matchers=['alertname=~"AURIS_SELF_.*"'],
                                 group_wait=f"{GROUP_WAIT:g}s", group_interval="1s")
        prometheus.load_rules(yaml.safe_dump({"groups": [group]}))
        # the last reload: returns once the notifier sends to the Alertmanager
        prometheus.set_alertmanagers([alertmanager.address])
        # the tuner polls every 10 minutes: one decision now, then asleep for the whole test
        tuner = _selfslo("canary", "run", "--every", "10m", "--apply", "--state-dir", str(state),
                         "--prometheus", prometheus.url, env=env)
        assert tuner.stdout is not None
        first = tuner.stdout.readline()
        assert first.split()[1] in ("HOLD", "PAUSED"), first

        scores.dropped.add("tok-a")
        alert = prometheus.wait_for_alert("AURIS_SELF_Coherence_Drop", "firing", timeout=60)
        store = CanaryStore(state)

        def rolled_back() -> Any:
            return next((r for r in store.history() if r.action == "rollback"), None)

        record = prometheus.wait_until(rolled_back, timeout=60, interval=0.05,
                                       what="the webhook's rollback in the audit log")
        latency = record.ts - _rfc3339(alert["activeAt"])
        record_property("alert_to_rollback_seconds", round(latency, 3))
        print(f"\nalert activeAt -> audit record: {latency:.2f}s (group_wait {GROUP_WAIT:g}s, "
              f"rule for {2.5:g}s)")

        assert (record.old, record.new, record.paused) == (0.25, 0.05, True)
        assert record.actor == "alertmanager@token:alertmanager"
        assert "AURIS_SELF_Coherence_Drop" in record.reason and "Alertmanager" in record.reason
        assert record.decision is not None and record.decision["source"] == "alertmanager"
        names = {a["labels"]["alertname"] for a in record.decision["notification"]["alerts"]}
        assert names == {"AURIS_SELF_Coherence_Drop"}
        assert any(a["labels"].get("alertname") == "AURIS_SELF_Coherence_Drop"
                   for a in alertmanager.alerts(active=True))
        view = httpx.get(f"{api}/self/canary").json()
        assert view["state"]["sampling"] == 0.05 and view["audit"][-1]["action"] == "rollback"

        # more notifications of the firing group (tok-b joins it) find the canary at the floor
        scores.dropped.add("tok-b")
        alertmanager.wait_until(lambda: any(
            a["labels"].get("token_id") == "tok-b" for a in alertmanager.alerts(active=True)),
            timeout=60, what="tok-b's alert in Alertmanager")
        time.sleep(GROUP_WAIT + 2)  # group_interval 1s: the grown group is notified again
        assert [r.action for r in store.history()] == ["manual", "rollback"]
        assert tuner.poll() is None  # still asleep in its 10-minute wait
    finally:
        if tuner is not None:
            out, _ = _stop(tuner)
            decisions = [line for line in (first + out).splitlines() if line[:4].isdigit()]
            assert len(decisions) == 1, out  # the tuner decided once: the rollback was the push
        log = "\n".join(_stop(serve))  # uvicorn's access log goes to stdout
        prometheus.set_alertmanagers([])
        prometheus.clear_rules()
    posts = [line for line in log.splitlines() if "POST /self/alerts" in line]
    assert len(posts) >= 2 and all(" 200" in line for line in posts), log[-2000:]
