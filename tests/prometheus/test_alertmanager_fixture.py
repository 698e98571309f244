"""The real-Alertmanager layer: the ``alertmanager`` fixture, its webhook, ``amtool check-config``.

Needs the Debian ``prometheus-alertmanager`` package (CI installs it); without
the binary the fixture skips with the reason, which the last tests check by
hiding it from PATH.
"""

from __future__ import annotations

import base64
import datetime as _dt
import json
import shutil
import textwrap
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from pytest_selfslo._core import reaper
from pytest_selfslo._core.errors import PrometheusError, PrometheusUnavailable
from pytest_selfslo.api.alerts import AlertmanagerWebhook
from pytest_selfslo.prometheus.alertmanager import (
    ALERTMANAGER_BINARIES,
    LocalAlertmanager,
    ManagedAlertmanager,
    alertmanager_availability,
    check_config,
    start_alertmanager,
)
from pytest_selfslo.prometheus.managed import ManagedPrometheus

ROOT = Path(__file__).resolve().parents[2]
needs_binary = pytest.mark.skipif(
    not any(shutil.which(b) for b in ALERTMANAGER_BINARIES),
    reason="the Debian 'prometheus-alertmanager' package is not installed")
needs_amtool = pytest.mark.skipif(shutil.which("amtool") is None,
                                  reason="amtool (Debian 'prometheus-alertmanager') is not installed")


class Receiver:
    """A webhook receiver on a loopback port that keeps what it was sent."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], Any]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.received.append((dict(self.headers), json.loads(body)))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/self/alerts"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


ALERT = {"labels": {"alertname": "AURIS_SELF_Coherence_Drop", "severity": "warning",
                    "token_id": "tok-fixture-test"},
         "annotations": {"summary": "coherence below 0.80"},
         "generatorURL": "http://prometheus.test/graph"}


@needs_amtool
def test_shipped_alertmanager_config_passes_amtool_check_config() -> None:
    ok, output = check_config(ROOT / "docs" / "alertmanager.yml")
    assert ok, output
    assert "SUCCESS" in output and "2 receivers" in output


@needs_amtool
def test_amtool_rejects_a_broken_config_with_its_reason(tmp_path: Path) -> None:
    broken = tmp_path / "am.yml"
    text = (ROOT / "docs" / "alertmanager.yml").read_text()
    broken.write_text(text.replace("receiver: selfslo-canary", "receiver: nobody"))
    ok, output = check_config(broken)
    assert not ok and 'undefined receiver "nobody"' in output


@needs_binary
def test_fixture_is_a_local_server_whose_webhook_sends_version_4(
        alertmanager: ManagedAlertmanager, receiver: Receiver,
        request: pytest.FixtureRequest) -> None:
    assert alertmanager.kind == "local" and alertmanager.url.startswith("http://127.0.0.1:")
    assert alertmanager.workdir.is_dir() and (alertmanager.workdir / "data").is_dir()
    assert alertmanager.status()["cluster"]["status"] == "disabled"
    alertmanager.set_webhook(receiver.url, basic=("am-test", "s3cret-token-0123456"),
                             matchers=['alertname=~"AURIS_SELF_.*"'], group_wait="0s")
    posted = [ALERT, {**ALERT, "labels": {"alertname": "Watchdog"}}]
    alertmanager.post_alerts(posted)
    request.addfinalizer(lambda: alertmanager.post_alerts(  # resolved: later tests see none
        [{**a, "endsAt": _dt.datetime.now(_dt.timezone.utc).isoformat()} for a in posted]))

    def ours() -> Any:  # (alerts of earlier tests on this worker may still be notified)
        return next(((h, b) for h, b in receiver.received
                     if any(a["annotations"] == ALERT["annotations"] for a in b["alerts"])), None)

    headers, body = alertmanager.wait_until(ours, timeout=30, what="our notification")
    expected = base64.b64encode(b"am-test:s3cret-token-0123456").decode()
    assert headers["Authorization"] == f"Basic {expected}"
    notification = AlertmanagerWebhook.model_validate(body)  # our model takes the real thing
    assert notification.version == "4" and notification.receiver == "webhook"
    assert {a.labels["alertname"] for a in notification.alerts} == {"AURIS_SELF_Coherence_Drop"}
    assert all(a.fingerprint for a in notification.alerts)
    alertmanager.set_webhook(receiver.url)  # back to no matchers for the next test


@needs_binary
def test_a_rejected_config_is_refused_and_the_previous_one_kept(
        alertmanager: ManagedAlertmanager, receiver: Receiver) -> None:
    alertmanager.set_webhook(receiver.url, bearer="s3cret-token-0123456")
    good = alertmanager.config_path.read_text()
    with pytest.raises(PrometheusError, match="undefined receiver"):
        alertmanager.apply_config({"route": {"receiver": "nobody"}, "receivers": []})
    assert alertmanager.config_path.read_text() == good
    loaded = alertmanager.status()["config"]["original"]
    assert "<secret>" in loaded and "s3cret-token-0123456" not in loaded  # still the good one


@needs_binary
def test_prometheus_sends_its_firing_alerts_to_the_alertmanager(
        prometheus: ManagedPrometheus, alertmanager: ManagedAlertmanager) -> None:
    if not isinstance(prometheus, ManagedPrometheus):
        pytest.skip(f"{prometheus!r} cannot be configured")
    rule = textwrap.dedent("""\
        groups:
          - name: to-alertmanager
            interval: 1s
            rules:
              - alert: SentToAlertmanager
                expr: vector(1) > 0
                labels: {severity: warning}
    """)
    prometheus.set_alertmanagers([alertmanager.address])
    try:
        prometheus.load_rules(rule)
        found = alertmanager.wait_until(
            lambda: [a for a in alertmanager.alerts(active=True)
                     if a["labels"]["alertname"] == "SentToAlertmanager"],
            timeout=30, what="the alert to reach Alertmanager")
        assert found[0]["labels"]["severity"] == "warning"
        port = prometheus.url.rsplit(":", 1)[-1]
        assert f":{port}/graph?g0.expr=vector" in found[0]["generatorURL"]
    finally:
        prometheus.clear_rules()
        prometheus.set_alertmanagers([])
    config = (prometheus.workdir / "prometheus.yml").read_text()
    assert "alerting" not in config


@needs_binary
def test_close_stops_the_process_removes_the_temp_dir_and_unregisters() -> None:
    server = LocalAlertmanager.start()
    workdir, process = server.workdir, server.process
    assert id(server) in reaper._live
    server.close()
    assert process.poll() is not None and not workdir.exists()
    assert id(server) not in reaper._live


def test_dead_url_is_unavailable_with_reason() -> None:
    with pytest.raises(PrometheusUnavailable, match="not ready after"):
        start_alertmanager("http://127.0.0.1:9", timeout=0.5)
    assert alertmanager_availability("http://127.0.0.1:9") == (
        "Alertmanager at http://127.0.0.1:9 is not ready (/-/ready)")


def test_no_binary_and_no_docker_is_unavailable_with_both_reasons(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    with pytest.raises(PrometheusUnavailable) as info:
        start_alertmanager("auto")
    message = str(info.value)
    assert "no 'prometheus-alertmanager' or 'alertmanager' binary on PATH" in message
    assert "no Docker daemon answers" in message


def test_fixture_skips_with_the_reason_and_bad_modes_are_usage_errors(
        pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_am(alertmanager):\n    assert False\n")
    result = pytester.runpytest("--self-slo-alertmanager=http://127.0.0.1:9", "-rs")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*no real Alertmanager (--self-slo-alertmanager="
                                 "http://127.0.0.1:9): Alertmanager at http://127.0.0.1:9 not "
                                 "ready after*"])
    result = pytester.runpytest("--self-slo-alertmanager=embedded")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--self-slo-alertmanager: expected one of auto, local, docker "
                                 "or an http(s):// URL, got 'embedded'*"])
