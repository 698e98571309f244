"""POST/GET /self/canary, pause and resume: hot apply, audit, validation, conflicts."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from pytest_selfslo.api.app import ApiConfig
from pytest_selfslo.api.routes import HOT_APPLY_NOTE
from pytest_selfslo.canary.policy import DEFAULT_POLICY
from pytest_selfslo.canary.store import CanaryStore


def store_of(config: ApiConfig) -> CanaryStore:
    return CanaryStore(config.state_dir, policy=DEFAULT_POLICY)


def assert_error(resp: Any, status: int, code: str, field: str | None = None,
                 says: str | None = None) -> dict[str, Any]:
    """The one error shape, with the expected status, code, field and message text."""
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert set(body) == {"error"}
    err = body["error"]
    assert set(err) == {"status", "code", "message", "details"}
    assert (err["status"], err["code"]) == (status, code)
    if field is not None:
        assert field in [d["field"] for d in err["details"]], err
    if says is not None:
        assert says in err["message"], err["message"]
    return dict(err)


def test_change_is_applied_hot_and_audited(api_config: ApiConfig, client: TestClient,
                                           auth: dict[str, str]) -> None:
    resp = client.post("/self/canary", json={"new_sampling": 0.1, "reason": "green 30m"},
                       headers={**auth, "X-Actor": "alice"})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert {k: body[k] for k in ("success", "old_sampling", "new_sampling", "reason")} == {
        "success": True, "old_sampling": 0.05, "new_sampling": 0.1, "reason": "green 30m"}
    assert body["note"] == HOT_APPLY_NOTE and "no restart" in body["note"]
    store = store_of(api_config)
    assert store.load().sampling == 0.1  # visible to any other reader of the store now
    (record,) = store.history()
    assert record.reason == "green 30m"
    assert record.actor == body["actor"]
    assert record.actor.startswith("alice@token:")
    assert (record.old, record.new, record.action) == (0.05, 0.1, "manual")
    assert store.verify_audit() == 1


def test_actor_without_x_actor_names_the_token(api_config: ApiConfig, client: TestClient,
                                               auth: dict[str, str], tmp_path: Path,
                                               make_client: Callable[..., TestClient]) -> None:
    tokens = tmp_path / "tokens"
    tokens.write_text("# ops team\nops aaaaaaaaaaaaaaaaaaaa\nbob bbbbbbbbbbbbbbbbbbbb\n")
    api_config.token, api_config.token_file = None, tokens
    named = make_client(api_config)
    resp = named.post("/self/canary", json={"new_sampling": 0.1, "reason": "r"},
                      headers={"Authorization": "Bearer bbbbbbbbbbbbbbbbbbbb"})
    assert resp.json()["actor"] == "api@token:bob"
    assert store_of(api_config).history()[-1].actor == "api@token:bob"


def test_get_canary_shows_state_policy_and_recent_records(client: TestClient,
                                                          auth: dict[str, str]) -> None:
    for value in (0.1, 0.25, 0.5):
        assert client.post("/self/canary", json={"new_sampling": value, "reason": f"to {value}"},
                           headers=auth).status_code == 200
    body = client.get("/self/canary", params={"limit": 2}).json()
    assert body["state"]["sampling"] == 0.5
    assert body["state"]["version"] == 3
    assert body["state"]["audit_count"] == 3
    assert body["policy"] == {"steps": [0.05, 0.1, 0.25, 0.5, 1.0], "enforce_steps": True,
                              "compare": None}
    assert body["comparison"] is None
    assert [r["new"] for r in body["audit"]] == [0.25, 0.5]
    assert body["audit"][-1]["reason"] == "to 0.5"
    assert_error(client.get("/self/canary", params={"limit": 0}), 422, "validation_failed",
                 field="limit")


def test_pause_and_resume_are_audited_and_conflicts_are_409(api_config: ApiConfig,
                                                            client: TestClient,
                                                            auth: dict[str, str]) -> None:
    resp = client.post("/self/canary/pause", json={"reason": "INC-1"}, headers=auth)
    assert resp.status_code == 200, resp.text
    assert resp.json()["paused"] is True and resp.json()["action"] == "pause"
    assert client.get("/self/health").json()["canary_paused"] is True
    assert_error(client.post("/self/canary/pause", json={"reason": "again"}, headers=auth),
                 409, "conflict", says="already paused")
    resp = client.post("/self/canary/resume", json={"reason": "fixed"}, headers=auth)
    assert resp.json()["paused"] is False
    assert [r.action for r in store_of(api_config).history()] == ["pause", "resume"]
    assert_error(client.post("/self/canary/resume", json={}, headers=auth), 422,
                 "validation_failed", field="reason", says="Field required")


def test_expected_old_sampling_mismatch_is_409_and_changes_nothing(
        api_config: ApiConfig, client: TestClient, auth: dict[str, str]) -> None:
    err = assert_error(client.post("/self/canary", json={
        "new_sampling": 0.25, "reason": "r", "expected_old_sampling": 0.5}, headers=auth),
        409, "conflict", says="expected_old_sampling")
    assert "0.05" in err["message"]
    assert store_of(api_config).history() == []
    ok = client.post("/self/canary", json={"new_sampling": 0.25, "reason": "r",
                                           "expected_old_sampling": 0.05}, headers=auth)
    assert ok.status_code == 200


@pytest.mark.parametrize(("body", "field", "says"), [
    ({"new_sampling": 1.5, "reason": "r"}, "new_sampling", "less than or equal to 1"),
    ({"new_sampling": 0, "reason": "r"}, "new_sampling", "greater than 0"),
    ({"new_sampling": -0.1, "reason": "r"}, "new_sampling", "greater than 0"),
    ({"new_sampling": "0.5", "reason": "r"}, "new_sampling", "valid number"),
    ({"new_sampling": True, "reason": "r"}, "new_sampling", "valid number"),
    ({"new_sampling": None, "reason": "r"}, "new_sampling", "valid number"),
    ({"reason": "r"}, "new_sampling", "Field required"),
    ({"new_sampling": 0.5}, "reason", "Field required"),
    ({"new_sampling": 0.5, "reason": ""}, "reason", "at least 1 character"),
    ({"new_sampling": 0.5, "reason": " \t"}, "reason", "must not be blank"),
    ({"new_sampling": 0.5, "reason": "x" * 501}, "reason", "at most 500 characters"),
    ({"new_sampling": 0.5, "reason": 5}, "reason", "valid string"),
    ({"new_sampling": 0.5, "reason": "r", "sampling": 1}, "sampling", "Extra inputs"),
    ({"new_sampling": 0.5, "reason": "r", "expected_old_sampling": 2}, "expected_old_sampling",
     "less than or equal to 1"),
    ({"new_sampling": 0.3, "reason": "r"}, "new_sampling", "policy steps"),
    ([0.5, "r"], "body", "valid dictionary"),
])
def test_invalid_bodies_are_422_naming_the_field(api_config: ApiConfig, client: TestClient,
                                                 auth: dict[str, str], body: Any, field: str,
                                                 says: str) -> None:
    err = assert_error(client.post("/self/canary", json=body, headers=auth), 422,
                       "validation_failed", field=field, says=says)
    assert all({"field", "reason"} <= d.keys() for d in err["details"])
    assert store_of(api_config).history() == []


@pytest.mark.parametrize(("raw", "says"), [
    (b'{"new_sampling": NaN, "reason": "r"}', "finite number"),
    (b'{"new_sampling": Infinity, "reason": "r"}', "finite number"),
    (b'{"new_sampling": 0.5, "reason": ', "invalid JSON"),
    (b"", "Field required"),
])
def test_non_finite_and_broken_json_are_422(client: TestClient, auth: dict[str, str],
                                            raw: bytes, says: str) -> None:
    resp = client.post("/self/canary", content=raw,
                       headers={**auth, "Content-Type": "application/json"})
    assert_error(resp, 422, "validation_failed", says=says)


def test_got_shows_the_json_type_of_the_offending_value(client: TestClient,
                                                        auth: dict[str, str]) -> None:
    err = assert_error(client.post("/self/canary", json={"new_sampling": "0.5", "reason": "r"},
                                   headers=auth), 422, "validation_failed")
    assert err["details"][0]["got"] == '"0.5"'


def test_oversized_body_is_413(client: TestClient, auth: dict[str, str],
                               api_config: ApiConfig) -> None:
    big = {"new_sampling": 0.1, "reason": "r" * 100, "pad": "x" * 20_000}
    err = assert_error(client.post("/self/canary", json=big, headers=auth), 413,
                       "payload_too_large", field="body", says="limit is 16384 bytes")
    assert store_of(api_config).history() == []

    def chunks() -> Any:  # no Content-Length: the limit is counted while streaming
        for _ in range(40):
            yield b"x" * 1024

    err = assert_error(client.post("/self/canary", content=chunks(),
                                   headers={**auth, "Content-Type": "application/json"}),
                       413, "payload_too_large", says="streamed")
    assert err["details"][0]["field"] == "body"


def test_unknown_path_and_method_use_the_error_shape(client: TestClient) -> None:
    assert_error(client.get("/self/nope"), 404, "not_found")
    assert_error(client.delete("/self/canary"), 405, "method_not_allowed")


def test_unreadable_state_is_503_with_the_path(api_config: ApiConfig, client: TestClient,
                                               auth: dict[str, str]) -> None:
    state_dir = Path(api_config.state_dir)
    state_dir.mkdir(parents=True, exist_ok=True)
    (state_dir / "canary_state.json").write_text("{torn")
    err = assert_error(client.get("/self/canary"), 503, "state_unavailable",
                       says="canary_state.json")
    assert "not reset" in err["message"]
    assert_error(client.post("/self/canary", json={"new_sampling": 0.1, "reason": "r"},
                             headers=auth), 503, "state_unavailable")
    assert_error(client.get("/self/health"), 503, "state_unavailable")
