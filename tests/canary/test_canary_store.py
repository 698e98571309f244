"""The canary store and audit log: validation, compare-and-set, tampering, recovery, concurrency."""

from __future__ import annotations

import itertools
import json
import math
import multiprocessing
import os
import threading
from pathlib import Path

import pytest

from pytest_selfslo._core.errors import (
    AuditChainError,
    CanaryRequestError,
    CanaryStateError,
    ConcurrentModificationError,
)
from pytest_selfslo.canary.audit import AuditLog
from pytest_selfslo.canary.machine import CanaryState
from pytest_selfslo.canary.policy import CanaryPolicy
from pytest_selfslo.canary.store import CanaryStore


class Clock:
    def __init__(self, t: float = 1000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        self.t += 1.0
        return self.t


@pytest.fixture
def store(tmp_path: Path) -> CanaryStore:
    return CanaryStore(tmp_path, clock=Clock())


def test_fresh_store_starts_at_the_first_step_without_writing(store: CanaryStore) -> None:
    state = store.load()
    assert (state.sampling, state.version, state.paused) == (0.05, 0, False)
    assert not store.state_path.exists()
    assert store.history() == []
    assert store.verify_audit() == 0


def test_apply_persists_audits_and_chains(store: CanaryStore) -> None:
    r1 = store.apply(0.10, reason="green for an hour", actor="alice")
    r2 = store.apply(0.25, reason="still green", actor="bob", expected_version=1,
                     expected_old_sampling=0.10)
    assert (r1.seq, r1.old, r1.new, r1.prev_hash) == (1, 0.05, 0.10, "0" * 64)
    assert r2.prev_hash == r1.hash
    state = store.load()
    assert (state.sampling, state.version, state.step) == (0.25, 2, 2)
    assert state.audit_head == r2.hash and state.audit_count == 2
    lines = store.audit_path.read_text().splitlines()
    assert [json.loads(ln)["actor"] for ln in lines] == ["alice", "bob"]
    assert set(json.loads(lines[0])) >= {"ts", "actor", "action", "old", "new", "reason",
                                         "decision", "prev_hash", "hash"}
    assert store.verify_audit() == 2
    assert [r.reason for r in store.history(limit=1)] == ["still green"]


@pytest.mark.parametrize(
    ("value", "reason", "message"),
    [
        (0.0, "r", "new_sampling: expected a finite number in (0, 1], got 0.0"),
        (1.5, "r", "new_sampling: expected a finite number in (0, 1], got 1.5"),
        (-0.1, "r", "new_sampling: expected a finite number in (0, 1], got -0.1"),
        (math.nan, "r", "new_sampling: expected a finite number in (0, 1], got nan"),
        (math.inf, "r", "new_sampling: expected a finite number in (0, 1], got inf"),
        ("0.5", "r", "new_sampling: expected a number in (0, 1], got '0.5'"),
        (True, "r", "new_sampling: expected a number in (0, 1], got True"),
        (0.2, "r", "new_sampling: expected one of the policy steps [0.05, 0.1, 0.25, 0.5, 1], got 0.2"),
        (0.5, "", "reason: expected a non-empty text, got ''"),
        (0.5, "   ", "reason: expected a non-empty text, got '   '"),
        (0.5, "x" * 501, "reason: expected at most 500 characters, got 501"),
    ],
)
def test_bad_manual_changes_are_refused_and_change_nothing(store: CanaryStore, value: object,
                                                            reason: str, message: str) -> None:
    with pytest.raises(CanaryRequestError) as exc:
        store.apply(value, reason=reason, actor="alice")  # type: ignore[arg-type]
    assert str(exc.value) == message
    assert store.history() == [] and not store.state_path.exists()


def test_off_step_values_allowed_when_steps_are_not_enforced(tmp_path: Path) -> None:
    store = CanaryStore(tmp_path, policy=CanaryPolicy(enforce_steps=False))
    assert store.apply(0.2, reason="try 20%", actor="a").new == 0.2


def test_compare_and_set_refuses_stale_expectations(store: CanaryStore) -> None:
    store.apply(0.10, reason="r", actor="a")
    with pytest.raises(ConcurrentModificationError, match="expected state version 0, got 1"):
        store.apply(0.25, reason="r", actor="b", expected_version=0)
    with pytest.raises(ConcurrentModificationError, match=r"current sampling is 0\.1"):
        store.apply(0.25, reason="r", actor="b", expected_old_sampling=0.05)
    assert len(store.history()) == 1


def test_pause_and_resume_are_audited_and_not_repeatable(store: CanaryStore) -> None:
    store.pause(reason="investigating", actor="alice")
    assert store.load().paused
    with pytest.raises(CanaryRequestError, match="already paused"):
        store.pause(reason="again", actor="alice")
    with pytest.raises(CanaryRequestError, match="reason"):
        store.resume(reason="", actor="alice")
    store.resume(reason="fixed", actor="alice")
    assert not store.load().paused
    assert [r.action for r in store.history()] == ["pause", "resume"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"{not json", "not valid JSON"),
        (b"[]", "state: expected a JSON object"),
        (b'{"sampling": 2, "since": 0}', "sampling: expected a number in (0, 1], got 2"),
        (b'{"sampling": 0.1, "since": "x"}', "since: expected a timestamp (seconds), got 'x'"),
        (b'{"sampling": 0.1, "since": 0, "version": -1}', "version: expected a non-negative integer"),
        (b'{"sampling": 0.1, "since": 0, "paused": "no"}', "paused: expected true or false"),
    ],
)
def test_corrupt_state_raises_and_is_never_reset(store: CanaryStore, content: bytes,
                                                 message: str) -> None:
    store.state_path.parent.mkdir(parents=True, exist_ok=True)
    store.state_path.write_bytes(content)
    with pytest.raises(CanaryStateError, match=message.replace("(", r"\(").replace(")", r"\)")) as exc:
        store.load()
    assert str(store.state_path) in str(exc.value) and "not reset" in str(exc.value)
    with pytest.raises(CanaryStateError):
        store.apply(0.10, reason="r", actor="a")
    assert store.state_path.read_bytes() == content


def _tamper(store: CanaryStore, line: int, **changes: object) -> None:
    lines = store.audit_path.read_text().splitlines()
    record = json.loads(lines[line])
    record.update(changes)
    lines[line] = json.dumps(record)
    store.audit_path.write_text("\n".join(lines) + "\n")


@pytest.fixture
def audited(store: CanaryStore) -> CanaryStore:
    for value in (0.10, 0.25, 0.50):
        store.apply(value, reason=f"to {value}", actor="a")
    return store


def test_edit_is_detected(audited: CanaryStore) -> None:
    _tamper(audited, 1, reason="nothing to see")
    with pytest.raises(AuditChainError, match=r"canary_audit.jsonl:2: hash mismatch .* edited"):
        audited.verify_audit()


def test_deletion_is_detected(audited: CanaryStore) -> None:
    lines = audited.audit_path.read_text().splitlines()
    audited.audit_path.write_text("\n".join([lines[0], lines[2]]) + "\n")
    with pytest.raises(AuditChainError, match=r":2: expected record seq 2, got 3"):
        audited.verify_audit()


def test_reorder_is_detected(audited: CanaryStore) -> None:
    lines = audited.audit_path.read_text().splitlines()
    audited.audit_path.write_text("\n".join([lines[1], lines[0], lines[2]]) + "\n")
    with pytest.raises(AuditChainError, match=r":1: expected record seq 1, got 2"):
        audited.verify_audit()


def test_truncation_is_detected(audited: CanaryStore) -> None:
    lines = audited.audit_path.read_text().splitlines()
    audited.audit_path.write_text("\n".join(lines[:2]) + "\n")
    with pytest.raises(AuditChainError, match=r"expected 3 records .* got 2: the log was truncated"):
        audited.verify_audit()


def test_recomputed_hash_still_breaks_the_chain(audited: CanaryStore) -> None:
    from pytest_selfslo.canary.audit import record_hash

    lines = audited.audit_path.read_text().splitlines()
    record = json.loads(lines[0])
    record["new"] = 1.0
    record["hash"] = record_hash(record)
    lines[0] = json.dumps(record)
    audited.audit_path.write_text("\n".join(lines) + "\n")
    with pytest.raises(AuditChainError, match=":2: prev_hash does not match"):
        audited.verify_audit()


def test_garbage_line_is_reported_with_its_line(audited: CanaryStore) -> None:
    with audited.audit_path.open("a") as fh:
        fh.write("garbage\n")
    with pytest.raises(AuditChainError, match=r"canary_audit.jsonl:4: not a valid JSON record"):
        audited.verify_audit()


class Crash(Exception):
    pass


@pytest.mark.parametrize("point", ["after_audit", "after_temp_write"])
def test_crash_after_the_audit_record_is_rolled_forward(tmp_path: Path, point: str) -> None:
    def fault(where: str) -> None:
        if where == point:
            raise Crash(where)

    CanaryStore(tmp_path).apply(0.10, reason="first", actor="a")
    with pytest.raises(Crash):
        CanaryStore(tmp_path, fault_hook=fault).apply(0.25, reason="second", actor="a")
    raw = json.loads((tmp_path / "canary_state.json").read_text())
    assert raw["sampling"] == 0.10  # the crash left the state behind the log ...
    fresh = CanaryStore(tmp_path)
    assert fresh.load().sampling == 0.25  # ... and the next reader rolls it forward
    assert json.loads(fresh.state_path.read_text())["sampling"] == 0.25
    assert fresh.verify_audit() == 2
    assert not list(tmp_path.glob(".canary_state.*"))


def test_crash_before_the_audit_record_changes_nothing(tmp_path: Path) -> None:
    def fault(where: str) -> None:
        if where == "before_audit":
            raise Crash(where)

    with pytest.raises(Crash):
        CanaryStore(tmp_path, fault_hook=fault).apply(0.10, reason="r", actor="a")
    assert CanaryStore(tmp_path).load().sampling == 0.05
    assert CanaryStore(tmp_path).verify_audit() == 0


def test_torn_audit_tail_is_moved_aside_not_lost(store: CanaryStore) -> None:
    store.apply(0.10, reason="r", actor="a")
    with store.audit_path.open("ab") as fh:
        fh.write(b'{"seq": 2, "act')
    store.apply(0.25, reason="r2", actor="a")
    assert store.verify_audit() == 2
    assert Path(f"{store.audit_path}.torn").read_bytes() == b'{"seq": 2, "act\n'


def test_record_decision_persists_counters_without_audit(store: CanaryStore) -> None:
    state = store.load()
    new = store.record_decision(CanaryState(sampling=0.05, since=state.since,
                                            consecutive_successes=2), expected_version=0)
    assert new.version == 1 and store.load().consecutive_successes == 2
    assert store.history() == []
    with pytest.raises(ConcurrentModificationError):
        store.record_decision(new, expected_version=0)


def test_seed_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AURIS_SELF_CANARY", "0.25")
    assert CanaryStore(tmp_path).load().sampling == 0.25
    monkeypatch.setenv("AURIS_SELF_CANARY", "lots")
    with pytest.raises(CanaryRequestError, match="AURIS_SELF_CANARY: expected a sampling fraction "
                                                 r"in \(0, 1\], got 'lots'"):
        CanaryStore(tmp_path)


def test_200_concurrent_threads_lose_no_update(tmp_path: Path) -> None:
    store = CanaryStore(tmp_path)
    steps = (0.05, 0.10, 0.25, 0.50, 1.00)
    errors: list[BaseException] = []

    def worker(i: int) -> None:
        try:
            CanaryStore(tmp_path, lock_timeout=120).apply(steps[i % 5], reason=f"thread {i}",
                                                          actor=f"t{i}")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(200)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert store.verify_audit() == 200
    records = store.history()
    assert sorted(r.reason for r in records) == sorted(f"thread {i}" for i in range(200))
    assert all(b.old == a.new for a, b in itertools.pairwise(records))
    assert store.load().sampling == records[-1].new


def _process_worker(directory: str, start: int) -> None:
    store = CanaryStore(directory)
    for i in range(start, start + 10):
        store.apply((0.10, 0.25)[i % 2], reason=f"proc {i}", actor="p")


def test_concurrent_processes_lose_no_update(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("fork" if hasattr(os, "fork") else "spawn")
    procs = [ctx.Process(target=_process_worker, args=(str(tmp_path), k * 10)) for k in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0, 0, 0]
    store = CanaryStore(tmp_path)
    assert store.verify_audit() == 40
    assert store.load().sampling == store.history()[-1].new


def test_audit_log_last_reads_only_the_tail(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "a.jsonl")
    previous = None
    for i in range(40):  # ~20 KB: the tail read crosses several 4 KiB blocks
        previous = log.append(actor="a", action="manual", old=0.05, new=0.1, paused=False,
                              version=i + 1, reason="x" * 300, decision=None, previous=previous)
    last = log.last()
    assert last is not None and last.seq == 40 and last == previous
    assert log.path.stat().st_size > 3 * 4096
