"""Hooks pytest-selfslo calls, for ``conftest.py`` files and other plugins.

Added in ``pytest_addhooks`` (xdist ``newhooks.py`` pattern). Implement them in
a ``conftest.py`` like any pytest hook::

    def pytest_selfslo_prometheus_started(server):
        server.load_rules(["rules/extra.yml"])
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from pytest_selfslo.prometheus.client import PrometheusServer


@pytest.hookspec(firstresult=True)
def pytest_selfslo_slo_spec(config: pytest.Config) -> Any:
    """Return the SLO spec (a :class:`pytest_selfslo.slo.spec.SLOSpec`) for this run, or ``None``.

    Lets a project build its spec in code instead of YAML. The first non-None
    result wins over ``--self-slo-slo``/``selfslo_slo`` and the built-in default;
    it is used by the drift and heartbeat items and by the ``slo_spec`` fixture.

    .. versionadded:: 0.1
    """


def pytest_selfslo_prometheus_started(server: PrometheusServer) -> None:
    """Called once per process (xdist worker) after the ``prometheus`` fixture's server is ready.

    Use it to load extra rules or scrape targets every test should see.

    .. versionadded:: 0.1
    """


def pytest_selfslo_coverage(config: pytest.Config, coverage: dict[str, Any]) -> None:
    """Called on the controlling process with the merged rule coverage, before the summary.

    ``coverage`` is the JSON-ready dict also written by ``--self-slo-report``
    (keys ``alerts``, ``recording``, ``covered``, ``total``, ``percentage``);
    a hook may read it, e.g. to publish it, but should not modify it.

    .. versionadded:: 0.1
    """


def pytest_selfslo_report(config: pytest.Config, report: dict[str, Any]) -> None:
    """Called with the JSON report just before ``--self-slo-report`` writes it; may add keys.

    .. versionadded:: 0.1
    """
