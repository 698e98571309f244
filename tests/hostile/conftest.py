"""Fixtures of the hostile-input suite: special files, and a limited ``selfslo serve``.

The limits and the verdicts live in :mod:`_limits` (importable from every
test module here); this file only adds what several modules need.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from _api import TOKEN, Server, wait_ready
from _limits import selfslo, start_limited

from pytest_selfslo._core.net import free_port


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    """A named pipe nobody writes to: ``open()`` on it blocks forever."""
    path = tmp_path / "fifo.jsonl"
    os.mkfifo(path)
    return path


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[Callable[..., Server]]:
    """``start_server(*args, heartbeats=..., env=...)``: a served API; each is stopped with
    SIGINT at the end and must exit 0 without a traceback or a signal death."""
    started: list[Server] = []

    def start(*args: str | Path, heartbeats: Path | None = None,
              env: dict[str, str] | None = None, token: str = TOKEN) -> Server:
        port = free_port()
        hb = heartbeats if heartbeats is not None else tmp_path / "identity.jsonl"
        state = tmp_path / f"state-{len(started)}"
        argv = selfslo("serve", "--host", "127.0.0.1", "--port", str(port), "--heartbeats", hb,
                       "--state-dir", state, "--log-level", "warning", *args)
        running = start_limited(argv, env={"SELFSLO_API_TOKEN": token, **(env or {})})
        server = Server(f"http://127.0.0.1:{port}", running, state, hb, token.strip())
        started.append(server)
        wait_ready(server)
        return server

    yield start
    for server in started:
        outcome = server.running.stop()
        outcome.assert_ended_cleanly(0)
