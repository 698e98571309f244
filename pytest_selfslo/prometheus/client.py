"""A real Prometheus for tests: find or start one, and talk to it over the HTTP API.

Three sources, tried in this order under ``auto`` (``--self-slo-prometheus``):

* ``local``  — the ``prometheus`` binary on ``PATH`` (Debian package), or the
  one named by ``local:/path/to/prometheus``, started with a temporary config
  and TSDB on a free 127.0.0.1 port (:mod:`pytest_selfslo.prometheus.managed`);
* ``docker`` — ``prom/prometheus`` through testcontainers, when a Docker daemon
  answers;
* an ``http(s)://`` URL — an existing server (or Thanos/Mimir/Cortex/
  VictoriaMetrics: only the HTTP API is used). Its configuration is not ours,
  so ``set_scrape_targets``/``load_rules`` refuse.

Anything that prevents getting a server raises
:class:`~pytest_selfslo._core.errors.PrometheusUnavailable` whose message is the
reason; the ``prometheus`` fixture turns it into a skip with that reason.

    >>> server = start_prometheus("auto")          # doctest: +SKIP
    >>> server.query("up")                         # doctest: +SKIP
    >>> server.close()                             # doctest: +SKIP
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
from typing import Any

import httpx

from pytest_selfslo._core.errors import PrometheusError, PrometheusUnavailable
from pytest_selfslo.prometheus.child import DEFAULT_TIMEOUT, HttpServer

__all__ = [
    "PrometheusServer",
    "binary_semantics",
    "binary_version",
    "local_binary",
    "metric_types",
]

class PrometheusServer(HttpServer):
    """Client of one Prometheus server's HTTP API; subclasses also own its lifecycle.

        >>> server = PrometheusServer("http://127.0.0.1:9090")   # doctest: +SKIP
        >>> server.wait_ready()                                   # doctest: +SKIP
        >>> server.query("up")[0]["value"]                        # doctest: +SKIP
        [1700000000.0, '1']
    """

    product = "Prometheus"

    def __enter__(self) -> PrometheusServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- lifecycle (close, ready, wait_ready: HttpServer) ---------------------------
    def reload(self) -> None:
        """Make the server re-read its config and rule files (``POST /-/reload``).

        Needs ``--web.enable-lifecycle`` (managed servers have it). A rejected
        config or rule file raises :class:`PrometheusError` with the server's reason.
        """
        response = self._request("POST", "/-/reload", raw=True)
        if response.status_code != 200:
            raise PrometheusError(
                f"Prometheus at {self.url} refused /-/reload "
                f"(HTTP {response.status_code}): {response.text.strip()}"
            )

    # -- configuration (managed servers only) -----------------------------------
    def set_scrape_targets(self, targets: list[str], *, interval: str = "1s",
                           metrics_path: str = "/metrics") -> None:
        """Scrape ``targets`` (``host:port``) every ``interval``; managed servers only."""
        raise PrometheusError(f"cannot change the scrape targets of an external server {self.url}")

    def set_alertmanagers(self, addresses: list[str]) -> None:
        """Send alerts to these Alertmanagers (``host:port``); managed servers only."""
        raise PrometheusError(f"cannot change the alerting config of an external server {self.url}")

    def load_rules(self, rules: list[str] | str) -> None:
        """Load rule files (paths) or one rule file's YAML text; managed servers only."""
        raise PrometheusError(f"cannot load rules into an external server {self.url}")

    # -- HTTP API ------------------------------------------------------------------
    def query(self, expr: str, at: float | None = None, *, time: float | None = None) -> Any:
        """Instant query at ``at`` (a Unix timestamp; default now); returns ``data.result``
        (a list of samples, or ``[t, v]`` for scalars). ``time=`` is accepted as an alias
        (the HTTP API's name), as ``promql_engine.query`` accepts it."""
        at = _at_or_time(at, time)
        params: dict[str, Any] = {"query": expr}
        if at is not None:
            params["time"] = at
        return self._api("/api/v1/query", params)["result"]

    def query_value(self, expr: str, at: float | None = None, *,
                    time: float | None = None) -> float | None:
        """The value of an instant query at ``at`` returning one sample or a scalar; None
        when empty (``time=`` is an alias of ``at=``)."""
        result = self.query(expr, _at_or_time(at, time))
        if not result:
            return None
        if isinstance(result[0], dict):
            if len(result) > 1:
                raise PrometheusError(f"{expr!r} returned {len(result)} series, expected one")
            return float(result[0]["value"][1])
        return float(result[1])

    def query_range(self, expr: str, start: float, end: float, step: float) -> Any:
        """Range query; returns ``data.result`` (a list of series with ``values``)."""
        params = {"query": expr, "start": start, "end": end, "step": step}
        return self._api("/api/v1/query_range", params)["result"]

    def alerts(self) -> list[dict[str, Any]]:
        """Active alerts (pending and firing) from ``/api/v1/alerts``."""
        alerts: list[dict[str, Any]] = self._api("/api/v1/alerts")["alerts"]
        return alerts

    def rules(self, type: str | None = None) -> list[dict[str, Any]]:
        """Rule groups from ``/api/v1/rules`` (``type`` ``alert`` or ``record`` filters)."""
        groups: list[dict[str, Any]] = self._api(
            "/api/v1/rules", {"type": type} if type else None)["groups"]
        return groups

    def targets(self) -> list[dict[str, Any]]:
        """Active scrape targets from ``/api/v1/targets``."""
        active: list[dict[str, Any]] = self._api("/api/v1/targets")["activeTargets"]
        return active

    def metadata(self) -> dict[str, str]:
        """Metric name -> type (``counter``, ``gauge``, ``histogram``...) from
        ``/api/v1/metadata``; a name with several targets' types keeps the first."""
        data: dict[str, list[dict[str, Any]]] = self._api("/api/v1/metadata")
        return {name: str(entries[0].get("type", "unknown"))
                for name, entries in data.items() if entries}

    def buildinfo(self) -> dict[str, Any]:
        """``/api/v1/status/buildinfo`` (``version``, ``revision``, ...)."""
        info: dict[str, Any] = self._api("/api/v1/status/buildinfo")
        return info

    def wait_for_alert(self, alertname: str, state: str = "firing", *,
                       timeout: float = DEFAULT_TIMEOUT) -> dict[str, Any]:
        """Wait until an alert named ``alertname`` is in ``state``; return it."""
        def find() -> dict[str, Any] | None:
            return next((a for a in self.alerts() if a["labels"].get("alertname") == alertname
                         and a["state"] == state), None)
        return self.wait_until(find, timeout=timeout, what=f"alert {alertname} to be {state}")

    def wait_for_targets_up(self, *, timeout: float = DEFAULT_TIMEOUT) -> list[dict[str, Any]]:
        """Wait until every active target has been scraped successfully at least once."""
        def all_up() -> list[dict[str, Any]] | None:
            targets = self.targets()
            return targets if targets and all(t["health"] == "up" for t in targets) else None
        return self.wait_until(all_up, timeout=timeout, what="scrape targets to be up")

    def _request(self, method: str, path: str, params: dict[str, Any] | None = None,
                 *, raw: bool = False) -> Any:
        try:
            return self._http.request(method, path, params=params)
        except httpx.HTTPError as exc:
            self._check_alive()
            raise PrometheusError(f"{method} {self.url}{path} failed: {exc}") from exc

    def _api(self, path: str, params: dict[str, Any] | None = None) -> Any:
        response = self._request("GET", path, params)
        try:
            body = response.json()
        except ValueError:
            raise PrometheusError(
                f"GET {self.url}{path}: HTTP {response.status_code}, not JSON: "
                f"{response.text[:200]!r}") from None
        if body.get("status") != "success":
            raise PrometheusError(
                f"GET {self.url}{path} {params or ''}: {body.get('errorType', 'error')}: "
                f"{body.get('error', response.text)}"
            )
        return body["data"]


def _at_or_time(at: Any, time: Any) -> Any:
    """``at`` or its alias ``time`` (one of them): the evaluation time of a query."""
    if at is not None and time is not None:
        raise TypeError("query: give the evaluation time as at= or time=, not both")
    return at if at is not None else time


def metric_types(url: str, *, timeout: float = 10.0) -> dict[str, str]:
    """Metric name -> type from the server at ``url`` (PrometheusError when it does not answer)."""
    with PrometheusServer(url, timeout=timeout) as server:
        return server.metadata()


_VERSION_RE = re.compile(r"version\s+v?(\d+)\.(\d+)\.(\d+)")

#: prefix of a ``--self-slo-prometheus`` value naming a binary: ``local:/path/to/prometheus``
LOCAL_PREFIX = "local:"


def local_binary(mode: str) -> str | None:
    """The binary path of a ``local:/path/to/prometheus`` mode (None for every other mode)."""
    return mode[len(LOCAL_PREFIX):] if mode.startswith(LOCAL_PREFIX) else None


def binary_version(binary: str) -> tuple[int, int, int]:
    """``(major, minor, patch)`` from ``<binary> --version`` (a name on PATH or a path)."""
    path = shutil.which(binary)
    if path is None:
        raise PrometheusUnavailable(f"no {binary!r} binary on PATH" if os.sep not in binary
                                    else f"{binary}: no such executable file")
    return _version_of(os.path.realpath(path))


@functools.lru_cache(maxsize=32)
def _version_of(path: str) -> tuple[int, int, int]:
    try:
        proc = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise PrometheusUnavailable(f"cannot run `{path} --version`: {exc}") from None
    match = _VERSION_RE.search(proc.stdout + proc.stderr)
    if match is None:
        raise PrometheusUnavailable(
            f"cannot read a version from `{path} --version`: {(proc.stdout + proc.stderr)[:200]!r}")
    major, minor, patch = (int(g) for g in match.groups())
    return major, minor, patch


def binary_semantics(binary: str = "promtool") -> str:
    """The engine semantics matching the binary's version, ``"major.minor"`` (e.g. ``"2.42"``).

    Prometheus' numerics change between minor releases (Kahan ``sum`` in 2.54,
    ``avg`` in 2.55 and 3.5, ...), so the minor version matters.
    """
    major, minor, _ = binary_version(binary)
    return f"{major}.{minor}"
