"""Crash test: a process applying changes in a loop is SIGKILLed at random moments (acceptance 3).

After every kill the state file must parse and equal the last audit record's
``new`` (at most one record ahead of it: the write-ahead record whose state
write the kill interrupted, which the next store operation rolls forward), and
``selfslo canary verify-audit`` must pass without writing anything. Children are plain ``os.fork``
copies of the test process (everything already imported), so 60 kills take
seconds, not a minute of interpreter start-ups. Each child is killed at a random
moment after its first audit record is on disk, so every run changes something
whatever the machine's load.
"""

from __future__ import annotations

import json
import os
import random
import signal
import time
from pathlib import Path

import pytest

from pytest_selfslo.canary.store import CanaryStore
from pytest_selfslo.cli import main

KILLS = 60
STEPS = (0.05, 0.10, 0.25, 0.50, 1.00)


def _apply_forever(directory: str, seed: int) -> None:
    store = CanaryStore(directory)
    i = seed * 1000
    while True:
        i += 1
        if i % 7 == 0:
            if store.load().paused:
                store.resume(reason=f"resume {i}", actor="crash-loop")
            else:
                store.pause(reason=f"pause {i}", actor="crash-loop")
        else:
            store.apply(STEPS[i % len(STEPS)], reason=f"loop {i}", actor="crash-loop")


def _records(audit_path: Path) -> int:
    """Lines in the audit log so far (a torn last line counts: it is progress too)."""
    try:
        data = audit_path.read_bytes()
    except FileNotFoundError:
        return 0
    return data.count(b"\n") + (not data.endswith(b"\n") and bool(data))


def _wait_for_progress(pid: int, audit_path: Path, before: int) -> None:
    """Until the child has written an audit record: a kill then always interrupts work
    under way, however slowly a loaded machine schedules the child."""
    deadline = time.monotonic() + 120  # a bound on a hang, not a timing expectation
    while _records(audit_path) <= before:
        done, status = os.waitpid(pid, os.WNOHANG)
        assert done == 0, f"the child ended by itself (status {status}) before any change"
        assert time.monotonic() < deadline, "the child made no change in 120 s"
        time.sleep(0.001)


def _spawn_loop(directory: str, seed: int) -> int:
    """Fork a child running the loop (modules already imported, so it starts at once)."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child until SIGKILL
        try:
            _apply_forever(directory, seed)
        finally:
            os._exit(1)
    return pid


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork and SIGKILL")
def test_sigkill_at_random_moments_never_corrupts(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    rng = random.Random(20261125)
    state_path, audit_path = tmp_path / "canary_state.json", tmp_path / "canary_audit.jsonl"
    behind = 0
    started = time.monotonic()
    for kill in range(KILLS):
        written = _records(audit_path)
        pid = _spawn_loop(str(tmp_path), kill)
        _wait_for_progress(pid, audit_path, written)
        time.sleep(rng.uniform(0.0, 0.05))  # a random moment of the loop after that
        os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
        assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, \
            f"kill {kill}: the child ended by itself (status {status})"
        if not audit_path.exists():
            continue
        records = [json.loads(line) for line in audit_path.read_text().splitlines()]
        if not state_path.exists():  # killed between the first record and the first state write
            assert len(records) == 1
            behind += 1
            continue
        raw = json.loads(state_path.read_text())  # the state file always parses
        if raw["version"] < records[-1]["version"]:  # the kill fell between log and state
            assert raw["audit_count"] == len(records) - 1
            behind += 1
        else:
            assert raw["sampling"] == records[-1]["new"]
            assert raw["audit_head"] == records[-1]["hash"]
        store = CanaryStore(tmp_path)
        before = state_path.read_bytes()
        assert store.verify_audit() == len(records)  # verifies (a pending record is fine) ...
        assert state_path.read_bytes() == before  # ... without writing
        assert store.load().sampling == records[-1]["new"]  # the next read rolls it forward
        raw = json.loads(state_path.read_text())
        assert raw["sampling"] == records[-1]["new"] and raw["paused"] == records[-1]["paused"]
    elapsed = time.monotonic() - started
    store = CanaryStore(tmp_path)
    count = store.verify_audit()
    store.load()
    assert count >= KILLS, f"only {count} changes were made in {KILLS} runs"
    assert json.loads(state_path.read_text())["sampling"] == store.history()[-1].new
    assert not list(tmp_path.glob(".canary_state.*.tmp"))
    capsys.readouterr()
    assert main(["canary", "verify-audit", "--state-dir", str(tmp_path)]) == 0
    assert f"audit log OK: {count} record(s)" in capsys.readouterr().out
    print(f"{KILLS} kills in {elapsed:.1f}s, {count} audited changes, {behind} roll-forwards")
