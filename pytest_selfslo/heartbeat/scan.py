"""Columnar full scan of a heartbeat log: the fast path behind ``selfslo replay --count 0``.

Averages and percentiles need the score columns, not ``Heartbeat`` objects,
and building millions of objects costs more than parsing the JSON. So the scan
reads 128 KiB of whole lines at a time and parses them with *one*
``orjson.loads`` (see :func:`_parse_joined` for why that is exactly the same
as parsing each line alone), then turns the records straight into a numpy
matrix, checking types, kinds, tokens and ranges for the whole batch at once
(see :func:`_numbers`). A batch that a bulk check cannot vouch for is retried
in 64 KiB then 4 KiB sub-batches, then per line with ``map(orjson.loads, lines)``, and
finally line by line with the very function
:func:`~pytest_selfslo.heartbeat.read_heartbeats` uses; a record that fails
the range check is judged by :meth:`Heartbeat.from_dict`. So the scan accepts
and rejects exactly the lines the reader does, with the same line numbers and
reasons. The total is counted in the same single pass over the file.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path
from typing import IO, Any

import numpy as np
import orjson

from pytest_selfslo._core.errors import HeartbeatFormatError
from pytest_selfslo.heartbeat.logio import (
    _TORN,
    DEFAULT_MAX_LINE_BYTES,
    MAX_REPORTED_BAD_LINES,
    ProgressCallback,
    _gc_paused,
    _open_log,
    _parse_line,
    check_max_line_bytes,
    overlong_reason,
)
from pytest_selfslo.heartbeat.model import MAX_TOKEN_ID_LEN, SCORES, Heartbeat, parse_timestamp

__all__ = ["HeartbeatColumns", "scan_heartbeats"]

_NUMBERS = operator.itemgetter("ts", *SCORES)
_SCORES = operator.itemgetter(*SCORES)
_TS = operator.itemgetter("ts")
_KIND_STRICT = operator.itemgetter("kind")
_HEARTBEAT = {"heartbeat"}
_TOKEN = operator.itemgetter("token_id")
_KIND = operator.methodcaller("get", "kind", "heartbeat")  # kind may be omitted
_NUMBER_TYPES = {float, int}
#: '"' bytes in a record whose seven fields hold numbers and plain kind/token strings.
_QUOTES = 18
#: Bad-JSON skips per parse call before falling back to sub-batches (each copies the rest).
_MAX_SKIPS = 8
_Span = tuple[int, int, int]
#: a run of blank (empty or whitespace-only) lines, in lines joined by newlines
_BLANK_RUN = re.compile(rb"(?m)^[ \t\r\x0b\x0c]*(?:\n[ \t\r\x0b\x0c]*)*$")
#: Read size, and so the lines parsed in one call. Clean logs scan as fast with
#: 128 KiB as with 1 MiB; a bad line wastes less of a smaller chunk.
_CHUNK = 128 << 10
#: Sub-batch size after a chunk failed (then 1/16 of it after a sub-batch failed).
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

    def lines(self, lines: list[bytes], first_line: int, torn_candidate: bool,
              max_line: int = DEFAULT_MAX_LINE_BYTES) -> None:
        """The exact path: each line through the reader's own ``_parse_line``."""
        rows: list[tuple[float, ...]] = []
        for offset, raw in enumerate(lines):
            if not raw:  # blank (the common blank): no parse needed
                continue
            if len(raw) > max_line:
                self.malformed(first_line + offset, overlong_reason(max_line))
                continue
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

    def text(self, wrapped: bytes, first_line: int, level: int = 0) -> int:
        """Scan ``b"[" + whole lines + b"]"``; returns how many lines it held.

        Tries one parse of all the lines. When it fails on bad JSON, the lines
        before the error are parsed whole again, the one or two lines where
        the parser stopped go through the exact path, and the rest is retried
        (up to :data:`_MAX_SKIPS` times). Otherwise, or after that, the lines
        are retried in sub-batches of ~:data:`_BATCH_BYTES`, then of 1/16 of
        that; then with a parse per line; then on the exact line-by-line path
        that names each bad line.
        """
        done = 0
        for _ in range(_MAX_SKIPS):
            records, n, error = _parse_joined(wrapped)
            if records is not None and self.batch(records, first_line, wrapped):
                return done + n
            if error is None or not wrapped.isascii():  # the error offset counts bytes
                break
            start, end, first = error
            exact = wrapped[start + 1:end].split(b"\n")
            if not all(map(bytes.strip, exact)):  # a blank line: there are often many
                return done + self._without_blanks(wrapped, first_line, level)
            if first:  # lines [0, first) parse alone: keep them on the fast path
                self.text(b"".join((b"[", memoryview(wrapped)[1:start], b"]")), first_line, level)
            self.lines(exact, first_line + first, False)
            lines_done = first + len(exact)
            done += lines_done
            first_line += lines_done
            if end >= len(wrapped) - 1:
                return done
            wrapped = b"".join((b"[", memoryview(wrapped)[end + 1:-1], b"]"))
        return done + self._retry(wrapped, first_line, level)

    def _without_blanks(self, wrapped: bytes, first_line: int, level: int) -> int:
        """:meth:`text` for lines with blank ones among them: each run of blank lines is
        skipped in one step (a regex match), the lines between go back to :meth:`text`."""
        content = wrapped[1:-1]
        line = first_line
        pos = 0
        while pos <= len(content) and (match := _BLANK_RUN.search(content, pos)) is not None:
            run_start, run_end = match.span()
            if run_start > pos:  # the non-blank lines before the run (and their last newline)
                line += self.text(b"".join((b"[", content[pos:run_start - 1], b"]")), line,
                                  level)
            line += content.count(b"\n", run_start, run_end) + 1
            pos = run_end + 1
        if pos < len(content):  # non-blank lines after the last run
            line += self.text(b"".join((b"[", content[pos:], b"]")), line, level)
        return line - first_line

    def _retry(self, wrapped: bytes, first_line: int, level: int) -> int:
        """The slower paths of :meth:`text` for lines one parse could not vouch for."""
        n = wrapped.count(b"\n") + 1
        size = _BATCH_BYTES >> (4 * level)
        end = len(wrapped) - 1
        if level < 2 and n > 1 and end > size:
            view = memoryview(wrapped)
            pos = 1
            while pos <= end:
                cut = wrapped.find(b"\n", pos + size, end)
                cut = end if cut < 0 else cut
                first_line += self.text(b"".join((b"[", view[pos:cut], b"]")), first_line,
                                        level + 1)
                pos = cut + 1
            return n
        lines = wrapped[1:-1].split(b"\n")
        try:
            records = list(map(orjson.loads, lines))
        except orjson.JSONDecodeError:  # bad JSON or a blank line: the exact path reports it
            records = None
        if records is None or not self.batch(records, first_line, wrapped):
            self.lines(lines, first_line, False)
        return n

    def batch(self, records: list[Any], first_line: int, text: bytes) -> bool:
        """Validate and keep a batch of parsed lines; False if it cannot vouch for every one.

        Returning False happens before any side effect, so the caller can
        retry the batch on a slower, exact path.
        """
        numbers = _numbers(records, text)
        if numbers is None:
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
        # one copy that also transposes: contiguous columns make the statistics faster
        by_column = (np.concatenate([part.T for part in self.parts], axis=1) if self.parts
                     else np.empty((5, 0)))
        return HeartbeatColumns(
            path=self.path, ts=by_column[0],
            scores={s: by_column[i + 1] for i, s in enumerate(SCORES)},
            skipped=self.skipped, bad=self.bad, last=self.last)


def _numbers(records: list[Any], text: bytes) -> np.ndarray | None:
    """The (n, 5) matrix ts + four scores, if every record has heartbeat types; else None.

    Types are checked on the *sets* of kinds and tokens, a handful of
    entries however big the batch, and -- when the quote count allows it --
    not per value at all, so the per-record work is a few C-level passes.
    Range and finiteness are left to the caller (numpy, vectorised).
    """
    n = len(records)
    try:
        try:
            kinds = set(map(_KIND_STRICT, records))
            quotes_known = True
        except KeyError:  # "kind" may be omitted
            kinds = set(map(_KIND, records))
            quotes_known = False
        if kinds != _HEARTBEAT or not all(type(tok) is str and 0 < len(tok) <= MAX_TOKEN_ID_LEN
                                          for tok in set(map(_TOKEN, records))):
            return None  # judge line by line: the reader's own function says why
        values: Iterator[Any] = chain.from_iterable(map(_NUMBERS, records))
        # With the seven keys and string kind/token, a record has at least 18 '"'
        # bytes, and exactly 18 only if no number field is a string: one byte
        # count then replaces a type check of every value.
        if not (quotes_known and text.count(b'"') == _QUOTES * n):
            flat = list(values)
            types = set(map(type, flat))
            if str in types and types <= _NUMBER_TYPES | {str}:
                return _with_text_times(records)  # RFC 3339 ts (a string score fails there)
            if not types <= _NUMBER_TYPES:  # None, bool, containers
                return None
            values = iter(flat)
        numbers = np.fromiter(values, np.float64, 5 * n).reshape(n, 5)
    except (KeyError, TypeError, ValueError, AttributeError):  # a field missing, not an object
        return None
    # numpy reads true/false as 1.0/0.0; only rows holding such values need a type check
    maybe_bool = np.flatnonzero(((numbers == 0.0) | (numbers == 1.0)).any(axis=1))
    if any(type(v) is bool for i in maybe_bool.tolist() for v in _NUMBERS(records[i])):
        return None
    return numbers


def _with_text_times(records: list[Any]) -> np.ndarray | None:
    """:func:`_numbers` for records whose ``ts`` may be RFC 3339 text; scores must be numbers."""
    n = len(records)
    scores = list(chain.from_iterable(map(_SCORES, records)))
    if not set(map(type, scores)) <= _NUMBER_TYPES:
        return None
    times = list(map(_TS, records))
    ts = _canonical_times(times)
    if ts is None:
        try:
            ts = np.array(list(map(parse_timestamp, times)), dtype=np.float64)
        except ValueError:  # the exact path reports it
            return None
    numbers = np.empty((n, 5))
    numbers[:, 0] = ts
    numbers[:, 1:] = np.fromiter(scores, np.float64, 4 * n).reshape(n, 4)
    return numbers


#: Character positions of ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (what the writer's
#: ``rfc3339=True`` produces) that must be digits, and the fixed separators.
_DIGITS = [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18, 20, 21, 22, 23, 24, 25]
_SEPARATORS = np.frombuffer(b"----------T--:--:--.------Z", np.uint8)
_SEPARATOR_AT = [4, 7, 10, 13, 16, 19, 26]


def _canonical_times(times: list[Any]) -> np.ndarray | None:
    """Unix seconds of canonical RFC 3339 UTC texts, vectorised, or None if any is not one.

    Gives bit for bit what :func:`~pytest_selfslo.heartbeat.model.parse_timestamp`
    gives (same operations in the same order: whole seconds, +1 for a leap
    second, + the fraction); anything unusual (offsets, other fraction
    lengths, lowercase, impossible dates) is left to that function.
    """
    if set(map(type, times)) != {str} or set(map(len, times)) != {27}:
        return None
    try:
        raw = "".join(times).encode("ascii")
    except UnicodeEncodeError:
        return None
    chars = np.frombuffer(raw, np.uint8).reshape(-1, 27)
    if not (chars[:, _SEPARATOR_AT] == _SEPARATORS[_SEPARATOR_AT]).all():
        return None
    d = chars[:, _DIGITS].astype(np.int64) - 48
    if ((d < 0) | (d > 9)).any():
        return None
    year = d[:, 0] * 1000 + d[:, 1] * 100 + d[:, 2] * 10 + d[:, 3]
    month, day = d[:, 4] * 10 + d[:, 5], d[:, 6] * 10 + d[:, 7]
    hour, minute = d[:, 8] * 10 + d[:, 9], d[:, 10] * 10 + d[:, 11]
    second = d[:, 12] * 10 + d[:, 13]
    micros = d[:, 14:20] @ np.array([100000, 10000, 1000, 100, 10, 1], dtype=np.int64)
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    month_days = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])
    if ((year < 1) | (month < 1) | (month > 12) | (day < 1) | (hour > 23) | (minute > 59)
            | (second > 60)).any():
        return None
    if (day > month_days[month] + (leap & (month == 2))).any():
        return None
    # days since 1970-01-01 (H. Hinnant's days_from_civil)
    y = year - (month <= 2)
    era = np.floor_divide(y, 400)
    yoe = y - era * 400
    doy = (153 * (month + np.where(month > 2, -3, 9)) + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    days = era * 146097 + doe - 719468
    whole = days * 86400 + hour * 3600 + minute * 60 + np.minimum(second, 59)
    seconds = whole.astype(np.float64) + (second == 60)
    result: np.ndarray = seconds + micros / 1e6  # as float(f"0.{frac}"): both correctly rounded
    return result


def _parse_joined(wrapped: bytes) -> tuple[list[Any] | None, int, _Span | None]:
    """Parse ``[line1\\nline2...]`` as ``[line1\\n,0,line2\\n,0,...]`` with one ``orjson.loads``.

    Returns (one record per line, or None; number of lines; where bad JSON
    stopped the parser, see :func:`_error_span`). One call instead
    of one per line halves the parse time. It yields exactly what parsing each
    line alone would, or fails: the raw newline of each separator cannot sit
    inside a string (JSON forbids control characters there); ``,0`` is invalid
    inside an object (a key must follow a comma) and in a value position; and
    the lines hold no ``[``, so no array but ours is open. So every separator
    splits elements of the outer array, and since an empty element is invalid,
    ``2n - 1`` elements mean each line held exactly one value.
    """
    if wrapped.find(b"[", 1) >= 0:  # a nested array could swallow a separator: per line
        return None, wrapped.count(b"\n") + 1, None
    joined = wrapped.replace(b"\n", b"\n,0,")
    n = (len(joined) - len(wrapped)) // 3 + 1
    try:
        records = orjson.loads(joined)
    except orjson.JSONDecodeError as exc:
        return None, n, _error_span(joined, len(wrapped), exc.pos, exc.lineno)
    if type(records) is not list or len(records) != 2 * n - 1:
        return None, n, None
    return records[::2], n, None


def _error_span(joined: bytes, size: int, pos: int, lineno: int) -> _Span:
    """Where the parse of ``joined`` (``wrapped`` with separators) stopped, in ``wrapped``.

    The error is on line ``k = lineno - 1`` (counting from 0): the separator
    that starts a line sits on the same text line, so the first bad line is
    ``k`` or ``k - 1`` (an unclosed value only fails at the next separator);
    every line before ``k - 1`` parses alone. Returns (offset of the newline
    ending line ``k - 2``, or 0; offset of the newline ending line ``k``, or
    ``size - 1``; ``first = max(k - 1, 0)``). A line ending at newline ``i``
    (counting from 0) has ``3 * i`` separator bytes before it, which maps
    offsets back. ``pos`` counts characters, so only ASCII text may use this.
    """
    k = lineno - 1
    first = max(k - 1, 0)
    start = 0
    if first:
        newline = joined.rfind(b"\n", 0, pos)            # ends line k - 1
        start = joined.rfind(b"\n", 0, newline) - 3 * (k - 2)  # ends line k - 2
    end = joined.find(b"\n", pos)
    return start, (size - 1 if end < 0 else end - 3 * k), first


_TEXT, _OVERLONG, _UNTERMINATED = 0, 1, 2


def _read_chunks(f: IO[bytes], size: int, progress: ProgressCallback | None, max_line: int,
                 ) -> Iterator[tuple[int, bytes]]:
    """Yield ``(_TEXT, b"[" + complete lines + b"]")`` per chunk, ``(_OVERLONG, b"")`` at
    the place of each line longer than ``max_line`` (skipped unread), then
    ``(_UNTERMINATED, last line)`` if the file does not end with a newline.

    Each byte is copied once after the read; a line spanning chunks is kept as
    a list of parts (joined into the next text), never grown by ``+=``.
    """
    parts: list[bytes] = []
    held = 0
    skipping = False
    done = 0
    while True:
        data = f.read(_CHUNK)
        if not data:
            break
        done += len(data)
        start = 0
        if skipping:  # inside a line over the limit: drop bytes up to its end
            newline = data.find(b"\n")
            if newline < 0:
                continue
            skipping = False
            start = newline + 1
        cut = data.rfind(b"\n", start)
        if cut < 0:  # a line longer than the chunk: keep reading
            if start < len(data):
                parts.append(data[start:])
                held += len(data) - start
            if held > max_line:
                yield _OVERLONG, b""
                parts, held, skipping = [], 0, True
            continue
        if parts and held + data.find(b"\n") > max_line:
            yield _OVERLONG, b""
            parts, held, start = [], 0, data.find(b"\n") + 1
        if parts or start <= cut:
            yield _TEXT, b"".join((b"[", *parts, memoryview(data)[start:cut], b"]"))
        parts, held = [], 0
        if cut + 1 < len(data):
            parts, held = [data[cut + 1:]], len(data) - cut - 1
            if held > max_line:
                yield _OVERLONG, b""
                parts, held, skipping = [], 0, True
        if progress is not None:
            progress(done, size)
    if parts:
        yield _UNTERMINATED, b"".join(parts)


def _longest_line(text: bytes) -> int:
    """Length of the longest line in ``b"[" + lines + b"]"``."""
    newlines = np.flatnonzero(np.frombuffer(text, np.uint8) == 10)
    bounds = np.concatenate(([0], newlines, [len(text) - 1]))
    return int(np.diff(bounds).max()) - 1


def scan_heartbeats(path: str | Path, token_id: str | None = None, strict: bool = False, *,
                    progress: ProgressCallback | None = None,
                    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES) -> HeartbeatColumns:
    """Scan the whole log into columns; same acceptance and errors as :func:`read_heartbeats`
    (lines longer than ``max_line_bytes`` are malformed)."""
    max_line = check_max_line_bytes(max_line_bytes)
    p = Path(path)
    f, size = _open_log(p)
    with f, _gc_paused():
        if size == 0 and strict:
            raise HeartbeatFormatError("empty heartbeat log (expected at least one record)", p,
                                       reason="empty file")
        scan = _Scan(str(p), token_id, strict)
        next_line = 1
        for kind, text in _read_chunks(f, size, progress, max_line):
            if kind == _TEXT:
                if max_line < _CHUNK and len(text) - 2 > max_line and \
                        _longest_line(text) > max_line:  # only with a limit below the chunk size
                    lines = text[1:-1].split(b"\n")
                    scan.lines(lines, next_line, False, max_line)
                    next_line += len(lines)
                else:
                    next_line += scan.text(text, next_line)
            elif kind == _OVERLONG:
                scan.malformed(next_line, overlong_reason(max_line))
                next_line += 1
            else:
                scan.lines([text], next_line, True, max_line)
        return scan.result()
