"""Fixtures pytest-selfslo provides to every test (registered by :mod:`.plugin`).

Everything heavy is imported inside the fixture that needs it, so a test run
that uses none of them pays nothing. Session scope only for things that are
expensive and shared on purpose (the real ``prometheus`` server, one per
process, i.e. per xdist worker); everything a test may mutate is per test.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from .plugin_config import SelfSloSettings

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

    from .prometheus import PrometheusServer
    from .slo import SLOSpec

__all__ = [
    "prometheus",
    "prometheus_scrape_target",
    "self_metrics_registry",
    "selfslo_settings",
    "slo_spec",
]


def _settings(config: pytest.Config) -> SelfSloSettings:
    from .plugin import get_settings

    return get_settings(config)


def load_configured_spec(config: pytest.Config) -> SLOSpec:
    """The run's SLO spec: a ``pytest_selfslo_slo_spec`` hook, else the configured YAML, else default."""
    from .slo import DEFAULT_SLO_SPEC, load_slo_spec

    spec = config.hook.pytest_selfslo_slo_spec(config=config)
    if spec is not None:
        return spec  # type: ignore[no-any-return]
    path = _settings(config).slo
    if path is None:
        raw = config.getoption("self_slo_slo", default=None) or config.getini("selfslo_slo")
        if raw:
            path = config.rootpath / str(raw)
    return load_slo_spec(path) if path is not None else DEFAULT_SLO_SPEC


@pytest.fixture(scope="session")
def selfslo_settings(pytestconfig: pytest.Config) -> SelfSloSettings:
    """The resolved ``--self-slo*`` settings (command line > ini > default)."""
    return _settings(pytestconfig)


@pytest.fixture
def slo_spec(pytestconfig: pytest.Config) -> SLOSpec:
    """The SLO spec of this run (``--self-slo-slo``/``selfslo_slo`` or the built-in Phase C spec)."""
    return load_configured_spec(pytestconfig)


@pytest.fixture
def self_metrics_registry() -> CollectorRegistry:
    """A fresh, empty ``prometheus_client.CollectorRegistry`` for one test."""
    from prometheus_client import CollectorRegistry

    return CollectorRegistry()


@pytest.fixture(scope="session")
def prometheus(pytestconfig: pytest.Config) -> Iterator[PrometheusServer]:
    """A real Prometheus (local binary, Docker or URL per --self-slo-prometheus); skip if none."""
    from .errors import PrometheusUnavailable
    from .prometheus import start_prometheus

    mode = _settings(pytestconfig).prometheus
    try:
        server = start_prometheus(mode)
    except PrometheusUnavailable as exc:
        pytest.skip(f"no real Prometheus (--self-slo-prometheus={mode}): {exc}")
    try:
        pytestconfig.hook.pytest_selfslo_prometheus_started(server=server)
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
