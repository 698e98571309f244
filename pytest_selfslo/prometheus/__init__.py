"""A real Prometheus for tests: the HTTP API client and the servers we start (local binary, Docker).

Modules: ``client`` (:class:`PrometheusServer`, binary versions, ``start_prometheus``),
``managed`` (servers we own: temp config and TSDB, free port, reaped on SIGTERM),
``alertmanager`` (the same for Alertmanager: :func:`start_alertmanager`, webhook config,
``amtool check-config``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pytest_selfslo._lazy import lazy_exports

if TYPE_CHECKING:  # real types for mypy; at run time names are resolved lazily
    from pytest_selfslo.prometheus.alertmanager import (
        AlertmanagerServer as AlertmanagerServer,
        start_alertmanager as start_alertmanager,
    )
    from pytest_selfslo.prometheus.client import (
        PrometheusServer as PrometheusServer,
        binary_semantics as binary_semantics,
        binary_version as binary_version,
    )
    from pytest_selfslo.prometheus.managed import (
        availability as availability,
        start_prometheus as start_prometheus,
    )

#: public name -> module that defines it
_EXPORTS: dict[str, str] = {
    "AlertmanagerServer": "pytest_selfslo.prometheus.alertmanager",
    "start_alertmanager": "pytest_selfslo.prometheus.alertmanager",
    "PrometheusServer": "pytest_selfslo.prometheus.client",
    "availability": "pytest_selfslo.prometheus.managed",
    "binary_semantics": "pytest_selfslo.prometheus.client",
    "binary_version": "pytest_selfslo.prometheus.client",
    "start_prometheus": "pytest_selfslo.prometheus.managed",
}

__all__, __getattr__, __dir__ = lazy_exports(__name__, globals(), _EXPORTS)
