"""The parts Prometheus and Alertmanager share (``prometheus/child.py``), without a Docker daemon.

Both products run through one :class:`~pytest_selfslo.prometheus.child.DockerServer`
and one :class:`~pytest_selfslo.prometheus.child.LocalServer`; they differ only
in their work directory and command line. What a container would be run with,
the errors when Docker cannot be used and the clean-up on close are checked
here; the tests that start a container skip when no daemon answers.
"""

from __future__ import annotations

import stat
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest

from pytest_selfslo._core import reaper
from pytest_selfslo._core.errors import PrometheusUnavailable
from pytest_selfslo.prometheus.alertmanager import (
    DockerAlertmanager,
    LocalAlertmanager,
    ManagedAlertmanager,
)
from pytest_selfslo.prometheus.child import (
    DockerServer,
    LocalServer,
    docker_reason,
    docker_run_spec,
    open_workdir,
)
from pytest_selfslo.prometheus.managed import DockerPrometheus, LocalPrometheus, ManagedPrometheus

PRODUCTS = [
    pytest.param(DockerPrometheus, LocalPrometheus, ManagedPrometheus, "prometheus.yml",
                 id="prometheus"),
    pytest.param(DockerAlertmanager, LocalAlertmanager, ManagedAlertmanager, "alertmanager.yml",
                 id="alertmanager"),
]


@pytest.fixture(autouse=True)
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Work directories go here, so a check sees exactly what was left behind."""
    private = tmp_path / "tmp"
    private.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(private))
    return private


@pytest.fixture
def no_docker_sdk(monkeypatch: pytest.MonkeyPatch) -> None:
    """``import docker`` fails, as without the docker package."""
    monkeypatch.setitem(sys.modules, "docker", None)


@pytest.mark.parametrize(("docker", "local", "managed", "config"), PRODUCTS)
def test_both_products_share_the_docker_and_local_mixins(
        docker: type[Any], local: type[Any], managed: type[Any], config: str) -> None:
    assert docker.__mro__[1:3] == (DockerServer, managed) and docker.kind == "docker"
    assert local.__mro__[1:3] == (LocalServer, managed) and local.kind == "local"
    assert "close" not in vars(docker) and "close" not in vars(local)  # one close each


@pytest.mark.parametrize(("docker", "local", "managed", "config"), PRODUCTS)
def test_the_container_runs_the_local_command_line_on_the_host_network(
        docker: type[Any], local: type[Any], managed: type[Any], config: str,
        private_tmp: Path) -> None:
    workdir = docker._prepare_workdir()
    assert workdir.parent == private_tmp and (workdir / config).is_file()
    args = docker._server_args(workdir, 9999)
    assert args == local._server_args(workdir, 9999)
    assert f"--config.file={workdir / config}" in args
    assert "--web.listen-address=127.0.0.1:9999" in args
    spec = docker_run_spec("prom/x:latest", workdir, args)
    assert spec == {"image": "prom/x:latest", "volumes": [(str(workdir), str(workdir), "rw")],
                    "network_mode": "host", "command": args}
    open_workdir(workdir)  # the image's user (not us) writes data/ and reads the config
    for path in (workdir, workdir / "data"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o777, path


@pytest.mark.usefixtures("no_docker_sdk")
@pytest.mark.parametrize(("docker", "local", "managed", "config"), PRODUCTS)
def test_a_missing_docker_sdk_is_unavailable_and_leaves_nothing(
        docker: type[Any], local: type[Any], managed: type[Any], config: str,
        private_tmp: Path) -> None:
    reason = docker_reason()
    assert reason is not None and reason.startswith("the docker SDK is not installed (")
    with pytest.raises(PrometheusUnavailable, match="the docker SDK is not installed"):
        docker.start(timeout=1)
    assert list(private_tmp.iterdir()) == []


@pytest.mark.parametrize(("docker", "local", "managed", "config"), PRODUCTS)
def test_no_daemon_is_unavailable_and_leaves_nothing(
        docker: type[Any], local: type[Any], managed: type[Any], config: str,
        private_tmp: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("docker", reason="the docker SDK (testcontainers' dependency)")
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-docker.sock")
    with pytest.raises(PrometheusUnavailable, match="no Docker daemon answers"):
        docker.start(timeout=1)
    assert list(private_tmp.iterdir()) == []


class _Container:
    """What a ``DockerServer`` calls on its testcontainers container when closed."""

    def __init__(self, fail: bool = False) -> None:
        self.stops = 0
        self.fail = fail

    def stop(self) -> None:
        self.stops += 1
        if self.fail:
            raise RuntimeError("daemon went away")


@pytest.mark.parametrize(("docker", "local", "managed", "config"), PRODUCTS)
@pytest.mark.parametrize("fail", [False, True], ids=["stops", "stop-fails"])
def test_close_stops_the_container_and_removes_the_workdir(
        docker: type[Any], local: type[Any], managed: type[Any], config: str,
        fail: bool) -> None:
    workdir = docker._prepare_workdir()
    container = _Container(fail)
    server = docker("http://127.0.0.1:9", workdir, container)
    reaper.register(server)
    assert server.url == "http://127.0.0.1:9" and server.container is container
    if fail:
        with pytest.raises(RuntimeError, match="daemon went away"):
            server.close()
    else:
        server.close()
    assert container.stops == 1 and not workdir.exists()
    assert id(server) not in reaper._live
