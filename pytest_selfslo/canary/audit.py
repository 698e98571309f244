"""The canary audit log: append-only JSON Lines with a SHA-256 hash chain, optionally keyed.

Every change of the canary (advance, rollback, manual set, pause, resume,
repair) is one line, written with a single ``write`` on an ``O_APPEND``
descriptor and fsynced before the state file changes -- the log is the
write-ahead log the store replays after a crash. Each record carries
``prev_hash`` (the previous record's ``hash``, 64 zeros for the first) and
``hash`` = SHA-256 of the record's canonical JSON without ``hash``; ``seq``
counts from 1 and ``old`` repeats the previous record's ``new``. Together with
the head (last hash and count) remembered in the state file this detects
edited, deleted, reordered and truncated records.

What an unkeyed chain cannot detect: someone with write access who
recomputes every hash after an edit, or appends a well-formed record (it
looks like a change interrupted before the state file was written). With a
key (:func:`load_audit_key`, ``--audit-key-file``) every record also carries
``mac`` = HMAC-SHA256(key, the same canonical JSON); a record appended or
rewritten without the key then fails verification and the store refuses to
build on it. Neither detects the newest records being removed *together with*
a matching rewrite of the state file: ship the log elsewhere for that.

:meth:`AuditLog.inspect` only reads. Callers hold the store's file lock
around :meth:`AuditLog.append` and :meth:`AuditLog.repair_torn_tail`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import math
import os
import stat
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO, Any

from pytest_selfslo._core.errors import AuditChainError, ConfigError, located
from pytest_selfslo._core.safeio import open_regular, read_regular

__all__ = [
    "GENESIS_HASH",
    "KEY_FILE_ENV",
    "MAX_RECORD_BYTES",
    "AuditHead",
    "AuditLog",
    "AuditRecord",
    "AuditReport",
    "head_problem",
    "load_audit_key",
    "record_hash",
    "record_mac",
    "resolve_audit_key",
]

GENESIS_HASH = "0" * 64
#: environment variable naming the audit key file (``--audit-key-file`` wins)
KEY_FILE_ENV = "SELFSLO_AUDIT_KEY_FILE"
#: longest audit line accepted (a record with a decision is a few KiB)
MAX_RECORD_BYTES = 1 << 20
#: shortest key accepted, in bytes, and the largest key file read
MIN_KEY_BYTES = 16
MAX_KEY_FILE_BYTES = 4096
#: permission bits for every file of the store (owner read/write only)
FILE_MODE = 0o600
_FIELDS = ("seq", "ts", "actor", "action", "old", "new", "paused", "version", "reason",
           "decision", "prev_hash")
_KNOWN = frozenset((*_FIELDS, "hash", "mac"))


@dataclasses.dataclass(frozen=True)
class AuditRecord:
    """One audited change. ``old``/``new`` are samplings; ``decision`` the decision dict, if any.

    ``mac`` is set only in a keyed log (see the module docstring).
    """

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
    mac: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready mapping (one line of the log)."""
        out = dataclasses.asdict(self)
        out["decision"] = _plain(self.decision)
        if self.mac is None:
            del out["mac"]
        return out


@dataclasses.dataclass(frozen=True)
class AuditHead:
    """What the state file remembers of the log: the last acknowledged record."""

    hash: str | None
    count: int
    version: int


@dataclasses.dataclass
class AuditReport:
    """What :meth:`AuditLog.inspect` found; ``problems`` empty means the log verifies.

    ``notes`` are findings that need no human (an interrupted write the next
    change completes or moves aside).
    """

    path: Path
    records: int = 0
    keyed: int = 0
    torn_bytes: int = 0
    #: the log holds one record the state file does not know yet (an interrupted change)
    pending: bool = False
    last: AuditRecord | None = None
    #: the first record that does not verify (``path:line: why``): repair cannot fix this
    chain_problem: str | None = None
    #: the chain verifies but does not end where the state file says (``path: why``)
    head_problem: str | None = None
    notes: list[str] = dataclasses.field(default_factory=list)

    @property
    def problems(self) -> list[str]:
        """Every problem found, chain first (empty: the log verifies)."""
        return [p for p in (self.chain_problem, self.head_problem) if p is not None]

    @property
    def ok(self) -> bool:
        return self.chain_problem is None and self.head_problem is None


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
    """SHA-256 over the canonical JSON of a record's fields (everything but ``hash``/``mac``)."""
    return hashlib.sha256(_canonical({k: fields[k] for k in _FIELDS})).hexdigest()


def record_mac(key: bytes, fields: Mapping[str, Any]) -> str:
    """HMAC-SHA256 with ``key`` over the same canonical JSON as :func:`record_hash`."""
    return hmac.new(key, _canonical({k: fields[k] for k in _FIELDS}), hashlib.sha256).hexdigest()


def load_audit_key(path: str | Path) -> bytes:
    """The audit key in ``path``: a regular file only its owner can read, >= 16 bytes.

    Surrounding whitespace (a trailing newline) is not part of the key.
    Raises :class:`ConfigError` naming the file and what is wrong.
    """
    try:
        data = read_regular(path, MAX_KEY_FILE_BYTES, "the audit key file")
        mode = os.stat(path).st_mode
    except OSError as exc:
        raise ConfigError(located(f"cannot read the audit key file: {exc.strerror or exc}",
                                  path)) from None
    if mode & 0o077:
        raise ConfigError(located(
            f"the audit key file is accessible to group or others (mode "
            f"{stat.S_IMODE(mode):04o}); expected 0600 or stricter: chmod 600 {path}", path))
    key = data.strip()
    if len(key) < MIN_KEY_BYTES:
        raise ConfigError(located(
            f"expected at least {MIN_KEY_BYTES} bytes of key material, got {len(key)} "
            "(e.g. `head -c 32 /dev/urandom | base64 > KEYFILE`)", path))
    return key


def resolve_audit_key(path: str | Path | None = None,
                      environ: Mapping[str, str] | None = None) -> bytes | None:
    """The key from ``path``, else from ``$SELFSLO_AUDIT_KEY_FILE``, else None (unkeyed)."""
    env = os.environ if environ is None else environ
    chosen = path if path is not None else (env.get(KEY_FILE_ENV) or None)
    return None if chosen is None else load_audit_key(chosen)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _read_back(fh: IO[bytes], newlines: int, path: Path) -> tuple[bytes, int]:
    """``(data, pos)``: the file from ``pos`` to its end, read backwards in doubling blocks
    until ``data`` holds ``newlines`` newlines or starts at the file's start (``pos == 0``).

    A run of more than :data:`MAX_RECORD_BYTES` without a newline raises
    :class:`AuditChainError` (no record is that long), so a corrupt log cannot
    make the reader load all of it.
    """
    pos = fh.seek(0, os.SEEK_END)
    chunks: list[bytes] = []
    block, seen, run = 4096, 0, 0
    while pos > 0 and seen < newlines:
        step = min(block, pos)
        pos -= step
        fh.seek(pos)
        chunk = fh.read(step)
        found = chunk.count(b"\n")
        if found:
            run = chunk.find(b"\n")  # bytes before the first newline of this chunk
        else:
            run += len(chunk)
        if run > MAX_RECORD_BYTES:
            raise AuditChainError(located(
                f"a line longer than {MAX_RECORD_BYTES} bytes: not an audit record", path))
        seen += found
        chunks.append(chunk)
        block = min(block * 2, 1 << 20)
    chunks.reverse()
    return b"".join(chunks), pos


def head_problem(last: AuditRecord | None, head: AuditHead) -> tuple[str | None, bool]:
    """Compare the log's last complete record with the head the state file remembers.

    Returns ``(problem, pending)``: ``problem`` None when they agree, or when
    the log is exactly one record ahead (``pending``: a change interrupted
    after its audit record was written -- rolled forward by the next write).
    """
    expected = head.hash or GENESIS_HASH
    if last is None:
        if head.count:
            return (f"expected {head.count} records (per the state file), got 0: the log was "
                    "truncated or removed"), False
        return None, False
    if last.seq == head.count and last.hash == expected:
        return None, False
    if last.seq == head.count + 1 and last.prev_hash == expected and last.version > head.version:
        return None, True
    if last.seq < head.count:
        return (f"expected {head.count} records (per the state file), got {last.seq}: "
                "the log was truncated"), False
    if last.seq > head.count:
        return (f"expected {head.count} records (per the state file), got {last.seq}: "
                "records were added outside the store, or the state file was replaced"), False
    return (f"the log ends at hash {last.hash[:12]}... but the state file expects "
            f"{expected[:12]}...: the last record was replaced"), False


def _record(data: Mapping[str, Any]) -> AuditRecord:
    mac = data.get("mac")
    return AuditRecord(**{k: data[k] for k in (*_FIELDS, "hash")},
                       mac=mac if isinstance(mac, str) else None)


class AuditLog:
    """Reads, appends to and verifies one audit log file.

    >>> log = AuditLog(tmp_path / "canary_audit.jsonl")   # doctest: +SKIP
    >>> log.verify()                                       # doctest: +SKIP
    0

    With ``key`` (bytes, see :func:`load_audit_key`) appended records carry an
    HMAC and verification checks it.
    """

    def __init__(self, path: str | Path, key: bytes | None = None) -> None:
        self.path = Path(path)
        self.key = key

    # ------------------------------------------------------------------ reading
    def _fields(self, line: bytes, number: int) -> dict[str, Any]:
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
        return data

    def _parse(self, line: bytes, number: int) -> AuditRecord:
        return _record(self._fields(line, number))

    def _lines(self, fh: IO[bytes]) -> Iterator[tuple[int, bytes | None, bool]]:
        """``(line number, content without newline, complete)``; content None when the
        line is longer than :data:`MAX_RECORD_BYTES` (skipped without holding it)."""
        number = 0
        while True:
            line = fh.readline(MAX_RECORD_BYTES + 1)
            if not line:
                return
            number += 1
            if len(line) > MAX_RECORD_BYTES and not line.endswith(b"\n"):
                complete = False
                while True:
                    rest = fh.readline(1 << 20)
                    if not rest:
                        break
                    if rest.endswith(b"\n"):
                        complete = True
                        break
                yield number, None, complete
                continue
            if line.endswith(b"\n"):
                yield number, line[:-1], True
            else:
                yield number, line, False

    def _open(self) -> IO[bytes] | None:
        try:
            return open_regular(self.path)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise AuditChainError(located(f"cannot read the audit log: {exc.strerror or exc}",
                                          self.path)) from None

    def records(self) -> list[AuditRecord]:
        """Every record in order (raises :class:`AuditChainError` on an unparsable line)."""
        fh = self._open()
        if fh is None:
            return []
        out: list[AuditRecord] = []
        with fh:
            for number, line, _complete in self._lines(fh):
                if line is None:
                    raise AuditChainError(located(
                        f"line longer than {MAX_RECORD_BYTES} bytes: not an audit record",
                        self.path, number))
                out.append(self._parse(line, number))
        return out

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
            with open_regular(self.path) as fh:
                data, pos = _read_back(fh, n + 1, self.path)
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise AuditChainError(located(f"cannot read the audit log: {exc.strerror or exc}",
                                          self.path)) from None
        pieces = data.split(b"\n")
        if pieces[-1] == b"":
            pieces.pop()
        # with pos > 0 the first piece may be the end of an earlier line: never kept
        start = max(len(pieces) - n, 1 if pos > 0 else 0)
        try:
            return [self._parse(line, 0) for line in pieces[start:]]
        except AuditChainError:  # rare: raise it again with the line number records() gives
            with open_regular(self.path) as fh:
                before = fh.read(pos).count(b"\n")
            for number, line in enumerate(pieces[start:], before + start + 1):
                self._parse(line, number)
            raise

    def last(self) -> AuditRecord | None:
        """The last complete record, read from the end of the file (cost independent of its size)."""
        try:
            with open_regular(self.path) as fh:
                data, pos = _read_back(fh, 2, self.path)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise AuditChainError(located(f"cannot read the audit log: {exc.strerror or exc}",
                                          self.path)) from None
        if not data.endswith(b"\n"):  # a torn tail never committed: ignore it
            data = data[: data.rfind(b"\n") + 1]
        lines = [ln for ln in data.split(b"\n") if ln]
        if not lines:
            return None
        count = None if pos > 0 else len(lines)
        return self._parse(lines[-1], count if count is not None else 0)

    def record_problem(self, record: AuditRecord) -> str | None:
        """Why ``record`` is not genuine on its own (its hash; its MAC when this log has a
        key), or None. Without a key a MAC is not checked."""
        fields = record.to_dict()
        expected = record_hash(fields)
        if record.hash != expected:
            return (f"hash mismatch (expected {expected[:12]}..., got {str(record.hash)[:12]}...): "
                    "the record was edited")
        if self.key is not None and record.mac is not None and not hmac.compare_digest(
                str(record.mac), record_mac(self.key, fields)):
            return ("MAC mismatch: the record was not written with this audit key "
                    "(forged, edited, or a different key)")
        return None

    # ------------------------------------------------------------------ verifying (read-only)
    def inspect(self, head: AuditHead | None = None) -> AuditReport:
        """Check the whole chain and compare its end with ``head``; never writes.

        Per record: it parses, has no fields the hash does not cover, ``seq``
        counts from 1, ``prev_hash`` is the previous ``hash``, ``hash`` matches
        the content, ``old`` equals the previous record's ``new``, and with a
        key its ``mac`` matches (once a record carries a MAC, every later one
        must). The first broken record stops the chain check.
        """
        report = AuditReport(self.path)
        fh = self._open()
        if fh is None:
            if head is not None and head.count:
                report.head_problem = located(
                    f"expected {head.count} records (per the state file), got 0: the log was "
                    "truncated or removed", self.path)
            return report
        previous: AuditRecord | None = None
        with fh:
            for number, line, complete in self._lines(fh):
                if not complete:
                    size = MAX_RECORD_BYTES if line is None else len(line)
                    report.torn_bytes = size
                    report.notes.append(located(
                        f"the last line is incomplete ({size} bytes, no newline): an "
                        "interrupted write, or a record cut short; it is moved to .torn by "
                        "the next change when the records before it end at the state "
                        "file's head, else by repair-audit", self.path, number))
                    break
                problem = self._chain_problem(line, number, previous, report)
                if problem is not None:
                    report.chain_problem = located(problem, self.path, number)
                    return report
                previous = report.last
        if self.key is not None and report.records and not report.keyed:
            report.chain_problem = located(
                "no record carries a MAC, but an audit key was given: the chain is not "
                "authenticated (records written without the key, or MACs stripped)", self.path)
            return report
        if head is None:
            if report.records:
                report.notes.append(located(
                    "no state file: the log is not compared with an acknowledged head (the "
                    "next change rebuilds the state from the last record)", self.path))
            return report
        problem, pending = head_problem(report.last, head)
        if problem is not None:
            report.head_problem = located(problem, self.path)
        elif pending:
            report.pending = True
            report.notes.append(located(
                f"record {report.records} is not in the state file yet (a change interrupted "
                "after its audit record was written); the next read or change completes it",
                self.path))
        return report

    def _chain_problem(self, line: bytes | None, number: int, previous: AuditRecord | None,
                       report: AuditReport) -> str | None:
        if line is None:
            return f"line longer than {MAX_RECORD_BYTES} bytes: not an audit record"
        try:
            data = self._fields(line, number)
        except AuditChainError as exc:
            return str(exc).removeprefix(f"{self.path}:{number}: ")
        extra = sorted(set(data) - _KNOWN)
        if extra:
            return f"unexpected fields {extra} (not covered by the hash): the record was edited"
        record = _record(data)
        if record.seq != number:
            return f"expected record seq {number}, got {record.seq} (records deleted or reordered)"
        expected_prev = previous.hash if previous is not None else GENESIS_HASH
        if record.prev_hash != expected_prev:
            return (f"prev_hash does not match the previous record's hash (expected "
                    f"{expected_prev[:12]}..., got {str(record.prev_hash)[:12]}...): records "
                    "deleted, inserted or reordered")
        own = self.record_problem(record)
        if own is not None:
            return own
        if previous is not None and record.old != previous.new:
            return (f"old sampling {record.old!r} is not the previous record's new sampling "
                    f"{previous.new!r}: a change between them is missing")
        if record.mac is not None:
            report.keyed += 1
        elif self.key is not None and report.keyed:
            return ("no MAC after keyed records: appended or rewritten without the audit key "
                    "(forged)")
        report.records += 1
        report.last = record
        return None

    def verify(self, head: str | None = None, count: int | None = None) -> int:
        """Check the whole chain (and, if given, that it ends at ``head`` after ``count`` records).

        Read-only. Returns the number of records; raises :class:`AuditChainError`
        naming the first problem :meth:`inspect` finds.
        """
        # a version no record reaches: a log one record ahead of ``count`` is a problem here
        report = self.inspect(None if count is None else AuditHead(head, count, 1 << 62))
        if report.problems:
            raise AuditChainError(report.problems[0])
        return report.records

    # ------------------------------------------------------------------ writing
    def repair_torn_tail(self) -> int:
        """Move an incomplete last line (a crash mid-write) aside to ``<log>.torn``.

        Returns the number of bytes moved (0: nothing to do). Only called under
        the store lock, once the log's complete records are known to end at the
        head the state file remembers: a line without its newline was then
        never acknowledged.
        """
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC)
        except FileNotFoundError:
            return 0
        with os.fdopen(fd, "rb+") as fh:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise AuditChainError(located("the audit log is not a regular file", self.path))
            end = fh.seek(0, os.SEEK_END)
            if end == 0:
                return 0
            fh.seek(end - 1)
            if fh.read(1) == b"\n":
                return 0
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
            moved = end - pos
            aside = os.open(f"{self.path}.torn", os.O_WRONLY | os.O_APPEND | os.O_CREAT
                            | os.O_CLOEXEC, FILE_MODE)
            with os.fdopen(aside, "ab") as out:
                fh.seek(pos)
                while True:  # copied in blocks: a torn tail can be large (a NUL-filled crash)
                    block = fh.read(1 << 20)
                    if not block:
                        break
                    out.write(block)
                out.write(b"\n")
                out.flush()
                os.fsync(out.fileno())
            fh.truncate(pos)
            fh.flush()
            os.fsync(fh.fileno())
            return moved

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
        if self.key is not None:
            fields["mac"] = record_mac(self.key, fields)
        line = _canonical(fields) + b"\n"
        created = not self.path.exists()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, FILE_MODE)
        try:
            if os.fstat(fd).st_mode & 0o077:  # a log created before: as private as the state
                os.fchmod(fd, FILE_MODE)
            written = os.write(fd, line)
            if written != len(line):  # pragma: no cover - regular files write fully
                raise OSError(f"short write to {self.path}: {written} of {len(line)} bytes")
            os.fsync(fd)
        finally:
            os.close(fd)
        if created:
            _fsync_dir(self.path.parent)
        return AuditRecord(**fields)
