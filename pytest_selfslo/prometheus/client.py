"""A real Prometheus for tests: find or start one, and talk to it over the HTTP API.

Three sources, tried in this order under ``auto`` (``--self-slo-prometheus``):

* ``local``  — the ``prometheus`` binary on ``PATH`` (Debian package), started
  with a temporary config and TSDB on a free 127.0.0.1 port
  (:mod:`pytest_selfslo.prometheus.managed`);
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

import re
import shutil
import subprocess
import time
from collections.abc import Callable
from typing import Any, TypeVar

import httpx

from pytest_selfslo._core.errors import PrometheusError, PrometheusUnavailable

__all__ = [
    "PrometheusServer",
    "binary_semantics",
    "binary_version",
]

T = TypeVar("T")

DEFAULT_TIMEOUT = 30.0


class PrometheusServer:
    """Client of one Prometheus server's HTTP API; subclasses also own its lifecycle.

        >>> server = PrometheusServer("http://127.0.0.1:9090")   # doctest: +SKIP
        >>> server.wait_ready()                                   # doctest: +SKIP
        >>> server.query("up")[0]["value"]                        # doctest: +SKIP
        [1700000000.0, '1']
    """

    #: where the server came from: ``local``, ``docker`` or ``external``
    kind = "external"

    def __init__(self, url: str, *, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self._http = httpx.Client(base_url=self.url, timeout=timeout)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.kind} {self.url}>"

    def __enter__(self) -> PrometheusServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- lifecycle -----------------------------------------------------------------
    def close(self) -> None:
        """Release the HTTP client (subclasses also stop the server and remove its files)."""
        self._http.close()

    def ready(self) -> bool:
        """Whether ``/-/ready`` answers 200 right now."""
        try:
            return self._http.get("/-/ready").status_code == 200
        except httpx.HTTPError:
            return False

    def wait_ready(self, timeout: float = DEFAULT_TIMEOUT) -> None:
        """Block until ``/-/ready`` answers 200; PrometheusUnavailable after ``timeout`` s."""
        deadline = time.monotonic() + timeout
        while not self.ready():
            self._check_alive()
            if time.monotonic() > deadline:
                raise PrometheusUnavailable(
                    f"Prometheus at {self.url} not ready after {timeout:g}s (/-/ready)"
                )
            time.sleep(0.05)

    def _check_alive(self) -> None:
        """Raise PrometheusUnavailable if a managed server process died (no-op for external)."""

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

    def load_rules(self, rules: list[str] | str) -> None:
        """Load rule files (paths) or one rule file's YAML text; managed servers only."""
        raise PrometheusError(f"cannot load rules into an external server {self.url}")

    # -- HTTP API ------------------------------------------------------------------
    def query(self, expr: str, time: float | None = None) -> Any:
        """Instant query; returns ``data.result`` (a list of samples, or ``[t, v]`` for scalars)."""
        params: dict[str, Any] = {"query": expr}
        if time is not None:
            params["time"] = time
        return self._api("/api/v1/query", params)["result"]

    def query_value(self, expr: str, time: float | None = None) -> float | None:
        """The value of an instant query returning one sample or a scalar; None when empty."""
        result = self.query(expr, time)
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

    def buildinfo(self) -> dict[str, Any]:
        """``/api/v1/status/buildinfo`` (``version``, ``revision``, ...)."""
        info: dict[str, Any] = self._api("/api/v1/status/buildinfo")
        return info

    def wait_until(self, check: Callable[[], T | None], *, timeout: float = DEFAULT_TIMEOUT,
                   what: str = "condition", interval: float = 0.1) -> T:
        """Poll ``check`` until it returns something truthy; PrometheusError after ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            value = check()
            if value:
                return value
            if time.monotonic() > deadline:
                raise PrometheusError(f"timed out after {timeout:g}s waiting for {what}")
            time.sleep(interval)

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


_VERSION_RE = re.compile(r"version\s+v?(\d+)\.(\d+)\.(\d+)")


def binary_version(binary: str) -> tuple[int, int, int]:
    """``(major, minor, patch)`` from ``<binary> --version`` (prometheus or promtool)."""
    path = shutil.which(binary)
    if path is None:
        raise PrometheusUnavailable(f"no {binary!r} binary on PATH")
    proc = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=30)
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
