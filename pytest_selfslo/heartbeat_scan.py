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
from itertools import chain
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

_NUMBERS = operator.itemgetter("ts", *SCORES)
_KIND_TOKEN = operator.itemgetter("kind", "token_id")
_TOKEN = operator.itemgetter("token_id")
_KIND = operator.methodcaller("get", "kind", "heartbeat")  # kind may be omitted
_NUMBER_TYPES = {float, int}
#: '"' bytes in a record whose seven fields hold numbers and plain kind/token strings.
_QUOTES = 18
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

    def text(self, text: bytes, first_line: int) -> int:
        """Scan whole lines (``text`` has no final newline); returns how many lines it held.

        Tries, in order: one parse of the whole batch, a parse per line, and the
        exact line-by-line path; each falls through only when it cannot vouch
        for every line.
        """
        records, n = _parse_joined(text)
        if records is not None and self.batch(records, first_line, text):
            return n
        lines = text.split(b"\n")
        try:
            records = list(map(orjson.loads, lines))
        except orjson.JSONDecodeError:  # bad JSON or a blank line: the exact path reports it
            records = None
        if records is None or not self.batch(records, first_line, text):
            self.lines(lines, first_line, False)
        return n

    def batch(self, records: list[Any], first_line: int, text: bytes) -> bool:
        """Validate and keep a batch of parsed lines; False if it cannot vouch for every one.

        Types are checked on the *set* of value types and of (kind, token)
        pairs, which is a handful of entries however big the batch, so the
        per-record work is a few C-level ``map`` passes.
        """
        try:
            flat = list(chain.from_iterable(map(_NUMBERS, records)))
            try:
                pairs = set(map(_KIND_TOKEN, records))
                quotes_known = True
            except KeyError:  # "kind" may be omitted (token_id may not: then it raises again)
                pairs = set(zip(map(_KIND, records), map(_TOKEN, records), strict=True))
                quotes_known = False
            if not all(kind == "heartbeat" and type(tok) is str and 0 < len(tok) <= MAX_TOKEN_ID_LEN
                       for kind, tok in pairs):
                return False  # judge line by line: the reader's own function says why
            # With the seven keys and string kind/token, a record has at least 18 '"'
            # bytes, and exactly 18 only if no number field is a string: one byte
            # count then replaces a type check of every value.
            if not (quotes_known and text.count(b'"') == _QUOTES * len(records)) \
                    and not set(map(type, flat)) <= _NUMBER_TYPES:
                return False
            numbers = np.fromiter(flat, np.float64, len(flat)).reshape(-1, 5)
        except (KeyError, TypeError, ValueError):  # a field missing, not an object, a container
            return False
        # numpy reads true/false as 1.0/0.0; only rows holding such values need a type check
        maybe_bool = np.flatnonzero(((numbers == 0.0) | (numbers == 1.0)).any(axis=1))
        if maybe_bool.size and not _no_bools([flat[5 * i:5 * i + 5] for i in maybe_bool.tolist()]):
            return False
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
            ok &= np.fromiter(map(self.token_id.__eq__, map(_TOKEN, records)), bool,
                              len(records))
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


def _no_bools(rows: list[list[Any]]) -> bool:
    return not any(type(v) is bool for row in rows for v in row)


def _parse_joined(text: bytes) -> tuple[list[Any] | None, int]:
    """Parse all lines of ``text`` with one ``orjson.loads`` of ``[line1\\n,0,line2\\n,0,...]``.

    Returns (one record per line, or None; number of lines). One call instead
    of one per line halves the parse time. It yields exactly what parsing each
    line alone would, or fails: the raw newline of each separator cannot sit
    inside a string (JSON forbids control characters there); ``,0`` is invalid
    inside an object (a key must follow a comma) and in a value position; and
    the text has no ``[``, so no array but ours is open. So every separator
    splits elements of the outer array, and since an empty element is invalid,
    ``2n - 1`` elements mean each line held exactly one value.
    """
    joined = text.replace(b"\n", b"\n,0,")
    n = (len(joined) - len(text)) // 3 + 1
    if b"[" in text:
        return None, n  # a nested array could swallow a separator: per line
    try:
        records = orjson.loads(b"".join((b"[", joined, b"]")))
    except orjson.JSONDecodeError:
        return None, n
    if type(records) is not list or len(records) != 2 * n - 1:
        return None, n
    return records[::2], n


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
            records, n = _parse_joined(text)  # the whole chunk in one go
            if records is not None and scan.batch(records, next_line, text):
                next_line += n
                continue
            pos = 0
            while pos <= len(text):  # sub-batches of whole lines, ~_BATCH_BYTES each
                end = text.find(b"\n", pos + _BATCH_BYTES)
                end = len(text) if end < 0 else end
                next_line += scan.text(text[pos:end], next_line)
                pos = end + 1
        return scan.result()
