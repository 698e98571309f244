"""Audit-log integrity: the head check before every append, read-only verification,
``old`` continuity, the keyed (HMAC) chain, and the explicit audited repair (issue 21)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from pytest_selfslo._core.errors import AuditChainError, CanaryRequestError, ConfigError
from pytest_selfslo.canary.audit import (
    GENESIS_HASH,
    AuditHead,
    AuditLog,
    AuditRecord,
    head_problem,
    load_audit_key,
    record_hash,
    record_mac,
    resolve_audit_key,
)
from pytest_selfslo.canary.store import CanaryStore

KEY = b"0123456789abcdef-key"


def lines(store: CanaryStore) -> list[dict[str, Any]]:
    return [json.loads(line) for line in store.audit_path.read_text().splitlines()]


def write_lines(store: CanaryStore, records: list[dict[str, Any]]) -> None:
    store.audit_path.write_text("".join(json.dumps(r) + "\n" for r in records))


def rehash(record: dict[str, Any], key: bytes | None = None) -> dict[str, Any]:
    record["hash"] = record_hash(record)
    if key is not None:
        record["mac"] = record_mac(key, record)
    return record


@pytest.fixture
def store(tmp_path: Path) -> CanaryStore:
    store = CanaryStore(tmp_path)
    for value in (0.10, 0.25, 0.50):
        store.apply(value, reason=f"to {value}", actor="a")
    return store


def _record(seq: int, version: int, prev: str) -> AuditRecord:
    return AuditRecord(seq=seq, ts=1.0, actor="a", action="manual", old=0.05, new=0.1,
                       paused=False, version=version, reason="r", decision=None,
                       prev_hash=prev, hash=f"{seq:064x}")


@pytest.mark.parametrize(("last", "head", "problem", "pending"), [
    (None, AuditHead(None, 0, 0), None, False),
    (None, AuditHead("h", 2, 2), "got 0: the log was truncated or removed", False),
    (_record(2, 2, "x"), AuditHead(f"{2:064x}", 2, 2), None, False),
    (_record(3, 3, f"{2:064x}"), AuditHead(f"{2:064x}", 2, 2), None, True),   # roll forward
    (_record(3, 2, f"{2:064x}"), AuditHead(f"{2:064x}", 2, 2), "records were added", False),
    (_record(1, 1, GENESIS_HASH), AuditHead(f"{2:064x}", 2, 2), "the log was truncated", False),
    (_record(4, 4, "y"), AuditHead(f"{2:064x}", 2, 2), "records were added outside", False),
    (_record(2, 2, "x"), AuditHead("f" * 64, 2, 2), "the last record was replaced", False),
    (_record(1, 1, GENESIS_HASH), AuditHead(None, 0, 0), None, True),  # first record pending
])
def test_head_problem(last: AuditRecord | None, head: AuditHead, problem: str | None,
                      pending: bool) -> None:
    found, is_pending = head_problem(last, head)
    assert is_pending is pending
    if problem is None:
        assert found is None
    else:
        assert found is not None and problem in found


def test_truncation_at_a_line_boundary_refuses_and_writes_nothing(store: CanaryStore) -> None:
    records = lines(store)
    write_lines(store, records[:2])
    before = {p.name: p.read_bytes() for p in store.state_dir.iterdir()}
    with pytest.raises(AuditChainError, match=r"expected 3 records .* got 2: the log was "
                                              r"truncated; nothing was written"):
        store.apply(0.25, reason="again", actor="a")
    with pytest.raises(AuditChainError):
        store.pause(reason="p", actor="a")
    assert {p.name: p.read_bytes() for p in store.state_dir.iterdir()} == before
    assert store.load().sampling == 0.50  # readers keep the last acknowledged state


def test_edited_last_record_refuses_the_next_append(store: CanaryStore) -> None:
    records = lines(store)
    records[-1]["reason"] = "rewritten"
    write_lines(store, records)
    with pytest.raises(AuditChainError, match="last record 3: hash mismatch"):
        store.apply(0.25, reason="again", actor="a")


def test_old_must_equal_the_previous_new(store: CanaryStore) -> None:
    """A chain recomputed after deleting a change still shows the gap in old/new."""
    records = lines(store)
    first, third = records[0], records[2]
    third.update(seq=2, prev_hash=first["hash"])
    rehash(third)
    write_lines(store, [first, third])
    report = AuditLog(store.audit_path).inspect()
    assert report.chain_problem is not None
    assert ":2: old sampling 0.25 is not the previous record's new sampling 0.1: a change " \
           "between them is missing" in report.chain_problem


def test_fields_the_hash_does_not_cover_are_edits(store: CanaryStore) -> None:
    records = lines(store)
    records[1]["approved_by"] = "cfo"
    write_lines(store, records)
    with pytest.raises(AuditChainError, match=r":2: unexpected fields \['approved_by'\]"):
        store.verify_audit()


def test_verify_is_read_only_even_with_a_pending_record(tmp_path: Path) -> None:
    class Crash(Exception):
        pass

    def crash(point: str) -> None:
        if point == "after_audit":
            raise Crash(point)

    CanaryStore(tmp_path).apply(0.10, reason="first", actor="a")
    with pytest.raises(Crash):
        CanaryStore(tmp_path, fault_hook=crash).apply(0.25, reason="second", actor="a")
    store = CanaryStore(tmp_path)
    before = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in tmp_path.iterdir()}
    report = store.inspect_audit()
    assert report.ok and report.pending and report.records == 2
    assert any("not in the state file yet" in note for note in report.notes)
    assert {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in tmp_path.iterdir()} == before
    assert store.load().sampling == 0.25  # the next read completes it


def test_verify_of_a_missing_directory_creates_nothing(tmp_path: Path) -> None:
    assert CanaryStore(tmp_path / "absent").verify_audit() == 0
    assert not (tmp_path / "absent").exists()


def test_keyed_chain_appends_macs_and_verifies(tmp_path: Path) -> None:
    store = CanaryStore(tmp_path, audit_key=KEY)
    store.apply(0.10, reason="r", actor="a")
    store.pause(reason="p", actor="a")
    records = lines(store)
    assert all(r["mac"] == record_mac(KEY, r) for r in records)
    report = store.inspect_audit()
    assert report.ok and report.keyed == 2
    # without the key the hash chain still verifies, the MACs are not checked
    unkeyed = CanaryStore(tmp_path).inspect_audit()
    assert unkeyed.ok and unkeyed.keyed == 2


@pytest.mark.parametrize("forge", ["no-mac", "wrong-mac", "other-key"])
def test_keyed_chain_detects_a_forged_append(tmp_path: Path, forge: str) -> None:
    store = CanaryStore(tmp_path, audit_key=KEY)
    store.apply(0.10, reason="r", actor="a")
    last = lines(store)[-1]
    forged = {**last, "seq": 2, "old": 0.10, "new": 1.0, "version": last["version"] + 1,
              "reason": "forged", "prev_hash": last["hash"]}
    forged.pop("mac")
    rehash(forged, {"no-mac": None, "wrong-mac": None, "other-key": b"another-key-0123456"}[forge])
    if forge == "wrong-mac":
        forged["mac"] = "0" * 64
    with store.audit_path.open("a") as fh:
        fh.write(json.dumps(forged) + "\n")
    report = store.inspect_audit()
    expected = "no MAC after keyed records" if forge == "no-mac" else "MAC mismatch"
    assert report.chain_problem is not None and expected in report.chain_problem
    with pytest.raises(AuditChainError, match="record 2"):
        store.apply(0.25, reason="next", actor="a")
    assert store.load().sampling == 0.10  # a reader does not roll the forgery forward


def test_stripped_macs_are_detected(tmp_path: Path) -> None:
    store = CanaryStore(tmp_path, audit_key=KEY)
    store.apply(0.10, reason="r", actor="a")
    records = lines(store)
    for record in records:
        record.pop("mac")
    write_lines(store, records)
    report = store.inspect_audit()
    assert report.chain_problem is not None and "no record carries a MAC" in report.chain_problem


def test_keyless_writer_refuses_a_keyed_log(tmp_path: Path) -> None:
    CanaryStore(tmp_path, audit_key=KEY).apply(0.10, reason="r", actor="a")
    with pytest.raises(AuditChainError, match="the audit log is keyed"):
        CanaryStore(tmp_path).apply(0.25, reason="r", actor="a")


def test_unkeyed_records_before_the_key_are_allowed(tmp_path: Path) -> None:
    CanaryStore(tmp_path).apply(0.10, reason="before the key", actor="a")
    keyed = CanaryStore(tmp_path, audit_key=KEY)
    keyed.apply(0.25, reason="with the key", actor="a")
    report = keyed.inspect_audit()
    assert report.ok and report.records == 2 and report.keyed == 1


def test_repair_refuses_a_broken_chain(store: CanaryStore) -> None:
    records = lines(store)
    records[0]["reason"] = "edited"
    write_lines(store, records)
    with pytest.raises(AuditChainError, match="restore the log from a copy"):
        store.repair_audit(reason="fix", actor="a")


def test_repair_with_nothing_to_do_writes_nothing(store: CanaryStore) -> None:
    before = store.audit_path.read_bytes()
    assert store.repair_audit(reason="check", actor="a") == []
    assert store.audit_path.read_bytes() == before


def test_repair_of_a_removed_log_starts_a_new_chain(store: CanaryStore) -> None:
    store.audit_path.unlink()
    done = store.repair_audit(reason="log lost", actor="ops")
    assert len(done) == 1 and "appended repair record 1" in done[0]
    (record,) = store.history()
    assert record.action == "repair" and record.old == record.new == 0.50
    assert "got 0: the log was truncated or removed" in record.reason
    assert store.verify_audit() == 1


def test_repair_completes_a_pending_change_and_moves_a_torn_tail(store: CanaryStore) -> None:
    with store.audit_path.open("ab") as fh:
        fh.write(b'{"seq": 4, "ac')
    done = store.repair_audit(reason="after crash", actor="ops")
    assert done == [f"moved an incomplete last line (14 bytes) to {store.audit_path}.torn"]
    assert store.verify_audit() == 3


def test_repair_needs_a_reason(store: CanaryStore) -> None:
    with pytest.raises(CanaryRequestError, match="reason: expected"):
        store.repair_audit(reason=" \u200b", actor="a")


def test_key_file_checks(tmp_path: Path) -> None:
    key = tmp_path / "k"
    key.write_text("short\n")
    key.chmod(0o600)
    with pytest.raises(ConfigError, match="expected at least 16 bytes of key material, got 5"):
        load_audit_key(key)
    key.write_text("  0123456789abcdef0123  \n")
    assert load_audit_key(key) == b"0123456789abcdef0123"
    key.chmod(0o640)
    with pytest.raises(ConfigError, match="accessible to group or others"):
        load_audit_key(key)
    with pytest.raises(ConfigError, match="cannot read the audit key file"):
        load_audit_key(tmp_path / "absent")
    assert resolve_audit_key(environ={}) is None
    key.chmod(0o600)
    assert resolve_audit_key(environ={"SELFSLO_AUDIT_KEY_FILE": str(key)}) == \
        b"0123456789abcdef0123"


def test_overlong_audit_line_is_refused_not_loaded(tmp_path: Path) -> None:
    store = CanaryStore(tmp_path)
    store.apply(0.10, reason="r", actor="a")
    with store.audit_path.open("ab") as fh:
        fh.write(b"x" * (2 << 20) + b"\n")
    with pytest.raises(AuditChainError, match="longer than 1048576 bytes"):
        store.apply(0.25, reason="r", actor="a")
    report = store.inspect_audit()
    assert report.chain_problem is not None and ":2: line longer than" in report.chain_problem


def test_files_are_created_owner_only(tmp_path: Path) -> None:
    store = CanaryStore(tmp_path)
    store.apply(0.10, reason="r", actor="a")
    modes = {p.name: os.stat(p).st_mode & 0o777 for p in tmp_path.iterdir()}
    assert modes == {"canary_state.json": 0o600, "canary_audit.jsonl": 0o600,
                     ".canary.lock": 0o600}


def test_an_older_world_readable_log_becomes_owner_only(tmp_path: Path) -> None:
    store = CanaryStore(tmp_path)
    store.apply(0.10, reason="r", actor="a")
    store.audit_path.chmod(0o644)  # as the store created it before
    store.apply(0.25, reason="r", actor="a")
    assert os.stat(store.audit_path).st_mode & 0o777 == 0o600
