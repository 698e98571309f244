"""A real Alertmanager for tests: find or start one, configure its webhook, talk to its API.

Like :mod:`pytest_selfslo.prometheus.client` for Prometheus, three sources,
tried in this order under ``auto`` (``--self-slo-alertmanager``):

* ``local``  -- the ``prometheus-alertmanager`` (Debian) or ``alertmanager``
  binary on ``PATH``, started with a temporary config and storage directory on
  a free 127.0.0.1 port, clustering off (``--cluster.listen-address=``, so
  servers of parallel xdist workers never gossip or fight over port 9094);
* ``docker`` -- ``prom/alertmanager`` through testcontainers, host network;
* an ``http(s)://`` URL -- an existing server (its configuration is not ours,
  so :meth:`AlertmanagerServer.set_webhook` refuses).

The servers we start keep everything in one temporary directory
(``alertmanager.yml``, ``data/``, ``alertmanager.log``) that is removed when
the server is closed, and are registered with the SIGTERM reaper
(:mod:`pytest_selfslo._core.reaper`). Anything that prevents getting a server
raises :class:`~pytest_selfslo._core.errors.PrometheusUnavailable`, whose
message the ``alertmanager`` fixture turns into a skip reason.

    >>> with start_alertmanager("auto") as am:                       # doctest: +SKIP
    ...     am.set_webhook("http://127.0.0.1:8000/self/alerts", bearer="...")
    ...     prometheus.set_alertmanagers([am.address])

:func:`check_config` runs ``amtool check-config`` on a file.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx
import yaml

from pytest_selfslo._core.errors import PrometheusError, PrometheusUnavailable
from pytest_selfslo.prometheus.child import (
    DEFAULT_TIMEOUT,
    DockerServer,
    HttpServer,
    LocalServer,
    OwnedServer,
    docker_reason,
    external_reason,
    start_server,
)

__all__ = [
    "ALERTMANAGER_BINARIES",
    "AlertmanagerServer",
    "DockerAlertmanager",
    "LocalAlertmanager",
    "ManagedAlertmanager",
    "alertmanager_availability",
    "check_config",
    "start_alertmanager",
]

#: binary names tried in order (Debian's package installs the first)
ALERTMANAGER_BINARIES = ("prometheus-alertmanager", "alertmanager")
DOCKER_IMAGE = "prom/alertmanager:latest"


def _binary() -> str | None:
    return next((p for name in ALERTMANAGER_BINARIES if (p := shutil.which(name))), None)


class AlertmanagerServer(HttpServer):
    """Client of one Alertmanager's HTTP API; subclasses also own its lifecycle.

        >>> am = AlertmanagerServer("http://127.0.0.1:9093")     # doctest: +SKIP
        >>> am.alerts()                                           # doctest: +SKIP
        [{'labels': {'alertname': 'AURIS_SELF_Coherence_Drop', ...}, 'status': {...}, ...}]
    """

    product = "Alertmanager"

    def __enter__(self) -> AlertmanagerServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def address(self) -> str:
        """``host:port`` -- what a Prometheus ``alerting:`` static config targets."""
        return self.url.split("://", 1)[-1]

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            self._check_alive()
            raise PrometheusError(f"{method} {self.url}{path} failed: {exc}") from exc
        if response.status_code >= 400:
            raise PrometheusError(f"{method} {self.url}{path}: HTTP {response.status_code}: "
                                  f"{response.text.strip()[:300]}")
        return response

    def reload(self) -> None:
        """Re-read the config file (``POST /-/reload``); a rejected config raises PrometheusError."""
        self._request("POST", "/-/reload")

    def alerts(self, **filters: Any) -> list[dict[str, Any]]:
        """Alerts the server holds (``GET /api/v2/alerts``; filters e.g. ``active=True``)."""
        params = {k: str(v).lower() if isinstance(v, bool) else v for k, v in filters.items()}
        found: list[dict[str, Any]] = self._request("GET", "/api/v2/alerts", params=params).json()
        return found

    def post_alerts(self, alerts: Sequence[Mapping[str, Any]]) -> None:
        """Push alerts directly (``POST /api/v2/alerts``), as Prometheus does."""
        self._request("POST", "/api/v2/alerts", json=list(alerts))

    def status(self) -> dict[str, Any]:
        """``GET /api/v2/status`` (version info, cluster, the loaded config as text)."""
        data: dict[str, Any] = self._request("GET", "/api/v2/status").json()
        return data

    def set_webhook(self, url: str, **options: Any) -> None:
        """Route alerts to a webhook receiver at ``url``; managed servers only."""
        raise PrometheusError(f"cannot configure the external Alertmanager {self.url}")


def webhook_config(url: str, *, bearer: str | None = None,
                   basic: tuple[str, str] | None = None,
                   matchers: Sequence[str] = (), group_by: Sequence[str] = ("alertname",),
                   group_wait: str = "1s", group_interval: str = "1s",
                   repeat_interval: str = "1h", send_resolved: bool = True,
                   max_alerts: int = 10) -> dict[str, Any]:
    """An Alertmanager config routing alerts (all, or those matching ``matchers``) to ``url``.

    ``bearer`` (a token) or ``basic`` (``(username, password)``) become the
    receiver's ``http_config``, as Alertmanager sends them.
    """
    http_config: dict[str, Any] = {}
    if bearer is not None:
        http_config["authorization"] = {"type": "Bearer", "credentials": bearer}
    if basic is not None:
        http_config["basic_auth"] = {"username": basic[0], "password": basic[1]}
    webhook: dict[str, Any] = {"url": url, "send_resolved": send_resolved, "max_alerts": max_alerts}
    if http_config:
        webhook["http_config"] = http_config
    route: dict[str, Any] = {"receiver": "webhook", "group_by": list(group_by),
                             "group_wait": group_wait, "group_interval": group_interval,
                             "repeat_interval": repeat_interval}
    if matchers:
        route = {"receiver": "null", "group_by": list(group_by), "group_wait": group_wait,
                 "group_interval": group_interval, "repeat_interval": repeat_interval,
                 "routes": [{**route, "matchers": list(matchers)}]}
    return {"route": route,
            "receivers": [{"name": "null"}, {"name": "webhook", "webhook_configs": [webhook]}]}


_NULL_CONFIG: dict[str, Any] = {"route": {"receiver": "null"}, "receivers": [{"name": "null"}]}


class ManagedAlertmanager(AlertmanagerServer, OwnedServer):
    """A server whose config directory we own: its receivers can be changed."""

    log_name = "alertmanager.log"

    @property
    def config_path(self) -> Path:
        """The ``alertmanager.yml`` the server reads."""
        return self.workdir / "alertmanager.yml"

    @staticmethod
    def _prepare_workdir() -> Path:
        workdir = Path(tempfile.mkdtemp(prefix="selfslo-alertmanager-"))
        (workdir / "data").mkdir()
        _write(workdir / "alertmanager.yml", _NULL_CONFIG)
        return workdir

    @staticmethod
    def _server_args(workdir: Path, port: int) -> list[str]:
        return _server_args(workdir, port)

    def apply_config(self, config: Mapping[str, Any]) -> None:
        """Write ``config`` as ``alertmanager.yml`` and reload; a rejected one is rolled back."""
        previous = self.config_path.read_text(encoding="utf-8")
        _write(self.config_path, config)
        try:
            self.reload()
        except PrometheusError:
            self.config_path.write_text(previous, encoding="utf-8")
            self.reload()
            raise

    def set_webhook(self, url: str, **options: Any) -> None:
        """Route alerts to ``url`` (options of :func:`webhook_config`) and reload."""
        self.apply_config(webhook_config(url, **options))


def _write(path: Path, config: Mapping[str, Any]) -> None:
    tmp = path.with_suffix(".yml.tmp")
    tmp.write_text(yaml.safe_dump(dict(config), sort_keys=False), encoding="utf-8")
    tmp.replace(path)


def _server_args(workdir: Path, port: int) -> list[str]:
    return [
        f"--config.file={workdir / 'alertmanager.yml'}",
        f"--storage.path={workdir / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--cluster.listen-address=",  # no gossip: one server per worker, port 9094 stays free
        "--log.level=info",
    ]


class LocalAlertmanager(LocalServer, ManagedAlertmanager):
    """The Alertmanager binary on PATH, run as a child process."""

    @classmethod
    def start(cls, *, binary: str | None = None,
              timeout: float = DEFAULT_TIMEOUT) -> LocalAlertmanager:
        """Start the binary on a free port and wait until it is ready."""
        path = shutil.which(binary) if binary else _binary()
        if path is None:
            names = binary or " or ".join(repr(b) for b in ALERTMANAGER_BINARIES)
            raise PrometheusUnavailable(f"no {names} binary on PATH")
        return cls._spawn(path, timeout)


class DockerAlertmanager(DockerServer, ManagedAlertmanager):
    """``prom/alertmanager`` through testcontainers, on the host network, loopback port."""

    @classmethod
    def start(cls, *, image: str = DOCKER_IMAGE,
              timeout: float = DEFAULT_TIMEOUT) -> DockerAlertmanager:
        """Start the container once a Docker daemon answers; ready on return."""
        return cls._run_image(image, timeout)


def alertmanager_availability(mode: str) -> str | None:
    """None when ``mode`` can provide a real Alertmanager, else the reason it cannot (cheap)."""
    if mode == "local":
        return None if _binary() else f"no {' or '.join(ALERTMANAGER_BINARIES)} binary on PATH"
    if mode == "docker":
        return docker_reason()
    if mode == "auto":
        if _binary():
            return None
        reason = docker_reason()
        return None if reason is None else (
            f"no {' or '.join(ALERTMANAGER_BINARIES)} binary on PATH and {reason}")
    return external_reason(AlertmanagerServer(mode, timeout=3), mode)


def start_alertmanager(mode: str = "auto", *,
                       timeout: float = DEFAULT_TIMEOUT) -> AlertmanagerServer:
    """Start (local, docker) or reach (URL) a real Alertmanager per ``mode``; ready on return."""
    return start_server(mode, timeout, local=LocalAlertmanager.start,
                        docker=DockerAlertmanager.start, external=AlertmanagerServer)


def check_config(path: str | Path, *, amtool: str = "amtool") -> tuple[bool, str]:
    """``amtool check-config PATH``: (whether it passed, its output). No amtool: PrometheusUnavailable."""
    binary = shutil.which(amtool)
    if binary is None:
        raise PrometheusUnavailable(f"no {amtool!r} binary on PATH")
    proc = subprocess.run([binary, "check-config", str(path)], capture_output=True, text=True,
                          timeout=60)
    return proc.returncode == 0, (proc.stdout + proc.stderr).strip()
