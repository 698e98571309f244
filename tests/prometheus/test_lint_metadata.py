"""SL030 asks a configured Prometheus which metrics are gauges (``/api/v1/metadata``)."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge

from pytest_selfslo.cli import main
from pytest_selfslo.plugin.fixtures import ScrapeTarget
from pytest_selfslo.prometheus import PrometheusServer

needs_binary = pytest.mark.skipif(shutil.which("prometheus") is None,
                                  reason="the Debian 'prometheus' package is not installed")

RULES = textwrap.dedent("""\
    groups:
      - name: queues
        rules:
          - record: queue:depth:rate5m
            expr: rate(team_queue_depth[5m])
          - record: jobs:done:rate5m
            expr: rate(team_jobs_done[5m])
""")


@needs_binary
def test_a_gauge_the_server_knows_is_reported(prometheus: PrometheusServer, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    registry = CollectorRegistry()
    Gauge("team_queue_depth", "items waiting", registry=registry).set(3)
    # a counter without the _total suffix, as older exporters name them
    Counter("team_jobs_done", "jobs done", registry=registry).inc()
    target = ScrapeTarget(prometheus, registry)  # type: ignore[arg-type]
    try:
        target.wait_scraped()
        def scraped_metadata() -> dict[str, str] | None:
            types = prometheus.metadata()
            return types if "team_queue_depth" in types else None

        types = prometheus.wait_until(scraped_metadata, what="the target's metric metadata")
        assert types["team_queue_depth"] == "gauge"
        rules = tmp_path / "queues.yaml"
        rules.write_text(RULES)
        assert main(["lint", str(rules)]) == 0  # without the server: unknown, silent
        capsys.readouterr()
        # the server keeps metadata of the targets it scrapes: ask while the target is up
        assert main(["lint", "--prometheus", prometheus.url, str(rules)]) == 1
        out = capsys.readouterr().out
    finally:
        target.close()
    # the online checks ask /api/v1/metadata once: a typed function on the wrong type is SL053
    # (it replaces SL030's guess), and a counter without the _total suffix is not reported
    assert "SL053" in out and "rate() over team_queue_depth, a gauge (per /api/v1/metadata)" in out
    assert "SL030" not in out  # the metadata knows team_jobs_done is a counter: no name guess
    assert "over team_jobs_done, a" not in out


def test_an_unreachable_server_is_a_skip_not_a_failure(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rules = tmp_path / "queues.yaml"
    rules.write_text(RULES)
    assert main(["lint", "--prometheus", "http://127.0.0.1:9", "--prometheus-retries", "0",
                 str(rules)]) == 0
    err = capsys.readouterr().err
    assert "SL053 metric-type skipped: cannot reach http://127.0.0.1:9" in err
