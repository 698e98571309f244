"""A failing e2e run leaves no process and no temp dir behind.

A separate pytest process (``pytester.runpytest_subprocess``) runs a small
e2e-style file: the real ``prometheus`` fixture scrapes a uvicorn-served API,
then one test fails an assertion and one raises. Afterwards nothing may still
run that mentions the run's Prometheus directory or ports, nothing may listen
on those ports, and the run's private temp dir must be empty.

A run *terminated* by SIGTERM (a CI timeout) skips fixture teardown; the
servers we start register with :mod:`pytest_selfslo._core.reaper`, which closes them
before the process dies, so that case leaves nothing behind either (the test
still removes whatever its run would have left, should it ever fail).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.selfslo_prometheus

INNER = '''
import json, os, time
from pathlib import Path

from pytest_selfslo.api.app import ApiConfig, create_app
from pytest_selfslo.api.server import serve_in_thread


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


def test_waits_until_terminated(prometheus, tmp_path):
    with serve(tmp_path) as api_url:
        record(prometheus, api_url, tmp_path, "terminated")
        time.sleep(120)
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


@pytest.fixture
def inner(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """The inner e2e file, a private TMPDIR and a directory where its tests record themselves."""
    if shutil.which("prometheus") is None:
        pytest.skip("the inner run uses --self-slo-prometheus=local: no 'prometheus' binary")
    for name in ("tmp", "record"):
        (pytester.path / name).mkdir()
    monkeypatch.setenv("TMPDIR", str(pytester.path / "tmp"))
    monkeypatch.setenv("E2E_RECORD", str(pytester.path / "record"))
    pytester.makepyfile(test_inner_e2e=INNER)
    return pytester


def recorded(inner: pytest.Pytester) -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted((inner.path / "record").glob("*.json"))]


def leftovers(runs: list[dict[str, Any]]) -> list[str]:
    """Everything of the recorded runs that still exists, as readable lines (empty: clean)."""
    marks = {r["workdir"] for r in runs} | {
        r[key].removeprefix("http://") for r in runs for key in ("prometheus_url", "api_url")}
    left = [f"process {pid}: {cmd}" for pid, cmd in cmdlines().items()
            if any(m in cmd for m in marks)]
    left += [f"pid {r[key]} ({key})" for r in runs for key in ("prometheus_pid", "pytest_pid")
             if Path(f"/proc/{r[key]}").exists()]
    left += [f"{r[key]} accepts connections" for r in runs
             for key in ("prometheus_url", "api_url") if listening(r[key])]
    left += [f"temp dir {p}" for r in runs for p in Path(r["workdir"]).parent.iterdir()]
    return sorted(set(left))


def test_a_failing_run_leaves_no_process_or_temp_dir(inner: pytest.Pytester) -> None:
    result = inner.runpytest_subprocess("-p", "no:cacheprovider", "--self-slo-prometheus=local",
                                        "-k", "not terminated", timeout=120)

    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(["*failing on purpose*", "*raising on purpose*"])
    runs = recorded(inner)
    assert len(runs) == 2, runs
    assert runs[0]["workdir"] == runs[1]["workdir"]  # one session-scoped server for both
    assert Path(runs[0]["workdir"]).parent == inner.path / "tmp"  # the private temp dir
    left = leftovers(runs)
    assert left == [], "left behind by the failed run:\n" + "\n".join(left)


def test_a_terminated_run_leaves_no_process_or_temp_dir(inner: pytest.Pytester) -> None:
    proc = inner.popen([sys.executable, "-m", "pytest", "-p", "no:cacheprovider",
                        "--self-slo-prometheus=local", "-k", "terminated"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    runs: list[dict[str, Any]] = []
    try:
        deadline = time.monotonic() + 60
        while not (runs := recorded(inner)) and proc.poll() is None:
            assert time.monotonic() < deadline, "the inner test never started"
            time.sleep(0.1)
        assert runs, f"the inner run exited with {proc.returncode} before its test started"
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        deadline = time.monotonic() + 10  # room for a graceful shutdown, if there is one
        while leftovers(runs) and time.monotonic() < deadline:
            time.sleep(0.1)
        left = leftovers(runs)
        assert left == [], "left behind by the terminated run:\n" + "\n".join(left)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        for run in runs:  # what the terminated run left: its own prometheus, its temp dir
            if run["workdir"] in cmdlines().get(run["prometheus_pid"], ""):
                os.kill(run["prometheus_pid"], signal.SIGKILL)
            shutil.rmtree(run["workdir"], ignore_errors=True)
