"""What every server we talk to or start has in common: Prometheus and Alertmanager alike.

* :class:`HttpServer` -- a base URL, an HTTP client, ``/-/ready`` polling,
  :meth:`~HttpServer.wait_until`;
* :func:`spawn` -- start a binary on a free loopback port in a fresh work
  directory, registered with the SIGTERM reaper, ready on return (retried when
  another process grabbed the port first);
* :func:`stop_process` -- SIGTERM, then SIGKILL after 10 s;
* :func:`run_in_docker` -- the same binary's image through testcontainers,
  on the host network, with the work directory bind-mounted at the same path
  (:func:`docker_run_spec`), once :func:`docker_reason` says a Docker daemon
  answers;
* :class:`OwnedServer` -- a server in a work directory of its own, with the
  two ways to run it as mixins: :class:`LocalServer` (a child process) and
  :class:`DockerServer` (a container). Prometheus and Alertmanager differ
  only in their work directory and command line.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any, Protocol, TypeVar

import httpx

from pytest_selfslo._core import reaper
from pytest_selfslo._core.errors import PrometheusError, PrometheusUnavailable
from pytest_selfslo._core.net import free_port

__all__ = ["DEFAULT_TIMEOUT", "DockerServer", "HttpServer", "LocalServer", "OwnedServer",
           "docker_reason", "docker_run_spec", "external_reason", "poll_until", "run_in_docker",
           "spawn", "start_server", "stop_process"]

T = TypeVar("T")
DEFAULT_TIMEOUT = 30.0
#: how often a start is retried when another process grabbed the port first
_PORT_ATTEMPTS = 3


class HttpServer:
    """Client of one server's HTTP API at ``url``; subclasses add the API and own lifecycles."""

    #: where the server came from: ``local``, ``docker`` or ``external``
    kind = "external"
    #: what the server is, for messages (``Prometheus at ... not ready``)
    product = "server"

    def __init__(self, url: str, *, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self._http = httpx.Client(base_url=self.url, timeout=timeout)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.kind} {self.url}>"

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
                    f"{self.product} at {self.url} not ready after {timeout:g}s (/-/ready)")
            time.sleep(0.05)

    def _check_alive(self) -> None:
        """Raise PrometheusUnavailable if a managed server process died (no-op for external)."""

    def wait_until(self, check: Callable[[], T | None], *, timeout: float = DEFAULT_TIMEOUT,
                   what: str = "condition", interval: float = 0.1) -> T:
        """Poll ``check`` until it returns something truthy; PrometheusError after ``timeout``."""
        return poll_until(check, timeout=timeout, what=what, interval=interval)


def poll_until(check: Callable[[], T | None], *, timeout: float = DEFAULT_TIMEOUT,
               what: str = "condition", interval: float = 0.1) -> T:
    """Call ``check`` until it returns something truthy; PrometheusError after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise PrometheusError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(interval)


H = TypeVar("H", bound=HttpServer)


def start_server(mode: str, timeout: float, *, local: Callable[..., H], docker: Callable[..., H],
                 external: Callable[[str], H]) -> H:
    """A server per ``mode``, ready on return: ``local`` or ``docker`` (their ``start``),
    ``auto`` (local, else docker; PrometheusUnavailable with both reasons), or the URL
    of a running server (``external(url)``, ready within ``min(timeout, 10)`` s)."""
    if mode == "local":
        return local(timeout=timeout)
    if mode == "docker":
        return docker(timeout=timeout)
    if mode == "auto":
        reasons = []
        for starter in (local, docker):
            try:
                return starter(timeout=timeout)
            except PrometheusUnavailable as exc:
                reasons.append(str(exc))
        raise PrometheusUnavailable("; ".join(reasons))
    server = external(mode)
    try:
        server.wait_ready(timeout=min(timeout, 10.0))
    except PrometheusUnavailable:
        server.close()
        raise
    return server


def external_reason(server: HttpServer, url: str) -> str | None:
    """None when the server at ``url`` is ready now, else why not; closes ``server``."""
    try:
        return None if server.ready() else f"{server.product} at {url} is not ready (/-/ready)"
    finally:
        server.close()


class _Spawned(Protocol):
    def wait_ready(self, timeout: float = ...) -> None: ...

    def close(self) -> None: ...


S = TypeVar("S", bound=_Spawned)


def spawn(make: Callable[[str, Path, subprocess.Popen[bytes], IO[bytes]], S], path: str,
          prepare: Callable[[], Path], args: Callable[[Path, int], Sequence[str]],
          log_name: str, timeout: float) -> S:
    """Run ``path args(workdir, port)`` in a fresh ``prepare()`` work directory on a free port.

    ``make(url, workdir, process, log)`` builds the server object, which is
    registered with the reaper before it is waited for; a failed start closes it
    (or removes the directory) and is retried when the port was taken.
    """
    last_error = ""
    for _ in range(_PORT_ATTEMPTS):
        workdir = prepare()
        port = free_port()
        log = (workdir / log_name).open("wb")
        server: S | None = None
        try:
            process = subprocess.Popen([path, *args(workdir, port)], stdout=log,
                                       stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                       cwd=workdir)
            server = make(f"http://127.0.0.1:{port}", workdir, process, log)
            reaper.register(server)
            server.wait_ready(timeout)
            return server
        except PrometheusUnavailable as exc:
            last_error = str(exc)
            if server is not None:
                server.close()
            else:
                log.close()
                shutil.rmtree(workdir, ignore_errors=True)
            if "address already in use" not in last_error:
                break
    raise PrometheusUnavailable(f"could not start {path}: {last_error}")


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL after 10 s (no-op when it already exited)."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def docker_reason() -> str | None:
    """None when a Docker daemon answers a ping, else why not."""
    try:
        import docker  # noqa: PLC0415 (optional Docker path: the docker SDK only when used)
    except ImportError as exc:
        return f"the docker SDK is not installed ({type(exc).__name__}: {exc}; pip install docker)"
    try:
        client = docker.from_env(timeout=3)
        try:
            client.ping()
        finally:
            client.close()
    except Exception as exc:  # docker raises many unrelated types; all mean "not usable"
        return f"no Docker daemon answers ({type(exc).__name__}: {str(exc)[:120]})"
    return None


def docker_run_spec(image: str, workdir: Path, command: Sequence[str]) -> dict[str, Any]:
    """How :func:`run_in_docker` runs ``image``: host network, ``workdir`` mounted read-write
    at the same path (so config files are written as for a local binary), ``command``."""
    return {"image": image, "volumes": [(str(workdir), str(workdir), "rw")],
            "network_mode": "host", "command": list(command)}


def open_workdir(workdir: Path) -> None:
    """Make ``workdir`` and its subdirectories writable for an image's (other) user."""
    for path in (workdir, *(p for p in workdir.iterdir() if p.is_dir())):
        path.chmod(0o777)


def run_in_docker(make: Callable[[str, Path, Any], S], image: str, prepare: Callable[[], Path],
                  args: Callable[[Path, int], Sequence[str]], timeout: float) -> S:
    """Run ``image`` with ``args(workdir, port)`` on the host network; ready on return.

    ``prepare()`` makes the work directory, mounted read-write at the same path
    (it and its subdirectories are made writable for the image's user);
    ``make(url, workdir, container)`` builds the server, registered with the
    reaper before it is waited for and closed when it never gets ready.
    """
    reason = docker_reason()
    if reason is not None:
        raise PrometheusUnavailable(reason)
    from testcontainers.core.container import DockerContainer  # noqa: PLC0415 (optional Docker path: testcontainers only when used)

    workdir = prepare()
    open_workdir(workdir)
    port = free_port()
    spec = docker_run_spec(image, workdir, args(workdir, port))
    try:
        container = DockerContainer(spec["image"])
        for volume in spec["volumes"]:
            container = container.with_volume_mapping(*volume)
        container = (container.with_kwargs(network_mode=spec["network_mode"])
                     .with_command(spec["command"]))
        container.start()
    except Exception as exc:  # docker/testcontainers errors have no common base
        shutil.rmtree(workdir, ignore_errors=True)
        raise PrometheusUnavailable(f"could not start {image}: {exc}") from exc
    server = make(f"http://127.0.0.1:{port}", workdir, container)
    reaper.register(server)
    try:
        server.wait_ready(timeout)
    except PrometheusUnavailable:
        server.close()
        raise
    return server


class OwnedServer(HttpServer):
    """A server we start in a temporary work directory of its own, removed on close.

    A product's subclass names its log file and says how a work directory is
    prepared and what command line runs the server in it; :class:`LocalServer`
    and :class:`DockerServer` run it (mixed in before the product's class).
    """

    #: the server's log file in the work directory (written by a local child)
    log_name = "server.log"

    def __init__(self, url: str, workdir: Path) -> None:
        super().__init__(url)
        self.workdir = workdir

    @staticmethod
    def _prepare_workdir() -> Path:
        """A new work directory with the server's initial config."""
        raise NotImplementedError

    @staticmethod
    def _server_args(workdir: Path, port: int) -> list[str]:
        """The server's arguments for ``workdir``, listening on 127.0.0.1:``port``."""
        raise NotImplementedError

    def log_tail(self, lines: int = 20) -> str:
        """The last lines of the server's log (for error messages)."""
        log = self.workdir / self.log_name
        if not log.exists():
            return ""
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])

    def _remove_workdir(self) -> None:
        shutil.rmtree(self.workdir, ignore_errors=True)


L = TypeVar("L", bound="LocalServer")
D = TypeVar("D", bound="DockerServer")


class LocalServer(OwnedServer):
    """Mixin: the server's binary run as our child process."""

    kind = "local"

    def __init__(self, url: str, workdir: Path, process: subprocess.Popen[bytes],
                 log: IO[bytes]) -> None:
        super().__init__(url, workdir)
        self.process = process
        self._log = log

    @classmethod
    def _spawn(cls: type[L], path: str, timeout: float) -> L:
        """:func:`spawn` the binary at ``path`` with this product's work directory and args."""
        return spawn(cls, path, cls._prepare_workdir, cls._server_args, cls.log_name, timeout)

    def _check_alive(self) -> None:
        code = self.process.poll()
        if code is not None:
            raise PrometheusUnavailable(
                f"{self.product.lower()} exited with status {code}; log tail:\n{self.log_tail()}")

    def close(self) -> None:
        """Stop the process (SIGTERM, then SIGKILL after 10 s) and remove the temp dir."""
        reaper.unregister(self)
        try:
            super().close()
            stop_process(self.process)
        finally:
            self._log.close()
            self._remove_workdir()


class DockerServer(OwnedServer):
    """Mixin: the server's image through testcontainers, host network, loopback port."""

    kind = "docker"

    def __init__(self, url: str, workdir: Path, container: Any) -> None:
        super().__init__(url, workdir)
        self.container = container

    @classmethod
    def _run_image(cls: type[D], image: str, timeout: float) -> D:
        """:func:`run_in_docker` with this product's work directory and args."""
        return run_in_docker(cls, image, cls._prepare_workdir, cls._server_args, timeout)

    def close(self) -> None:
        """Stop and remove the container, then the temp dir."""
        reaper.unregister(self)
        try:
            super().close()
            self.container.stop()
        finally:
            self._remove_workdir()
