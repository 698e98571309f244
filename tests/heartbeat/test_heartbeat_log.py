"""Heartbeat record, JSONL reader (full and tail), writer and scenario generator."""

from __future__ import annotations

import itertools
import math
import os
import stat
from pathlib import Path
from typing import Any
from unittest import mock

import orjson
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from pytest_selfslo._core.errors import HeartbeatFormatError
from pytest_selfslo.heartbeat import (
    SCENARIOS,
    SCORES,
    Heartbeat,
    HeartbeatLog,
    generate_heartbeats,
    logio as heartbeat_io,
    parse_timestamp,
    read_heartbeats,
)
from pytest_selfslo.slo.spec import DEFAULT_SLO_SPEC, evaluate

GOOD = {"ts": 1_700_000_000.0, "kind": "heartbeat", "token_id": "token-a",
        "coherence": 0.91, "continuity": 0.95, "presence": 0.9, "stress": 0.12}

score = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)
heartbeats = st.builds(
    Heartbeat,
    ts=st.floats(min_value=0, max_value=4e9, allow_nan=False),
    token_id=st.text(min_size=1, max_size=20),
    coherence=score, continuity=score, presence=score, stress=score,
)


def write_lines(path: Path, lines: list[bytes], final_newline: bool = True) -> Path:
    path.write_bytes(b"\n".join(lines) + (b"\n" if final_newline and lines else b""))
    return path


# --------------------------------------------------------------------------- model


def test_round_trip_through_dict_and_json_line() -> None:
    hb = Heartbeat.from_dict(GOOD)
    assert hb.to_dict() == GOOD
    assert Heartbeat.from_dict(orjson.loads(hb.to_json_line())) == hb
    assert "\n" not in hb.to_json_line()


@pytest.mark.parametrize(("text", "expected"), [
    ("2023-11-14T22:13:20Z", 1_700_000_000.0),
    ("2023-11-14T22:13:20.5z", 1_700_000_000.5),
    ("2023-11-15T00:13:20+02:00", 1_700_000_000.0),
    ("2023-11-14 22:13:20-00:30", 1_700_001_800.0),
    ("2016-12-31T23:59:60Z", 1_483_228_800.0),  # leap second: unix time repeats
    ("2023-11-14T22:13:20.123456789Z", 1_700_000_000.123456789),
    (1_700_000_000, 1_700_000_000.0),
    (1.5, 1.5),
])
def test_timestamps_accept_rfc3339_and_unix_seconds(text: object, expected: float) -> None:
    assert parse_timestamp(text) == expected


def test_rfc3339_round_trip_keeps_microseconds() -> None:
    hb = Heartbeat.from_dict({**GOOD, "ts": 1_700_000_000.25})
    assert Heartbeat.from_dict(hb.to_dict(rfc3339=True)).ts == hb.ts
    assert hb.to_dict(rfc3339=True)["ts"] == "2023-11-14T22:13:20.250000Z"


@pytest.mark.parametrize(("change", "message"), [
    ({"coherence": math.nan}, "field 'coherence': expected a finite number in [0, 1], got nan"),
    ({"continuity": math.inf}, "field 'continuity': expected a finite number in [0, 1], got inf"),
    ({"presence": -math.inf}, "field 'presence': expected a finite number in [0, 1], got -inf"),
    ({"stress": -0.1}, "field 'stress': expected a number in [0, 1], got -0.1"),
    ({"coherence": 1.1}, "field 'coherence': expected a number in [0, 1], got 1.1"),
    ({"coherence": "0.9"}, "field 'coherence': expected a number in [0, 1], got str '0.9'"),
    ({"stress": True}, "field 'stress': expected a number in [0, 1], got bool True"),
    ({"kind": "event"}, "field 'kind': unknown kind 'event' (expected 'heartbeat')"),
    ({"kind": ["x"]}, "field 'kind': unknown kind ['x'] (expected 'heartbeat')"),
    ({"token_id": ""}, "field 'token_id': expected a non-empty string, got ''"),
    ({"token_id": 7}, "field 'token_id': expected a non-empty string, got int 7"),
    ({"token_id": "x" * 257}, "field 'token_id': expected at most 256 characters, got 257"),
    ({"ts": "yesterday"}, "field 'ts': expected an RFC 3339 timestamp"),
    ({"ts": "2023-11-14T22:13:20"}, "field 'ts': expected an RFC 3339 timestamp"),
    ({"ts": "2023-02-30T00:00:00Z"}, "field 'ts': invalid RFC 3339 timestamp"),
    ({"ts": "2023-02-28T00:00:61Z"}, "field 'ts': invalid RFC 3339 timestamp '2023-02-28T00:00:61Z': "
                                     "second must be in 0..60"),
    ({"ts": None}, "field 'ts': expected unix seconds or an RFC 3339 string, got NoneType"),
])
def test_bad_fields_name_the_field_and_value(change: dict[str, object], message: str) -> None:
    with pytest.raises(HeartbeatFormatError) as exc:
        Heartbeat.from_dict({**GOOD, **change}, path="log.jsonl", line=7)
    assert str(exc.value).startswith("log.jsonl:7: " + message)
    assert exc.value.line == 7


def test_missing_fields_are_all_listed() -> None:
    with pytest.raises(HeartbeatFormatError, match=r"missing field\(s\): 'presence', 'stress'"):
        Heartbeat.from_dict({k: v for k, v in GOOD.items() if k not in ("presence", "stress")})


def test_kind_may_be_omitted_and_extra_keys_are_ignored() -> None:
    data = {k: v for k, v in GOOD.items() if k != "kind"} | {"host": "x"}
    assert Heartbeat.from_dict(data).kind == "heartbeat"


def test_direct_construction_validates_and_scores_are_keyword_only() -> None:
    with pytest.raises(HeartbeatFormatError, match="field 'stress'"):
        Heartbeat(ts=1.0, token_id="a", coherence=1, continuity=1, presence=1, stress=2)
    with pytest.raises(TypeError):
        Heartbeat(1.0, "a", "heartbeat", 0.9, 0.9, 0.9, 0.1)  # type: ignore[call-arg]


@settings(max_examples=60, deadline=None)
@given(st.lists(heartbeats, max_size=30))
def test_write_read_round_trip(tmp_path_factory: pytest.TempPathFactory,
                               hbs: list[Heartbeat]) -> None:
    path = tmp_path_factory.mktemp("rt") / "log.jsonl"
    with HeartbeatLog(path) as log:
        log.extend(hbs[: len(hbs) // 2])
        for hb in hbs[len(hbs) // 2:]:
            log.append(hb)
    read = read_heartbeats(path)
    assert list(read) == hbs
    assert read.total == len(hbs) and read.skipped == 0


# --------------------------------------------------------------------------- reader

def test_malformed_lines_are_skipped_and_reported(tmp_path: Path) -> None:
    good = orjson.dumps(GOOD)
    path = write_lines(tmp_path / "log.jsonl", [
        good, b"", b"not json", orjson.dumps({**GOOD, "stress": 1.5}), b"[1, 2]",
        orjson.dumps({**GOOD, "token_id": "token-b"}), b'{"ts": 1, "tok',
    ], final_newline=False)
    read = read_heartbeats(path)
    assert [h.token_id for h in read] == ["token-a", "token-b"]
    assert read.skipped == 4 and read.total == 2
    assert read.bad_lines == [3, 4, 5, 7]
    assert read.reasons[0].startswith("invalid JSON")
    assert read.reasons[1] == "field 'stress': expected a number in [0, 1], got 1.5"
    assert read.reasons[2] == "expected a JSON object, got list"
    assert read.reasons[3].startswith("torn last line")
    assert read.problems()[0].startswith(f"{path}:3: invalid JSON")
    tail = read_heartbeats(path, last=5)
    assert (tail.bad_lines, tail.reasons) == (read.bad_lines, read.reasons)
    assert tail.bad_from_end == [5, 4, 3, 1] and read.bad_from_end is None


def test_strict_mode_raises_with_path_line_and_reason(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "log.jsonl", [orjson.dumps(GOOD), b"{oops", orjson.dumps(GOOD)])
    with pytest.raises(HeartbeatFormatError, match=r"log\.jsonl:2: invalid JSON") as exc:
        read_heartbeats(path, strict=True)
    assert exc.value.line == 2
    with pytest.raises(HeartbeatFormatError, match=r"log\.jsonl:2: invalid JSON"):
        read_heartbeats(path, last=5, strict=True)
    assert len(read_heartbeats(path, last=1, strict=True)) == 1  # the bad line is not examined


def test_token_filter(tmp_path: Path) -> None:
    hbs = generate_heartbeats("steady", 30, tokens=("a", "b", "c"))
    path = tmp_path / "log.jsonl"
    HeartbeatLog(path).extend(hbs)
    only_b = [h for h in hbs if h.token_id == "b"]
    assert list(read_heartbeats(path, token_id="b")) == only_b
    assert list(read_heartbeats(path, last=4, token_id="b")) == only_b[-4:]
    assert read_heartbeats(path, token_id="b").total == 10


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_bytes(b"")
    assert read_heartbeats(path) == [] and read_heartbeats(path, last=5).total == 0
    with pytest.raises(HeartbeatFormatError, match=r"empty\.jsonl: empty heartbeat log"):
        read_heartbeats(path, strict=True)


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(HeartbeatFormatError, match=r"nope\.jsonl: no such heartbeat log"):
        read_heartbeats(tmp_path / "nope.jsonl")
    with pytest.raises(HeartbeatFormatError, match="is a directory, expected a JSON Lines"):
        read_heartbeats(tmp_path, last=3)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files regardless of permissions")
def test_unreadable_file(tmp_path: Path) -> None:  # pragma: no cover - CI runs as root here
    path = tmp_path / "locked.jsonl"
    path.write_bytes(orjson.dumps(GOOD) + b"\n")
    path.chmod(0)
    with pytest.raises(HeartbeatFormatError, match="permission denied"):
        read_heartbeats(path)


def test_unreadable_file_message_even_as_root(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Root bypasses file modes, so simulate the EACCES that open(2) gives everyone else."""
    real_open = os.open

    def deny(file: object, *args: Any, **kwargs: Any) -> int:
        if str(file).endswith("locked.jsonl"):
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, *args, **kwargs)  # type: ignore[arg-type]

    path = tmp_path / "locked.jsonl"
    path.write_bytes(b"")
    path.chmod(stat.S_IWUSR)
    monkeypatch.setattr(os, "open", deny)
    with pytest.raises(HeartbeatFormatError, match=r"locked\.jsonl: permission denied"):
        read_heartbeats(path)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"last": -1}, "last must be None or an integer >= 0, got -1"),
    ({"last": True}, "last must be None or an integer >= 0, got True"),
    ({"token_id": ""}, "token_id must be None or a non-empty string"),
])
def test_bad_arguments(tmp_path: Path, kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        read_heartbeats(tmp_path / "x", **kwargs)  # type: ignore[arg-type]


# A line is one of: a valid record, garbage, a bad record, a blank line.
lines_strategy = st.lists(
    st.one_of(
        heartbeats.map(lambda h: h.to_json_line().encode()),
        st.sampled_from([b"{", b"not json", b"[]", b"", b"   ", b'{"ts": 1}',
                         orjson.dumps({**GOOD, "coherence": 2.0}),
                         orjson.dumps({**GOOD, "ts": "2023-11-14T22:13:20Z"})]),
        st.binary(max_size=40).filter(lambda b: b"\n" not in b),
    ),
    max_size=60,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines=lines_strategy, final_newline=st.booleans(), torn=st.binary(max_size=30),
       n=st.integers(min_value=0, max_value=70), block=st.sampled_from([1, 7, 64, 65536]))
def test_tail_equals_last_n_of_full_read(tmp_path_factory: pytest.TempPathFactory,
                                         lines: list[bytes], final_newline: bool,
                                         torn: bytes, n: int, block: int) -> None:
    """Small block sizes put block boundaries inside lines, records and newlines."""
    path = tmp_path_factory.mktemp("tail") / "log.jsonl"
    data = b"\n".join(lines) + (b"\n" if final_newline and lines else b"")
    if not final_newline:
        data += torn.replace(b"\n", b"")  # a torn or unterminated last line
    path.write_bytes(data)
    full = read_heartbeats(path)
    with mock.patch.object(heartbeat_io, "_TAIL_BLOCK", block), \
            mock.patch.object(heartbeat_io, "_TAIL_MAX_BLOCK", max(block, 64)):
        tail = read_heartbeats(path, last=n)
    assert list(tail) == (list(full)[-n:] if n else [])
    if tail.total_exact:
        assert tail.total == full.total


def test_tail_on_a_large_file_reads_only_the_end(tmp_path: Path) -> None:
    """Multi-block backward scan; the total is then an estimate, flagged as such."""
    hbs = generate_heartbeats("steady", 20_000, tokens=("a", "b"))
    path = tmp_path / "big.jsonl"
    HeartbeatLog(path).extend(hbs)
    with path.open("ab") as f:
        f.write(b"\n" + b"x" * 300_000 + b"\n")  # a huge garbage line, longer than a block
        f.write(hbs[0].to_json_line().encode())   # valid but unterminated last line
    tail = read_heartbeats(path, last=1_000)
    assert list(tail) == ([*hbs, hbs[0]])[-1_000:]
    assert tail.skipped == 1 and tail.bad_from_end == [2] and tail.bad_lines == [20_002]
    assert not tail.total_exact and abs(tail.total - 20_001) < 2_000


# --------------------------------------------------------------------------- writer


def test_writer_terminates_a_torn_line_before_appending(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    path.write_bytes(orjson.dumps(GOOD) + b'\n{"ts": 17, "coh')
    hb = Heartbeat.from_dict(GOOD)
    HeartbeatLog(path).append(hb)
    read = read_heartbeats(path)
    assert list(read) == [hb, hb] and read.bad_lines == [2]


def test_writer_creates_parent_dirs_and_rejects_non_heartbeats(tmp_path: Path) -> None:
    log = HeartbeatLog(tmp_path / "data" / "identity.jsonl", fsync=True)
    log.append(Heartbeat.from_dict(GOOD))
    with pytest.raises(TypeError, match="HeartbeatLog accepts Heartbeat records, got dict"):
        log.append(GOOD)  # type: ignore[arg-type]
    log.close()
    assert len(read_heartbeats(tmp_path / "data" / "identity.jsonl")) == 1


def _append_many(path: str, worker: int, count: int) -> None:
    hbs = [Heartbeat(ts=float(i), token_id=f"w{worker}", coherence=0.5, continuity=0.5,
                     presence=0.5, stress=0.5) for i in range(count)]
    with HeartbeatLog(path) as log:
        for hb in hbs:
            log.append(hb)


def test_four_processes_append_without_tearing(tmp_path: Path) -> None:
    import multiprocessing

    path = tmp_path / "shared.jsonl"
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_append_many, args=(str(path), w, 10_000)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    read = read_heartbeats(path, strict=True)
    assert len(read) == 40_000 and read.skipped == 0
    assert path.read_bytes().count(b"\n") == 40_000
    for w in range(4):  # each writer's records are all there, in its own order
        assert [h.ts for h in read if h.token_id == f"w{w}"] == [float(i) for i in range(10_000)]


def _blocked_flocks(path: Path) -> int:
    """How many flock requests on ``path`` wait for a lock (``->`` lines of /proc/locks)."""
    inode = f":{path.stat().st_ino}"
    return sum(1 for line in Path("/proc/locks").read_text().splitlines()
               if "->" in line and line.split()[-3].endswith(inode))


@pytest.mark.skipif(not Path("/proc/locks").exists(), reason="needs Linux's /proc/locks")
def test_a_record_still_being_written_is_not_taken_for_a_torn_line(tmp_path: Path) -> None:
    """A new writer waits for another's write under way instead of "terminating" it.

    The file grows a page at a time within one ``write(2)``, so a new writer's
    torn-line check could see half a record of a live writer and append a
    stray newline (40,001 newlines from 40,000 records under load). Here the
    other writer's write is frozen half way, holding its shared lock, as a
    writer between two page copies is; the new writer must be seen blocked
    on the lock (/proc/locks), and the file must end up with two whole lines.
    """
    import fcntl
    import threading
    import time

    path = tmp_path / "log.jsonl"
    record = orjson.dumps(GOOD) + b"\n"
    other = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    fcntl.flock(other, fcntl.LOCK_SH)
    os.write(other, record[:20])  # the first page of the other writer's record
    log = HeartbeatLog(path)
    appender = threading.Thread(target=log.append, args=(Heartbeat.from_dict(GOOD),))
    appender.start()
    deadline = time.monotonic() + 60  # a bound on a hang, not a timing expectation
    while not _blocked_flocks(path) and appender.is_alive() and time.monotonic() < deadline:
        time.sleep(0.01)
    waited = appender.is_alive()
    os.write(other, record[20:])  # the rest of the other writer's record
    fcntl.flock(other, fcntl.LOCK_UN)
    os.close(other)
    appender.join(60)
    log.close()
    assert waited, path.read_bytes()
    assert path.read_bytes() == record + record


def test_threads_share_one_writer(tmp_path: Path) -> None:
    import threading

    log = HeartbeatLog(tmp_path / "threads.jsonl")
    hb = Heartbeat.from_dict(GOOD)

    def writer() -> None:
        for _ in range(2000):
            log.append(hb)

    threads = [threading.Thread(target=writer) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    log.close()
    assert len(read_heartbeats(tmp_path / "threads.jsonl", strict=True)) == 16_000


# --------------------------------------------------------------------------- generator


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_scenarios_are_seeded_and_valid(name: str) -> None:
    a = generate_heartbeats(name, 120, seed=3, tokens=("x", "y"))
    assert a == generate_heartbeats(name, 120, seed=3, tokens=("x", "y"))
    assert a != generate_heartbeats(name, 120, seed=4, tokens=("x", "y"))
    assert len(a) == 120 and {h.token_id for h in a} == {"x", "y"}
    assert all(0.0 <= getattr(h, s) <= 1.0 for h in a for s in SCORES)
    assert [h.ts for h in a] == sorted(h.ts for h in a)


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_scenarios_fail_exactly_the_objectives_they_announce(name: str) -> None:
    report = evaluate(DEFAULT_SLO_SPEC, generate_heartbeats(name, 900))
    if SCENARIOS[name].fails or name in ("steady", "gaps"):
        assert {r.name for r in report.failed} == set(SCENARIOS[name].fails)


def test_gaps_leave_holes_and_flapping_crosses_the_threshold() -> None:
    gaps = generate_heartbeats("gaps", 300)
    steps = {b.ts - a.ts for a, b in itertools.pairwise(gaps)}
    assert max(steps) >= 300.0
    flap = generate_heartbeats("flapping", 50)
    assert {h.coherence >= 0.80 for h in flap} == {True, False}


@pytest.mark.parametrize(("args", "message"), [
    (("nope", 5), "unknown scenario 'nope' (known: steady, "),
    (("steady", -1), "n must be an integer >= 0, got -1"),
])
def test_generator_rejects_bad_arguments(args: tuple[str, int], message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        generate_heartbeats(*args)
    with pytest.raises(ValueError, match="tokens must be a non-empty sequence"):
        generate_heartbeats("steady", 3, tokens=())
