"""The real-Prometheus layer: the ``prometheus`` fixture against the Debian binary here.

These tests need ``/usr/bin/prometheus`` (CI installs it); on a machine without
it the fixture skips them with the reason, which ``test_..._skips_with_reason``
checks by hiding the binary from PATH.
"""

from __future__ import annotations

import shutil
import tempfile
import textwrap
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, Gauge

from pytest_selfslo._core.errors import PrometheusError, PrometheusUnavailable
from pytest_selfslo.plugin.fixtures import ScrapeTarget
from pytest_selfslo.prometheus import (
    PrometheusServer,
    availability,
    binary_semantics,
    binary_version,
    start_prometheus,
)
from pytest_selfslo.prometheus.managed import LocalPrometheus

needs_binary = pytest.mark.skipif(shutil.which("prometheus") is None,
                                  reason="the Debian 'prometheus' package is not installed")

ALWAYS_RULE = textwrap.dedent("""\
    groups:
      - name: selfslo-test
        interval: 1s
        rules:
          - alert: AlwaysFiring
            expr: vector(1) > 0
            labels: {severity: warning}
""")


@needs_binary
def test_fixture_is_a_local_server_that_answers_queries(prometheus: PrometheusServer) -> None:
    assert prometheus.kind == "local"
    assert prometheus.url.startswith("http://127.0.0.1:")
    assert prometheus.query_value("vector(41) + 1") == 42.0
    assert prometheus.buildinfo()["version"].startswith("2.")


@needs_binary
def test_bad_query_is_a_prometheus_error_with_the_servers_reason(
        prometheus: PrometheusServer) -> None:
    with pytest.raises(PrometheusError, match=r"bad_data.*parse error"):
        prometheus.query("sum(")


@needs_binary
def test_scrape_target_is_scraped(prometheus: LocalPrometheus) -> None:
    registry = CollectorRegistry()
    Gauge("self_coherence", "coherence", ["token_id"], registry=registry).labels("t1").set(0.87)
    target = ScrapeTarget(prometheus, registry)
    try:
        target.wait_scraped()
        value = prometheus.wait_until(
            lambda: prometheus.query_value('self_coherence{token_id="t1"}'),
            what="the scraped sample")
        assert value == pytest.approx(0.87)
    finally:
        target.close()
    # the scrape manager applies target changes asynchronously (~5 s): check the config
    assert target.address not in (prometheus.workdir / "prometheus.yml").read_text()


@needs_binary
def test_loaded_rule_fires_and_is_listed(prometheus: PrometheusServer) -> None:
    prometheus.load_rules(ALWAYS_RULE)
    try:
        alert = prometheus.wait_for_alert("AlwaysFiring", "firing")
        assert alert["labels"]["severity"] == "warning"
        names = [r["name"] for g in prometheus.rules("alert") for r in g["rules"]]
        assert names == ["AlwaysFiring"]
    finally:
        prometheus.clear_rules()
    assert prometheus.rules() == []


@needs_binary
def test_invalid_rule_file_is_refused_and_previous_rules_kept(
        prometheus: PrometheusServer, tmp_path: Path) -> None:
    prometheus.load_rules(ALWAYS_RULE)
    bad = tmp_path / "bad.yml"
    bad.write_text("groups:\n  - name: g\n    rules:\n      - alert: X\n        expr: sum(\n")
    try:
        with pytest.raises(PrometheusError, match=r"refused /-/reload.*HTTP 500"):
            prometheus.load_rules([str(bad)])
        assert [g["name"] for g in prometheus.rules()] == ["selfslo-test"]
    finally:
        prometheus.clear_rules()


@needs_binary
def test_close_stops_the_process_and_removes_the_temp_dir() -> None:
    server = LocalPrometheus.start()
    workdir, process = server.workdir, server.process
    assert (workdir / "prometheus.yml").is_file()
    server.close()
    assert process.poll() is not None
    assert not workdir.exists()


@needs_binary
def test_external_url_is_queried_but_not_reconfigured(prometheus: PrometheusServer) -> None:
    with start_prometheus(prometheus.url) as external:
        assert external.kind == "external"
        assert external.query_value("vector(3)") == 3.0
        with pytest.raises(PrometheusError, match="external server"):
            external.set_scrape_targets(["127.0.0.1:1"])
        with pytest.raises(PrometheusError, match="external server"):
            external.load_rules(ALWAYS_RULE)


def test_dead_url_is_unavailable_with_reason(refused_url: str) -> None:
    url = refused_url
    assert availability(url) == f"Prometheus at {url} is not ready (/-/ready)"
    with pytest.raises(PrometheusUnavailable, match="not ready after"):
        start_prometheus(url, timeout=0.3)


def test_missing_binary_and_no_docker_is_unavailable_with_both_reasons(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-docker.sock")
    with pytest.raises(PrometheusUnavailable) as exc:
        start_prometheus("auto")
    assert "no 'prometheus' binary on PATH" in str(exc.value)
    assert "no Docker daemon answers" in str(exc.value)
    assert availability("embedded") == "a real Prometheus is disabled (--self-slo-prometheus=embedded)"


@needs_binary
def test_server_that_dies_at_start_reports_its_log(monkeypatch: pytest.MonkeyPatch,
                                                   tmp_path: Path) -> None:
    fake = tmp_path / "prometheus"
    fake.write_text("#!/bin/sh\necho 'boom: cannot start' >&2\nexit 3\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    temp_root = tmp_path / "tmp"
    temp_root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp_root))
    with pytest.raises(PrometheusUnavailable, match=r"(?s)exited with status 3.*boom"):
        LocalPrometheus.start(timeout=10)
    assert list(temp_root.iterdir()) == []  # the half-started server's files are gone


@needs_binary
def test_version_and_semantics_come_from_the_binary() -> None:
    major, minor, _ = binary_version("promtool")
    assert major == 2
    assert binary_semantics("promtool") == f"2.{minor}"  # the minor decides the numerics


@needs_binary
def test_one_server_per_xdist_worker_without_port_clashes(pytester: pytest.Pytester) -> None:
    log = pytester.path / "servers.log"
    pytester.makepyfile(f"""
        import os
        import pytest

        @pytest.mark.parametrize("n", range(3))
        def test_server(prometheus, n):
            assert prometheus.query_value("vector(1)") == 1.0
            with open({str(log)!r}, "a") as f:
                f.write(os.environ["PYTEST_XDIST_WORKER"] + " " + prometheus.url + "\\n")
    """)
    # --dist each: every worker runs every test, so both start their own server
    result = pytester.runpytest_subprocess("-n", "2", "--dist", "each", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=6)
    by_worker: dict[str, set[str]] = {}
    for line in log.read_text().splitlines():
        worker, url = line.split()
        by_worker.setdefault(worker, set()).add(url)
    assert sorted(by_worker) == ["gw0", "gw1"]
    assert all(len(urls) == 1 for urls in by_worker.values())  # one server per worker
    assert by_worker["gw0"] != by_worker["gw1"]  # on different ports
