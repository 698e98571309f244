"""Fixtures of the operator API tests: a config in a temp dir, clients, heartbeat logs."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from pytest_selfslo.api.app import ApiConfig, create_app
from pytest_selfslo.heartbeat import generate_heartbeats

TOKEN = "test-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def api_config(tmp_path: Path) -> ApiConfig:
    """A config with its own heartbeat log path, state dir and one API token."""
    return ApiConfig(heartbeats=tmp_path / "identity.jsonl", state_dir=tmp_path / "state",
                     window=50, token=TOKEN)


@pytest.fixture
def make_client() -> Iterator[Callable[..., TestClient]]:
    """Build an in-process client for ``create_app(config)``; closed after the test."""
    clients: list[TestClient] = []

    def make(config: ApiConfig, **kwargs: Any) -> TestClient:
        client = TestClient(create_app(config), **kwargs)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def client(api_config: ApiConfig, make_client: Callable[..., TestClient]) -> TestClient:
    """In-process client of the app built from :func:`api_config`."""
    return make_client(api_config)


@pytest.fixture
def auth() -> dict[str, str]:
    """The Authorization header that matches :func:`api_config`'s token."""
    return dict(AUTH)


@pytest.fixture
def append_heartbeats() -> Callable[..., list[Any]]:
    """``append(path, scenario, n, seed=0, start=...)``: write a generated scenario, return it."""

    def append(path: Path, scenario: str, n: int, seed: int = 0, start: float = 1.7e9,
               tokens: tuple[str, ...] = ("token-a",)) -> list[Any]:
        hbs = generate_heartbeats(scenario, n, seed=seed, start=start, tokens=tokens)
        with open(path, "a", encoding="utf-8") as fh:  # appended like a live writer would
            fh.writelines(hb.to_json_line() + "\n" for hb in hbs)
        return hbs

    return append
