"""The API against hostile requests and a blocking heartbeat source, in-process (issue 21).

The end-to-end versions (a real ``selfslo serve`` under resource limits) are
in ``tests/hostile/test_hostile_api.py``; these pin the mechanisms: the read
lane and its timeout, the separate write lane, the error body that survives
lone surrogates, ``HEAD``, ``Allow`` and the token rules.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from pytest_selfslo._core.errors import ConfigError
from pytest_selfslo.api import workers
from pytest_selfslo.api.app import ApiConfig, create_app
from pytest_selfslo.api.auth import TokenAuth
from pytest_selfslo.api.health import HealthSnapshotter
from pytest_selfslo.api.server import serve_in_thread
from pytest_selfslo.api.workers import Lane

TOKEN = "hostile-api-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def blocked_reads(monkeypatch: pytest.MonkeyPatch) -> Iterator[threading.Event]:
    """Every heartbeat read blocks until the event is set (a FIFO, a hung NFS mount)."""
    release = threading.Event()

    def refresh_body(self: HealthSnapshotter) -> bytes:
        release.wait(60)
        return b'{"late": true}'

    monkeypatch.setattr(HealthSnapshotter, "refresh_body", refresh_body)
    yield release
    release.set()


def test_blocked_reads_never_starve_a_mutation(tmp_path: Path,
                                               blocked_reads: threading.Event) -> None:
    config = ApiConfig(heartbeats=tmp_path / "hb.jsonl", state_dir=tmp_path / "state",
                       token=TOKEN, read_timeout=1.0)
    before = {t for t in threading.enumerate() if t.name.startswith("selfslo-api-read")}
    with serve_in_thread(create_app(config)) as base:
        async def storm() -> tuple[list[httpx.Response], httpx.Response, float]:
            async with httpx.AsyncClient(base_url=base, timeout=30) as client:
                gets = [asyncio.ensure_future(client.get("/self/health")) for _ in range(45)]
                await asyncio.sleep(0.2)  # every read is waiting now
                started = time.monotonic()
                posted = await client.post("/self/canary", headers=AUTH,
                                           json={"new_sampling": 0.1, "reason": "storm"})
                took = time.monotonic() - started
                return list(await asyncio.gather(*gets)), posted, took

        answers, posted, _took = asyncio.run(storm())
        readers = [t for t in threading.enumerate()
                   if t.name.startswith("selfslo-api-read") and t not in before]
    assert posted.status_code == 200, posted.text
    assert {r.status_code for r in answers} == {503}
    error = answers[0].json()["error"]
    assert error["code"] == "state_unavailable"
    assert "took longer than 1s (read_timeout)" in error["message"]
    assert len(readers) == 1  # 45 waiting requests, one reading thread


def test_a_read_finishing_late_serves_the_next_request(tmp_path: Path,
                                                       blocked_reads: threading.Event) -> None:
    lane = Lane(1, "test-read")
    calls = []

    def slow() -> str:
        calls.append(1)
        blocked_reads.wait(5)
        return "body"

    async def scenario() -> tuple[str, str]:
        with pytest.raises(TimeoutError):
            await lane.shared(slow, 0.05)
        with pytest.raises(TimeoutError):  # waits for the same call, starts no second one
            await lane.shared(slow, 0.05)
        blocked_reads.set()
        return await lane.shared(slow, 5), await lane.shared(lambda: "fresh", 5)

    assert asyncio.run(scenario()) == ("body", "fresh")
    assert len(calls) == 1


def test_idle_lane_threads_end(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(workers, "IDLE_SECONDS", 0.05)
    lane = Lane(2, "test-idle")
    assert asyncio.run(lane.run(lambda: 1)) == 1
    deadline = time.monotonic() + 10
    while lane._threads and time.monotonic() < deadline:
        time.sleep(0.02)
    assert lane._threads == []
    assert asyncio.run(lane.run(lambda: 2)) == 2  # a new thread for the next call


def test_lane_runs_calls_and_passes_errors_on() -> None:
    lane = Lane(2, "test-write")

    def boom() -> None:
        raise ValueError("nope")

    async def scenario() -> int:
        with pytest.raises(ValueError, match="nope"):
            await lane.run(boom)
        return await lane.run(lambda: 41 + 1)

    assert asyncio.run(scenario()) == 42


@pytest.mark.parametrize("raw", [
    b'{"new_sampling": 0.25, "reason": "\\ud800"}',
    b'{"new_sampling": "\\udfff", "reason": "r"}',
    b'{"new_sampling": 0.25, "reason": "r", "\\ud83d\\u0000": 1}',
])
def test_lone_surrogates_get_a_json_422(client: TestClient, auth: dict[str, str],
                                        raw: bytes) -> None:
    resp = client.post("/self/canary", content=raw,
                       headers={**auth, "Content-Type": "application/json"})
    assert resp.status_code == 422, resp.text
    error = resp.json()["error"]
    assert error["code"] == "validation_failed" and error["details"]


def test_head_and_allow(client: TestClient) -> None:
    for path in ("/healthz", "/self/health", "/self/canary", "/metrics/exp"):
        get, head = client.get(path), client.head(path)
        assert head.status_code == get.status_code == 200, path
        assert head.content == b""
        if path != "/self/canary":  # its body holds the moment of the (unsaved) initial state
            assert head.headers.get("content-length") == get.headers.get("content-length"), path
    assert client.delete("/self/health").headers["allow"] == "GET, HEAD"
    assert client.put("/self/canary").headers["allow"] == "GET, HEAD, POST"
    assert client.get("/self/canary/pause").headers["allow"] == "POST"


def test_trailing_slash_is_not_redirected(client: TestClient) -> None:
    resp = client.get("/self/health/", headers={"Host": "evil.example"},
                      follow_redirects=False)
    assert resp.status_code == 404 and "location" not in resp.headers
    assert resp.json()["error"]["code"] == "not_found"


def test_an_error_outside_the_routes_keeps_the_shape(api_config: ApiConfig) -> None:
    app = create_app(api_config)

    @app.middleware("http")
    async def broken(request: Any, call_next: Callable[..., Any]) -> Any:
        raise RuntimeError("middleware bug")

    resp = TestClient(app, raise_server_exceptions=False).get("/healthz")
    assert resp.status_code == 500
    assert resp.json()["error"] == {"status": 500, "code": "internal_error",
                                    "message": "internal error (RuntimeError); see the server "
                                               "log", "details": []}


def test_token_whitespace_is_stripped_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    """Refusing would break the common ``$(cat token-file)`` with a newline; stripping is
    safe because the presented header value is stripped the same way."""
    with caplog.at_level(logging.WARNING, "pytest_selfslo.api.auth"):
        auth = TokenAuth.from_sources(environ={"SELFSLO_API_TOKEN": f" {TOKEN}\n"})
    assert "SELFSLO_API_TOKEN: surrounding whitespace removed" in caplog.text
    assert auth.authenticate(f"Bearer {TOKEN}", None).startswith("api@token:")


@pytest.mark.parametrize("token", ["t\u00f6ken-0123456789abcdef", "tab\tinside-0123456789"])
def test_tokens_no_header_can_carry_are_refused(token: str) -> None:
    with pytest.raises(ConfigError, match="expected visible ASCII characters only"):
        TokenAuth.from_sources(token=token)


def test_api_config_checks_the_new_limits(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="read_timeout: expected seconds in"):
        ApiConfig(read_timeout=0)
    with pytest.raises(ConfigError, match="max_line_bytes: expected an integer"):
        ApiConfig(max_line_bytes=10)
