"""The columnar full scan accepts, rejects and reports exactly like read_heartbeats."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from unittest import mock

import orjson
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from pytest_selfslo._core.errors import HeartbeatFormatError
from pytest_selfslo.heartbeat import (
    SCORES,
    generate_heartbeats,
    logio as heartbeat_io,
    read_heartbeats,
    scan as heartbeat_scan,
)
from pytest_selfslo.heartbeat.model import format_timestamp
from pytest_selfslo.heartbeat.scan import scan_heartbeats
from pytest_selfslo.plugin.strategies import heartbeat

GOOD = generate_heartbeats("steady", 1, tokens=("token-a",))[0].to_dict()

odd_lines = st.sampled_from([
    b"{", b"not json", b"[]", b"", b"  ", b'"text"', b"3", b'{"ts": 1}',
    orjson.dumps({**GOOD, "coherence": 2.0}), orjson.dumps({**GOOD, "stress": True}),
    orjson.dumps({**GOOD, "presence": 1}), orjson.dumps({**GOOD, "ts": 5}),
    orjson.dumps({**GOOD, "ts": "2023-11-14T22:13:20Z"}), orjson.dumps({**GOOD, "kind": "x"}),
    orjson.dumps({**GOOD, "kind": [1]}), orjson.dumps({**GOOD, "token_id": ""}),
    orjson.dumps({**GOOD, "token_id": 5}), orjson.dumps({k: v for k, v in GOOD.items()
                                                          if k != "kind"}),
    # lines that a batch parse over joined text could glue together or split apart
    orjson.dumps(GOOD) + b", " + orjson.dumps(GOOD),
    orjson.dumps(GOOD)[:40], b'"x": 1' + orjson.dumps(GOOD)[40:],
    b'{"pad": [{"a": 1}', b'{"b": 2}], ' + orjson.dumps(GOOD)[1:],
    orjson.dumps({**GOOD, "token_id": "a,\\n{b}"}), orjson.dumps({**GOOD, "token_id": "true"}),
])
lines_strategy = st.lists(st.one_of(heartbeat(token_id=None).map(lambda h: h.to_json_line().encode()),
                                    odd_lines), max_size=50)
rfc3339_lines = st.lists(st.one_of(
    heartbeat(token_id=None).map(lambda h: h.to_json_line(rfc3339=True).encode()),
    st.sampled_from([orjson.dumps({**GOOD, "ts": ts}) for ts in (
        "2023-02-29T00:00:00.000000Z", "1972-06-30T23:59:60.500000Z", "2024-02-29T23:59:59.999999Z",
        "2023-11-14T22:13:20.000001+01:00", "2023-11-14t22:13:20.000001z", "2023-11-14T22:13:20Z",
        "2023-11-14T24:13:20.000000Z", "0000-01-01T00:00:00.000000Z", "2023-11-14T22:13:20.00000xZ",
        "١٩٧٠-01-01T00:00:00.000000Z")] + [orjson.dumps({**GOOD, "ts": "2023-11-14T22:13:20.000000Z",
                                                              "stress": "0.1"})])), max_size=50)


def same(path: Path, token: str | None = None) -> None:
    full = read_heartbeats(path, token_id=token)
    cols = scan_heartbeats(path, token_id=token)
    assert cols.count == len(full) == full.total
    assert (cols.skipped, cols.bad_lines, cols.reasons) == (full.skipped, full.bad_lines,
                                                            full.reasons)
    assert cols.last == (full[-1] if full else None)
    for score in SCORES:  # same values, in file order
        assert cols.scores[score].tolist() == [getattr(h, score) for h in full]
    assert cols.ts.tolist() == [h.ts for h in full]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines=lines_strategy, final_newline=st.booleans(), chunk=st.sampled_from([5, 64, 8 << 20]),
       batch=st.sampled_from([1, 100, 32 << 10]), token=st.sampled_from([None, "token-a"]))
def test_scan_matches_the_reader(tmp_path_factory: pytest.TempPathFactory, lines: list[bytes],
                                 final_newline: bool, chunk: int, batch: int,
                                 token: str | None) -> None:
    path = tmp_path_factory.mktemp("scan") / "log.jsonl"
    path.write_bytes(b"\n".join(lines) + (b"\n" if final_newline and lines else b""))
    with mock.patch.object(heartbeat_scan, "_CHUNK", chunk), \
            mock.patch.object(heartbeat_scan, "_BATCH_BYTES", batch):
        same(path, token)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines=rfc3339_lines)
def test_scan_of_rfc3339_timestamps_matches_the_reader(tmp_path_factory: pytest.TempPathFactory,
                                                       lines: list[bytes]) -> None:
    """Text timestamps are converted in bulk, bit for bit as parse_timestamp does."""
    path = tmp_path_factory.mktemp("scan") / "log.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    same(path)


@pytest.mark.parametrize("odd_ts", ["2023-02-29T00:00:00.000000Z", "2023-04-31T00:00:00.000000Z",
                                    "1900-02-29T00:00:00.000000Z", "2023-01-01T24:00:00.000000Z",
                                    "2023-01-01T00:60:00.000000Z", "2023-01-01T00:00:61.000000Z",
                                    "0000-01-01T00:00:00.000000Z", "2023-13-01T00:00:00.000000Z",
                                    "2023-01-01T00:00:0x.000000Z", "2023-01-01T00:00:00.000000+"])
def test_bulk_rfc3339_refuses_what_parse_timestamp_refuses(tmp_path: Path, odd_ts: str) -> None:
    times = [format_timestamp(1_700_000_000 + 0.25 * i) for i in range(50)]
    times[20] = odd_ts
    times[30] = "1972-06-30T23:59:60.500000Z"  # a leap second is valid
    path = tmp_path / "log.jsonl"
    path.write_bytes(b"".join(orjson.dumps({**GOOD, "ts": t}) + b"\n" for t in times))
    same(path)
    cols = scan_heartbeats(path)
    assert (cols.skipped, cols.bad_lines) == (1, [21])
    assert cols.reasons[0].startswith("field 'ts': ")


_G = orjson.dumps(GOOD)
GLUE_ATTEMPTS = [  # bad lines that, parsed as one array, would merge into a valid record,
    # with a line holding two records to keep the count: each must still be reported
    [_G[:-1] + b',"x":"', b'{"}', _G + b"," + _G],             # a separator inside a string
    [_G[:-1], b'"x":1}', _G + b" , " + _G],                     # inside an object
    [_G[:-1] + b',"x":[{"a":1}', b'{"b":2}]}', _G + b"," + _G],  # inside a nested array
    [_G[:-1] + b',"x":', b"0}", _G + b",0," + _G],
    [b'{"x":{"y":1', b"}}", b"0", b"{}", _G],
    [_G + b",", b"0", b"," + _G],
]


@pytest.mark.parametrize("attempt", GLUE_ATTEMPTS)
def test_one_parse_per_chunk_never_glues_or_splits_lines(tmp_path: Path,
                                                         attempt: list[bytes]) -> None:
    """Each attempt's bad lines are reported one by one, exactly as the reader does."""
    good = [orjson.dumps(GOOD)] * 20
    path = tmp_path / "log.jsonl"
    path.write_bytes(b"\n".join(good + attempt + good) + b"\n")
    same(path)
    assert scan_heartbeats(path).skipped == read_heartbeats(path).skipped >= 1


@pytest.mark.parametrize("token", ["token-a", "tök-é"])  # non-ASCII: no byte offsets from errors
@pytest.mark.parametrize("every", [3, 7, 400])
def test_scan_with_many_bad_json_lines_in_one_chunk(tmp_path: Path, token: str,
                                                    every: int) -> None:
    """Past the parser's error position the scan resumes; dense errors fall back to sub-batches."""
    lines = [orjson.dumps({**GOOD, "token_id": token, "ts": GOOD["ts"] + i}) for i in range(2000)]
    for i in range(every // 2, len(lines), every):
        lines[i] = [b'{"ts": 1, "coher', b"", b'{"a":1', b"{", b'"x"]'][i % 5]
    path = tmp_path / "log.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    same(path)
    assert scan_heartbeats(path).skipped == read_heartbeats(path).skipped > 0


def test_scan_on_a_generated_log_with_a_torn_tail(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    path.write_bytes(b"".join(h.to_json_line().encode() + b"\n"
                              for h in generate_heartbeats("oscillating", 3000, tokens=("a", "b")))
                     + b'{"ts": 1, "coher')
    with mock.patch.object(heartbeat_scan, "_CHUNK", 4096):
        same(path)
        same(path, "b")
    assert scan_heartbeats(path).reasons == ["torn last line (no trailing newline: a writer "
                                             "was interrupted?)"]


def test_scan_strict_and_file_errors(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    path.write_bytes(orjson.dumps(GOOD) + b"\n" + orjson.dumps({**GOOD, "stress": 9}) + b"\n")
    with pytest.raises(HeartbeatFormatError, match=r"log\.jsonl:2: field 'stress': expected a "
                                                   r"number in \[0, 1\], got 9"):
        scan_heartbeats(path, strict=True)
    with pytest.raises(HeartbeatFormatError, match="no such heartbeat log"):
        scan_heartbeats(tmp_path / "missing.jsonl")
    (tmp_path / "empty.jsonl").write_bytes(b"")
    assert scan_heartbeats(tmp_path / "empty.jsonl").count == 0
    with pytest.raises(HeartbeatFormatError, match="empty heartbeat log"):
        scan_heartbeats(tmp_path / "empty.jsonl", strict=True)


@pytest.mark.parametrize(("bad", "message"), [
    (b'{"ts": 1, "coher', ":1235: invalid JSON: unexpected end of data (at column 17)"),
    (orjson.dumps({**GOOD, "stress": True}),
     ":1235: field 'stress': expected a number in [0, 1], got bool True"),
    (orjson.dumps({**GOOD, "ts": "2023-02-29T00:00:00.000000Z"}),
     ":1235: field 'ts': invalid RFC 3339 timestamp '2023-02-29T00:00:00.000000Z': day is out of "
     "range for month"),
])
def test_strict_scan_names_a_bad_line_deep_in_a_chunk(tmp_path: Path, bad: bytes,
                                                      message: str) -> None:
    lines = [orjson.dumps(GOOD)] * 2000
    lines[1234] = bad
    path = tmp_path / "log.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    with pytest.raises(HeartbeatFormatError) as scanned:
        scan_heartbeats(path, strict=True)
    with pytest.raises(HeartbeatFormatError) as read:
        read_heartbeats(path, strict=True)
    assert str(scanned.value) == str(read.value) == f"{path}{message}"


def test_full_scan_reads_the_file_once_and_reports_progress(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """The total ("of M total") comes from the same single pass: every byte is read once."""
    path = tmp_path / "log.jsonl"
    path.write_bytes(b"".join(h.to_json_line().encode() + b"\n"
                              for h in generate_heartbeats("steady", 5000)))
    reads: list[int] = []
    real_open_log = heartbeat_io._open_log

    class Counting:
        def __init__(self, f: Any) -> None:
            self.f = f

        def read(self, size: int = -1) -> bytes:
            data: bytes = self.f.read(size)
            reads.append(len(data))
            return data

        def __enter__(self) -> Counting:
            return self

        def __exit__(self, *exc: object) -> None:
            self.f.close()

    def open_log(p: Path) -> tuple[Any, int]:
        f, size = real_open_log(p)
        return Counting(f), size

    monkeypatch.setattr(heartbeat_scan, "_open_log", open_log)
    monkeypatch.setattr(heartbeat_scan, "_CHUNK", 64 << 10)
    seen: list[tuple[int, int]] = []
    cols = scan_heartbeats(path, progress=lambda done, total: seen.append((done, total)))
    assert cols.total == 5000
    assert sum(reads) == path.stat().st_size
    assert seen[-1] == (path.stat().st_size, path.stat().st_size)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen) and len(seen) > 5
