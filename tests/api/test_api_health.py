"""GET /self/health: the issue's shape, nulls before data, and the incremental tail cache."""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings, strategies as st

from pytest_selfslo.api.app import ApiConfig
from pytest_selfslo.api.health import HeartbeatTail
from pytest_selfslo.heartbeat import read_heartbeats
from pytest_selfslo.slo.spec import DEFAULT_SLO_SPEC, evaluate

SHAPE_KEYS = {"enabled", "canary_sampling", "heartbeat_count", "last_heartbeat", "averages",
              "slo_status"}
SCORES = ("coherence", "continuity", "presence", "stress")


def expected_window(path: Path, window: int) -> dict[str, Any]:
    """What /self/health must say, computed independently from a full read of the log."""
    everything = read_heartbeats(path)
    tail = list(everything)[-window:]
    report = evaluate(DEFAULT_SLO_SPEC, tail)
    return {"count": len(everything), "tail": tail, "averages": report.averages,
            "slo_status": report.slo_status()}


def test_no_log_yet_gives_nulls_not_an_error(client: TestClient) -> None:
    resp = client.get("/self/health")
    assert resp.status_code == 200
    body = resp.json()
    assert body.keys() >= SHAPE_KEYS
    assert body["last_heartbeat"] is None
    assert body["averages"] is None
    assert body["slo_status"] is None
    assert body["heartbeat_count"] == 0
    assert body["enabled"] is True
    assert body["canary_sampling"] == pytest.approx(0.05)


def test_empty_log_file_gives_nulls(api_config: ApiConfig, client: TestClient) -> None:
    Path(api_config.heartbeats).write_bytes(b"")
    body = client.get("/self/health").json()
    assert (body["heartbeat_count"], body["last_heartbeat"], body["averages"]) == (0, None, None)


def test_shape_and_numbers_match_a_full_read(api_config: ApiConfig, client: TestClient,
                                             append_heartbeats: Callable[..., list[Any]]) -> None:
    path = Path(api_config.heartbeats)
    hbs = append_heartbeats(path, "coherence_drop", 300, seed=3, tokens=("tok-a", "tok-b"))
    body = client.get("/self/health").json()
    want = expected_window(path, 50)
    assert set(body["last_heartbeat"]) >= {"kind", *SCORES}
    assert set(body["averages"]) == set(SCORES)
    assert set(body["slo_status"]) == {"coherence_slo", "continuity_slo", "stress_slo"}
    assert body["heartbeat_count"] == want["count"] == 300
    assert body["window_count"] == 50
    for score in SCORES:
        assert body["averages"][score] == pytest.approx(want["averages"][score], abs=1e-12)
        assert body["last_heartbeat"][score] == getattr(hbs[-1], score)
    assert body["last_heartbeat"]["kind"] == "heartbeat"
    assert body["last_heartbeat"]["token_id"] == hbs[-1].token_id
    assert body["slo_status"] == want["slo_status"]
    assert body["slo_status"]["coherence_slo"] is False  # the drop is in the window


def test_appended_heartbeats_are_seen_on_the_next_request(
        api_config: ApiConfig, client: TestClient,
        append_heartbeats: Callable[..., list[Any]]) -> None:
    path = Path(api_config.heartbeats)
    append_heartbeats(path, "steady", 120, seed=1)
    first = client.get("/self/health").json()
    assert first["slo_status"] == {"coherence_slo": True, "continuity_slo": True,
                                   "stress_slo": True}
    append_heartbeats(path, "stress_spike", 90, seed=2, start=2e9)
    second = client.get("/self/health").json()
    want = expected_window(path, 50)
    assert second["heartbeat_count"] == 210
    assert second["averages"]["stress"] == pytest.approx(want["averages"]["stress"], abs=1e-12)
    assert second["last_heartbeat"]["ts"] != first["last_heartbeat"]["ts"]


def test_window_config_is_respected(tmp_path: Path, make_client: Callable[..., TestClient],
                                    append_heartbeats: Callable[..., list[Any]]) -> None:
    path = tmp_path / "hb.jsonl"
    append_heartbeats(path, "oscillating", 100, seed=5)
    body = make_client(ApiConfig(heartbeats=path, state_dir=tmp_path, window=7)).get(
        "/self/health").json()
    want = expected_window(path, 7)
    assert (body["window"], body["window_count"]) == (7, 7)
    assert body["averages"]["coherence"] == pytest.approx(want["averages"]["coherence"])


def test_canary_change_shows_up_in_health(client: TestClient, auth: dict[str, str]) -> None:
    assert client.get("/self/health").json()["canary_sampling"] == pytest.approx(0.05)
    resp = client.post("/self/canary", json={"new_sampling": 0.25, "reason": "widen"},
                       headers=auth)
    assert resp.status_code == 200, resp.text
    assert client.get("/self/health").json()["canary_sampling"] == pytest.approx(0.25)


def test_enabled_follows_auris_self(tmp_path: Path, make_client: Callable[..., TestClient],
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AURIS_SELF", "off")
    body = make_client(ApiConfig(heartbeats=tmp_path / "x", state_dir=tmp_path)).get(
        "/self/health").json()
    assert body["enabled"] is False


def test_malformed_and_torn_lines_are_skipped(api_config: ApiConfig, client: TestClient,
                                              append_heartbeats: Callable[..., list[Any]]) -> None:
    path = Path(api_config.heartbeats)
    hbs = append_heartbeats(path, "steady", 20, seed=9)
    with open(path, "ab") as fh:
        fh.write(b"{not json}\n\n")
        fh.write(b'{"ts": 1, "token_id": "t", "coherence": 0.5')  # a writer mid-line
    body = client.get("/self/health").json()
    assert body["heartbeat_count"] == 21  # 20 records + the corrupt one; blank and torn not
    assert body["window_skipped"] >= 1
    assert body["window_count"] == 20
    assert body["last_heartbeat"]["ts"] == hbs[-1].ts


def test_replaced_log_is_read_from_the_start(api_config: ApiConfig, client: TestClient,
                                             append_heartbeats: Callable[..., list[Any]]) -> None:
    path = Path(api_config.heartbeats)
    append_heartbeats(path, "steady", 200, seed=1)
    assert client.get("/self/health").json()["heartbeat_count"] == 200
    other = path.with_suffix(".new")
    append_heartbeats(other, "coherence_drop", 30, seed=4)
    os.replace(other, path)  # log rotation: a new inode
    body = client.get("/self/health").json()
    assert body["heartbeat_count"] == 30
    path.write_bytes(b"")  # truncated in place
    assert client.get("/self/health").json()["heartbeat_count"] == 0


def test_log_rewritten_in_place_and_regrown_is_recounted(
        api_config: ApiConfig, client: TestClient,
        append_heartbeats: Callable[..., list[Any]]) -> None:
    path = Path(api_config.heartbeats)
    append_heartbeats(path, "steady", 40, seed=1)
    assert client.get("/self/health").json()["heartbeat_count"] == 40
    with open(path, "r+b") as fh:  # copytruncate-style rotation on the same inode ...
        fh.truncate(0)
    append_heartbeats(path, "stress_spike", 55, seed=8, start=3e9)  # ... then more than before
    body = client.get("/self/health").json()
    assert body["heartbeat_count"] == 55
    want = expected_window(path, 50)
    assert body["averages"]["stress"] == pytest.approx(want["averages"]["stress"], abs=1e-12)


def test_unreadable_log_is_503_naming_it(api_config: ApiConfig, client: TestClient) -> None:
    Path(api_config.heartbeats).mkdir()
    resp = client.get("/self/health")
    assert resp.status_code == 503
    err = resp.json()["error"]
    assert err["code"] == "state_unavailable"
    assert "heartbeat log unusable" in err["message"]
    assert str(api_config.heartbeats) in err["message"]


def test_unchanged_files_reuse_the_rendered_body(api_config: ApiConfig,
                                                 append_heartbeats: Callable[..., list[Any]]
                                                 ) -> None:
    from pytest_selfslo.api.routes import ApiServices

    append_heartbeats(Path(api_config.heartbeats), "steady", 10)
    health = ApiServices.from_config(api_config).health
    assert health.cached_body() is None
    body = health.refresh_body()
    assert health.cached_body() is body
    append_heartbeats(Path(api_config.heartbeats), "steady", 1, start=2e9)
    assert health.cached_body() is None
    assert health.refresh_body() != body


def _log_bytes(lines: list[str]) -> bytes:
    return "".join(f"{ln}\n" for ln in lines).encode()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(st.sampled_from(["", "  ", '{"a":1}', "x", '{"ts": 2}']), max_size=40),
       cuts=st.lists(st.integers(min_value=0, max_value=10_000), max_size=5))
def test_incremental_count_equals_full_count(tmp_path: Path, lines: list[str],
                                             cuts: list[int]) -> None:
    data = _log_bytes(lines)
    path = tmp_path / f"log-{abs(hash((tuple(lines), tuple(cuts))))}.jsonl"
    path.write_bytes(b"")
    tail = HeartbeatTail(path, 5)
    written = 0
    for cut in [*sorted(c % (len(data) + 1) for c in cuts), len(data)]:
        with open(path, "ab") as fh:
            fh.write(data[written:cut])
        written = max(written, cut)
        os.utime(path, ns=(written, written))  # force a new stamp even within one tick
        tail.refresh()
    expected = sum(1 for ln in lines if ln.strip())
    assert tail.count == expected


def test_tail_of_a_missing_file_is_empty(tmp_path: Path) -> None:
    tail = HeartbeatTail(tmp_path / "absent.jsonl", 5)
    tail.refresh()
    assert (tail.count, tail.heartbeats, tail.skipped) == (0, [], 0)
    assert math.isfinite(tail.window)
