"""Fixtures pytest-selfslo provides to every test (registered by :mod:`pytest_selfslo.plugin`).

Everything heavy is imported inside the fixture that needs it, so a test run
that uses none of them pays nothing. Session scope only for things that are
expensive and shared on purpose (the real ``prometheus`` server, one per
process, i.e. per xdist worker); everything a test may mutate is per test.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from pytest_selfslo.plugin.config import SelfSloSettings, get_settings

if TYPE_CHECKING:
    from fastapi.testclient import TestClient
    from prometheus_client import CollectorRegistry

    from pytest_selfslo._core.limits import Limits
    from pytest_selfslo.canary.machine import Observation
    from pytest_selfslo.canary.policy import CanaryPolicy
    from pytest_selfslo.canary.source import MetricsSource
    from pytest_selfslo.canary.tuner import CanaryAutoTuner
    from pytest_selfslo.heartbeat import Heartbeat, HeartbeatLog
    from pytest_selfslo.metrics.exporter import SelfMetricsExporter
    from pytest_selfslo.prometheus.alertmanager import AlertmanagerServer
    from pytest_selfslo.prometheus.client import PrometheusServer
    from pytest_selfslo.promql.values import Sample
    from pytest_selfslo.slo.service import ServiceSLOs
    from pytest_selfslo.slo.spec import SLOSpec

__all__ = [
    "API_TOKEN",
    "CanaryTunerFactory",
    "EmbeddedPromQL",
    "HeartbeatFactory",
    "ManualClock",
    "ScrapeTarget",
    "alertmanager",
    "canary_tuner",
    "heartbeat_factory",
    "heartbeat_log",
    "prometheus",
    "prometheus_scrape_target",
    "promql_engine",
    "self_exporter",
    "self_metrics_registry",
    "selfslo_api_client",
    "selfslo_settings",
    "slo_spec",
]


def _settings(config: pytest.Config) -> SelfSloSettings:
    return get_settings(config)


def load_configured_spec(config: pytest.Config) -> SLOSpec:
    """The run's SLO spec: a ``pytest_selfslo_slo_spec`` hook, else the configured YAML, else default."""
    from pytest_selfslo.slo.spec import DEFAULT_SLO_SPEC, load_slo_spec

    spec = config.hook.pytest_selfslo_slo_spec(config=config)
    if spec is not None:
        return spec  # type: ignore[no-any-return]
    path = configured_slo_path(config)
    if path is not None and configured_service_slos(config) is not None:
        return DEFAULT_SLO_SPEC  # the file is a service SLO spec: SELF checks use the default
    return load_slo_spec(path) if path is not None else DEFAULT_SLO_SPEC


def configured_slo_path(config: pytest.Config) -> Path | None:
    """The ``--self-slo-slo``/``selfslo_slo`` file, or ``None``."""
    path = _settings(config).slo
    if path is None:
        raw = config.getoption("self_slo_slo", default=None) or config.getini("selfslo_slo")
        if raw:
            path = config.rootpath / str(raw)
    return path


def configured_service_slos(config: pytest.Config) -> ServiceSLOs | None:
    """The service SLOs when ``--self-slo-slo`` names a Sloth, OpenSLO, Pyrra or selfslo/v1
    spec (auto-detected from ``version``/``apiVersion``/``kind``), else ``None``.

    A spec that cannot be imported raises its located
    :class:`~pytest_selfslo._core.errors.SLOSpecError` (the ``slo-spec`` item reports it).
    """
    from pytest_selfslo.slo.importers import import_spec, is_service_spec

    path = configured_slo_path(config)
    if path is None or not is_service_spec(path):
        return None
    return import_spec(path, _settings(config).sli_plugins)


@pytest.fixture(scope="session")
def selfslo_settings(pytestconfig: pytest.Config) -> SelfSloSettings:
    """The resolved ``--self-slo*`` settings (command line > ini > default)."""
    return _settings(pytestconfig)


@pytest.fixture
def slo_spec(pytestconfig: pytest.Config) -> SLOSpec:
    """The SLO spec of this run (``--self-slo-slo``/``selfslo_slo`` or the built-in Phase C spec)."""
    return load_configured_spec(pytestconfig)


@pytest.fixture
def service_slos(pytestconfig: pytest.Config) -> ServiceSLOs | None:
    """The service SLOs of ``--self-slo-slo`` when it names a Sloth, OpenSLO, Pyrra or
    selfslo/v1 spec, else ``None``."""
    return configured_service_slos(pytestconfig)


@pytest.fixture
def self_metrics_registry() -> CollectorRegistry:
    """A fresh, empty ``prometheus_client.CollectorRegistry`` for one test."""
    from prometheus_client import CollectorRegistry

    return CollectorRegistry()


@pytest.fixture
def self_exporter(self_metrics_registry: CollectorRegistry) -> SelfMetricsExporter:
    """A SELF metrics exporter bound to ``self_metrics_registry``, gate forced on."""
    from pytest_selfslo.metrics.exporter import SelfMetricsExporter

    return SelfMetricsExporter(registry=self_metrics_registry, enabled=True)


class HeartbeatFactory:
    """Seeded heartbeat scenarios for a test; :meth:`write` puts records in a tmp JSONL file.

        >>> beats = heartbeat_factory("coherence_drop", n=120, seed=3)   # doctest: +SKIP
        >>> path = heartbeat_factory.write(beats)                         # doctest: +SKIP
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._files = 0

    def __call__(self, scenario: str = "steady", n: int = 60, *, seed: int = 0,
                 **kwargs: object) -> list[Heartbeat]:
        """``n`` heartbeats of ``scenario`` (see ``pytest_selfslo.heartbeat.SCENARIOS``)."""
        from pytest_selfslo.heartbeat import generate_heartbeats

        return generate_heartbeats(scenario, n, seed, **kwargs)  # type: ignore[arg-type]

    def write(self, heartbeats: Iterable[Heartbeat] | str = "steady", n: int = 60, *,
              name: str | None = None, seed: int = 0, **kwargs: object) -> Path:
        """Write records (or a scenario's ``n`` records) as JSON Lines; return the file path."""
        from pytest_selfslo.heartbeat import HeartbeatLog

        records = self(heartbeats, n, seed=seed, **kwargs) if isinstance(heartbeats, str) \
            else heartbeats
        self._files += 1
        path = self.directory / (name or f"heartbeats-{self._files}.jsonl")
        with HeartbeatLog(path) as log:
            log.extend(records)
        return path


@pytest.fixture
def heartbeat_factory(tmp_path: Path) -> HeartbeatFactory:
    """Generate seeded heartbeat scenarios, optionally written to a tmp JSONL file."""
    return HeartbeatFactory(tmp_path)


@pytest.fixture
def heartbeat_log(tmp_path: Path) -> Iterator[HeartbeatLog]:
    """An empty append-only ``HeartbeatLog`` at ``tmp_path/identity.jsonl`` (``.path``)."""
    from pytest_selfslo.heartbeat import HeartbeatLog

    with HeartbeatLog(tmp_path / "identity.jsonl") as log:
        yield log


def _at_or_time(at: str | float | None, time: str | float | None) -> str | float:
    """The evaluation time given as ``at=`` or its alias ``time=`` (default 0)."""
    if at is not None and time is not None:
        raise TypeError("query: give the evaluation time as at= or time=, not both")
    return at if at is not None else (time if time is not None else 0)


class EmbeddedPromQL:
    """The embedded PromQL engine for one test: load series notation, query like Prometheus.

        >>> promql_engine.load('self_stress{token_id="a"} 0.1+0.1x5')   # doctest: +SKIP
        >>> promql_engine.query_value("max(self_stress)", at="5m")          # doctest: +SKIP
        0.6
    """

    def __init__(self, semantics: str = "3", limits: Limits | None = None) -> None:
        from pytest_selfslo._core.limits import DEFAULT_LIMITS
        from pytest_selfslo.promql.engine import Engine
        from pytest_selfslo.promql.storage import Storage

        self.storage = Storage(limits or DEFAULT_LIMITS)
        self.engine = Engine(self.storage, semantics=semantics, limits=limits or DEFAULT_LIMITS)

    @staticmethod
    def _ms(value: str | float) -> int:
        from pytest_selfslo._core.durations import parse_duration

        return parse_duration(value) if isinstance(value, str) else round(float(value) * 1000)

    def load(self, text: str, interval: str | float | None = None,
             start: str | float = 0) -> None:
        """Load ``metric{labels} values`` lines (promtool notation) every ``interval`` (1m).

        A first line ``load <interval>`` (promqltest's block header) sets the
        interval; giving ``interval=`` as well is an error. A line that is not a
        series (``eval ...``) or a duration as a sample value is a
        ``SeriesNotationError``, as in promtool.
        """
        from pytest_selfslo._core.errors import SeriesNotationError

        lines = textwrap.dedent(text).strip("\n").splitlines()
        first = lines[0].strip() if lines else ""
        header = re.fullmatch(r"load\s+(\S+)", first)
        if header is not None or first == "load":
            if header is None:
                raise SeriesNotationError("load: expected 'load <interval>', e.g. 'load 5m'")
            if interval is not None:
                raise SeriesNotationError(
                    f"load: the text says 'load {header.group(1)}' and interval= is "
                    f"{interval!r}: give the interval once")
            try:
                interval = header.group(1) if self._ms(header.group(1)) > 0 else None
            except ValueError:
                interval = None
            if interval is None:
                raise SeriesNotationError(f"load: expected a positive duration after 'load', "
                                          f"got {header.group(1)!r}")
            lines = lines[1:]
        for line in lines:
            word = line.split(maxsplit=1)[0] if line.strip() else ""
            if word in ("eval", "eval_fail", "eval_ordered", "eval_warn", "eval_info",
                        "clear"):
                raise SeriesNotationError(
                    f"load: {word!r} is a promqltest command; load() takes series lines "
                    "(query with query()/query_value())")
        self.storage.load("\n".join(lines), self._ms("1m" if interval is None else interval),
                          self._ms(start))

    def query(self, expr: str, at: str | float | None = None, *,
              time: str | float | None = None) -> list[Sample]:
        """Instant query at ``at`` (duration or seconds, default 0); a list of samples.
        ``time=`` is accepted as an alias (``prometheus.query`` has the same pair)."""
        return self.engine.instant_samples(expr, self._ms(_at_or_time(at, time)))

    def query_value(self, expr: str, at: str | float | None = None, *,
                    time: str | float | None = None) -> float | None:
        """The single value of an instant query at ``at`` (None when empty; error if
        several; ``time=`` is an alias of ``at=``)."""
        samples = self.query(expr, _at_or_time(at, time))
        if len(samples) > 1:
            raise ValueError(f"{expr!r} returned {len(samples)} samples, expected at most one")
        if samples and samples[0].histogram is not None:
            raise ValueError(f"{expr!r} returned a native histogram, not a float: use query() "
                             f"(Sample.histogram) or histogram_count()/histogram_quantile()")
        return samples[0].value if samples else None

    def query_range(self, expr: str, start: str | float, end: str | float,
                    step: str | float = "1m") -> list[Sample]:
        """Range query from ``start`` to ``end`` every ``step``."""
        return self.engine.range_samples(expr, self._ms(start), self._ms(end), self._ms(step))


@pytest.fixture
def promql_engine(pytestconfig: pytest.Config) -> EmbeddedPromQL:
    """An empty embedded PromQL engine (``--self-slo-semantics``, budgets from
    ``--self-slo-max-samples``/``--self-slo-max-steps``) with ``load``/``query``."""
    settings = _settings(pytestconfig)
    return EmbeddedPromQL(settings.effective_semantics, settings.limits)


_SERVER_KEY = pytest.StashKey["tuple[PrometheusServer | None, Exception | None]"]()


def session_prometheus(config: pytest.Config) -> PrometheusServer:
    """The real Prometheus of this process (xdist worker), started on first use.

    The ``prometheus`` fixture and the online lint of ``--self-slo-lint-prometheus
    fixture`` share it; it is closed when pytest unconfigures. Raises
    :class:`~pytest_selfslo._core.errors.PrometheusUnavailable` (every time,
    without retrying) when none can be had under ``--self-slo-prometheus``.
    """
    from pytest_selfslo.prometheus.managed import start_prometheus

    if _SERVER_KEY in config.stash:
        server, error = config.stash[_SERVER_KEY]
        if error is not None:
            raise error
        assert server is not None
        return server
    try:
        server = start_prometheus(_settings(config).prometheus)
    except Exception as exc:
        config.stash[_SERVER_KEY] = (None, exc)
        raise
    config.stash[_SERVER_KEY] = (server, None)
    config.add_cleanup(server.close)
    config.hook.pytest_selfslo_prometheus_started(server=server)
    return server


@pytest.fixture(scope="session")
def prometheus(pytestconfig: pytest.Config) -> PrometheusServer:
    """A real Prometheus (local binary, Docker or URL per --self-slo-prometheus); skip if none."""
    from pytest_selfslo._core.errors import PrometheusUnavailable

    try:
        return session_prometheus(pytestconfig)
    except PrometheusUnavailable as exc:
        mode = _settings(pytestconfig).prometheus
        pytest.skip(f"no real Prometheus (--self-slo-prometheus={mode}): {exc}")


@pytest.fixture(scope="session")
def alertmanager(pytestconfig: pytest.Config) -> Iterator[AlertmanagerServer]:
    """A real Alertmanager (local binary, Docker or URL per --self-slo-alertmanager); skip if none.

    One per process (xdist worker), temp config and storage, free port, clustering
    off; ``set_webhook(url, bearer=...)`` routes alerts to a receiver, and
    ``prometheus.set_alertmanagers([alertmanager.address])`` makes Prometheus send to it.
    """
    from pytest_selfslo._core.errors import PrometheusUnavailable
    from pytest_selfslo.prometheus.alertmanager import start_alertmanager

    mode = _settings(pytestconfig).alertmanager
    try:
        server = start_alertmanager(mode)
    except PrometheusUnavailable as exc:
        pytest.skip(f"no real Alertmanager (--self-slo-alertmanager={mode}): {exc}")
    try:
        yield server
    finally:
        server.close()


class ScrapeTarget:
    """A registry served over HTTP on 127.0.0.1 that the ``prometheus`` fixture scrapes.

    ``registry`` is what the target exposes; ``address`` is ``host:port``;
    :meth:`wait_scraped` blocks until Prometheus has scraped it successfully.
    """

    def __init__(self, server: PrometheusServer, registry: CollectorRegistry) -> None:
        from prometheus_client import start_http_server

        self.server = server
        self.registry = registry
        self._http, self._thread = start_http_server(0, addr="127.0.0.1", registry=registry)
        self.address = f"127.0.0.1:{self._http.server_port}"
        server.set_scrape_targets([self.address], interval="1s")

    def wait_scraped(self, timeout: float = 30.0) -> None:
        """Block until the target is ``up`` in Prometheus (scraped at least once)."""
        def scraped() -> bool:
            return any(t["scrapeUrl"].startswith(f"http://{self.address}")
                       and t["health"] == "up" for t in self.server.targets())
        self.server.wait_until(scraped, timeout=timeout, what=f"a scrape of {self.address}")

    def close(self) -> None:
        """Stop serving and remove the target from the server's config."""
        self._http.shutdown()
        self._http.server_close()
        self.server.set_scrape_targets([])


@pytest.fixture
def prometheus_scrape_target(prometheus: PrometheusServer,
                             self_metrics_registry: CollectorRegistry) -> Iterator[ScrapeTarget]:
    """Serve ``self_metrics_registry`` on a loopback port and make ``prometheus`` scrape it."""
    target = ScrapeTarget(prometheus, self_metrics_registry)
    try:
        yield target
    finally:
        target.close()


class ManualClock:
    """A clock tests move by hand: ``clock()`` is the time, :meth:`advance` moves it."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> float:
        """Move forward ``seconds``; returns the new time."""
        self.now += seconds
        return self.now


class CanaryTunerFactory:
    """Builds ``CanaryAutoTuner`` objects with state in ``tmp_path``, a fresh registry, a manual clock.

        >>> tuner = canary_tuner(observations=[Observation(gates={...})])   # doctest: +SKIP
        >>> tuner.check_and_tune()["action"]                                   # doctest: +SKIP
        'hold'
        >>> canary_tuner.clock.advance(600)                                    # doctest: +SKIP
    """

    def __init__(self, directory: Path, clock: ManualClock) -> None:
        self.directory = directory
        self.clock = clock
        self._count = 0

    def __call__(self, *, observations: Iterable[Observation] | None = None,
                 source: MetricsSource | None = None, policy: CanaryPolicy | None = None,
                 prometheus_url: str | None = None, **kwargs: object) -> CanaryAutoTuner:
        """A tuner observing ``observations`` (in order), ``source`` or ``prometheus_url``."""
        from prometheus_client import CollectorRegistry

        from pytest_selfslo.canary.source import StaticSource
        from pytest_selfslo.canary.tuner import CanaryAutoTuner

        if observations is not None:
            source = StaticSource(list(observations))
        self._count += 1
        state_dir = self.directory / f"canary-{self._count}"
        return CanaryAutoTuner(prometheus_url=prometheus_url, source=source, policy=policy,
                               clock=self.clock, registry=CollectorRegistry(),
                               state_dir=state_dir, **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def canary_tuner(tmp_path: Path) -> CanaryTunerFactory:
    """Factory of canary auto-tuners: state in tmp_path, fresh registry, ``.clock`` to advance."""
    return CanaryTunerFactory(tmp_path, ManualClock())


#: bearer token the ``selfslo_api_client`` fixture's app accepts (and sends by default)
API_TOKEN = "selfslo-test-token"


@pytest.fixture
def selfslo_api_client(tmp_path: Path, self_exporter: SelfMetricsExporter,
                       slo_spec: SLOSpec) -> Iterator[TestClient]:
    """A TestClient of the operator API over tmp_path state, authorised with ``API_TOKEN``."""
    from fastapi.testclient import TestClient

    from pytest_selfslo.api.app import ApiConfig, create_app

    config = ApiConfig(heartbeats=tmp_path / "identity.jsonl", state_dir=tmp_path / "state",
                       slo_spec=slo_spec, token=API_TOKEN, exporter=self_exporter, enabled=True)
    with TestClient(create_app(config),
                    headers={"Authorization": f"Bearer {API_TOKEN}"}) as client:
        yield client
