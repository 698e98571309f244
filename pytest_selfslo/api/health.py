"""``GET /self/health`` without re-reading the heartbeat log on every request.

The heartbeat log only grows (JSON Lines, appended by
:class:`~pytest_selfslo.heartbeat.HeartbeatLog`), and a health endpoint is
polled far more often than it changes. So:

* :class:`HeartbeatTail` remembers how far it has counted (the byte offset
  after the last complete line) and the record count. When the file grows it
  counts the newlines of the new bytes only (a C-speed ``bytes.count``), and
  takes the newest ``window`` heartbeats from
  :func:`~pytest_selfslo.heartbeat.read_heartbeats` with ``last=window``,
  which reads backwards from the end, so neither step depends on the size of
  the log. A file that was replaced (other inode) or shrank (truncated,
  rotated) is counted again from the start, and so is one rewritten in place
  (``copytruncate`` rotation): the 64 bytes before the counted offset are
  remembered and compared. A half-written last line waits for the next refresh.
* :class:`HealthSnapshotter` keeps the rendered JSON body and the ``stat`` keys
  of the two files it depends on (heartbeat log, canary state). A request whose
  keys still match gets the cached bytes; that costs two ``stat`` calls, so
  latency does not grow with the log.

``heartbeat_count`` is the number of non-blank, newline-terminated records in
the log. Records in the window that do not parse as a heartbeat (a corrupt
line, another ``kind``) are left out of the averages and counted in
``window_skipped``.
"""

from __future__ import annotations

import os
import re
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import orjson

from pytest_selfslo._core.errors import HeartbeatFormatError
from pytest_selfslo._core.safeio import NotRegularFileError, open_regular
from pytest_selfslo.heartbeat import read_heartbeats
from pytest_selfslo.heartbeat.logio import DEFAULT_MAX_LINE_BYTES
from pytest_selfslo.slo.spec import SCORE_NAMES, evaluate

if TYPE_CHECKING:
    from pytest_selfslo.canary.store import CanaryStore
    from pytest_selfslo.heartbeat import Heartbeat
    from pytest_selfslo.slo.spec import SLOSpec

__all__ = ["HealthSnapshotter", "HeartbeatTail"]

_CHUNK = 4 * 1024 * 1024
_BACK_BLOCK = 64 * 1024
_MARK = 64
_BLANK_AFTER_NEWLINE = re.compile(rb"\n(?=[ \t\r]*\n)")
_LEADING_BLANK = re.compile(rb"[ \t\r]*\n")


def _count_records(fh: BinaryIO, start: int, end: int) -> int:
    """Non-blank newline-terminated lines in ``[start, end)``.

    Both ends sit on line boundaries: offsets only ever stop after a newline.
    """
    fh.seek(start)
    remaining = end - start
    lines = blanks = 0
    at_line_start = True
    while remaining > 0:
        chunk = fh.read(min(_CHUNK, remaining))
        if not chunk:
            break
        remaining -= len(chunk)
        lines += chunk.count(b"\n")
        blanks += len(_BLANK_AFTER_NEWLINE.findall(chunk))
        if at_line_start and _LEADING_BLANK.match(chunk):
            blanks += 1
        # a blank line split across two chunks is missed by the lookahead: rare and harmless
        at_line_start = chunk.endswith(b"\n")
    return lines - blanks


def _complete_end(fh: BinaryIO, start: int, size: int) -> int:
    """Offset just past the last newline in ``[start, size)``, else ``start`` (a torn line waits)."""
    pos = size
    while pos > start:
        step = min(_BACK_BLOCK, pos - start)
        fh.seek(pos - step)
        idx = fh.read(step).rfind(b"\n")
        if idx >= 0:
            return pos - step + idx + 1
        pos -= step
    return start


def _tail_mark(fh: BinaryIO, offset: int) -> bytes:
    """The (up to) 64 bytes that end at ``offset``: a cheap fingerprint of what we counted."""
    start = max(0, offset - _MARK)
    fh.seek(start)
    return fh.read(offset - start)


class HeartbeatTail:
    """Record count and newest ``window`` heartbeats of a growing JSON Lines log.

    >>> tail = HeartbeatTail("data/identity.jsonl", 50)      # doctest: +SKIP
    >>> tail.refresh(); tail.count, len(tail.heartbeats)     # doctest: +SKIP
    (1250, 50)
    """

    def __init__(self, path: str | Path, window: int,
                 max_line_bytes: int = DEFAULT_MAX_LINE_BYTES) -> None:
        self.path = Path(path)
        self.window = window
        self.max_line_bytes = max_line_bytes
        self._reset(None)

    def _reset(self, key: tuple[int, int] | None) -> None:
        self._key = key
        self._offset = 0
        #: the bytes just before ``_offset``: if they change, the file was rewritten
        self._mark = b""
        self._stamp: tuple[int, int] = (-1, -1)
        #: non-blank newline-terminated records in the log
        self.count = 0
        #: newest valid heartbeats, oldest first (at most ``window``)
        self.heartbeats: list[Heartbeat] = []
        #: malformed records met while reading the window
        self.skipped = 0

    def refresh(self) -> None:
        """Catch up with the file: nothing, the appended bytes, or a full re-count."""
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            self._reset(None)
            return
        key = (st.st_dev, st.st_ino)
        if key != self._key or st.st_size < self._offset:
            self._reset(key)  # replaced, truncated or rotated: count from the start
        elif (st.st_size, st.st_mtime_ns) == self._stamp:
            return
        try:
            fh = open_regular(self.path)  # a FIFO or device would block or never end
        except NotRegularFileError as exc:
            raise HeartbeatFormatError(f"{exc.strerror} (a JSON Lines heartbeat log)", self.path,
                                       reason="not a regular file") from None
        with fh:
            if self._offset and _tail_mark(fh, self._offset) != self._mark:
                self._reset(key)  # rewritten in place (copytruncate, then regrown)
            end = _complete_end(fh, self._offset, st.st_size)
            if end > self._offset:
                self.count += _count_records(fh, self._offset, end)
                self._offset = end
                self._mark = _tail_mark(fh, end)
        self._stamp = (st.st_size, st.st_mtime_ns)
        self._read_window()

    def _read_window(self) -> None:

        try:
            got = read_heartbeats(self.path, last=self.window,
                                  max_line_bytes=self.max_line_bytes)
        except FileNotFoundError:  # pragma: no cover - removed between stat and open
            got = None
        except HeartbeatFormatError as exc:
            if exc.reason == "missing file":  # removed between stat and open
                self._reset(None)
                return
            raise
        self.heartbeats = list(got) if got is not None else []
        self.skipped = got.skipped if got is not None else 0


def _stat_key(path: Path | None) -> tuple[int, int, int, int] | None:
    if path is None:
        return None
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


class HealthSnapshotter:
    """Renders ``/self/health`` and reuses the bytes until a file it reads changes."""

    def __init__(self, heartbeats: str | Path, window: int, spec: SLOSpec,
                 store: CanaryStore, *, enabled: bool,
                 max_line_bytes: int = DEFAULT_MAX_LINE_BYTES) -> None:
        self.tail = HeartbeatTail(heartbeats, window, max_line_bytes)
        self.spec = spec
        self.store = store
        self.enabled = enabled
        self.state_path = store.state_path
        self._lock = threading.Lock()
        # (stat keys, rendered body), replaced as one object so a reader never pairs
        # new keys with an old body
        self._cache: tuple[tuple[Any, Any], bytes] | None = None

    def _keys_now(self) -> tuple[Any, Any]:
        return _stat_key(self.tail.path), _stat_key(self.state_path)

    def cached_body(self) -> bytes | None:
        """The last body if neither file changed since it was rendered, else None."""
        cache = self._cache
        if cache is not None and cache[0] == self._keys_now():
            return cache[1]
        return None

    def refresh_body(self) -> bytes:
        """Catch up with the files and render the body (blocking: run it off the loop)."""
        with self._lock:
            keys = self._keys_now()  # before reading: a change while we read forces a redo
            if self._cache is not None and keys == self._cache[0]:
                return self._cache[1]
            self.tail.refresh()
            body = orjson.dumps(self.snapshot())
            self._cache = (keys, body)
            return body

    def latest_per_token(self) -> dict[str, Heartbeat]:
        """The newest heartbeat of every token in the window (catches up with the log first);
        what ``selfslo serve`` exports on ``/metrics/exp``."""
        with self._lock:
            self.tail.refresh()
            latest: dict[str, Heartbeat] = {}
            for hb in self.tail.heartbeats:  # oldest first: later records win
                latest[hb.token_id] = hb
            return latest

    def snapshot(self) -> dict[str, Any]:
        """The health document from the current tail and canary state."""

        state = self.store.load()
        heartbeats = self.tail.heartbeats
        doc: dict[str, Any] = {
            "enabled": self.enabled,
            "canary_sampling": float(state.sampling),
            "canary_paused": bool(state.paused),
            "heartbeat_count": self.tail.count,
            "window": self.tail.window,
            "window_count": len(heartbeats),
            "window_skipped": self.tail.skipped,
            "last_heartbeat": None,
            "averages": None,
            "slo_status": None,
        }
        if heartbeats:
            last = heartbeats[-1]
            doc["last_heartbeat"] = {
                "kind": last.kind, **{s: float(getattr(last, s)) for s in SCORE_NAMES},
                "token_id": last.token_id, "ts": _unix(last.ts)}
            report = evaluate(self.spec, heartbeats)
            doc["averages"] = dict(report.averages)
            doc["slo_status"] = report.slo_status()
        return doc


def _unix(ts: Any) -> float | None:
    if ts is None:
        return None
    if hasattr(ts, "timestamp"):
        return float(ts.timestamp())
    return float(ts)
