"""The API on a real uvicorn server on 127.0.0.1: HTTP, metrics, 413 streaming, 200 writers."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry

from pytest_selfslo.api.app import ApiConfig, create_app
from pytest_selfslo.api.server import serve_in_thread
from pytest_selfslo.canary.store import CanaryStore
from pytest_selfslo.metrics.exporter import SelfMetricsExporter

TOKEN = "uvicorn-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
STEPS = (0.05, 0.1, 0.25, 0.5, 1.0)


@pytest.fixture
def exporter() -> SelfMetricsExporter:
    return SelfMetricsExporter(registry=CollectorRegistry(), enabled=True)


@pytest.fixture
def server(tmp_path: Path, exporter: SelfMetricsExporter) -> Iterator[tuple[str, ApiConfig]]:
    config = ApiConfig(heartbeats=tmp_path / "identity.jsonl", state_dir=tmp_path / "state",
                       token=TOKEN, exporter=exporter)
    with serve_in_thread(create_app(config)) as base_url:
        yield base_url, config


def test_endpoints_over_real_http(server: tuple[str, ApiConfig],
                                  exporter: SelfMetricsExporter) -> None:
    base, _ = server
    assert base.startswith("http://127.0.0.1:")
    with httpx.Client(base_url=base, timeout=10) as http:
        assert http.get("/healthz").json() == {"status": "ok"}
        health = http.get("/self/health")
        assert health.headers["content-type"] == "application/json"
        assert health.json()["averages"] is None
        exporter.update("tok-1", coherence=0.9, continuity=0.95, presence=0.8, stress=0.2)
        metrics = http.get("/metrics/exp")
        assert metrics.status_code == 200
        assert 'self_coherence{token_id="tok-1"} 0.9' in metrics.text
        resp = http.post("/self/canary", json={"new_sampling": 0.25, "reason": "http"},
                         headers=AUTH)
        assert resp.status_code == 200 and resp.json()["new_sampling"] == 0.25
        assert http.get("/self/health").json()["canary_sampling"] == 0.25
        assert http.post("/self/canary", json={"new_sampling": 0.5, "reason": "x"}).status_code \
            == 401
        schema = http.get("/openapi.json").json()
        assert "/self/canary" in schema["paths"]


def test_chunked_oversized_body_is_413_over_http(server: tuple[str, ApiConfig]) -> None:
    base, config = server

    def body() -> Iterator[bytes]:
        for _ in range(64):
            yield b" " * 1024

    with httpx.Client(base_url=base, timeout=10) as http:
        resp = http.post("/self/canary", content=body(),
                         headers={**AUTH, "Content-Type": "application/json"})
    assert resp.status_code == 413
    assert resp.json()["error"]["code"] == "payload_too_large"
    assert CanaryStore(config.state_dir).history() == []


def test_200_concurrent_authorised_posts_lose_nothing(server: tuple[str, ApiConfig]) -> None:
    base, config = server
    n = 200
    barrier = threading.Barrier(40)

    def post(i: int) -> int:
        if i < 40:
            barrier.wait()  # the first 40 leave together, the rest follow as threads free up
        resp = http.post("/self/canary", json={"new_sampling": STEPS[i % len(STEPS)],
                                               "reason": f"writer {i}"},
                         headers={**AUTH, "X-Actor": f"writer-{i}"})
        return resp.status_code

    limits = httpx.Limits(max_connections=40, max_keepalive_connections=40)
    with httpx.Client(base_url=base, timeout=60, limits=limits) as http, \
            ThreadPoolExecutor(max_workers=40) as pool:
        statuses = list(pool.map(post, range(n)))
        final = http.get("/self/canary", params={"limit": 1}).json()
    assert statuses == [200] * n
    store = CanaryStore(config.state_dir)
    records = store.history()
    assert len(records) == n
    assert store.verify_audit() == n
    assert sorted(r.reason for r in records) == sorted(f"writer {i}" for i in range(n))
    assert [r.seq for r in records] == list(range(1, n + 1))
    for before, after in itertools.pairwise(records):  # each change saw the previous one
        assert after.old == before.new
    state = store.load()
    assert (state.sampling, state.version) == (records[-1].new, records[-1].version) == (
        final["state"]["sampling"], final["state"]["version"])
    assert state.version == n
