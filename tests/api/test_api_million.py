"""/self/health on a 1,000,000-heartbeat log agrees with the replay module for the same window."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from fastapi.testclient import TestClient

from pytest_selfslo.api.app import ApiConfig, create_app
from pytest_selfslo.api.server import serve_in_thread
from pytest_selfslo.heartbeat import generate_heartbeats
from pytest_selfslo.slo.replay import replay

N = 1_000_000
BLOCK = 1000
WINDOW = 50
SCORES = ("coherence", "continuity", "presence", "stress")


def _lines(scenario: str, n: int, seed: int, start: float) -> bytes:
    return b"".join(orjson.dumps(hb.to_dict()) + b"\n"
                    for hb in generate_heartbeats(scenario, n, seed=seed, start=start,
                                                  tokens=("tok-a", "tok-b", "tok-c")))


@pytest.fixture(scope="module")
def million_log(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """1M valid records: a repeated steady block, then 1000 distinct coherence_drop ones."""
    path = tmp_path_factory.mktemp("million") / "identity.jsonl"
    block = _lines("steady", BLOCK, seed=1, start=1.7e9)
    with open(path, "wb") as fh:
        fh.write(block * (N // BLOCK - 1))
        fh.write(_lines("coherence_drop", BLOCK, seed=2, start=1.8e9))
    yield path
    path.unlink()


def test_million_log_matches_replay(million_log: Path, tmp_path: Path) -> None:
    config = ApiConfig(heartbeats=million_log, state_dir=tmp_path, window=WINDOW)
    with TestClient(create_app(config)) as client:
        started = time.perf_counter()
        body = client.get("/self/health").json()
        first = time.perf_counter() - started
        want = replay(million_log, count=WINDOW)
        assert body["heartbeat_count"] == N
        assert body["window_count"] == WINDOW == want.report.count
        for score in SCORES:
            assert body["averages"][score] == pytest.approx(want.report.averages[score],
                                                            rel=1e-12)
        assert body["slo_status"] == want.report.slo_status()
        assert body["slo_status"]["coherence_slo"] is False  # the drop is what the tail holds
        assert want.last_heartbeat is not None
        assert body["last_heartbeat"]["ts"] == want.last_heartbeat.ts
        assert body["last_heartbeat"]["token_id"] == want.last_heartbeat.token_id
        # appending reads only the new bytes: the count moves by exactly what was added
        with open(million_log, "ab") as fh:
            fh.write(_lines("stress_spike", 30, seed=3, start=1.9e9))
        after = client.get("/self/health").json()
        assert after["heartbeat_count"] == N + 30
        assert after["averages"] != body["averages"]
    print(f"first /self/health on {N} records: {first:.3f}s")  # shown with -s


def test_million_log_over_real_uvicorn(million_log: Path, tmp_path: Path) -> None:
    import httpx

    config = ApiConfig(heartbeats=million_log, state_dir=tmp_path, window=WINDOW)
    with serve_in_thread(create_app(config)) as base, httpx.Client(base_url=base) as http:
        body = http.get("/self/health", timeout=60).json()
        want = replay(million_log, count=WINDOW)
        assert body["heartbeat_count"] >= N
        assert body["averages"]["stress"] == pytest.approx(want.report.averages["stress"],
                                                           rel=1e-12)
