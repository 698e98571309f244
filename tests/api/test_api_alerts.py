"""``POST /self/alerts``: Alertmanager's webhook rolls back once; bad input changes nothing."""

from __future__ import annotations

import base64
import copy
import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from pytest_selfslo.api.app import ApiConfig
from pytest_selfslo.canary.policy import DEFAULT_POLICY
from pytest_selfslo.canary.store import CanaryStore

ALERT: dict[str, Any] = {"status": "firing",
         "labels": {"alertname": "AURIS_SELF_Coherence_Drop", "severity": "warning",
                    "token_id": "tok-a"},
         "annotations": {"summary": "coherence below 0.80"},
         "startsAt": "2025-01-01T12:00:00.123456789Z", "endsAt": "0001-01-01T00:00:00Z",
         "generatorURL": "http://prometheus:9090/graph?g0.expr=x", "fingerprint": "5f1c2a"}
PAYLOAD = {"version": "4", "groupKey": '{}:{alertname="AURIS_SELF_Coherence_Drop"}',
           "truncatedAlerts": 0, "status": "firing", "receiver": "selfslo-canary",
           "groupLabels": {"alertname": "AURIS_SELF_Coherence_Drop"},
           "commonLabels": {"alertname": "AURIS_SELF_Coherence_Drop", "severity": "warning"},
           "commonAnnotations": {}, "externalURL": "http://alertmanager:9093",
           "alerts": [ALERT]}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def basic(user: str, password: str) -> dict[str, str]:
    raw = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


def payload(**changes: Any) -> dict[str, Any]:
    body = copy.deepcopy(PAYLOAD)
    body.update(changes)
    return body


@pytest.fixture
def raised(api_config: ApiConfig) -> CanaryStore:
    """The store of ``api_config`` with the canary raised to 25% (a rollback has room)."""
    store = CanaryStore(api_config.state_dir, policy=DEFAULT_POLICY)
    store.apply(0.25, reason="release 42 at 25%", actor="alice")
    return store


def files(store: CanaryStore) -> tuple[bytes, bytes]:
    return store.state_path.read_bytes(), store.audit_path.read_bytes()


def test_firing_rollback_alert_rolls_back_once_with_the_alert_in_the_reason(
        client: TestClient, raised: CanaryStore, auth: dict[str, str]) -> None:
    resp = client.post("/self/alerts", json=PAYLOAD, headers=auth)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert (body["action"], body["applied"], body["current_canary"], body["next_canary"]) == (
        "rollback", True, 0.25, 0.05)
    assert body["rollback_alerts"] == [ALERT["labels"]] and body["audit_seq"] == 2
    record = raised.history()[-1]
    assert (record.action, record.old, record.new, record.paused) == ("rollback", 0.25, 0.05, True)
    assert record.actor == body["actor"] == "alertmanager@token:" + record.actor.split(":")[-1]
    assert record.reason == ("rollback alert firing: AURIS_SELF_Coherence_Drop; rolling back to "
                             "0.05; via Alertmanager notification (receiver selfslo-canary)")
    assert record.decision is not None
    assert record.decision["source"] == "alertmanager" and record.decision["action"] == "rollback"
    notification = record.decision["notification"]
    assert notification["group_key"] == PAYLOAD["groupKey"]
    assert notification["alerts"][0]["fingerprint"] == "5f1c2a"
    assert raised.verify_audit() == 2

    # the same notification again (Alertmanager repeats it): nothing written at the floor
    before = files(raised)
    again = client.post("/self/alerts", json=PAYLOAD, headers=auth).json()
    assert (again["action"], again["applied"], again["audit_seq"]) == ("hold", False, None)
    assert again["reasons"] == ["rollback alert firing: AURIS_SELF_Coherence_Drop; already at 0.05"]
    assert files(raised) == before


def test_a_big_alert_group_fits_where_other_bodies_would_not(
        client: TestClient, raised: CanaryStore, auth: dict[str, str]) -> None:
    many = payload(alerts=[{**ALERT, "labels": {**ALERT["labels"], "token_id": f"tok-{i}"}}
                           for i in range(200)])
    raw = json.dumps(many).encode()
    assert 16 * 1024 < len(raw) < 1024 * 1024
    resp = client.post("/self/alerts", content=raw,
                       headers={**auth, "Content-Type": "application/json"})
    assert resp.status_code == 200 and resp.json()["action"] == "rollback"
    assert len(resp.json()["rollback_alerts"]) == 200
    assert len(raised.history()[-1].decision["notification"]["alerts"]) == 20  # type: ignore[index]
    other = client.post("/self/canary", content=raw,
                        headers={**auth, "Content-Type": "application/json"})
    assert other.status_code == 413


def test_basic_auth_as_alertmanager_sends_it_names_the_sender(
        client: TestClient, raised: CanaryStore, api_config: ApiConfig) -> None:
    assert api_config.token is not None
    resp = client.post("/self/alerts", json=PAYLOAD, headers=basic("am-eu-1", api_config.token))
    assert resp.status_code == 200, resp.text
    assert raised.history()[-1].actor.startswith("am-eu-1@token:")


def test_a_firing_alert_rolls_back_even_a_paused_canary(
        client: TestClient, raised: CanaryStore, auth: dict[str, str]) -> None:
    raised.pause(reason="incident 7", actor="bob")
    assert client.post("/self/alerts", json=PAYLOAD, headers=auth).json()["action"] == "rollback"
    assert raised.load().sampling == 0.05


@pytest.mark.parametrize(("body", "why"), [
    (payload(status="resolved", alerts=[{**ALERT, "status": "resolved"}]),
     "no firing alert (resolved notifications never advance)"),
    (payload(alerts=[{**ALERT, "labels": {"alertname": "Watchdog", "severity": "none"}}]),
     "1 firing alert(s), none matches the policy's rollback_alerts"),
    (payload(alerts=[]), "no firing alert (resolved notifications never advance)"),
])
def test_resolved_or_foreign_alerts_write_nothing_and_never_advance(
        api_config: ApiConfig, make_client: Callable[..., TestClient], body: dict[str, Any],
        why: str, auth: dict[str, str]) -> None:
    # a policy without gates would advance on any green observation: a notification must not
    policy = dataclasses.replace(DEFAULT_POLICY, gates=(), min_dwell=(0.0,) * 5,
                                 consecutive_successes=1)
    client = make_client(dataclasses.replace(api_config, policy=policy))
    store = CanaryStore(api_config.state_dir, policy=policy)
    store.apply(0.1, reason="release at 10%", actor="alice")
    before = files(store)
    resp = client.post("/self/alerts", json=body, headers=auth)
    assert resp.status_code == 200, resp.text
    assert (resp.json()["action"], resp.json()["applied"], resp.json()["reasons"]) == (
        "ignored", False, [why])
    assert files(store) == before


def _ok(token: str) -> dict[str, str]:
    return bearer(token)


def _none(token: str) -> dict[str, str]:
    return {}


def _bad_requests() -> list[Any]:
    missing_alerts = payload()
    del missing_alerts["alerts"]
    missing_label = payload(alerts=[{k: v for k, v in ALERT.items() if k != "labels"}])
    return [
        pytest.param(json.dumps(payload(version="3")), _ok, 422, "version", id="version-3"),
        pytest.param(json.dumps(payload(version=4)), _ok, 422, "version", id="version-int"),
        pytest.param(json.dumps(missing_alerts), _ok, 422, "alerts", id="missing-alerts"),
        pytest.param(json.dumps(missing_label), _ok, 422, "alerts.0.labels", id="missing-labels"),
        pytest.param(json.dumps(payload(status="exploded")), _ok, 422, "status", id="bad-status"),
        pytest.param(json.dumps(payload(alerts=[{**ALERT, "labels": {"severity": 3}}])), _ok, 422,
                     "alerts.0.labels.severity", id="label-not-a-string"),
        pytest.param(json.dumps(payload(alerts=[{**ALERT, "startsAt": "yesterday"}])), _ok, 422,
                     "alerts.0.startsAt", id="bad-time"),
        pytest.param("{not json", _ok, 422, "body", id="not-json"),
        pytest.param(json.dumps([PAYLOAD]), _ok, 422, "body", id="a-list"),
        pytest.param(json.dumps(payload(alerts=[ALERT] * 4000)), _ok, 413, "body", id="huge"),
        pytest.param(json.dumps(PAYLOAD), _none, 401, None, id="no-credentials"),
        pytest.param(json.dumps(PAYLOAD), lambda t: bearer("wrong-token-0123456789"), 401,
                     None, id="wrong-token"),
        pytest.param(json.dumps(PAYLOAD), lambda t: basic("am", "wrong-token-0123456789"), 401, None,
                     id="wrong-basic-password"),
        pytest.param(json.dumps(PAYLOAD), lambda t: {"Authorization": "Basic %%%"}, 401, None,
                     id="garbled-basic"),
        pytest.param(json.dumps(PAYLOAD), lambda t: basic("am", ""), 401, None, id="empty-basic-password"),
        pytest.param(json.dumps(PAYLOAD), lambda t: {"Authorization": "Digest " + t}, 401, None,
                     id="other-scheme"),
    ]


@pytest.mark.parametrize(("raw", "headers", "status", "field"), _bad_requests())
def test_bad_webhook_input_is_refused_and_changes_nothing(
        client: TestClient, raised: CanaryStore, api_config: ApiConfig, raw: str,
        headers: Callable[[str], dict[str, str]], status: int, field: str | None) -> None:
    assert api_config.token is not None
    before = files(raised)
    resp = client.post("/self/alerts", content=raw.encode(),
                       headers={**headers(api_config.token), "Content-Type": "application/json"})
    assert resp.status_code == status, resp.text
    error = resp.json()["error"]
    assert error["status"] == status and error["message"]
    if field is not None:
        assert field in [d["field"] for d in error["details"]], error
    if status == 401:
        assert "WWW-Authenticate" in resp.headers
    assert files(raised) == before  # nothing audited, no state change
    assert raised.load().sampling == 0.25


def test_without_a_configured_token_the_webhook_is_forbidden(
        tmp_path: Path, make_client: Callable[..., TestClient],
        monkeypatch: pytest.MonkeyPatch, auth: dict[str, str]) -> None:
    monkeypatch.delenv("SELFSLO_API_TOKEN", raising=False)
    config = ApiConfig(heartbeats=tmp_path / "hb.jsonl", state_dir=tmp_path / "state")
    store = CanaryStore(config.state_dir)
    store.apply(0.25, reason="release", actor="alice")
    before = files(store)
    resp = make_client(config).post("/self/alerts", json=PAYLOAD, headers=auth)
    assert resp.status_code == 403 and resp.json()["error"]["code"] == "auth_not_configured"
    assert files(store) == before


def test_the_webhook_is_in_the_openapi_schema_with_both_auth_schemes(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    operation = schema["paths"]["/self/alerts"]["post"]
    assert {"401", "403", "413", "422"} <= set(operation["responses"])
    assert {name for item in operation["security"] for name in item} == {"HTTPBearer",
                                                                          "HTTPBasic"}
    body = schema["components"]["schemas"]["AlertmanagerWebhook"]
    assert body["properties"]["version"]["const"] == "4"
