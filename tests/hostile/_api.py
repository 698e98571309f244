"""A ``selfslo serve`` under limits, as the hostile API tests talk to it."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

import httpx
from _limits import WALL_SECONDS, Running

__all__ = ["TOKEN", "Server", "wait_ready"]

TOKEN = "hostile-token-0123456789abcdef"


@dataclasses.dataclass
class Server:
    """A ``selfslo serve`` process under limits, and how to talk to it."""

    base: str
    running: Running
    state_dir: Path
    heartbeats: Path
    token: str

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One request with a bounded timeout (a hung server fails the test, not the run)."""
        return httpx.request(method, f"{self.base}{path}", timeout=WALL_SECONDS, **kwargs)

    def auth(self, **headers: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", **headers}


def wait_ready(server: Server) -> None:
    """Return once ``/healthz`` answers; fail with the process's output if it never does."""
    deadline = time.monotonic() + 2 * WALL_SECONDS
    while time.monotonic() < deadline:
        if not server.running.alive():
            raise AssertionError("selfslo serve exited during start-up\n"
                                 + server.running.stop().describe())
        try:
            if httpx.get(f"{server.base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError("selfslo serve did not answer in time\n"
                         + server.running.stop().describe())
