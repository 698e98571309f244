"""PrometheusSource against a fake Prometheus API (good, garbage, down) and the auto-tuner on top."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry

from pytest_selfslo._core.errors import CanaryRequestError
from pytest_selfslo.canary.machine import Observation
from pytest_selfslo.canary.policy import DEFAULT_POLICY
from pytest_selfslo.canary.source import PrometheusSource, StaticSource
from pytest_selfslo.canary.store import CanaryStore
from pytest_selfslo.canary.tuner import CanaryAutoTuner

GREEN = {"stability_score_ema": "0.93", "oscillation_rate": "0", "self_coherence": "0.91",
         "self_stress": "0.12"}


def fake_prometheus(values: dict[str, str], alerts: list[dict[str, Any]] | None = None
                    ) -> Callable[[httpx.Request], httpx.Response]:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v1/alerts":
            return httpx.Response(200, json={"status": "success", "data": {"alerts": alerts or []}})
        query = request.url.params["query"]
        name = next(n for n in values if n in query) if any(n in query for n in values) else None
        result = [] if name is None else [{"metric": {}, "value": [1.0, values[name]]}]
        return httpx.Response(200, json={"status": "success",
                                         "data": {"resultType": "vector", "result": result}})
    return handler


def source_for(handler: Callable[[httpx.Request], httpx.Response], **kw: Any) -> PrometheusSource:
    client = httpx.Client(transport=httpx.MockTransport(handler))
    return PrometheusSource("http://prom.test", client=client, sleep=lambda s: None, **kw)


def test_reads_gates_and_only_firing_alerts() -> None:
    alerts = [{"labels": {"alertname": "AURIS_SELF_Stress_High", "severity": "warning"},
               "state": "firing"},
              {"labels": {"alertname": "AURIS_SELF_Coherence_Drop"}, "state": "pending"}]
    obs = source_for(fake_prometheus(GREEN, alerts)).observe(DEFAULT_POLICY, 100.0)
    assert obs.error is None
    assert obs.gates == {"stability_score_ema": 0.93, "oscillation_rate": 0.0,
                         "self_coherence": 0.91, "self_stress": 0.12}
    assert obs.firing_alerts == [{"alertname": "AURIS_SELF_Stress_High", "severity": "warning"}]


def test_no_series_is_missing_data_with_a_note() -> None:
    values = {k: v for k, v in GREEN.items() if k != "self_stress"}
    obs = source_for(fake_prometheus(values)).observe(DEFAULT_POLICY, 100.0)
    assert obs.gates["self_stress"] is None and obs.notes["self_stress"] == "no series"
    assert obs.error is None


@pytest.mark.parametrize(
    ("handler", "error"),
    [
        (lambda r: httpx.Response(200, text="<html>proxy login</html>"), "garbage answer"),
        (lambda r: httpx.Response(200, json=[1, 2]), "garbage answer"),
        (lambda r: httpx.Response(503, text="down"), "HTTP 503"),
        (lambda r: httpx.Response(400, json={"status": "error", "errorType": "bad_data",
                                             "error": "parse error"}), "HTTP 400 bad_data: parse error"),
    ],
)
def test_bad_answers_become_an_error_not_an_exception(handler: Any, error: str) -> None:
    obs = source_for(handler).observe(DEFAULT_POLICY, 1.0)
    assert obs.error is not None and error in obs.error


def test_garbage_values_are_missing_with_a_note() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("alerts"):
            return httpx.Response(200, json={"status": "success", "data": {"alerts": []}})
        return httpx.Response(200, json={"status": "success", "data": {
            "resultType": "vector", "result": [{"value": [1, "NaN"]}, {"value": [1, "2"]}]
            if "stress" in request.url.params["query"] else [{"value": [1, "NaN"]}]}})
    obs = source_for(handler).observe(DEFAULT_POLICY, 1.0)
    assert obs.notes["self_stress"].startswith("2 series, expected 1")
    assert obs.notes["self_coherence"] == "value is NaN"


def test_unreachable_is_retried_then_reported() -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        raise httpx.ConnectError("connection refused")

    obs = source_for(handler, retries=2).observe(DEFAULT_POLICY, 1.0)
    assert obs.error is not None and "ConnectError: connection refused" in obs.error
    assert len(calls) == 3  # one query, retried twice; the other gates are not tried


def test_timeout_is_reported() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow")

    obs = source_for(handler, retries=0, timeout=0.5).observe(DEFAULT_POLICY, 1.0)
    assert obs.error is not None and "timed out after 0.5s" in obs.error


def test_real_loopback_port_with_nothing_listening() -> None:
    source = PrometheusSource("http://127.0.0.1:9", timeout=0.5, retries=0)
    obs = source.observe(DEFAULT_POLICY, 1.0)
    source.close()
    assert obs.error is not None


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def tuner_for(tmp_path: Path, handler: Any, clock: Clock, **kw: Any) -> CanaryAutoTuner:
    store = CanaryStore(tmp_path, clock=clock)
    return CanaryAutoTuner(source=source_for(handler), store=store, clock=clock,
                           registry=CollectorRegistry(), **kw)


def test_tuner_walks_to_100_percent_on_green_data(tmp_path: Path) -> None:
    clock = Clock()
    tuner = tuner_for(tmp_path, fake_prometheus(GREEN), clock, auto_apply=True)
    actions = []
    for _ in range(60):
        clock.t += 300.0
        actions.append(tuner.check_and_tune()["action"])
    assert actions.count("advance") == 4 and actions[-1] == "complete"
    assert tuner.store.load().sampling == 1.0
    assert tuner.store.verify_audit() == 4
    assert [r.action for r in tuner.store.history()] == ["advance"] * 4
    registry = tuner.registry
    assert registry.get_sample_value("selfslo_canary_decisions_total", {"action": "advance"}) == 4
    assert registry.get_sample_value("selfslo_canary_decisions_total", {"action": "complete"}) >= 1
    assert registry.get_sample_value("selfslo_canary_sampling") == 1.0


def test_tuner_without_auto_apply_only_recommends(tmp_path: Path) -> None:
    clock = Clock()
    tuner = tuner_for(tmp_path, fake_prometheus(GREEN), clock)
    results = []
    for _ in range(5):
        clock.t += 300.0
        results.append(tuner.check_and_tune())
    assert results[-1]["action"] == "advance" and results[-1]["applied"] is False
    assert "not applied (auto_apply is off)" in results[-1]["note"]
    assert tuner.store.history() == [] and tuner.store.load().sampling == 0.05


def test_tuner_rolls_back_on_a_firing_alert_and_pauses(tmp_path: Path) -> None:
    clock = Clock()
    store = CanaryStore(tmp_path, clock=clock)
    store.apply(0.50, reason="set up", actor="test")
    alert = [{"labels": {"alertname": "AURIS_SELF_Stress_High", "severity": "warning"},
              "state": "firing"}]
    tuner = CanaryAutoTuner(source=source_for(fake_prometheus(GREEN, alert)), store=store,
                            clock=clock, auto_apply=True, registry=CollectorRegistry())
    clock.t += 60
    out = tuner.check_and_tune()
    assert (out["action"], out["next_canary"], out["applied"]) == ("rollback", 0.05, True)
    record = store.history()[-1]
    assert record.action == "rollback" and record.decision is not None
    assert record.decision["reasons"] == out["reasons"]
    assert store.load().paused


def test_tuner_holds_when_prometheus_is_down(tmp_path: Path) -> None:
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    clock = Clock()
    tuner = tuner_for(tmp_path, down, clock, auto_apply=True)
    clock.t = 10_000.0
    out = tuner.check_and_tune()
    assert out["action"] == "hold" and "metrics source error" in out["reasons"][0]
    assert tuner.store.load().sampling == 0.05
    assert tuner.registry.get_sample_value("selfslo_canary_observation_errors_total") == 1.0


def test_dry_run_persists_nothing(tmp_path: Path) -> None:
    clock = Clock()
    tuner = tuner_for(tmp_path, fake_prometheus(GREEN), clock, dry_run=True, auto_apply=True)
    for _ in range(10):
        clock.t += 600
        tuner.check_and_tune()
    assert not tuner.store.state_path.exists() and tuner.store.history() == []


def test_apply_canary_change_is_audited_and_validated(tmp_path: Path) -> None:
    tuner = tuner_for(tmp_path, fake_prometheus(GREEN), Clock())
    out = tuner.apply_canary_change(0.25, "manual bump")
    assert out["success"] and out["old_sampling"] == 0.05 and out["new_sampling"] == 0.25
    assert "without restart" in out["note"]
    with pytest.raises(CanaryRequestError, match="reason"):
        tuner.apply_canary_change(0.5, "")
    assert json.loads(tuner.store.state_path.read_text())["sampling"] == 0.25


def test_tuner_needs_a_source() -> None:
    with pytest.raises(ValueError, match="needs prometheus_url or source"):
        CanaryAutoTuner()


def test_static_source_replays_then_errors() -> None:
    src = StaticSource([Observation(gates={"x": 1.0})])
    assert src.observe(DEFAULT_POLICY, 5.0).at == 5.0
    assert src.observe(DEFAULT_POLICY, 6.0).error == "no more recorded observations"


def _embedded(lines: str, alerts: Any = None) -> Any:
    from pytest_selfslo.canary.source import EmbeddedSource
    from pytest_selfslo.promql.engine import Engine
    from pytest_selfslo.promql.storage import Storage

    storage = Storage()
    storage.load(lines, interval_ms=60_000)
    return EmbeddedSource(Engine(storage), alerts=alerts)


GREEN_SERIES = """
stability_score_ema{instance="c0"} 0.9+0x30
oscillation_rate{instance="c0"} 0+0x30
self_coherence{token_id="a"} 0.9+0x30
self_coherence{token_id="b"} 0.8+0x30
self_stress{token_id="a"} 0.1+0x30
"""


def test_embedded_source_evaluates_the_gates_with_the_engine() -> None:
    obs = _embedded(GREEN_SERIES).observe(DEFAULT_POLICY, 1200.0)
    assert obs.error is None
    assert obs.gates == pytest.approx({"stability_score_ema": 0.9, "oscillation_rate": 0.0,
                                       "self_coherence": 0.85, "self_stress": 0.1})


def test_embedded_source_reports_missing_series_and_engine_errors() -> None:
    obs = _embedded("self_stress{token_id=\"a\"} 0.1+0x30").observe(DEFAULT_POLICY, 1200.0)
    assert obs.gates["self_coherence"] is None and obs.notes["self_coherence"] == "no series"
    from pytest_selfslo.canary.policy import Gate

    policy = dataclasses.replace(DEFAULT_POLICY, gates=(Gate("bad", "rate(self_stress)", ">=", 0),))
    obs = _embedded(GREEN_SERIES).observe(policy, 1200.0)
    assert obs.error is not None and obs.error.startswith("gate bad: ")


def test_tuner_on_the_embedded_engine_rolls_back_on_an_alert(tmp_path: Path) -> None:
    firing = [{"alertname": "AURIS_SELF_Stress_High", "severity": "warning"}]
    clock = Clock()
    clock.t = 1200.0
    store = CanaryStore(tmp_path, clock=clock)
    store.apply(0.25, reason="set up", actor="test")
    source = _embedded(GREEN_SERIES, alerts=lambda at: firing if at >= 1500 else [])
    tuner = CanaryAutoTuner(source=source, store=store, clock=clock, auto_apply=True,
                            registry=CollectorRegistry())
    clock.t = 1260.0
    assert tuner.check_and_tune()["action"] == "hold"
    clock.t = 1500.0
    out = tuner.check_and_tune()
    assert (out["action"], out["next_canary"], out["applied"]) == ("rollback", 0.05, True)
