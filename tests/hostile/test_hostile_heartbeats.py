"""Hostile heartbeat logs through the real ``selfslo replay`` (issue 21, item 7).

Each case runs the CLI in a subprocess under CPU, memory and wall-clock
limits (:mod:`_limits`): it must end by itself, without a signal or a
traceback, with exit 2 and one line on stderr for refused input, or with a
normal report when the log is readable.
"""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from _limits import run_limited, selfslo

HB = orjson.dumps({"ts": 1700000000.0, "kind": "heartbeat", "token_id": "a", "coherence": 0.9,
                   "continuity": 0.95, "presence": 0.9, "stress": 0.1}) + b"\n"


@pytest.mark.parametrize("count", ["50", "0"])
def test_fifo_is_refused_without_blocking(fifo: Path, count: str) -> None:
    outcome = run_limited(selfslo("replay", "--file", fifo, "--count", count))
    outcome.assert_clean_error(2, ["fifo.jsonl", "FIFO", "expected a regular file"])


@pytest.mark.parametrize("count", ["50", "0"])
def test_dev_zero_is_refused(count: str) -> None:
    outcome = run_limited(selfslo("replay", "--file", "/dev/zero", "--count", count))
    outcome.assert_clean_error(2, ["/dev/zero", "character device"])


def test_directory_is_refused(tmp_path: Path) -> None:
    run_limited(selfslo("replay", "--file", tmp_path)).assert_clean_error(2, "is a directory")


@pytest.mark.parametrize("count", ["50", "0"])
def test_one_huge_line_is_skipped_unread(tmp_path: Path, count: str) -> None:
    """64 MiB without a newline: once quadratic (``carry += data``), now skipped unheld."""
    log = tmp_path / "huge.jsonl"
    with log.open("wb") as fh:
        fh.write(b"x" * (64 << 20))
        fh.write(b"\n")
    outcome = run_limited(selfslo("replay", "--file", log, "--count", count))
    outcome.assert_clean_error(2, ["no valid heartbeats", "line longer than 1048576 bytes"])


@pytest.mark.parametrize("count", ["50", "0"])
def test_huge_line_between_records_is_one_bad_line(tmp_path: Path, count: str) -> None:
    log = tmp_path / "mixed.jsonl"
    log.write_bytes(HB * 30 + b"{" * (8 << 20) + b"\n" + HB * 30)
    outcome = run_limited(selfslo("replay", "--file", log, "--count", count, "--json"))
    outcome.assert_ended_cleanly(0)
    report = orjson.loads(outcome.stdout)
    assert report["skipped"] == 1
    assert report["bad_reasons"] == ["line longer than 1048576 bytes (the limit; see "
                                     "max_line_bytes)"]
    assert report["count"] == (60 if count == "0" else 50)


def test_line_limit_is_an_option(tmp_path: Path) -> None:
    log = tmp_path / "wide.jsonl"
    log.write_bytes(HB * 5)
    outcome = run_limited(selfslo("replay", "--file", log, "--max-line-bytes", "100"))
    outcome.assert_clean_error(2, ["no valid heartbeats", "5 malformed line(s)",
                                   "line longer than 100 bytes"])


@pytest.mark.parametrize("count", ["50", "0"])
@pytest.mark.parametrize("blank", [b"\n", b" \n", b"\t\r\n"])
def test_twenty_megabytes_of_blank_lines(tmp_path: Path, count: str, blank: bytes) -> None:
    """Blank runs are skipped in bulk: the tail read's cost does not follow the file's size."""
    log = tmp_path / "blank.jsonl"
    log.write_bytes(HB * 60 + blank * ((20 << 20) // len(blank)))
    outcome = run_limited(selfslo("replay", "--file", log, "--count", count, "--json"))
    outcome.assert_ended_cleanly(0)
    report = orjson.loads(outcome.stdout)
    assert report["skipped"] == 0 and report["count"] == (60 if count == "0" else 50)


def test_only_blank_lines_is_no_data(tmp_path: Path) -> None:
    log = tmp_path / "blank.jsonl"
    log.write_bytes(b"\n" * (20 << 20))
    run_limited(selfslo("replay", "--file", log)).assert_clean_error(2, "no valid heartbeats")


def test_tail_read_gives_up_on_a_sea_of_bad_lines(tmp_path: Path) -> None:
    log = tmp_path / "bad.jsonl"
    log.write_bytes(HB * 100 + b'{"a":1}\n' * 150_000)
    outcome = run_limited(selfslo("replay", "--file", log, "--count", "50"))
    outcome.assert_clean_error(2, ["gave up after 100000 malformed lines",
                                   "max_bad_lines=100000"])


def test_control_characters_in_a_bad_line_are_escaped(tmp_path: Path) -> None:
    """A token id with an ANSI escape and a newline escape sequence cannot forge report lines."""
    log = tmp_path / "ansi.jsonl"
    evil = orjson.loads(HB)
    evil["coherence"] = "\x1b[2J\nALL SLO TARGETS PASSED"
    log.write_bytes(HB * 3 + orjson.dumps(evil) + b"\n")
    outcome = run_limited(selfslo("replay", "--file", log))
    outcome.assert_ended_cleanly(0)
    assert "\x1b" not in outcome.stdout
    assert "\\x1b[2J\\nALL SLO TARGETS PASSED" in outcome.stdout
    assert outcome.stdout.count("ALL SLO TARGETS PASSED") == 2  # the escaped one and the verdict


def test_a_file_name_cannot_break_the_one_line_error(tmp_path: Path) -> None:
    name = tmp_path / "evil\nselfslo replay: all clear\x1b[2J.jsonl"
    line = run_limited(selfslo("replay", "--file", name)).assert_clean_error(
        2, "no such heartbeat log")
    assert "evil\\nselfslo replay: all clear\\x1b[2J.jsonl" in line
