"""The heartbeat log on disk: JSON Lines reader (full scan and O(N) tail) and appender.

Import these from :mod:`pytest_selfslo.heartbeat`.

Reading never trusts the file: bad JSON, a record that fails validation and a
torn last line left by a crashed writer are *skipped and reported* (count, first
line numbers, reasons) by default, or raise :class:`HeartbeatFormatError` naming
``path:line`` and the reason with ``strict=True``. Blank lines are ignored.

Reading never trusts the file's shape either: only regular files are opened
(a FIFO or ``/dev/zero`` is refused at once, see :mod:`pytest_selfslo._core.safeio`),
a line longer than ``max_line_bytes`` (default 1 MiB) is malformed and skipped
without being held in memory, runs of blank lines are skipped in bulk, and a
tail read gives up after :data:`MAX_TAIL_BAD_LINES` malformed lines.

Writing appends one whole line per ``write(2)`` on an ``O_APPEND`` descriptor,
which the kernel serialises against other appenders, so several processes can
share one log without interleaving records.
"""

from __future__ import annotations

import contextlib
import gc
import math
import operator
import os
import re
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, Any

import orjson

from pytest_selfslo._core.errors import HeartbeatFormatError
from pytest_selfslo._core.safeio import NotRegularFileError, open_regular
from pytest_selfslo.heartbeat.model import KINDS, MAX_TOKEN_ID_LEN, SCORES, Heartbeat

__all__ = ["DEFAULT_MAX_LINE_BYTES", "MAX_TAIL_BAD_LINES", "HeartbeatLog", "HeartbeatRead",
           "read_heartbeats"]

#: How many bad lines are remembered (line number and reason) per read.
MAX_REPORTED_BAD_LINES = 10
#: Longest line a reader accepts (a heartbeat is ~150 bytes); longer lines are
#: malformed ("line longer than ... bytes") and skipped without being buffered.
DEFAULT_MAX_LINE_BYTES = 1 << 20
#: A tail read that meets this many malformed lines before finding its N
#: records stops with an error instead of reading on (its cost stays bounded).
MAX_TAIL_BAD_LINES = 100_000
_CHUNK = 8 << 20          # full scan: read size
_TAIL_BLOCK = 64 << 10    # tail: first block read backwards (doubles up to _TAIL_MAX_BLOCK)
_TAIL_MAX_BLOCK = 4 << 20
_EXACT_TOTAL_LIMIT = 1 << 20  # tail: below this many unread bytes the total is counted exactly
_WRITE_BATCH = 64 << 10   # extend(): bytes per write(2), always whole lines
_TORN = "torn last line (no trailing newline: a writer was interrupted?)"


def overlong_reason(limit: int) -> str:
    """The reason given for a line longer than ``limit`` bytes (the same in every reader)."""
    return f"line longer than {limit} bytes (the limit; see max_line_bytes)"


def check_max_line_bytes(value: object) -> int:
    """``value`` if it is a valid line-length limit (an integer >= 64), else ValueError."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 64:
        raise ValueError(f"max_line_bytes must be an integer >= 64, got {value!r}")
    return value

ProgressCallback = Callable[[int, int], None]
"""``progress(bytes_done, bytes_total)``, called about every 8 MiB of a full scan."""

_SLOT = Heartbeat.__dict__  # slot descriptors: set fields without __init__
_ts_set = _SLOT["ts"].__set__
_token_set = _SLOT["token_id"].__set__
_kind_set = _SLOT["kind"].__set__
_c_set = _SLOT["coherence"].__set__
_n_set = _SLOT["continuity"].__set__
_p_set = _SLOT["presence"].__set__
_s_set = _SLOT["stress"].__set__
_new = object.__new__
_JSON_POS = re.compile(r": line \d+ column (\d+) \(char \d+\)$")
_FIELDS = operator.itemgetter("ts", "kind", "token_id", *SCORES)
_FLOAT = float
_INF = math.inf


def _parse_line(raw: bytes) -> Heartbeat | str | None:
    """One log line -> a Heartbeat, the reason it is malformed, or None for a blank line.

    The common case (float scores, unix-seconds ``ts``) is checked inline and the
    record built without re-running ``__post_init__``; anything else goes through
    :meth:`Heartbeat.from_dict`, so both paths accept exactly the same records.
    """
    try:
        d = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        if not raw.strip():
            return None
        return "invalid JSON: " + _JSON_POS.sub(r" (at column \1)", str(exc))
    try:
        ts, kind, tok, c, n, p, s = _FIELDS(d)
    except (KeyError, TypeError):
        pass  # not an object, or a field missing (kind may be): let from_dict explain
    else:
        if (type(c) is type(n) is type(p) is type(s) is _FLOAT
                and 0.0 <= c <= 1.0 and 0.0 <= n <= 1.0 and 0.0 <= p <= 1.0 and 0.0 <= s <= 1.0
                and type(ts) is _FLOAT and -_INF < ts < _INF and kind == "heartbeat"
                and type(tok) is str and 0 < len(tok) <= MAX_TOKEN_ID_LEN):
            hb = _new(Heartbeat)
            _ts_set(hb, ts)
            _token_set(hb, tok)
            _kind_set(hb, kind)
            _c_set(hb, c)
            _n_set(hb, n)
            _p_set(hb, p)
            _s_set(hb, s)
            return hb
    try:
        return Heartbeat.from_dict(d)
    except HeartbeatFormatError as exc:
        return exc.reason


assert "heartbeat" in KINDS  # the inline fast path above hard-codes the only kind


class HeartbeatRead(list[Heartbeat]):
    """Heartbeats read from a log, plus what was skipped and how many there are in all.

    * ``skipped`` -- malformed lines among those examined (a tail read examines
      only the end of the file);
    * ``bad_lines`` / ``reasons`` -- line numbers (1-based) and reasons of the
      first :data:`MAX_REPORTED_BAD_LINES` of them, in file order;
    * ``total`` -- valid records (matching ``token_id`` if given) in the whole
      file. A full read counts them exactly in the same pass. A tail read
      counts them exactly when the part of the file before the tail is under
      1 MiB (the malformed lines there are not reported); on bigger files it is
      an estimate from the average size of the valid lines examined
      (``total_exact`` is then ``False``), because counting exactly would cost
      a full scan.
    """

    def __init__(self, items: Iterable[Heartbeat] = (), *, path: str = "", total: int = 0,
                 total_exact: bool = True, skipped: int = 0,
                 bad: Iterable[tuple[int, str]] = (), bad_are_offsets: bool = False,
                 bad_from_end: list[int] | None = None) -> None:
        super().__init__(items)
        self.path = path
        self.total = total
        self.total_exact = total_exact
        self.skipped = skipped
        self._bad = list(bad)
        self._bad_are_offsets = bad_are_offsets
        self.reasons: list[str] = [reason for _, reason in self._bad]
        #: Tail reads only: position of each bad line counted from the end (1 = last
        #: line), known without reading the rest of the file.
        self.bad_from_end = bad_from_end

    @property
    def bad_lines(self) -> list[int]:
        """Line numbers of the first few malformed lines.

        A tail read only knows byte offsets; turning them into line numbers
        counts newlines before them, which happens here, on first access, so a
        clean tail read stays O(N). Use :attr:`bad_from_end` to avoid that cost
        on a huge file.
        """
        if self._bad_are_offsets:
            self._bad = list(zip(_offsets_to_lines(self.path, [o for o, _ in self._bad]),
                                 self.reasons, strict=True))
            self._bad_are_offsets = False
        return [line for line, _ in self._bad]

    def problems(self) -> list[str]:
        """``path:line: reason`` for each remembered malformed line."""
        return [f"{self.path}:{line}: {reason}" for line, reason in zip(self.bad_lines, self.reasons, strict=True)]


def _offsets_to_lines(path: str, offsets: list[int]) -> list[int]:
    if not offsets:
        return []
    wanted = sorted(set(offsets))
    lines: dict[int, int] = {}
    newlines = 0
    pos = 0
    with open_regular(path) as f:  # the file was scanned; never block if it was swapped
        for offset in wanted:
            while pos < offset:
                chunk = f.read(min(_CHUNK, offset - pos))
                if not chunk:
                    break
                newlines += chunk.count(b"\n")
                pos += len(chunk)
            lines[offset] = newlines + 1
    return [lines[o] for o in offsets]


def _open_log(path: Path) -> tuple[IO[bytes], int]:
    """Open for reading, turning OS errors into messages that say what was expected.

    Only a regular file is opened, without blocking (a FIFO, a device or a
    socket is refused: it could block or never end).
    """
    try:
        f = open_regular(path)
    except NotRegularFileError as exc:
        raise HeartbeatFormatError(f"{exc.strerror} (a JSON Lines heartbeat log)", path,
                                   reason="not a regular file") from None
    except FileNotFoundError:
        raise HeartbeatFormatError(
            "no such heartbeat log (expected a JSON Lines file, e.g. data/identity.jsonl)",
            path, reason="missing file") from None
    except IsADirectoryError:
        raise HeartbeatFormatError("is a directory, expected a JSON Lines heartbeat log file",
                                   path, reason="directory") from None
    except PermissionError:
        raise HeartbeatFormatError("permission denied: cannot read the heartbeat log",
                                   path, reason="unreadable") from None
    size = os.fstat(f.fileno()).st_size
    return f, size


def read_heartbeats(path: str | Path, last: int | None = None, token_id: str | None = None,
                    strict: bool = False, *,
                    progress: ProgressCallback | None = None,
                    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
                    max_bad_lines: int = MAX_TAIL_BAD_LINES) -> HeartbeatRead:
    """Read a heartbeat log: everything, or with ``last=N`` only the last N valid records.

    ``last=N`` seeks backwards from the end in growing blocks and stops as soon
    as N valid (and, with ``token_id``, matching) records are found, so its cost
    depends on N and on malformed lines at the end, not on the file size. It
    returns exactly what ``read_heartbeats(path)[-N:]`` would. ``last=0`` reads
    nothing. ``progress`` is only called by full reads.

    A missing file, a directory, an unreadable file or one that is not a
    regular file (a FIFO, a device) raise :class:`HeartbeatFormatError`; an
    empty file is an empty result, or an error with ``strict=True``. A line
    longer than ``max_line_bytes`` is malformed. A tail read that meets
    ``max_bad_lines`` malformed lines before its N records raises
    :class:`HeartbeatFormatError` (blank lines do not count).
    """
    if last is not None and (isinstance(last, bool) or not isinstance(last, int) or last < 0):
        raise ValueError(f"last must be None or an integer >= 0, got {last!r}")
    check_max_line_bytes(max_line_bytes)
    if token_id is not None and (not isinstance(token_id, str) or not token_id):
        raise ValueError(f"token_id must be None or a non-empty string, got {token_id!r}")
    p = Path(path)
    f, size = _open_log(p)
    with f:
        if size == 0 and strict:
            raise HeartbeatFormatError("empty heartbeat log (expected at least one record)", p,
                                       reason="empty file")
        if last is None:
            with _gc_paused():
                return _read_all(f, str(p), size, token_id, strict, progress, max_line_bytes)
        return _read_tail(f, str(p), size, last, token_id, strict, max_line_bytes,
                          max_bad_lines)


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic GC while building many acyclic records.

    Each heartbeat is a fresh container, so a big scan would otherwise trigger
    generation-0/1/2 collections that find nothing to free (~20% of scan time).
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


LINES, OVERLONG, UNTERMINATED = 0, 1, 2


def read_lines(f: IO[bytes], max_line: int, chunk_size: int = _CHUNK,
               ) -> Iterator[tuple[int, list[bytes]]]:
    """The file's lines, chunk by chunk; a line spanning chunks is never held past ``max_line``.

    Yields ``(LINES, lines)`` for the complete lines of a chunk (without their
    newlines; one of them may be longer than ``max_line`` if it fits in the
    chunk: the caller checks), ``(OVERLONG, [])`` once per line over
    ``max_line`` bytes that spans chunks, at its place in the file (it is
    skipped unread), and finally
    ``(UNTERMINATED, [rest])`` for an unterminated last line. A line spanning
    chunks is collected as a list of parts and joined once (never ``carry +=
    data``, which is quadratic in the line's length).
    """
    parts: list[bytes] = []
    held = 0
    skipping = False
    while True:
        chunk = f.read(chunk_size)
        if not chunk:
            break
        start = 0
        if skipping:
            newline = chunk.find(b"\n")
            if newline < 0:
                continue
            skipping = False
            start = newline + 1
            if start == len(chunk):
                continue
        cut = chunk.rfind(b"\n", start)
        if cut < 0:  # no line ends in this chunk
            parts.append(chunk[start:] if start else chunk)
            held += len(chunk) - start
            if held > max_line:
                yield OVERLONG, []
                parts, held, skipping = [], 0, True
            continue
        if parts:
            first = chunk.find(b"\n", start)
            if held + first - start > max_line:
                yield OVERLONG, []
            else:
                parts.append(chunk[start:first])
                yield LINES, [b"".join(parts)]
            parts, held, start = [], 0, first + 1
        if cut >= start:
            yield LINES, chunk[start:cut].split(b"\n")
        if cut + 1 < len(chunk):
            parts, held = [chunk[cut + 1:]], len(chunk) - cut - 1
            if held > max_line:
                yield OVERLONG, []
                parts, held, skipping = [], 0, True
    if parts:
        yield UNTERMINATED, [b"".join(parts)]


def _read_all(f: IO[bytes], path: str, size: int, token_id: str | None, strict: bool,
              progress: ProgressCallback | None, max_line: int) -> HeartbeatRead:
    out: list[Heartbeat] = []
    append = out.append
    bad: list[tuple[int, str]] = []
    skipped = 0
    lineno = 0
    parse = _parse_line

    def malformed(reason: str) -> None:
        nonlocal skipped
        skipped += 1
        if strict:
            raise HeartbeatFormatError(reason, path, lineno, reason=reason)
        if len(bad) < MAX_REPORTED_BAD_LINES:
            bad.append((lineno, reason))

    for kind, lines in read_lines(f, max_line):
        if kind != LINES:
            lineno += 1
            if kind == OVERLONG:
                malformed(overlong_reason(max_line))
                continue
            # unterminated last line: accepted if complete, reported as torn otherwise
            rec = parse(lines[0])
            if isinstance(rec, Heartbeat):
                if token_id is None or rec.token_id == token_id:
                    out.append(rec)
            elif rec is not None:
                malformed(_TORN if rec.startswith("invalid JSON") else rec)
            continue
        long_lines = max_line < _CHUNK and max(map(len, lines)) > max_line
        for raw in lines:
            lineno += 1
            if not raw:
                continue
            if long_lines and len(raw) > max_line:
                malformed(overlong_reason(max_line))
                continue
            rec = parse(raw)
            if type(rec) is Heartbeat:
                if token_id is None or rec.token_id == token_id:
                    append(rec)
            elif rec is not None:
                malformed(str(rec))
        if progress is not None:
            progress(f.tell(), size)
    return HeartbeatRead(out, path=path, total=len(out), skipped=skipped, bad=bad)


def _space_run_start(buf: bytes, stop: int) -> int:
    """Start of the run of ASCII whitespace that ends at ``buf[stop]`` (exclusive).

    Looks at windows doubling from 64 bytes, so the cost is linear in the
    run's length, whatever the size of ``buf``.
    """
    lo, width = stop, 64
    while lo > 0:
        cand = max(0, lo - width)
        kept = len(buf[cand:lo].rstrip())
        if kept:
            return cand + kept
        lo, width = cand, width * 2
    return 0


def _line_start(f: IO[bytes], pos: int) -> int:
    """Offset just after the last newline before ``pos`` (0 if none): where the line
    that ends at ``pos`` begins, found without keeping its bytes."""
    while pos > 0:
        step = min(_TAIL_MAX_BLOCK, pos)
        pos -= step
        f.seek(pos)
        newline = f.read(step).rfind(b"\n")
        if newline >= 0:
            return pos + newline + 1
    return 0


def _read_tail(f: IO[bytes], path: str, size: int, n: int, token_id: str | None,
               strict: bool, max_line: int, max_bad: int) -> HeartbeatRead:
    found: list[Heartbeat] = []            # newest first
    bad: deque[tuple[int, str, int]] = deque(maxlen=MAX_REPORTED_BAD_LINES)  # earliest kept
    skipped = 0
    from_end = 0        # lines examined so far; the file's last line is 1
    pos = size          # file offset of buf[0]
    buf = b""
    end = 0             # buf[:end] is not processed yet
    block = _TAIL_BLOCK
    unterminated = False
    started = False
    reached_start = size == 0
    valid_lines = valid_bytes = 0  # for the total's estimate

    def malformed(offset: int, reason: str) -> None:
        nonlocal skipped
        skipped += 1
        if strict:
            line = _offsets_to_lines(path, [offset])[0]
            raise HeartbeatFormatError(reason, path, line, reason=reason)
        bad.append((offset, reason, from_end))
        if skipped >= max_bad:
            raise HeartbeatFormatError(
                f"gave up after {skipped} malformed lines at the end of the log without "
                f"finding {n} valid heartbeats (limit max_bad_lines={max_bad})", path,
                reason="too many malformed lines")

    while len(found) < n and not reached_start:
        i = buf.rfind(b"\n", 0, end)
        if i < 0 and pos > 0:  # the line's start is not in buf yet
            if end > max_line:  # already too long: find where it starts without keeping it
                start = _line_start(f, pos)
                from_end += 1
                malformed(start, overlong_reason(max_line))
                unterminated = False
                if start == 0:
                    reached_start = True
                pos, buf, end = max(start - 1, 0), b"", 0
                continue
            step = min(block, pos)  # read the previous block
            pos -= step
            f.seek(pos)
            buf = f.read(step) + buf[:end]
            end = len(buf)
            block = min(block * 2, _TAIL_MAX_BLOCK)
            if not started:
                started = True
                if buf.endswith(b"\n"):
                    end -= 1            # the empty "line" after the final newline
                else:
                    unterminated = True
            continue
        from_end += 1
        if end - i - 1 > max_line:
            malformed(pos + i + 1, overlong_reason(max_line))
        else:
            rec = _parse_line(buf[i + 1:end])
            if isinstance(rec, Heartbeat):
                valid_lines += 1
                valid_bytes += end - i
                if token_id is None or rec.token_id == token_id:
                    found.append(rec)
            elif rec is None:  # blank: skip the blank lines just before it in one go
                if i > 0:
                    run = _space_run_start(buf, i)
                    blanks = buf.count(b"\n", run, i)
                    if blanks:
                        from_end += blanks
                        i = buf.find(b"\n", run, i)
            else:
                malformed(pos + i + 1, _TORN if unterminated and rec.startswith("invalid JSON")
                          else rec)
        unterminated = False
        if i < 0:
            reached_start = True
        end = max(i, 0)
    found.reverse()
    if reached_start:
        total, exact = len(found), True
    elif pos + end <= _EXACT_TOTAL_LIMIT:  # small file: counting the rest costs little
        f.seek(0)
        prefix = f.read(pos) + buf[:end]
        rest = 0
        for raw in prefix.split(b"\n"):
            if not raw or len(raw) > max_line:
                continue
            rec = _parse_line(raw)
            if isinstance(rec, Heartbeat) and (token_id is None or rec.token_id == token_id):
                rest += 1
        total, exact = len(found) + rest, True
    elif valid_lines:  # assume the unread part looks like the valid lines we saw
        per_line = valid_bytes / valid_lines
        matching = len(found) / valid_lines
        total, exact = len(found) + round((pos + end) / per_line * matching), False
    else:
        total, exact = 0, False
    kept = list(reversed(bad))
    return HeartbeatRead(found, path=path, total=total, total_exact=exact, skipped=skipped,
                         bad=[(offset, reason) for offset, reason, _ in kept],
                         bad_are_offsets=True, bad_from_end=[k for _, _, k in kept])


class HeartbeatLog:
    """Append-only writer: one whole JSON line per ``write(2)`` on an ``O_APPEND`` descriptor.

    >>> with HeartbeatLog("data/identity.jsonl") as log:      # doctest: +SKIP
    ...     log.append(hb)

    Safe with several writer processes: the kernel appends each write as a unit.
    If the file ends in a torn line (a writer crashed mid-record), the first
    write first terminates it, so the new record is not glued onto the garbage.
    ``fsync=True`` makes every append durable before it returns (slow; use for
    audit-grade logs). Parent directories are created on first write.
    """

    def __init__(self, path: str | Path, fsync: bool = False) -> None:
        self.path = Path(path)
        self.fsync = fsync
        self._fd: int | None = None
        self._lock = threading.Lock()  # only guards the lazy open; writes need no lock

    def _open(self) -> int:
        if self._fd is not None:
            return self._fd
        with self._lock:
            if self._fd is not None:
                return self._fd
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
            try:
                size = os.fstat(fd).st_size
                if size and os.pread(fd, 1, size - 1) != b"\n":
                    self._write_all(fd, b"\n")
            except OSError:
                os.close(fd)
                raise
            self._fd = fd
            return fd

    def _write_all(self, fd: int, data: bytes) -> None:
        written = os.write(fd, data)
        if written != len(data):
            raise OSError(f"{self.path}: short write ({written} of {len(data)} bytes; disk full?)"
                          " -- the last record is torn and will be skipped by readers")
        if self.fsync:
            os.fsync(fd)

    @staticmethod
    def _encode(hb: Heartbeat) -> bytes:
        if not isinstance(hb, Heartbeat):
            raise TypeError(f"HeartbeatLog accepts Heartbeat records, got {type(hb).__name__}")
        return orjson.dumps(hb.to_dict()) + b"\n"

    def append(self, hb: Heartbeat) -> None:
        """Append one record as one line."""
        self._write_all(self._open(), self._encode(hb))

    def extend(self, heartbeats: Iterable[Heartbeat]) -> int:
        """Append many records (batched, never splitting a line); returns how many."""
        fd = self._open()
        batch: list[bytes] = []
        size = count = 0
        for hb in heartbeats:
            line = self._encode(hb)
            batch.append(line)
            size += len(line)
            count += 1
            if size >= _WRITE_BATCH:
                self._write_all(fd, b"".join(batch))
                batch, size = [], 0
        if batch:
            self._write_all(fd, b"".join(batch))
        return count

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> HeartbeatLog:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        self.close()
