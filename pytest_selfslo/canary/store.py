"""Durable canary state: an atomically replaced JSON file plus the audit log, under a file lock.

Layout of ``state_dir``:

* ``canary_state.json`` -- the :class:`~pytest_selfslo.canary.machine.CanaryState`,
  replaced atomically (temp file, fsync, rename, fsync of the directory);
* ``canary_audit.jsonl`` -- the hash-chained audit log (:mod:`.audit`);
* ``.canary.lock`` -- the :mod:`filelock` lock serialising every writer, in
  threads and processes alike.

Every file is created with mode 0600 (owner only).

A change is made in this order, under the lock: validate, compare-and-set
(``expected_version`` / ``expected_old_sampling``), append the audit record and
fsync it, then replace the state file. The audit record is the write-ahead
log: after a crash between the two, the next operation finds a record newer
than the state and rolls the state forward from it, so the state always ends
up equal to the last record's ``new``. A state file that does not parse is
never reset: :class:`~pytest_selfslo._core.errors.CanaryStateError` is raised and a
human decides.

Before it appends, a writer checks that the log's last complete record is the
head the state file remembers (or exactly one record past it, the roll-forward
case); anything else -- a truncated log, records added or replaced outside the
store, a MAC that does not match the audit key -- raises
:class:`~pytest_selfslo.errors.AuditChainError` and nothing is written.
Verification (:meth:`CanaryStore.inspect_audit`) only reads; the explicit,
audited fix is :meth:`CanaryStore.repair_audit`.
"""

from __future__ import annotations

import dataclasses
import fcntl
import json
import math
import os
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import filelock

from pytest_selfslo._core.errors import (
    AuditChainError,
    CanaryRequestError,
    CanaryStateError,
    ConcurrentModificationError,
    located,
)
from pytest_selfslo._core.safeio import read_regular
from pytest_selfslo._core.safetext import text_problem
from pytest_selfslo.canary.audit import (
    FILE_MODE,
    KEY_FILE_ENV,
    AuditHead,
    AuditLog,
    AuditRecord,
    AuditReport,
    head_problem,
    resolve_audit_key,
)
from pytest_selfslo.canary.machine import CanaryState
from pytest_selfslo.canary.policy import DEFAULT_POLICY, CanaryPolicy

__all__ = [
    "AUDIT_FILE",
    "DEFAULT_STATE_DIR",
    "MAX_REASON",
    "SEED_ENV",
    "STATE_DIR_ENV",
    "STATE_FILE",
    "CanaryStore",
    "resolve_state_dir",
    "seed_sampling",
]

STATE_DIR_ENV = "SELFSLO_STATE_DIR"
SEED_ENV = "AURIS_SELF_CANARY"
DEFAULT_STATE_DIR = "data"
MAX_REASON = 500
STATE_FILE = "canary_state.json"
AUDIT_FILE = "canary_audit.jsonl"
_LOCK_FILE = ".canary.lock"
_TEMP_PREFIX = ".canary_state."
#: the state file is a few hundred bytes (its last decision a few KiB): more is not ours
_MAX_STATE_BYTES = 1 << 20


def resolve_state_dir(state_dir: str | Path | None = None) -> Path:
    """``state_dir``, else ``$SELFSLO_STATE_DIR``, else ``data/``."""
    if state_dir is not None:
        return Path(state_dir)
    return Path(os.environ.get(STATE_DIR_ENV) or DEFAULT_STATE_DIR)


def seed_sampling() -> float | None:
    """``$AURIS_SELF_CANARY`` as a fraction (the sampling used while no state file exists).

    Raises :class:`CanaryRequestError` naming the variable when it is not a number in (0, 1].
    """
    raw = os.environ.get(SEED_ENV, "").strip()
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or not 0 < value <= 1:
        raise CanaryRequestError(f"{SEED_ENV}: expected a sampling fraction in (0, 1], got {raw!r}")
    return value


def _state_from_json(data: Any, path: Path) -> CanaryState:
    """Validate the state file's JSON; anything off is a :class:`CanaryStateError`."""
    def bad(field: str, expected: str) -> CanaryStateError:
        got = data.get(field) if isinstance(data, dict) else data
        return CanaryStateError(located(
            f"{field}: expected {expected}, got {got!r} -- the file is not reset; restore it "
            "or rebuild it from the audit log", path))

    if not isinstance(data, dict):
        raise bad("state", "a JSON object")
    sampling = data.get("sampling")
    if isinstance(sampling, bool) or not isinstance(sampling, (int, float)) \
            or not math.isfinite(sampling) or not 0 < sampling <= 1:
        raise bad("sampling", "a number in (0, 1]")
    for field in ("version", "consecutive_successes", "failures", "audit_count", "step"):
        value = data.get(field, 0)
        if isinstance(value, bool) or not isinstance(value, int) or (value < 0 and field != "step"):
            raise bad(field, "a non-negative integer")
    since = data.get("since")
    if isinstance(since, bool) or not isinstance(since, (int, float)) or not math.isfinite(since):
        raise bad("since", "a timestamp (seconds)")
    if not isinstance(data.get("paused", False), bool):
        raise bad("paused", "true or false")
    head = data.get("audit_head")
    if head is not None and not isinstance(head, str):
        raise bad("audit_head", "a hex digest or null")
    observed = data.get("last_observed")
    if observed is not None and (isinstance(observed, bool) or not isinstance(observed, (int, float))):
        raise bad("last_observed", "a timestamp or null")
    decision = data.get("last_decision")
    if decision is not None and not isinstance(decision, dict):
        raise bad("last_decision", "an object or null")
    return CanaryState(
        sampling=float(sampling), since=float(since), step=data.get("step", 0),
        paused=data.get("paused", False), version=data.get("version", 0),
        consecutive_successes=data.get("consecutive_successes", 0),
        failures=data.get("failures", 0), last_observed=observed, last_decision=decision,
        audit_head=head, audit_count=data.get("audit_count", 0))


class CanaryStore:
    """The canary's state file and audit log in one directory, safe for concurrent writers.

    >>> store = CanaryStore(tmp_path, policy=DEFAULT_POLICY)          # doctest: +SKIP
    >>> store.apply(0.10, reason="green for an hour", actor="alice")  # doctest: +SKIP
    AuditRecord(seq=1, ..., old=0.05, new=0.1, ...)

    ``audit_key`` (bytes) makes the audit chain keyed (HMAC, see
    :mod:`.audit`); ``audit_key_file`` names a file to read it from; by
    default ``$SELFSLO_AUDIT_KEY_FILE`` is used when set, else the chain is unkeyed.

    ``fault_hook`` is a test seam: it is called with ``"before_audit"``,
    ``"after_audit"``, ``"after_temp_write"`` and ``"after_rename"`` so a test
    can raise there and simulate a crash at that point.
    """

    def __init__(self, state_dir: str | Path | None = None, policy: CanaryPolicy | None = None,
                 initial_sampling: float | None = None, *, clock: Callable[[], float] = time.time,
                 lock_timeout: float = 60.0,
                 fault_hook: Callable[[str], None] | None = None,
                 audit_key: bytes | None = None,
                 audit_key_file: str | Path | None = None) -> None:
        self.state_dir = resolve_state_dir(state_dir)
        self.policy = policy or DEFAULT_POLICY
        if initial_sampling is None:
            initial_sampling = seed_sampling()
        if initial_sampling is not None:
            self._check_sampling(initial_sampling, enforce=False)
        self.initial_sampling = initial_sampling
        self.clock = clock
        self.lock_timeout = lock_timeout
        self._fault = fault_hook or (lambda point: None)
        if audit_key is None:
            audit_key = resolve_audit_key(audit_key_file)
        self.audit = AuditLog(self.state_dir / AUDIT_FILE, key=audit_key)

    @property
    def state_path(self) -> Path:
        """Path of the JSON state file."""
        return self.state_dir / STATE_FILE

    @property
    def audit_path(self) -> Path:
        """Path of the JSON Lines audit log."""
        return self.audit.path

    # ------------------------------------------------------------------ reading
    def _read_state(self) -> CanaryState | None:
        try:
            raw = read_regular(self.state_path, _MAX_STATE_BYTES, "the state file")
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise CanaryStateError(located(f"cannot read the state file: {exc.strerror or exc}",
                                           self.state_path)) from None
        try:
            data = json.loads(raw)
        except ValueError as exc:
            raise CanaryStateError(located(
                f"not valid JSON ({exc}) -- the file is not reset; restore it or rebuild it "
                "from the audit log", self.state_path)) from None
        return _state_from_json(data, self.state_path)

    def _initial(self) -> CanaryState:
        sampling = self.initial_sampling if self.initial_sampling is not None else self.policy.floor
        return CanaryState(sampling=sampling, since=self.clock(),
                           step=self.policy.step_index(sampling))

    def load(self) -> CanaryState:
        """The current state (the initial one, version 0, when nothing was ever written).

        Rolls the state forward from the audit log when a crash left it behind.
        A log that does not end where the state file says is not rolled
        forward: the state file (the last acknowledged change) is returned, and
        the next write refuses with the reason.
        """
        state = self._read_state()
        last = self.audit.last()
        if last is not None and (state is None or last.version > state.version):
            with self._lock():
                return self._load_locked(write=False)
        return state if state is not None else self._initial()

    def history(self, limit: int | None = None) -> list[AuditRecord]:
        """Audit records, oldest first (the last ``limit`` when given, read from the file's end)."""
        return self.audit.tail(limit) if limit else self.audit.records()

    def inspect_audit(self) -> AuditReport:
        """Verify the chain and compare its end with the state file's head. Never writes.

        Takes a shared lock when the lock file exists (a consistent view while a
        writer is busy), without creating anything.
        """
        with self._shared_lock():
            state = self._read_state()
            head = None if state is None else AuditHead(state.audit_head, state.audit_count,
                                                        state.version)
            return self.audit.inspect(head)

    def verify_audit(self) -> int:
        """:meth:`inspect_audit`, raising :class:`AuditChainError` for its first problem;
        returns the number of records. Read-only."""
        report = self.inspect_audit()
        if report.problems:
            raise AuditChainError(report.problems[0])
        return report.records

    # ------------------------------------------------------------------ locking and recovery
    @contextmanager
    def _shared_lock(self) -> Iterator[None]:
        """A shared ``flock`` on an existing lock file (excludes writers); creates nothing."""
        try:
            fd = os.open(self.state_dir / _LOCK_FILE, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError:  # no lock file (never written) or not readable: read without it
            yield
            return
        try:
            deadline = time.monotonic() + self.lock_timeout
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise ConcurrentModificationError(
                            f"could not take a shared lock on {self.state_dir / _LOCK_FILE} "
                            f"within {self.lock_timeout:g}s; a writer holds it -- retry") from None
                    time.sleep(0.01)
            yield
        finally:
            os.close(fd)

    @contextmanager
    def _lock(self) -> Iterator[None]:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        lock = filelock.FileLock(str(self.state_dir / _LOCK_FILE), timeout=self.lock_timeout,
                                 mode=FILE_MODE)
        try:
            with lock:
                yield
        except filelock.Timeout:
            raise ConcurrentModificationError(
                f"could not take the canary lock {lock.lock_file} within {self.lock_timeout:g}s; "
                "another writer holds it -- retry") from None

    def _load_locked(self, *, write: bool = True) -> CanaryState:
        """Load under the lock, rolling forward from the last audit record if it is newer.

        First checks that the log ends at the head the state file remembers (or
        one genuine record past it); when it does not, a writer (``write``)
        gets :class:`AuditChainError` and nothing is touched, a reader gets
        the state file as it is. Then an incomplete last line (an interrupted,
        never acknowledged append) is moved aside.
        """
        state = self._read_state()
        last = self.audit.last()
        problem = self._head_problem(state, last)
        if problem is not None:
            if write:
                raise AuditChainError(located(
                    f"{problem}; nothing was written -- run `selfslo canary verify-audit`, then, "
                    "once the cause is understood, `selfslo canary repair-audit --reason ...`",
                    self.audit.path))
            return state if state is not None else self._initial()
        self.audit.repair_torn_tail()
        if last is not None and (state is None or last.version > state.version):
            base = state if state is not None else self._initial()
            state = self._after(base, last)
            self._write_state(state)
        return state if state is not None else self._initial()

    def _head_problem(self, state: CanaryState | None, last: AuditRecord | None) -> str | None:
        """Why the log's end and the state file disagree (see :func:`.audit.head_problem`),
        or why the record to build on is not genuine; None when all is well."""
        if state is not None:
            problem, pending = head_problem(
                last, AuditHead(state.audit_head, state.audit_count, state.version))
            if problem is not None:
                return problem
        else:
            pending = last is not None  # no state file: rebuilt from the last record
        if last is None:
            return None
        own = self.audit.record_problem(last)
        if own is not None:
            return f"last record {last.seq}: {own}"
        if last.mac is not None and self.audit.key is None:
            return (f"the audit log is keyed (record {last.seq} carries a MAC) but no audit key "
                    f"was given: pass --audit-key-file or set {KEY_FILE_ENV}")
        if pending and self.audit.key is not None and last.mac is None:
            return (f"record {last.seq} is not in the state file yet and carries no MAC: it was "
                    "not written with the audit key (forged append?)")
        return None

    def _after(self, state: CanaryState, record: AuditRecord) -> CanaryState:
        """The state once ``record`` is applied (used both when writing and when recovering)."""
        return dataclasses.replace(
            state, sampling=record.new, since=record.ts, step=self.policy.step_index(record.new),
            paused=record.paused, version=record.version, consecutive_successes=0, failures=0,
            last_decision=record.decision if record.decision is not None else state.last_decision,
            audit_head=record.hash, audit_count=record.seq)

    def _write_state(self, state: CanaryState) -> None:
        """Atomically replace the state file: temp, fsync, rename, fsync the directory."""
        for stale in self.state_dir.glob(f"{_TEMP_PREFIX}*"):  # left by a crashed writer
            stale.unlink(missing_ok=True)
        data = json.dumps(state.to_dict(), indent=2, sort_keys=True, allow_nan=False).encode()
        fd, tmp = tempfile.mkstemp(prefix=_TEMP_PREFIX, suffix=".tmp", dir=self.state_dir)
        with os.fdopen(fd, "wb") as fh:  # a temp left by a failure is removed by the next writer
            fh.write(data + b"\n")
            fh.flush()
            os.fsync(fh.fileno())
        self._fault("after_temp_write")
        os.replace(tmp, self.state_path)
        self._fault("after_rename")
        dir_fd = os.open(self.state_dir, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    # ------------------------------------------------------------------ validation
    def _check_sampling(self, value: Any, *, enforce: bool) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise CanaryRequestError(f"new_sampling: expected a number in (0, 1], got {value!r}")
        if not math.isfinite(value) or not 0 < value <= 1:
            raise CanaryRequestError(f"new_sampling: expected a finite number in (0, 1], got {value!r}")
        if enforce and self.policy.enforce_steps:
            step = self.policy.snap(float(value))
            if step is None:
                steps = ", ".join(f"{s:g}" for s in self.policy.steps)
                raise CanaryRequestError(
                    f"new_sampling: expected one of the policy steps [{steps}], got {value!r}")
            return step
        return float(value)

    @staticmethod
    def _check_text(field: str, value: Any, limit: int = MAX_REASON) -> str:
        if not isinstance(value, str) or not value.strip():
            raise CanaryRequestError(f"{field}: expected a non-empty text, got {value!r}")
        if len(value) > limit:
            raise CanaryRequestError(f"{field}: expected at most {limit} characters, got {len(value)}")
        problem = text_problem(value)
        if problem is not None:
            raise CanaryRequestError(f"{field}: {problem}")
        return value

    # ------------------------------------------------------------------ changing
    def _change(self, *, new: float | None, paused: bool | None, reason: str, actor: str, action: str,
                decision: Mapping[str, Any] | None, expected_version: int | None,
                expected_old_sampling: float | None, at: float | None,
                check: Callable[[CanaryState], None] | None = None) -> AuditRecord:
        with self._lock():
            state = self._load_locked()
            if expected_version is not None and state.version != expected_version:
                raise ConcurrentModificationError(
                    f"expected state version {expected_version}, got {state.version}: "
                    "another change came first -- reload and retry")
            if expected_old_sampling is not None and abs(state.sampling - expected_old_sampling) > 1e-9:
                raise ConcurrentModificationError(
                    f"expected_old_sampling: expected {expected_old_sampling!r}, but the current "
                    f"sampling is {state.sampling!r} -- reload and retry")
            if check is not None:
                check(state)
            self._fault("before_audit")
            record = self.audit.append(
                actor=actor, action=action, old=state.sampling,
                new=state.sampling if new is None else new,
                paused=state.paused if paused is None else paused, version=state.version + 1,
                reason=reason, decision=decision, ts=self.clock() if at is None else at,
                previous=self.audit.last())
            self._fault("after_audit")
            self._write_state(self._after(state, record))
            return record

    def apply(self, new_sampling: float, *, reason: str, actor: str, action: str = "manual",
              decision: Mapping[str, Any] | None = None, expected_version: int | None = None,
              expected_old_sampling: float | None = None, paused: bool | None = None,
              at: float | None = None) -> AuditRecord:
        """Set the sampling, audited; refused (:class:`CanaryRequestError`) without a valid reason.

        ``paused`` (default: unchanged) lets a rollback pause in the same record;
        ``at`` is the change time (default: the store's clock).
        """
        new = self._check_sampling(new_sampling, enforce=True)
        self._check_text("reason", reason)
        self._check_text("actor", actor, 200)
        self._check_text("action", action, 50)
        return self._change(new=new, paused=paused, reason=reason, actor=actor, action=action,
                            decision=decision, expected_version=expected_version,
                            expected_old_sampling=expected_old_sampling, at=at)

    def _set_paused(self, paused: bool, reason: str, actor: str, at: float | None) -> AuditRecord:
        self._check_text("reason", reason)
        self._check_text("actor", actor, 200)
        word = "pause" if paused else "resume"

        def check(state: CanaryState) -> None:
            if state.paused == paused:
                raise CanaryRequestError(f"cannot {word}: the canary is already "
                                         f"{'paused' if paused else 'running'}")

        return self._change(new=None, paused=paused, reason=reason, actor=actor, action=word,
                            decision=None, expected_version=None, expected_old_sampling=None,
                            at=at, check=check)

    def pause(self, *, reason: str, actor: str, at: float | None = None) -> AuditRecord:
        """Stop automatic changes until :meth:`resume` (audited; rollbacks on alerts still happen)."""
        return self._set_paused(True, reason, actor, at)

    def resume(self, *, reason: str, actor: str, at: float | None = None) -> AuditRecord:
        """Let the controller act again; dwell and the success streak restart (audited)."""
        return self._set_paused(False, reason, actor, at)

    def repair_audit(self, *, reason: str, actor: str, at: float | None = None) -> list[str]:
        """Make the store writable again after :meth:`inspect_audit` found a problem at the
        end of the log; audited. Returns what was done (empty: nothing needed doing).

        Under the lock: refuses (:class:`AuditChainError`) when the chain itself
        does not verify -- an edited or forged record must be restored from a
        copy, a repair would bless it; moves an incomplete last line to
        ``<log>.torn``; completes an interrupted change (roll-forward); and when
        the log still does not end at the state file's head (records lost or
        added), appends a ``repair`` record from the log's last ``new`` to the
        state's current sampling, whose reason says what was found, and
        anchors the state on it.
        """
        self._check_text("reason", reason)
        self._check_text("actor", actor, 200)
        with self._lock():
            state = self._read_state()
            head = None if state is None else AuditHead(state.audit_head, state.audit_count,
                                                        state.version)
            report = self.audit.inspect(head)
            if report.chain_problem is not None:
                raise AuditChainError(
                    f"{report.chain_problem} -- repair-audit only fixes the end of the log (a "
                    "torn line, lost or extra records); restore the log from a copy")
            done: list[str] = []
            moved = self.audit.repair_torn_tail()
            if moved:
                done.append(f"moved an incomplete last line ({moved} bytes) to "
                            f"{self.audit.path}.torn")
            last = report.last
            if report.head_problem is None:
                if last is not None and (state is None or report.pending):
                    base = state if state is not None else self._initial()
                    self._write_state(self._after(base, last))
                    done.append(f"completed an interrupted change: the state file now ends at "
                                f"record {last.seq}")
                return done
            assert state is not None  # a head problem needs a state file to disagree with
            found = report.head_problem.removeprefix(f"{self.audit.path}: ")
            record = self.audit.append(
                actor=actor, action="repair", old=last.new if last is not None else state.sampling,
                new=state.sampling, paused=state.paused,
                version=max(state.version, last.version if last is not None else 0) + 1,
                reason=f"{reason} [repair-audit: {found}]", decision=None,
                ts=self.clock() if at is None else at, previous=last)
            self._write_state(self._after(state, record))
            done.append(f"appended repair record {record.seq} ({record.old:g} -> {record.new:g}, "
                        f"the sampling in force) after: {found}")
            return done

    def record_decision(self, state: CanaryState, *, expected_version: int) -> CanaryState:
        """Persist a non-changing decision's counters (no audit record: nothing changed).

        ``state`` is the decision's next state; its sampling must equal the
        stored one and the stored version must still be ``expected_version``.
        """
        with self._lock():
            current = self._load_locked()
            if current.version != expected_version or current.sampling != state.sampling:
                raise ConcurrentModificationError(
                    f"expected state version {expected_version} at sampling {state.sampling!r}, got "
                    f"version {current.version} at {current.sampling!r} -- a change came first")
            new = dataclasses.replace(
                state, version=current.version + 1, paused=current.paused, since=current.since,
                audit_head=current.audit_head, audit_count=current.audit_count)
            self._write_state(new)
            return new
