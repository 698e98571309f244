"""Columnar full scan of a heartbeat log: the fast path behind ``selfslo replay --count 0``.

Averages and percentiles need the score columns, not ``Heartbeat`` objects,
and building millions of objects costs more than parsing the JSON. So the scan
parses ~64 KiB of lines at a time with ``map(orjson.loads, lines)`` (each line
on its own, no Python loop) and turns them straight into numpy columns,
checking types, kinds, tokens and ranges for the whole batch at once. A batch that any bulk check cannot vouch for is parsed line by
line with the very function :func:`~pytest_selfslo.heartbeat.read_heartbeats`
uses, and a record that fails the range check is judged by
:meth:`Heartbeat.from_dict`; so the scan accepts and rejects exactly the lines
the reader does, with the same line numbers and reasons. The total is counted
in the same single pass.
"""

from __future__ import annotations

import operator
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np
import orjson

from .errors import HeartbeatFormatError
from .heartbeat_io import (
    _TORN,
    MAX_REPORTED_BAD_LINES,
    ProgressCallback,
    _gc_paused,
    _open_log,
    _parse_line,
)
from .heartbeat_model import MAX_TOKEN_ID_LEN, SCORES, Heartbeat

__all__ = ["HeartbeatColumns", "scan_heartbeats"]

_COLUMNS = [operator.itemgetter(name) for name in ("ts", *SCORES)]  # one array each: faster
_TOKEN = operator.itemgetter("token_id")
_KIND = operator.methodcaller("get", "kind", "heartbeat")  # kind may be omitted
#: Read size.
_CHUNK = 1 << 20
#: Bytes of whole lines per batch: small enough that the parsed objects are
#: still in CPU cache when they become arrays.
_BATCH_BYTES = 64 << 10


@dataclass
class HeartbeatColumns:
    """Every valid (matching) record of a log as columns, plus the read's diagnostics.

    ``scores[name]`` and ``ts`` are float64 arrays in file order; ``last`` is
    the last valid record. ``total`` equals ``count``: a full scan counts exactly.
    """

    path: str
    ts: np.ndarray
    scores: dict[str, np.ndarray]
    skipped: int = 0
    bad: list[tuple[int, str]] = field(default_factory=list)
    last: Heartbeat | None = None

    @property
    def count(self) -> int:
        return int(self.ts.shape[0])

    @property
    def total(self) -> int:
        return self.count

    @property
    def bad_lines(self) -> list[int]:
        return [line for line, _ in self.bad]

    @property
    def reasons(self) -> list[str]:
        return [reason for _, reason in self.bad]


class _Scan:
    """Accumulates columns, the last record and the malformed lines, in file order."""

    def __init__(self, path: str, token_id: str | None, strict: bool) -> None:
        self.path = path
        self.token_id = token_id
        self.strict = strict
        self.parts: list[np.ndarray] = []   # (k, 5) blocks: ts + the four scores
        self.skipped = 0
        self.bad: list[tuple[int, str]] = []
        self.last: Heartbeat | None = None

    def malformed(self, line: int, reason: str) -> None:
        self.skipped += 1
        if self.strict:
            raise HeartbeatFormatError(reason, self.path, line, reason=reason)
        if len(self.bad) < MAX_REPORTED_BAD_LINES:
            self.bad.append((line, reason))

    def lines(self, lines: list[bytes], first_line: int, torn_candidate: bool) -> None:
        """The exact path: each line through the reader's own ``_parse_line``."""
        rows: list[tuple[float, ...]] = []
        for offset, raw in enumerate(lines):
            rec = _parse_line(raw)
            if isinstance(rec, Heartbeat):
                if self.token_id is None or rec.token_id == self.token_id:
                    rows.append((rec.ts, rec.coherence, rec.continuity, rec.presence,
                                 rec.stress))
                    self.last = rec
            elif rec is not None:
                if torn_candidate and rec.startswith("invalid JSON"):
                    rec = _TORN
                self.malformed(first_line + offset, rec)
        if rows:
            self.parts.append(np.array(rows, dtype=np.float64))

    def batch(self, lines: list[bytes], first_line: int) -> bool:
        """The fast path for whole lines; False if it cannot vouch for every one of them.

        ``map(orjson.loads, lines)`` parses each line on its own, like the reader,
        but without a Python-level loop; any bad or blank line aborts the batch.
        """
        n = len(lines)
        try:
            records = list(map(orjson.loads, lines))
            columns = [np.array(list(map(get, records))) for get in _COLUMNS]
            tokens = list(map(_TOKEN, records))
        except (orjson.JSONDecodeError, KeyError, TypeError):  # bad JSON, a field missing
            return False
        if list(map(_KIND, records)).count("heartbeat") != n:
            return False  # another kind (or a non-string one): judge line by line
        if (any(c.dtype.kind not in "fi" or c.shape != (n,) for c in columns) or "" in tokens
                or not _all_str(tokens) or max(map(len, tokens)) > MAX_TOKEN_ID_LEN):
            return False  # strings/None/objects as values, bad tokens: judge line by line
        numbers = np.stack(columns, axis=1).astype(np.float64, copy=False)
        scores = numbers[:, 1:]
        ok = np.isfinite(numbers[:, 0]) & ((scores >= 0.0) & (scores <= 1.0)).all(axis=1)
        if self.token_id is None and ok.all():  # the common case: take the batch whole
            self.parts.append(numbers)
            self.last = Heartbeat.from_dict(records[-1])
            return True
        if not ok.all():  # out of range: from_dict says why
            for i in np.flatnonzero(~ok).tolist():
                try:
                    Heartbeat.from_dict(records[i])
                except HeartbeatFormatError as exc:
                    self.malformed(first_line + i, exc.reason)
        if self.token_id is not None:
            ok &= np.array([t == self.token_id for t in tokens], dtype=bool)
        kept = np.flatnonzero(ok)
        if kept.size:
            self.parts.append(numbers[kept])
            self.last = Heartbeat.from_dict(records[int(kept[-1])])
        return True

    def result(self) -> HeartbeatColumns:
        matrix = np.concatenate(self.parts) if self.parts else np.empty((0, 5))
        by_column = np.ascontiguousarray(matrix.T)  # contiguous columns: faster statistics
        return HeartbeatColumns(
            path=self.path, ts=by_column[0],
            scores={s: by_column[i + 1] for i, s in enumerate(SCORES)},
            skipped=self.skipped, bad=self.bad, last=self.last)


def _all_str(values: list[Any]) -> bool:
    try:
        "".join(values)
    except TypeError:
        return False
    return True


def _read_chunks(f: IO[bytes], size: int, progress: ProgressCallback | None,
                 ) -> Iterator[tuple[bytes, bool]]:
    """Yield (complete lines joined by newlines, is_unterminated_last_line) per chunk."""
    carry = b""
    done = 0
    while True:
        data = f.read(_CHUNK)
        if not data:
            break
        done += len(data)
        block = carry + data if carry else data
        cut = block.rfind(b"\n")
        if cut < 0:  # a line longer than the chunk: keep reading
            carry = block
            continue
        region, carry = block[:cut], block[cut + 1:]
        yield region, False
        if progress is not None:
            progress(done, size)
    if carry:
        yield carry, True


def scan_heartbeats(path: str | Path, token_id: str | None = None, strict: bool = False, *,
                    progress: ProgressCallback | None = None) -> HeartbeatColumns:
    """Scan the whole log into columns; same acceptance and errors as :func:`read_heartbeats`."""
    p = Path(path)
    f, size = _open_log(p)
    with f, _gc_paused():
        if size == 0 and strict:
            raise HeartbeatFormatError("empty heartbeat log (expected at least one record)", p,
                                       reason="empty file")
        scan = _Scan(str(p), token_id, strict)
        next_line = 1
        for text, torn_candidate in _read_chunks(f, size, progress):
            if torn_candidate:
                scan.lines([text], next_line, True)
                continue
            pos = 0
            while pos <= len(text):  # sub-batches of whole lines, ~_BATCH_BYTES each
                end = text.find(b"\n", pos + _BATCH_BYTES)
                end = len(text) if end < 0 else end
                sub = text[pos:end]
                lines = sub.split(b"\n")
                # numpy would read a JSON boolean score as 1.0: batches with one go line by line
                if b"true" in sub or b"false" in sub or not scan.batch(lines, next_line):
                    scan.lines(lines, next_line, False)
                next_line += len(lines)
                pos = end + 1
        return scan.result()
