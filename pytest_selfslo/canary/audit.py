"""The canary audit log: append-only JSON Lines with a SHA-256 hash chain.

Every change of the canary (advance, rollback, manual set, pause, resume) is
one line, written with a single ``write`` on an ``O_APPEND`` descriptor and
fsynced before the state file changes -- the log is the write-ahead log the
store replays after a crash. Each record carries ``prev_hash`` (the previous
record's ``hash``, 64 zeros for the first) and ``hash`` = SHA-256 of the
record's canonical JSON without ``hash``; ``seq`` counts from 1. Together with
the head (last hash and count) remembered in the state file this detects
edited, deleted, reordered and truncated records.

Callers hold the store's file lock around :meth:`AuditLog.append`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

from pytest_selfslo._core.errors import AuditChainError, located

__all__ = ["GENESIS_HASH", "AuditLog", "AuditRecord", "record_hash"]

GENESIS_HASH = "0" * 64
_FIELDS = ("seq", "ts", "actor", "action", "old", "new", "paused", "version", "reason",
           "decision", "prev_hash")


@dataclasses.dataclass(frozen=True)
class AuditRecord:
    """One audited change. ``old``/``new`` are samplings; ``decision`` the decision dict, if any."""

    seq: int
    ts: float
    actor: str
    action: str
    old: float
    new: float
    paused: bool
    version: int
    reason: str
    decision: Mapping[str, Any] | None
    prev_hash: str
    hash: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready mapping (one line of the log)."""
        out = dataclasses.asdict(self)
        out["decision"] = _plain(self.decision)
        return out


def _plain(value: Any) -> Any:
    """Mappings/sequences to dicts/lists, non-finite floats to None (JSON has no NaN)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _canonical(fields: Mapping[str, Any]) -> bytes:
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def record_hash(fields: Mapping[str, Any]) -> str:
    """SHA-256 over the canonical JSON of a record's fields (everything but ``hash``)."""
    return hashlib.sha256(_canonical({k: fields[k] for k in _FIELDS})).hexdigest()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _read_back(fh: IO[bytes], newlines: int) -> tuple[bytes, int]:
    """``(data, pos)``: the file from ``pos`` to its end, read backwards in doubling blocks
    until ``data`` holds ``newlines`` newlines or starts at the file's start (``pos == 0``)."""
    pos = fh.seek(0, os.SEEK_END)
    data, block, seen = b"", 4096, 0
    while pos > 0 and seen < newlines:
        step = min(block, pos)
        pos -= step
        fh.seek(pos)
        chunk = fh.read(step)
        seen += chunk.count(b"\n")
        data = chunk + data
        block = min(block * 2, 1 << 20)
    return data, pos


class AuditLog:
    """Reads, appends to and verifies one audit log file.

    >>> log = AuditLog(tmp_path / "canary_audit.jsonl")   # doctest: +SKIP
    >>> log.verify()                                       # doctest: +SKIP
    0
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    # ------------------------------------------------------------------ reading
    def _parse(self, line: bytes, number: int) -> AuditRecord:
        try:
            data = json.loads(line)
        except ValueError:
            raise AuditChainError(located("not a valid JSON record (edited or torn)", self.path,
                                          number)) from None
        if not isinstance(data, dict):
            raise AuditChainError(located(f"expected a JSON object, got {type(data).__name__}",
                                          self.path, number))
        missing = [k for k in (*_FIELDS, "hash") if k not in data]
        if missing:
            raise AuditChainError(located(f"record lacks the fields {missing}", self.path, number))
        try:
            return AuditRecord(**{k: data[k] for k in (*_FIELDS, "hash")})
        except TypeError as exc:  # pragma: no cover - dataclass takes exactly these keys
            raise AuditChainError(located(str(exc), self.path, number)) from None

    def records(self) -> list[AuditRecord]:
        """Every record in order (raises :class:`AuditChainError` on an unparsable line)."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return []
        lines = raw.split(b"\n")
        if lines and lines[-1] == b"":
            lines.pop()
        return [self._parse(line, i) for i, line in enumerate(lines, 1)]

    def tail(self, n: int) -> list[AuditRecord]:
        """The last ``n`` records, oldest first: ``records()[-n:]`` without reading the whole file.

        Reads backwards from the end in growing blocks until ``n`` complete lines
        are in hand, so the cost of ``GET /self/canary`` does not grow with the log.
        A bad line among those ``n`` raises the error :meth:`records` gives for it
        (same line number); lines before them are not read.
        """
        if n <= 0:
            return []
        try:
            with open(self.path, "rb") as fh:
                data, pos = _read_back(fh, n + 1)
        except FileNotFoundError:
            return []
        pieces = data.split(b"\n")
        if pieces[-1] == b"":
            pieces.pop()
        # with pos > 0 the first piece may be the end of an earlier line: never kept
        start = max(len(pieces) - n, 1 if pos > 0 else 0)
        try:
            return [self._parse(line, 0) for line in pieces[start:]]
        except AuditChainError:  # rare: raise it again with the line number records() gives
            with open(self.path, "rb") as fh:
                before = fh.read(pos).count(b"\n")
            for number, line in enumerate(pieces[start:], before + start + 1):
                self._parse(line, number)
            raise

    def last(self) -> AuditRecord | None:
        """The last complete record, read from the end of the file (cost independent of its size)."""
        try:
            with open(self.path, "rb") as fh:
                data, pos = _read_back(fh, 2)
        except FileNotFoundError:
            return None
        if not data.endswith(b"\n"):  # a torn tail never committed: ignore it
            data = data[: data.rfind(b"\n") + 1]
        lines = [ln for ln in data.split(b"\n") if ln]
        if not lines:
            return None
        count = None if pos > 0 else len(lines)
        return self._parse(lines[-1], count if count is not None else 0)

    # ------------------------------------------------------------------ writing
    def repair_torn_tail(self) -> bool:
        """Move an incomplete last line (a crash mid-write) aside to ``<log>.torn``; True if one was.

        Only called under the store lock, before an append: a line without its
        newline was never acknowledged, so the state never reflected it.
        """
        try:
            with open(self.path, "rb+") as fh:
                end = fh.seek(0, os.SEEK_END)
                if end == 0:
                    return False
                fh.seek(end - 1)
                if fh.read(1) == b"\n":
                    return False
                pos = end
                while pos > 0:
                    step = min(4096, pos)
                    pos -= step
                    fh.seek(pos)
                    chunk = fh.read(step)
                    idx = chunk.rfind(b"\n")
                    if idx >= 0:
                        pos += idx + 1
                        break
                fh.seek(pos)
                torn = fh.read()
                with open(f"{self.path}.torn", "ab") as aside:
                    aside.write(torn + b"\n")
                    aside.flush()
                    os.fsync(aside.fileno())
                fh.truncate(pos)
                fh.flush()
                os.fsync(fh.fileno())
                return True
        except FileNotFoundError:
            return False

    def append(self, *, actor: str, action: str, old: float, new: float, paused: bool,
               version: int, reason: str, decision: Mapping[str, Any] | None,
               ts: float | None = None, previous: AuditRecord | None = None) -> AuditRecord:
        """Append one record chained to ``previous`` (the current last record) and fsync it."""
        fields: dict[str, Any] = {
            "seq": (previous.seq + 1) if previous else 1,
            "ts": float(time.time() if ts is None else ts),
            "actor": actor, "action": action, "old": float(old), "new": float(new),
            "paused": bool(paused), "version": int(version), "reason": reason,
            "decision": _plain(decision) if decision is not None else None,
            "prev_hash": previous.hash if previous else GENESIS_HASH,
        }
        fields["hash"] = record_hash(fields)
        line = _canonical(fields) + b"\n"
        created = not self.path.exists()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            written = os.write(fd, line)
            if written != len(line):  # pragma: no cover - regular files write fully
                raise OSError(f"short write to {self.path}: {written} of {len(line)} bytes")
            os.fsync(fd)
        finally:
            os.close(fd)
        if created:
            _fsync_dir(self.path.parent)
        return AuditRecord(**fields)

    # ------------------------------------------------------------------ verifying
    def verify(self, head: str | None = None, count: int | None = None) -> int:
        """Check the whole chain (and, if given, that it ends at ``head`` after ``count`` records).

        Returns the number of records; raises :class:`AuditChainError` naming
        the first line that does not verify and why.
        """
        previous = GENESIS_HASH
        records = self.records()
        for number, record in enumerate(records, 1):
            if record.seq != number:
                raise AuditChainError(located(
                    f"expected record seq {number}, got {record.seq} (records deleted or reordered)",
                    self.path, number))
            if record.prev_hash != previous:
                raise AuditChainError(located(
                    f"prev_hash does not match the previous record's hash (expected "
                    f"{previous[:12]}..., got {str(record.prev_hash)[:12]}...): records deleted, "
                    "inserted or reordered", self.path, number))
            expected = record_hash(record.to_dict())
            if record.hash != expected:
                raise AuditChainError(located(
                    f"hash mismatch (expected {expected[:12]}..., got {str(record.hash)[:12]}...): "
                    "the record was edited", self.path, number))
            previous = record.hash
        if count is not None and len(records) != count:
            raise AuditChainError(located(
                f"expected {count} records (per the state file), got {len(records)}: the log was "
                "truncated" if len(records) < count else
                f"expected {count} records (per the state file), got {len(records)}",
                self.path))
        if head is not None and records and previous != head:
            raise AuditChainError(located(
                f"the log ends at hash {previous[:12]}... but the state file expects {head[:12]}...",
                self.path))
        return len(records)
