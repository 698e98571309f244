"""``selfslo serve``: a real process on a free loopback port, always stopped; bad config exits 2."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from pytest_selfslo._core.net import free_port
from pytest_selfslo.canary.store import CanaryStore
from pytest_selfslo.cli import main
from pytest_selfslo.heartbeat import Heartbeat, HeartbeatLog

TOKEN = "cli-token-0123456789abc"


def _beat(ts: float, token: str, coherence: float) -> Heartbeat:
    return Heartbeat(ts, token, coherence=coherence, continuity=0.95, presence=0.9, stress=0.2)


def _wait_ready(proc: subprocess.Popen[str], url: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"selfslo serve exited early: {proc.communicate()}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError(f"selfslo serve did not answer {url} within {timeout}s")


def test_serve_runs_the_api_and_stops_on_sigint(tmp_path: Path) -> None:
    tokens = tmp_path / "tokens"
    tokens.write_text(f"ops {TOKEN}\n")
    port = free_port()
    cmd = [sys.executable, "-m", "pytest_selfslo", "serve", "--host", "127.0.0.1",
           "--port", str(port), "--heartbeats", str(tmp_path / "hb.jsonl"),
           "--state-dir", str(tmp_path / "state"), "--window", "10",
           "--token-file", str(tokens), "--log-level", "warning"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "AURIS_METRICS_EXP": "on"})
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_ready(proc, f"{base}/healthz")
        assert httpx.get(f"{base}/self/health").json()["window"] == 10
        resp = httpx.post(f"{base}/self/canary", json={"new_sampling": 0.1, "reason": "cli"},
                          headers={"Authorization": f"Bearer {TOKEN}", "X-Actor": "dana"})
        assert resp.status_code == 200, resp.text
        assert CanaryStore(tmp_path / "state").history()[-1].actor == "dana@token:ops"
        assert httpx.get(f"{base}/metrics/exp").status_code == 200
        # /metrics/exp exports the newest scores of each token in the served log
        with HeartbeatLog(tmp_path / "hb.jsonl") as log:
            log.extend([_beat(1.0, "a", 0.91), _beat(2.0, "b", 0.75), _beat(3.0, "a", 0.62)])
        text = httpx.get(f"{base}/metrics/exp").text
        assert 'self_coherence{token_id="a"} 0.62' in text
        assert 'self_coherence{token_id="b"} 0.75' in text
        assert 'self_stress{token_id="b"} 0.2' in text
        with HeartbeatLog(tmp_path / "hb.jsonl") as log:
            log.append(_beat(4.0, "a", 0.88))
        assert 'self_coherence{token_id="a"} 0.88' in httpx.get(f"{base}/metrics/exp").text
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:  # pragma: no cover - only if shutdown hangs
            proc.kill()
            proc.wait()
    assert proc.returncode == 0
    err = proc.stderr.read() if proc.stderr else ""
    assert f"selfslo serve: http://127.0.0.1:{port}" in err
    assert f"mutations: bearer tokens from {tokens}" in err


@pytest.mark.parametrize(("args", "says"), [
    (["--token-file", "{tmp}/absent"], "cannot read token file"),
    (["--window", "0"], "ApiConfig.window: expected an integer in [1, 1000000], got 0"),
    (["--policy", "{tmp}/absent.yml"], "absent.yml"),
])
def test_serve_config_errors_exit_2_before_binding(tmp_path: Path, args: list[str],
                                                   says: str,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["serve", "--port", str(free_port()), "--state-dir", str(tmp_path),
            *(a.format(tmp=tmp_path) for a in args)]
    assert main(argv) == 2  # uvicorn is never started: the config fails first
    err = capsys.readouterr().err
    assert err.startswith("selfslo serve: error: ")
    assert says in err
