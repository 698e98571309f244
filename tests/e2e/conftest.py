"""The loop's real parts on loopback: exporter + operator API (uvicorn) scraped by Prometheus."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, Gauge

from pytest_selfslo.api import ApiConfig, create_app
from pytest_selfslo.api_server import serve_in_thread
from pytest_selfslo.heartbeat import Heartbeat, generate_heartbeats
from pytest_selfslo.metrics import SelfMetricsExporter
from pytest_selfslo.prometheus import PrometheusServer

TOKEN = "e2e-token-0123456789abcdef"
TOKENS = ("tok-a", "tok-b")


@dataclass
class Feeder:
    """Drives the exporter (and stability gauges) every ``tick`` seconds from scenario data.

    ``mode[token]`` names the scenario a token plays now; values come from
    :func:`generate_heartbeats`, taking only the part of a scenario where it
    shows its effect (``coherence_drop``: second half; ``stress_spike``: middle
    third), so a switch is visible at once.
    """

    exporter: SelfMetricsExporter
    stability: Gauge
    tick: float = 0.25
    mode: dict[str, str] = field(default_factory=lambda: dict.fromkeys(TOKENS, "steady"))
    stop: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        n = 400
        self._plays: dict[str, list[Heartbeat]] = {
            "steady": generate_heartbeats("steady", n, seed=1),
            "coherence_drop": generate_heartbeats("coherence_drop", n, seed=2)[n // 2 + 5:],
            "stress_spike": generate_heartbeats("stress_spike", n, seed=3)[n // 3 + 5:2 * n // 3 - 5],
        }
        self._thread = threading.Thread(target=self._run, name="e2e-feeder", daemon=True)

    def _run(self) -> None:
        i = 0
        while not self.stop.is_set():
            for token in TOKENS:
                play = self._plays[self.mode[token]]
                hb = play[i % len(play)]
                self.exporter.update(token, hb.coherence, hb.continuity, hb.presence, hb.stress)
            healthy = all(m == "steady" for m in self.mode.values())
            self.stability.set(0.93 if healthy else 0.6)
            i += 1
            self.stop.wait(self.tick)

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self.stop.set()
        self._thread.join(timeout=5)


@dataclass
class Loop:
    """A served API whose /metrics/exp a real Prometheus scrapes every second."""

    api_url: str
    state_dir: Path
    prometheus: PrometheusServer
    feeder: Feeder
    auth: dict[str, str]


@pytest.fixture
def e2e_loop(prometheus: PrometheusServer, tmp_path: Path) -> Iterator[Loop]:
    """Exporter fed by scenarios, served by uvicorn, scraped every 1s by ``prometheus``."""
    registry = CollectorRegistry()
    exporter = SelfMetricsExporter(registry=registry, enabled=True)
    stability = Gauge("stability_score_ema", "Stability EMA of the service under test",
                      registry=registry)
    oscillation = Gauge("oscillation_rate", "Oscillation rate of the service under test",
                        registry=registry)
    oscillation.set(0.0)
    feeder = Feeder(exporter, stability)
    config = ApiConfig(heartbeats=tmp_path / "identity.jsonl", state_dir=tmp_path / "state",
                       token=TOKEN, exporter=exporter)
    feeder.start()
    try:
        with serve_in_thread(create_app(config)) as api_url:
            prometheus.set_scrape_targets([api_url.removeprefix("http://")], interval="1s",
                                          metrics_path="/metrics/exp")
            prometheus.wait_for_targets_up(timeout=30)
            yield Loop(api_url, tmp_path / "state", prometheus, feeder,
                       {"Authorization": f"Bearer {TOKEN}"})
    finally:
        feeder.close()
