"""Prometheus servers we start and own: the local binary, or ``prom/prometheus`` in Docker.

Both keep everything in one temporary directory (``prometheus.yml``, ``rules/``,
``data/``, ``prometheus.log``) that is removed when the server is closed, also
when start-up fails half way. :meth:`ManagedPrometheus.set_alertmanagers` points
its ``alerting:`` config at Alertmanagers (e.g. the ``alertmanager`` fixture's). The server listens on a free 127.0.0.1 port with
``--web.enable-lifecycle``, so :meth:`ManagedPrometheus.reload` can apply a new
config; each process (each xdist worker) gets its own server and port.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import IO, Any

import yaml

from pytest_selfslo._core import reaper
from pytest_selfslo._core.errors import PrometheusError, PrometheusUnavailable
from pytest_selfslo.prometheus.child import (
    DEFAULT_TIMEOUT,
    docker_reason,
    run_in_docker,
    spawn,
    stop_process,
)
from pytest_selfslo.prometheus.client import PrometheusServer, local_binary

__all__ = [
    "DockerPrometheus",
    "LocalPrometheus",
    "ManagedPrometheus",
    "availability",
    "start_prometheus",
]

DOCKER_IMAGE = "prom/prometheus:latest"


class ManagedPrometheus(PrometheusServer):
    """A server whose config directory we own: scrape targets and rules can be changed."""

    def __init__(self, url: str, workdir: Path) -> None:
        super().__init__(url)
        self.workdir = workdir
        self._targets: list[str] = []
        self._interval = "1s"
        self._metrics_path = "/metrics"
        self._alertmanagers: list[str] = []
        self._loaded = 0  # rule files loaded so far (unique, ordered file names)

    @staticmethod
    def _prepare_workdir() -> Path:
        workdir = Path(tempfile.mkdtemp(prefix="selfslo-prometheus-"))
        (workdir / "rules").mkdir()
        (workdir / "data").mkdir()
        _write_config(workdir, [], "1s", "/metrics")
        return workdir

    def set_scrape_targets(self, targets: list[str], *, interval: str = "1s",
                           metrics_path: str = "/metrics") -> None:
        """Scrape ``targets`` (``host:port``) every ``interval`` and reload."""
        self._targets, self._interval, self._metrics_path = list(targets), interval, metrics_path
        _write_config(self.workdir, self._targets, interval, metrics_path, self._alertmanagers)
        self.reload()

    def set_alertmanagers(self, addresses: list[str], *, timeout: float = 30.0) -> None:
        """Send alerts to these Alertmanagers (``host:port``; ``[]``: none), reload, and wait
        until the notifier uses exactly them (its discovery refreshes every 5 s; an alert
        fired before that is not sent again for a minute)."""
        self._alertmanagers = list(addresses)
        _write_config(self.workdir, self._targets, self._interval, self._metrics_path,
                      self._alertmanagers)
        self.reload()
        wanted = {f"http://{a}/api/v2/alerts" for a in addresses}

        def active() -> bool:
            found = self._api("/api/v1/alertmanagers")["activeAlertmanagers"]
            return {am["url"] for am in found} == wanted

        self.wait_until(active, timeout=timeout, what=f"Alertmanagers {addresses} to be active")

    def load_rules(self, rules: list[str] | str) -> None:
        """Copy rule files (paths) or one YAML text into the rules dir and reload.

        A rule file Prometheus rejects raises :class:`PrometheusError` with its reason
        and is removed again, so the server keeps its previous rules.
        """
        rules_dir = self.workdir / "rules"
        added: list[Path] = []
        for source in [rules] if isinstance(rules, str) else rules:
            self._loaded += 1
            if isinstance(rules, str):
                target = rules_dir / f"{self._loaded:03d}-inline.yml"
                target.write_text(rules, encoding="utf-8")
            else:
                target = rules_dir / f"{self._loaded:03d}-{Path(source).name}"
                shutil.copyfile(source, target)
            added.append(target)
        try:
            self.reload()
        except PrometheusError:
            for path in added:
                path.unlink(missing_ok=True)
            self.reload()
            raise

    def clear_rules(self) -> None:
        """Remove every loaded rule file and reload."""
        for path in (self.workdir / "rules").iterdir():
            path.unlink()
        self.reload()

    def log_tail(self, lines: int = 20) -> str:
        """The last lines of the server's log (for error messages)."""
        log = self.workdir / "prometheus.log"
        if not log.exists():
            return ""
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])

    def _remove_workdir(self) -> None:
        shutil.rmtree(self.workdir, ignore_errors=True)


def _write_config(workdir: Path, targets: list[str], interval: str, metrics_path: str,
                  alertmanagers: list[str] | None = None) -> None:
    config: dict[str, Any] = {
        "global": {"scrape_interval": interval, "evaluation_interval": interval},
        "rule_files": [str(workdir / "rules" / "*.yml")],
        "scrape_configs": [{
            "job_name": "selfslo",
            "scrape_interval": interval,
            "metrics_path": metrics_path,
            "static_configs": [{"targets": targets}] if targets else [],
        }],
    }
    if alertmanagers:
        config["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": alertmanagers}]}]}
    tmp = workdir / "prometheus.yml.tmp"
    tmp.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    tmp.replace(workdir / "prometheus.yml")


def _server_args(workdir: Path, port: int) -> list[str]:
    return [
        f"--config.file={workdir / 'prometheus.yml'}",
        f"--storage.tsdb.path={workdir / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--web.enable-lifecycle",
        # firing alerts are re-sent every second (default 1m): a reload empties the notifier's
        # Alertmanager list for up to 5 s, and an alert fired meanwhile must not wait a minute
        "--rules.alert.resend-delay=1s",
        "--log.level=info",
    ]


class LocalPrometheus(ManagedPrometheus):
    """The ``prometheus`` binary on PATH, run as a child process.

        >>> with LocalPrometheus.start() as server:      # doctest: +SKIP
        ...     server.query("vector(1)")
    """

    kind = "local"

    def __init__(self, url: str, workdir: Path, process: subprocess.Popen[bytes],
                 log: IO[bytes]) -> None:
        super().__init__(url, workdir)
        self.process = process
        self._log = log

    @classmethod
    def start(cls, *, binary: str = "prometheus",
              timeout: float = DEFAULT_TIMEOUT) -> LocalPrometheus:
        """Start the binary on a free port and wait until it is ready."""
        path = shutil.which(binary)
        if path is None:
            raise PrometheusUnavailable(f"no {binary!r} binary on PATH" if os.sep not in binary
                                        else f"{binary}: no such executable file")
        return spawn(cls, path, cls._prepare_workdir, _server_args, "prometheus.log", timeout)

    def _check_alive(self) -> None:
        code = self.process.poll()
        if code is not None:
            raise PrometheusUnavailable(
                f"prometheus exited with status {code}; log tail:\n{self.log_tail()}")

    def close(self) -> None:
        """Stop the process (SIGTERM, then SIGKILL after 10 s) and remove the temp dir."""
        reaper.unregister(self)
        try:
            super().close()
            stop_process(self.process)
        finally:
            self._log.close()
            self._remove_workdir()


class DockerPrometheus(ManagedPrometheus):
    """``prom/prometheus`` through testcontainers, on the host network, loopback port.

    The work directory is bind-mounted at the same path, so config and rule files
    are written exactly as for :class:`LocalPrometheus`.
    """

    kind = "docker"

    def __init__(self, url: str, workdir: Path, container: Any) -> None:
        super().__init__(url, workdir)
        self.container = container

    @classmethod
    def start(cls, *, image: str = DOCKER_IMAGE,
              timeout: float = DEFAULT_TIMEOUT) -> DockerPrometheus:
        """Start the container once a Docker daemon answers; ready on return."""
        return run_in_docker(cls, image, cls._prepare_workdir, _server_args, timeout)

    def close(self) -> None:
        """Stop and remove the container, then the temp dir."""
        reaper.unregister(self)
        try:
            super().close()
            self.container.stop()
        finally:
            self._remove_workdir()


def availability(mode: str) -> str | None:
    """None when ``mode`` can provide a real server, else the reason it cannot (cheap probe)."""
    if mode == "embedded":
        return "a real Prometheus is disabled (--self-slo-prometheus=embedded)"
    if mode == "local":
        return None if shutil.which("prometheus") else "no 'prometheus' binary on PATH"
    binary = local_binary(mode)
    if binary is not None:
        return None if shutil.which(binary) else f"{binary}: no such executable file"
    if mode == "docker":
        return docker_reason()
    if mode == "auto":
        if shutil.which("prometheus"):
            return None
        reason = docker_reason()
        return None if reason is None else f"no 'prometheus' binary on PATH and {reason}"
    server = PrometheusServer(mode, timeout=3)
    try:
        return None if server.ready() else f"Prometheus at {mode} is not ready (/-/ready)"
    finally:
        server.close()


def start_prometheus(mode: str = "auto", *, timeout: float = DEFAULT_TIMEOUT) -> PrometheusServer:
    """Start (local, docker) or reach (URL) a real Prometheus per ``mode``; ready on return.

    Raises :class:`PrometheusUnavailable` with every reason tried when none works.
    """
    if mode == "embedded":
        raise PrometheusUnavailable(availability("embedded") or "embedded")
    if mode == "local":
        return LocalPrometheus.start(timeout=timeout)
    binary = local_binary(mode)
    if binary is not None:
        return LocalPrometheus.start(binary=binary, timeout=timeout)
    if mode == "docker":
        return DockerPrometheus.start(timeout=timeout)
    if mode == "auto":
        reasons = []
        for starter in (LocalPrometheus, DockerPrometheus):
            try:
                return starter.start(timeout=timeout)
            except PrometheusUnavailable as exc:
                reasons.append(str(exc))
        raise PrometheusUnavailable("; ".join(reasons))
    server = PrometheusServer(mode)
    try:
        server.wait_ready(timeout=min(timeout, 10.0))
    except PrometheusUnavailable:
        server.close()
        raise
    return server
