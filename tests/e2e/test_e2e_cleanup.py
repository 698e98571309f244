"""A failing e2e run leaves no process and no temp dir behind.

A separate pytest process (``pytester.runpytest_subprocess``) runs a small
e2e-style file: the real ``prometheus`` fixture scrapes a uvicorn-served API,
then one test fails an assertion and one raises. Afterwards nothing may still
run that mentions the run's Prometheus directory or ports, nothing may listen
on those ports, and the run's private temp dir must be empty.
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import pytest

pytestmark = pytest.mark.selfslo_prometheus

INNER = '''
import json, os
from pathlib import Path

from pytest_selfslo.api import ApiConfig, create_app
from pytest_selfslo.api_server import serve_in_thread


def record(prometheus, api_url, tmp_path, name):
    info = {"workdir": str(prometheus.workdir), "prometheus_pid": prometheus.process.pid,
            "prometheus_url": prometheus.url, "api_url": api_url, "pytest_pid": os.getpid()}
    Path(os.environ["E2E_RECORD"]).joinpath(name + ".json").write_text(json.dumps(info))


def serve(tmp_path):
    return serve_in_thread(create_app(ApiConfig(heartbeats=tmp_path / "hb.jsonl",
                                                state_dir=tmp_path / "state")))


def test_fails_while_everything_runs(prometheus, tmp_path):
    with serve(tmp_path) as api_url:
        prometheus.set_scrape_targets([api_url.removeprefix("http://")], interval="1s",
                                      metrics_path="/metrics/exp")
        prometheus.wait_for_targets_up(timeout=30)
        record(prometheus, api_url, tmp_path, "fails")
        assert prometheus.query_value("vector(1)") == 2, "failing on purpose"


def test_raises_while_everything_runs(prometheus, tmp_path):
    with serve(tmp_path) as api_url:
        record(prometheus, api_url, tmp_path, "raises")
        raise RuntimeError("raising on purpose")
'''


def cmdlines() -> dict[int, str]:
    """pid -> command line of every process we can see (except this one)."""
    out: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                raw = (entry / "cmdline").read_bytes()
            except OSError:  # exited meanwhile, or not ours to read
                continue
            out[int(entry.name)] = raw.replace(b"\0", b" ").decode(errors="replace")
    return out


def listening(url: str) -> bool:
    host, port = url.removeprefix("http://").rsplit(":", 1)
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex((host, int(port))) == 0


def test_a_failing_run_leaves_no_process_or_temp_dir(pytester: pytest.Pytester,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    private_tmp = pytester.path / "tmp"
    private_tmp.mkdir()
    record_dir = pytester.path / "record"
    record_dir.mkdir()
    monkeypatch.setenv("TMPDIR", str(private_tmp))
    monkeypatch.setenv("E2E_RECORD", str(record_dir))
    pytester.makepyfile(test_inner_e2e=INNER)

    result = pytester.runpytest_subprocess("-p", "no:cacheprovider",
                                           "--self-slo-prometheus=local", timeout=120)

    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(["*failing on purpose*", "*raising on purpose*"])
    runs = [json.loads(p.read_text()) for p in sorted(record_dir.glob("*.json"))]
    assert len(runs) == 2, runs
    info = runs[0]
    assert runs[1]["workdir"] == info["workdir"]  # one session-scoped server for both
    assert Path(info["workdir"]).parent == private_tmp  # its temp dir was the private one
    marks = {info["workdir"], info["prometheus_url"].removeprefix("http://"),
             *(r["api_url"].removeprefix("http://") for r in runs)}
    survivors = {pid: cmd for pid, cmd in cmdlines().items() if any(m in cmd for m in marks)}
    assert survivors == {}, f"processes of the failed run survive: {survivors}"
    for pid in (info["prometheus_pid"], info["pytest_pid"]):
        assert not Path(f"/proc/{pid}").exists(), f"pid {pid} of the failed run still exists"
    for url in (info["prometheus_url"], *(r["api_url"] for r in runs)):
        assert not listening(url), f"{url} still accepts connections"
    assert list(private_tmp.iterdir()) == [], "temp dirs left behind"
