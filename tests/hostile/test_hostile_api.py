"""``selfslo serve`` (a real uvicorn process under limits) against hostile requests and files.

Issue 21 items 8, 10 and 11: every answer is the documented JSON error shape
with the documented status -- a lone surrogate is a 422, not a plain-text
500; a request uvicorn cannot parse is a JSON 400; ``HEAD`` works on ``GET``
routes; a trailing slash is a 404 that echoes nothing of the request's
``Host``; a FIFO as the heartbeat log answers 503 without starving
``POST /self/canary``. The fixture stops each server with SIGINT and checks it
exits 0 without a traceback.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from _api import Server
from _limits import WALL_SECONDS, run_limited, selfslo

ERROR_KEYS = {"status", "code", "message", "details"}


def assert_error(response: httpx.Response, status: int, code: str | None = None) -> dict[str, object]:
    """``response`` is the documented error document with ``status`` (and ``code``)."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json"), response.headers
    error = response.json()["error"]
    assert set(error) == ERROR_KEYS and error["status"] == status, error
    assert isinstance(error["message"], str) and "\n" not in error["message"]
    if code is not None:
        assert error["code"] == code, error
    return dict(error)


def post_raw(server: Server, path: str, body: bytes) -> httpx.Response:
    return server.request("POST", path, content=body,
                          headers=server.auth(**{"Content-Type": "application/json"}))


#: JSON texts of hostile strings: lone surrogates, NUL, bidi controls, zero-width, not UTF-8
HOSTILE_STRINGS = [b'"\\ud800"', b'"ok \\udfff tail"', b'"\\ud83d"', b'"\\u0000"',
                   b'"\\u202e\\u2066"', b'"\\u200b"', b'"\xff\xfe"']


@pytest.mark.parametrize("text", HOSTILE_STRINGS, ids=range(len(HOSTILE_STRINGS)))
def test_hostile_text_fields_are_422(start_server: Callable[..., Server], text: bytes) -> None:
    server = start_server()
    bodies = {
        "/self/canary": [b'{"new_sampling": 0.25, "reason": %s}' % text,
                         b'{"new_sampling": %s, "reason": "r"}' % text,
                         b'{"new_sampling": 0.25, "reason": "r", %s: 1}' % text],
        "/self/canary/pause": [b'{"reason": %s}' % text, b'{%s: "r"}' % text],
        "/self/canary/resume": [b'{"reason": %s}' % text],
    }
    for path, variants in bodies.items():
        for body in variants:
            assert_error(post_raw(server, path, body), 422, "validation_failed")
    assert server.request("GET", "/self/canary").json()["audit"] == []


@pytest.mark.parametrize(("reason", "stored"), [
    ("a\u0000b", "a\u0000b"),              # NUL: kept verbatim, escaped when printed
    ("\u202eright-to-left", "\u202eright-to-left"),
    ("4-byte \U0001f680 rocket", "4-byte \U0001f680 rocket"),
    ("\u05e9\u05dc\u05d5\u05dd", "\u05e9\u05dc\u05d5\u05dd"),  # Hebrew (RTL script)
])
def test_unicode_edge_cases_are_stored_verbatim(start_server: Callable[..., Server], reason: str,
                                                stored: str) -> None:
    server = start_server()
    resp = server.request("POST", "/self/canary", json={"new_sampling": 0.1, "reason": reason},
                          headers=server.auth())
    assert resp.status_code == 200, resp.text
    assert server.request("GET", "/self/canary").json()["audit"][-1]["reason"] == stored
    history = run_limited(selfslo("canary", "history", "--state-dir", server.state_dir))
    history.assert_ended_cleanly(0)
    assert len(history.stdout.splitlines()) == 1 and "\x00" not in history.stdout


@pytest.mark.parametrize("raw", [
    b"GET /self/health HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n",
    b"\x00\x01\x02 garbage\r\n\r\n",
    b"GET /self/health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 200_000 + b"\r\n\r\n",
    b"GET /\xff\xfe HTTP/1.1\r\nHost: x\r\n\r\n",
], ids=["header-without-colon", "binary", "oversized-header", "non-ascii-target"])
def test_requests_uvicorn_cannot_parse_get_a_json_400(start_server: Callable[..., Server],
                                                      raw: bytes) -> None:
    server = start_server()
    url = urlsplit(server.base)
    data = b""
    with socket.create_connection((url.hostname, url.port or 80), timeout=WALL_SECONDS) as sock:
        try:
            sock.sendall(raw)
            while chunk := sock.recv(65536):
                data += chunk
        except ConnectionResetError:
            # the server answered and closed while 200 kB were still unread: the kernel then
            # resets the connection and (part of) the answer may be lost -- not our choice
            if len(raw) < 100_000:
                raise
    assert server.request("GET", "/healthz").status_code == 200  # still serving
    if not data and len(raw) > 100_000:
        return
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 "), data[:300]
    assert b"content-type: application/json" in head.lower(), head
    length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                      if line.lower().startswith(b"content-length:")))
    if len(body) < length and len(raw) > 100_000:  # cut short by the reset
        return
    error = json.loads(body)["error"]
    assert error["status"] == 400 and error["code"] == "bad_request", error
    assert error["message"].startswith("invalid HTTP request")


def test_head_works_on_get_routes(start_server: Callable[..., Server]) -> None:
    server = start_server()
    for path in ("/healthz", "/self/health", "/self/canary", "/metrics/exp", "/openapi.json"):
        get = server.request("GET", path)
        head = server.request("HEAD", path)
        assert head.status_code == get.status_code == 200, (path, head.status_code)
        assert head.content == b"" and head.headers["content-type"] == get.headers["content-type"]
    assert server.request("HEAD", "/self/canary/pause").status_code == 405  # a POST route
    allow = server.request("DELETE", "/self/health").headers["allow"]
    assert allow == "GET, HEAD"


def test_trailing_slash_is_404_and_echoes_no_host(start_server: Callable[..., Server]) -> None:
    server = start_server()
    resp = server.request("GET", "/self/health/", headers={"Host": "evil.example"},
                          follow_redirects=False)
    assert_error(resp, 404, "not_found")
    assert "location" not in resp.headers and "evil" not in resp.text


@pytest.mark.parametrize("source", ["fifo", "/dev/zero", "directory"])
def test_unreadable_heartbeat_source_is_503_and_never_starves_writes(
        start_server: Callable[..., Server], fifo: Path, source: str) -> None:
    path = {"fifo": fifo, "/dev/zero": Path("/dev/zero"), "directory": fifo.parent}[source]
    server = start_server(heartbeats=path)

    async def storm() -> tuple[list[httpx.Response], httpx.Response]:
        async with httpx.AsyncClient(base_url=server.base, timeout=WALL_SECONDS) as client:
            gets = [client.get("/self/health") for _ in range(45)]
            post = client.post("/self/canary", json={"new_sampling": 0.1, "reason": "storm"},
                               headers=server.auth())
            *answers, posted = await asyncio.gather(*gets, post)
            return answers, posted

    answers, posted = asyncio.run(storm())
    assert posted.status_code == 200, posted.text
    # selfslo serve exports the log's newest scores on /metrics/exp: that read is bounded too
    answers.append(server.request("GET", "/metrics/exp"))
    for resp in answers:
        error = assert_error(resp, 503, "state_unavailable")
        assert "heartbeat log unusable" in str(error["message"])


def test_token_with_surrounding_whitespace_is_stripped(start_server: Callable[..., Server]) -> None:
    server = start_server(token="  padded-token-0123456789abcdef\n")
    ok = server.request("POST", "/self/canary", json={"new_sampling": 0.1, "reason": "padded"},
                        headers=server.auth())
    assert ok.status_code == 200, ok.text
    outcome = server.running.stop()
    outcome.assert_ended_cleanly(0)
    assert "SELFSLO_API_TOKEN: surrounding whitespace removed" in outcome.stderr


@pytest.mark.parametrize("token", ["t\u00f6ken-0123456789abcdef", "inner space 0123456789ab"])
def test_token_that_no_header_can_carry_is_refused(tmp_path: Path, token: str) -> None:
    outcome = run_limited(selfslo("serve", "--port", "1", "--state-dir", tmp_path),
                          env={"SELFSLO_API_TOKEN": token})
    outcome.assert_clean_error(2, ["SELFSLO_API_TOKEN", "expected visible ASCII characters"])


def test_token_file_that_is_a_fifo_is_refused(tmp_path: Path, fifo: Path) -> None:
    outcome = run_limited(selfslo("serve", "--port", "1", "--token-file", fifo,
                                  "--state-dir", tmp_path))
    outcome.assert_clean_error(2, ["cannot read token file", "FIFO"])


def test_truncated_audit_log_refuses_changes_with_503(start_server: Callable[..., Server]) -> None:
    server = start_server()
    for value in (0.1, 0.25):
        resp = server.request("POST", "/self/canary",
                              json={"new_sampling": value, "reason": "up"}, headers=server.auth())
        assert resp.status_code == 200, resp.text
    log = server.state_dir / "canary_audit.jsonl"
    os.truncate(log, log.stat().st_size - 7)
    refused = server.request("POST", "/self/canary", json={"new_sampling": 0.5, "reason": "up"},
                             headers=server.auth())
    error = assert_error(refused, 503, "state_unavailable")
    assert "the log was truncated" in str(error["message"])
    # reading the damaged log is refused too, naming it; health still answers
    assert "canary_audit.jsonl" in str(assert_error(server.request("GET", "/self/canary"), 503)
                                       ["message"])
    assert server.request("GET", "/self/health").json()["canary_sampling"] == 0.25
