"""Columnar full scan of a heartbeat log: the fast path behind ``selfslo replay --count 0``.

Averages and percentiles need the score columns, not ``Heartbeat`` objects,
and building millions of objects costs more than parsing the JSON. So this
scan keeps each line's fields as the tuple ``operator.itemgetter`` returns and
checks types, ranges and kinds for a whole 8 MiB chunk at once (type sets,
numpy comparisons). Rows that fail any bulk check, and lines whose fields are
not all present, are re-examined one by one with :meth:`Heartbeat.from_dict`,
so the scan accepts and rejects exactly the lines ``read_heartbeats`` does and
reports the same line numbers and reasons. The total is counted in the same
single pass.
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

_NAMES = ("ts", "kind", "token_id", *SCORES)
_FIELDS = operator.itemgetter(*_NAMES)
_FLOAT_ONLY = {float}
#: Read size: big enough to amortise the per-chunk numpy calls, small enough
#: that a chunk's parsed rows stay in CPU cache until they become arrays.
_CHUNK = 1 << 20
#: Bytes of whole lines parsed per ``orjson.loads`` call (see :func:`_batch_rows`).
_BATCH_BYTES = 32 << 10


@dataclass
class HeartbeatColumns:
    """Every valid (matching) record of a log as columns, plus the read's diagnostics.

    ``scores[name]`` and ``ts`` are float64 arrays in no particular order (fast
    rows first, then rows that needed the slow path); ``last`` is the last valid
    record *in file order*. ``total`` equals ``count``: a full scan counts exactly.
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


class _Chunk:
    """The lines of one chunk: fast-path rows and everything else, with line numbers."""

    def __init__(self, first_line: int) -> None:
        self.first_line = first_line
        self.rows: list[tuple[Any, ...]] = []
        self.others: list[int] = []          # line numbers that are not fast rows
        self.slow: list[tuple[int, Heartbeat | str]] = []

    def row_lines(self, count: int) -> np.ndarray:
        """Line number of each fast row: the chunk's lines minus the 'others'."""
        lines = np.arange(self.first_line, self.first_line + count + len(self.others))
        if self.others:
            lines = np.delete(lines, np.asarray(self.others) - self.first_line)
        return lines


def _suspects(cols: list[tuple[Any, ...]]) -> np.ndarray | None:
    """Rows whose types or kind the bulk check cannot vouch for (None: all fine)."""
    n = len(cols[0])
    bad = np.zeros(n, dtype=bool)
    found = False
    for i in (0, 3, 4, 5, 6):  # ts and the scores must be floats
        if set(map(type, cols[i])) != _FLOAT_ONLY:
            bad |= np.fromiter((type(v) is not float for v in cols[i]), dtype=bool, count=n)
            found = True
    try:
        kinds_ok = set(cols[1]) == {"heartbeat"}
    except TypeError:  # an unhashable kind
        kinds_ok = False
    if not kinds_ok:
        bad |= np.fromiter((type(k) is not str or k != "heartbeat" for k in cols[1]),
                           dtype=bool, count=n)
        found = True
    toks = cols[2]
    if (set(map(type, toks)) != {str} or min(map(len, toks)) < 1
            or max(map(len, toks)) > MAX_TOKEN_ID_LEN):
        bad |= np.fromiter((type(t) is not str or not 0 < len(t) <= MAX_TOKEN_ID_LEN
                            for t in toks), dtype=bool, count=n)
        found = True
    return bad if found else None


def _float_arrays(cols: list[tuple[Any, ...]]) -> tuple[np.ndarray, np.ndarray] | None:
    """ts and the (n, 4) score matrix, or None if any of them is not a plain number."""
    n = len(cols[0])
    try:
        ts = np.array(cols[0])
        sc = np.array(cols[3:7])
    except (TypeError, ValueError):  # ragged nested values
        return None
    if ts.dtype.kind not in "fi" or sc.dtype.kind not in "fi" or ts.shape != (n,) \
            or sc.shape != (4, n):
        return None  # strings, None, lists, objects: judge row by row
    return ts.astype(np.float64, copy=False), sc.T.astype(np.float64)


def _bulk_arrays(cols: list[tuple[Any, ...]]) -> tuple[np.ndarray, np.ndarray] | None:
    """Whole-chunk check of everything but ranges; None sends the chunk to :func:`_suspects`.

    Only called when the chunk has no JSON booleans (see :func:`_read_chunks`).
    """
    toks = cols[2]
    n = len(toks)
    if cols[1].count("heartbeat") != n or "" in toks:
        return None
    try:
        joined = "".join(toks)  # TypeError if any token is not a string
    except TypeError:
        return None
    if len(joined) > MAX_TOKEN_ID_LEN and max(map(len, toks)) > MAX_TOKEN_ID_LEN:
        return None
    return _float_arrays(cols)


def _read_chunks(f: IO[bytes], size: int, progress: ProgressCallback | None,
                 ) -> Iterator[tuple[bytes, bool, bool]]:
    """Yield (complete lines joined by newlines, is_last, may_hold_literals) per chunk.

    No per-line ``bytes`` objects are made here: the batch parser works on the
    joined text. An unterminated last line comes last, alone. ``may_hold_literals``
    is False when the text contains no ``true``/``false``: then no field can be a
    JSON boolean, which the bulk type check cannot see (numpy turns True into 1.0).
    """
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
        yield region, False, b"true" in region or b"false" in region
        if progress is not None:
            progress(done, size)
    if carry:
        yield carry, True, True


def scan_heartbeats(path: str | Path, token_id: str | None = None, strict: bool = False, *,
                    progress: ProgressCallback | None = None) -> HeartbeatColumns:
    """Scan the whole log into columns; same acceptance and errors as :func:`read_heartbeats`."""
    p = Path(path)
    f, size = _open_log(p)
    with f, _gc_paused():
        if size == 0 and strict:
            raise HeartbeatFormatError("empty heartbeat log (expected at least one record)", p,
                                       reason="empty file")
        return _scan(f, str(p), size, token_id, strict, progress)


def _batch_rows(text: bytes, n: int) -> list[tuple[Any, ...]] | None:
    """Parse ``n`` newline-separated lines with one ``orjson.loads``, when provably per-line.

    The text is parsed as ``[line,\\nline,...]``. If every line is exactly
    ``{...}`` with no other ``{`` and there is no ``[``, no value can span two
    lines (a JSON string cannot contain a raw newline, and a line's closing
    ``}`` can only close its own object), so each element is one line and is
    valid alone exactly when it is valid here. Otherwise (or on any error) the
    caller parses line by line. Returns the field tuples, or None.
    """
    if (text.count(b"{") != n or text.count(b"}\n{") != n - 1 or text[:1] != b"{"
            or text[-1:] != b"}" or b"[" in text):
        return None
    try:
        rows = list(map(_FIELDS, orjson.loads(b"[" + text.replace(b"\n", b",\n") + b"]")))
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return None
    return rows if len(rows) == n else None


def _line_rows(lines: list[bytes], chunk: _Chunk, first_line: int, torn_candidate: bool,
               ) -> list[tuple[Any, ...]]:
    """Parse line by line; lines that are not complete records go to ``chunk.slow``."""
    rows: list[tuple[Any, ...]] = []
    append = rows.append
    loads, fields, decode_error = orjson.loads, _FIELDS, orjson.JSONDecodeError
    others = chunk.others
    lineno = first_line
    for raw in lines:
        try:
            append(fields(loads(raw)))
        except (decode_error, KeyError, TypeError):
            others.append(lineno)
            rec = _parse_line(raw)
            if rec is not None:
                if torn_candidate and isinstance(rec, str) and rec.startswith("invalid JSON"):
                    rec = _TORN
                chunk.slow.append((lineno, rec))
        lineno += 1
    return rows


def _scan(f: IO[bytes], path: str, size: int, token_id: str | None, strict: bool,
          progress: ProgressCallback | None) -> HeartbeatColumns:
    ts_parts: list[np.ndarray] = []
    score_parts: list[np.ndarray] = []
    bad: list[tuple[int, str]] = []
    skipped = 0
    last: tuple[int, Heartbeat] | None = None
    next_line = 1
    for text, torn_candidate, literals in _read_chunks(f, size, progress):
        chunk = _Chunk(next_line)
        rows = chunk.rows
        pos = 0
        while pos <= len(text):  # sub-batches of whole lines, ~_BATCH_BYTES each
            end = text.find(b"\n", pos + _BATCH_BYTES)
            end = len(text) if end < 0 else end
            sub = text[pos:end]
            n = sub.count(b"\n") + 1
            parsed = None if torn_candidate else _batch_rows(sub, n)
            if parsed is None:
                parsed = _line_rows(sub.split(b"\n"), chunk, next_line, torn_candidate)
            rows += parsed
            next_line += n
            pos = end + 1
        # bulk checks on the fast rows; suspects join the slow path with their line numbers
        if rows:
            cols = list(zip(*rows, strict=True))
            arrays = None if literals else _bulk_arrays(cols)
            row_lines: np.ndarray | None = None
            if arrays is None:  # row-by-row type checks; suspects take the slow path
                suspects = _suspects(cols)
                if suspects is not None:
                    row_lines = chunk.row_lines(len(rows))
                    for idx in np.flatnonzero(suspects).tolist():
                        chunk.slow.append((int(row_lines[idx]), _from_row(rows[idx])))
                    keep = ~suspects
                    rows = [r for r, k in zip(rows, keep.tolist(), strict=True) if k]
                    row_lines = row_lines[keep]
                    cols = list(zip(*rows, strict=True)) if rows else []
                arrays = _float_arrays(cols) if rows else None
                if rows and arrays is None:  # unreachable after _suspects; never drop rows
                    row_lines = chunk.row_lines(len(rows)) if row_lines is None else row_lines
                    chunk.slow.extend((int(line), _from_row(row))
                                      for line, row in zip(row_lines.tolist(), rows, strict=True))
                    rows = []
            if rows and arrays is not None:
                ts, sc = arrays
                ok = np.isfinite(ts) & ((sc >= 0.0) & (sc <= 1.0)).all(axis=1)
                if token_id is not None:
                    match = np.array([t == token_id for t in cols[2]], dtype=bool)
                else:
                    match = np.ones(len(rows), dtype=bool)
                if not ok.all():
                    if row_lines is None:
                        row_lines = chunk.row_lines(len(rows))
                    for idx in np.flatnonzero(~ok).tolist():
                        chunk.slow.append((int(row_lines[idx]), _from_row(rows[idx])))
                take = ok & match
                ts_parts.append(ts[take])
                score_parts.append(sc[take])
                hits = np.flatnonzero(take)
                if hits.size:
                    if row_lines is None:
                        row_lines = chunk.row_lines(len(rows))
                    i = int(hits[-1])
                    line = int(row_lines[i])
                    rec = _from_row(rows[i])
                    if isinstance(rec, Heartbeat) and (last is None or line > last[0]):
                        last = (line, rec)
        # slow-path lines: valid ones join the columns, the rest are reported in order
        chunk.slow.sort(key=lambda item: item[0])
        extra_ts: list[float] = []
        extra_sc: list[tuple[float, ...]] = []
        for line, rec in chunk.slow:
            if isinstance(rec, Heartbeat):
                if token_id is None or rec.token_id == token_id:
                    extra_ts.append(rec.ts)
                    extra_sc.append(tuple(getattr(rec, s) for s in SCORES))
                    if last is None or line > last[0]:
                        last = (line, rec)
                continue
            skipped += 1
            if strict:
                raise HeartbeatFormatError(rec, path, line, reason=rec)
            if len(bad) < MAX_REPORTED_BAD_LINES:
                bad.append((line, rec))
        if extra_ts:
            ts_parts.append(np.array(extra_ts, dtype=np.float64))
            score_parts.append(np.array(extra_sc, dtype=np.float64).reshape(-1, 4))
    ts_all = np.concatenate(ts_parts) if ts_parts else np.empty(0)
    sc_all = np.concatenate(score_parts) if score_parts else np.empty((0, 4))
    return HeartbeatColumns(
        path=path, ts=ts_all, scores={s: sc_all[:, i] for i, s in enumerate(SCORES)},
        skipped=skipped, bad=bad, last=None if last is None else last[1])


def _from_row(row: tuple[Any, ...]) -> Heartbeat | str:
    """Judge one row exactly like the per-line reader: a Heartbeat or the reason it is bad."""
    try:
        return Heartbeat.from_dict(dict(zip(_NAMES, row, strict=True)))
    except HeartbeatFormatError as exc:
        return exc.reason
