"""``CanaryStore.history(limit)`` / ``AuditLog.tail(n)`` read only the end of the audit log.

The result must equal the last ``n`` of a full read (``records()``) for every
``n`` and every line layout around the reader's block boundaries, and a bad
line must be reported exactly as the full read reports it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import pytest
from hypothesis import given, settings, strategies as st

from pytest_selfslo._core import safeio
from pytest_selfslo._core.errors import AuditChainError
from pytest_selfslo.canary import audit as audit_module
from pytest_selfslo.canary.audit import GENESIS_HASH, AuditLog, record_hash
from pytest_selfslo.canary.store import CanaryStore


def chained_lines(reason_lengths: list[int]) -> Iterator[bytes]:
    """Valid, hash-chained audit lines whose reasons have the given lengths."""
    prev = GENESIS_HASH
    for seq, length in enumerate(reason_lengths, 1):
        fields: dict[str, Any] = {
            "seq": seq, "ts": 1000.0 + seq, "actor": "t", "action": "manual", "old": 0.05,
            "new": 0.1, "paused": False, "version": seq, "reason": "r" * length,
            "decision": None, "prev_hash": prev,
        }
        fields["hash"] = prev = record_hash(fields)
        yield json.dumps(fields).encode() + b"\n"


def write_log(path: Path, reason_lengths: list[int]) -> AuditLog:
    path.write_bytes(b"".join(chained_lines(reason_lengths)))
    return AuditLog(path)


def test_history_limit_equals_the_last_n_of_a_full_read(tmp_path: Path) -> None:
    store = CanaryStore(tmp_path)
    for i in range(40):  # ~600 bytes a record: the tail spans several 4 KiB blocks
        store.apply(0.1 if i % 2 == 0 else 0.05, reason=f"change {i} " + "x" * 480,
                    actor=f"actor-{i}")
    full = store.history()
    assert len(full) == 40 and store.verify_audit() == 40
    for n in (1, 2, 6, 7, 8, 39, 40, 41, 1000):
        assert store.history(limit=n) == full[-n:], n


@settings(max_examples=60, deadline=None)
@given(lengths=st.lists(st.integers(0, 5000), max_size=25), n=st.integers(1, 30))
def test_tail_equals_records_for_any_layout(tmp_path_factory: pytest.TempPathFactory,
                                            lengths: list[int], n: int) -> None:
    log = write_log(tmp_path_factory.mktemp("audit") / "canary_audit.jsonl", lengths)
    assert log.tail(n) == log.records()[-n:]


def test_missing_or_empty_log_has_no_tail(tmp_path: Path) -> None:
    assert AuditLog(tmp_path / "absent.jsonl").tail(5) == []
    (tmp_path / "empty.jsonl").write_bytes(b"")
    assert AuditLog(tmp_path / "empty.jsonl").tail(5) == []
    assert write_log(tmp_path / "a.jsonl", [3, 4]).tail(0) == []


def test_tail_reads_only_the_end_of_a_long_log(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    log = write_log(tmp_path / "canary_audit.jsonl", [300] * 8000)  # ~3.6 MB
    size = log.path.stat().st_size
    assert size > 3_000_000
    read = 0

    class Counting:
        def __init__(self, fh: IO[bytes]) -> None:
            self.fh = fh

        def __enter__(self) -> Counting:
            return self

        def __exit__(self, *exc: object) -> None:
            self.fh.close()

        def seek(self, *args: int) -> int:
            return self.fh.seek(*args)

        def read(self, size: int = -1) -> bytes:
            nonlocal read
            data = self.fh.read(size)
            read += len(data)
            return data

    real_open = safeio.open_regular
    monkeypatch.setattr(audit_module, "open_regular", lambda path: Counting(real_open(path)))
    tail = log.tail(5)
    assert [r.seq for r in tail] == [7996, 7997, 7998, 7999, 8000]
    assert read <= 8192, f"read {read} of {size} bytes for 5 records"


def tail_error(path: Path, content: bytes, n: int) -> str:
    """The error ``tail(n)`` raises on ``content``, checked equal to the full read's."""
    path.write_bytes(content)
    log = AuditLog(path)
    with pytest.raises(AuditChainError) as full:
        log.records()
    with pytest.raises(AuditChainError) as tail:
        log.tail(n)
    assert str(tail.value) == str(full.value)
    return str(tail.value)


def test_a_bad_line_in_the_tail_is_reported_like_a_full_read(tmp_path: Path) -> None:
    lines = list(chained_lines([2000] * 30))
    lines[27] = b'{"seq": 28, "edited": true}\n'
    path = tmp_path / "canary_audit.jsonl"
    assert f"{path}:28: record lacks the fields" in tail_error(path, b"".join(lines), 5)
    assert [r.seq for r in AuditLog(path).tail(2)] == [29, 30]  # bad line outside this tail


def test_a_torn_last_line_fails_the_tail_like_a_full_read(tmp_path: Path) -> None:
    path = tmp_path / "canary_audit.jsonl"
    whole = b"".join(chained_lines([100] * 10))
    # a crash mid-write: no newline, truncated JSON
    assert ":10: not a valid JSON record" in tail_error(path, whole[:-40], 3)
    last = AuditLog(path).last()
    assert last is not None and last.seq == 9  # last() skips the uncommitted line
