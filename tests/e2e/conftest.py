"""The loop's real parts on loopback: exporter + operator API (uvicorn) scraped by Prometheus."""

from __future__ import annotations

import contextlib
import datetime as dt
import re
import subprocess
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, Gauge

from pytest_selfslo._core.errors import PrometheusUnavailable
from pytest_selfslo.api.app import ApiConfig, create_app
from pytest_selfslo.api.server import serve_in_thread
from pytest_selfslo.heartbeat import Heartbeat, generate_heartbeats
from pytest_selfslo.metrics.exporter import SelfMetricsExporter
from pytest_selfslo.plugin import get_settings
from pytest_selfslo.prometheus import PrometheusServer, start_prometheus
from pytest_selfslo.prometheus.managed import DockerPrometheus, LocalPrometheus, ManagedPrometheus

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
    prometheus: ManagedPrometheus
    feeder: Feeder
    auth: dict[str, str]


#: the e2e tests run once per backend: the server ``--self-slo-prometheus`` picks
#: (``auto``: the local binary here), and ``prom/prometheus`` through testcontainers,
#: which skips with the reason when no Docker daemon answers
BACKENDS = ("configured", "docker")


def _start(request: pytest.FixtureRequest, backend: str) -> ManagedPrometheus:
    """A new server we own for ``backend``; skip with the reason when there is none."""
    configured = get_settings(request.config).prometheus
    mode = configured if backend == "configured" else backend
    if backend == "docker" and configured == "docker":
        pytest.skip("--self-slo-prometheus=docker: the configured backend already is Docker")
    if mode not in ("auto", "local", "docker"):
        pytest.skip(f"the e2e tests configure their server; --self-slo-prometheus={mode} "
                    "cannot be configured")
    try:
        server = start_prometheus(mode)
    except PrometheusUnavailable as exc:
        pytest.skip(f"no {backend} Prometheus (mode {mode}): {exc}")
    assert isinstance(server, ManagedPrometheus), server
    return server


@pytest.fixture(scope="session", params=BACKENDS)
def e2e_prometheus(request: pytest.FixtureRequest) -> Iterator[ManagedPrometheus]:
    """One shared managed server per backend for tests that leave it running.

    The configured backend is the plugin's session ``prometheus`` fixture itself.
    """
    if request.param == "configured":
        server = request.getfixturevalue("prometheus")
        if not isinstance(server, ManagedPrometheus):
            pytest.skip(f"the e2e tests configure their server; {server!r} cannot be configured")
        yield server
        return
    with contextlib.closing(_start(request, request.param)) as own:
        yield own


@pytest.fixture(params=BACKENDS)
def own_prometheus(request: pytest.FixtureRequest) -> Iterator[ManagedPrometheus]:
    """A server of this test alone, for tests that kill it (the shared one stays up)."""
    with contextlib.closing(_start(request, request.param)) as server:
        yield server


@pytest.fixture
def kill_prometheus() -> Callable[[PrometheusServer], None]:
    """Kills a managed server the hard way (SIGKILL), as a crash would."""
    return _kill


def _kill(prom: PrometheusServer) -> None:
    """SIGKILL the process or container; ``close()`` still cleans up afterwards."""
    if isinstance(prom, LocalPrometheus):
        prom.process.kill()
        prom.process.wait(timeout=10)
    elif isinstance(prom, DockerPrometheus):
        prom.container.get_wrapped_container().kill()
    else:  # pragma: no cover - _start only hands out managed servers
        raise TypeError(f"cannot kill {prom!r}")
    prom.wait_until(lambda: not prom.ready(), timeout=10, what=f"{prom!r} to go down")


@pytest.fixture
def wait_evaluated() -> Callable[..., dict[str, Any]]:
    """Waits for two evaluations of an alerting rule (by name); returns it as the second saw it.

    Polls ``/api/v1/rules`` against a deadline: "the rule stayed quiet" is only
    meaningful after the server evaluated it, whatever the machine's speed.
    ``after=`` (a Unix time) counts only evaluations that started later (the
    server shares this machine's clock), e.g. once the data a test needs was
    observed in the TSDB.
    """
    return _wait_evaluated


_RFC3339 = re.compile(r"([^.]+?)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)")


def rfc3339(stamp: str) -> float:
    """Prometheus' RFC 3339 timestamp (nanoseconds; ``Z`` or an offset) as a Unix time."""
    match = _RFC3339.fullmatch(stamp)
    if match is None:
        raise ValueError(f"not an RFC 3339 timestamp: {stamp!r}")
    base, digits, zone = match.groups()
    whole = dt.datetime.fromisoformat(base + ("+00:00" if zone == "Z" else zone)).timestamp()
    return whole + (int(digits) / 10 ** len(digits) if digits else 0.0)


def _evaluated(prom: PrometheusServer, name: str, after: float) -> dict[str, Any] | None:
    for group in prom.rules(type="alert"):
        for rule in group["rules"]:
            stamp = rule["lastEvaluation"]
            if rule["name"] == name and not stamp.startswith("0001-") and rfc3339(stamp) > after:
                return dict(rule)
    return None


def _wait_evaluated(prom: PrometheusServer, name: str, *, after: float = 0.0,
                    timeout: float = 60.0) -> dict[str, Any]:
    first = prom.wait_until(lambda: _evaluated(prom, name, after), timeout=timeout,
                            what=f"an evaluation of {name}")
    since = rfc3339(first["lastEvaluation"])
    return prom.wait_until(lambda: _evaluated(prom, name, since), timeout=timeout,
                           what=f"a second evaluation of {name}")


@pytest.fixture
def restart_prometheus() -> Callable[[PrometheusServer], None]:
    """Starts a killed managed server again: same binary/image, flags, port and TSDB."""
    return _restart


def _restart(prom: PrometheusServer) -> None:
    if isinstance(prom, LocalPrometheus):
        with (prom.workdir / "prometheus-restart.log").open("wb") as log:  # the child keeps its fd
            prom.process = subprocess.Popen(prom.process.args, stdout=log,
                                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                            cwd=prom.workdir)
    elif isinstance(prom, DockerPrometheus):
        prom.container.get_wrapped_container().start()
    else:  # pragma: no cover - _start only hands out managed servers
        raise TypeError(f"cannot restart {prom!r}")
    prom.wait_ready(30)


@contextlib.contextmanager
def _loop(prometheus: ManagedPrometheus, tmp_path: Path) -> Iterator[Loop]:
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
            try:
                prometheus.wait_for_targets_up(timeout=30)
                yield Loop(api_url, tmp_path / "state", prometheus, feeder,
                           {"Authorization": f"Bearer {TOKEN}"})
            finally:
                if prometheus.ready():  # the shared server outlives this test: forget it
                    prometheus.clear_rules()
                    prometheus.set_scrape_targets([])
    finally:
        feeder.close()


@pytest.fixture
def e2e_loop(e2e_prometheus: ManagedPrometheus, tmp_path: Path) -> Iterator[Loop]:
    """Exporter fed by scenarios, served by uvicorn, scraped every 1s by the shared server."""
    with _loop(e2e_prometheus, tmp_path) as loop:
        yield loop


@pytest.fixture
def e2e_loop_own(own_prometheus: ManagedPrometheus, tmp_path: Path) -> Iterator[Loop]:
    """The same loop on a server of this test alone (it may kill it)."""
    with _loop(own_prometheus, tmp_path) as loop:
        yield loop
