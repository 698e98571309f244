"""Over-long lines, blank runs and special files: every reader agrees (issue 21, item 7).

The full read, the columnar scan and the tail read must accept, reject and
number exactly the same lines whatever the line-length limit, the chunk and
block sizes, and the runs of blank lines; a tail read skips a blank run in
one step and gives up after too many malformed lines.
"""

from __future__ import annotations

import os
from pathlib import Path
from unittest import mock

import orjson
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from pytest_selfslo._core.errors import HeartbeatFormatError
from pytest_selfslo.heartbeat import logio as heartbeat_io, scan as heartbeat_scan
from pytest_selfslo.heartbeat.logio import read_heartbeats, read_lines
from pytest_selfslo.heartbeat.scan import scan_heartbeats

HB = orjson.dumps({"ts": 1700000000.0, "kind": "heartbeat", "token_id": "a", "coherence": 0.9,
                   "continuity": 0.95, "presence": 0.9, "stress": 0.1})
PIECES = [HB, HB.replace(b'"a"', b'"b"'), b"", b"  ", b"\t", b"\r", b"x", b'{"a":1}',
          HB.replace(b"0.9", b"1.9", 1), b"y" * 100, b"z" * 5000, HB + b" " * 200, b"\xff\xfe"]


@settings(max_examples=200, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(lines=st.lists(st.sampled_from(PIECES), max_size=60), final_newline=st.booleans(),
       max_line=st.sampled_from([64, 100, 300, 1 << 20]),
       chunk=st.sampled_from([64, 4096, 128 << 10]), block=st.sampled_from([7, 64, 65536]),
       n=st.integers(min_value=1, max_value=70))
def test_full_read_scan_and_tail_agree(tmp_path: Path, lines: list[bytes], final_newline: bool,
                                       max_line: int, chunk: int, block: int, n: int) -> None:
    path = tmp_path / "log.jsonl"
    path.write_bytes(b"\n".join(lines) + (b"\n" if final_newline and lines else b""))
    full = read_heartbeats(path, max_line_bytes=max_line)
    with mock.patch.object(heartbeat_scan, "_CHUNK", chunk):
        cols = scan_heartbeats(path, max_line_bytes=max_line)
    assert cols.count == len(full) and cols.skipped == full.skipped
    assert cols.bad == list(zip(full.bad_lines, full.reasons, strict=True))
    assert cols.ts.tolist() == [hb.ts for hb in full]
    with mock.patch.object(heartbeat_io, "_TAIL_BLOCK", block), \
            mock.patch.object(heartbeat_io, "_TAIL_MAX_BLOCK", max(block, 64)):
        tail = read_heartbeats(path, last=n, max_line_bytes=max_line)
    assert list(tail) == list(full)[-n:]
    full_bad = dict(zip(full.bad_lines, full.reasons, strict=True))
    if len(full_bad) == full.skipped:  # every bad line is remembered: compare them one by one
        for line, reason in zip(tail.bad_lines, tail.reasons, strict=True):
            assert full_bad[line] == reason


@pytest.mark.parametrize("chunk", [1, 3, 8])
def test_read_lines_never_holds_an_overlong_line(chunk: int) -> None:
    """A line spanning chunks is dropped once it passes the limit (the full read also
    checks the lengths of lines inside one chunk)."""
    import io

    data = b"ab\n" + b"x" * 50 + b"\ncd\n" + b"y" * 20 + b"\nef"
    kinds = list(read_lines(io.BytesIO(data), 16, chunk))
    flat = [(kind, line) for kind, group in kinds for line in (group or [b""])]
    assert [(k, line) for k, line in flat if line or k] == [
        (0, b"ab"), (1, b""), (0, b"cd"), (1, b""), (2, b"ef")]


def test_blank_run_costs_no_per_line_work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Millions of blank lines before the last records: the tail read parses only records."""
    path = tmp_path / "blank.jsonl"
    path.write_bytes(HB + b"\n" + b"\n" * 2_000_000 + HB + b"\n")
    parsed: list[bytes] = []
    real = heartbeat_io._parse_line

    def counting(raw: bytes) -> object:
        parsed.append(raw)
        return real(raw)

    monkeypatch.setattr(heartbeat_io, "_parse_line", counting)
    tail = read_heartbeats(path, last=2)
    assert len(tail) == 2 and tail.total == 2 and tail.skipped == 0
    assert len(parsed) <= 20, len(parsed)  # a blank or two per block read, not 2,000,000


def test_tail_gives_up_after_max_bad_lines(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_bytes(HB + b"\n" + b"x\n" * 50)
    with pytest.raises(HeartbeatFormatError, match="gave up after 20 malformed lines at the end "
                                                   r"of the log without finding 5 valid "
                                                   r"heartbeats \(limit max_bad_lines=20\)"):
        read_heartbeats(path, last=5, max_bad_lines=20)
    assert len(read_heartbeats(path, last=5, max_bad_lines=100)) == 1


@pytest.mark.parametrize("kind", ["fifo", "device", "socket-like-dir"])
def test_special_files_are_refused_without_blocking(tmp_path: Path, kind: str) -> None:
    if kind == "fifo":
        path = tmp_path / "fifo"
        os.mkfifo(path)
        expected = "is a FIFO"
    elif kind == "device":
        path, expected = Path("/dev/zero"), "is a character device"
    else:
        path, expected = tmp_path, "directory"
    for last in (None, 5):
        with pytest.raises(HeartbeatFormatError, match=expected):
            read_heartbeats(path, last=last)
    with pytest.raises(HeartbeatFormatError, match=expected):
        scan_heartbeats(path)


def test_line_limit_must_be_sane() -> None:
    with pytest.raises(ValueError, match="max_line_bytes must be an integer >= 64, got 10"):
        read_heartbeats("unused.jsonl", max_line_bytes=10)
