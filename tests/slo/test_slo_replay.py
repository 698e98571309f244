"""selfslo replay / generate: output, exit codes, snapshot, emoji and progress rules."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

from pytest_selfslo.cli import main, replay as cli_replay
from pytest_selfslo.heartbeat import HeartbeatLog, generate_heartbeats, read_heartbeats
from pytest_selfslo.slo import replay
from pytest_selfslo.slo.replay import ReplayResult, format_text, save_snapshot, supports_emoji

FIXTURES = Path(__file__).parents[2] / "fixtures"


@pytest.fixture
def log(tmp_path: Path) -> Path:
    path = tmp_path / "identity.jsonl"
    HeartbeatLog(path).extend(generate_heartbeats("steady", 200, tokens=("a", "b")))
    return path


@pytest.fixture
def failing_log(tmp_path: Path) -> Path:
    path = tmp_path / "drop.jsonl"
    HeartbeatLog(path).extend(generate_heartbeats("coherence_drop", 200))
    return path


def test_text_report_shape_and_exit_0(log: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", "--file", str(log), "--count", "50"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0] == f"Analyzing last 50 heartbeats (of 200 total) from {log}"
    assert "Averages:" in lines and "SLO status:" in lines
    assert any(line.startswith("  coherence   0.9") for line in lines)
    assert "  [PASS] coherence >= 0.80 (actual 0.9" in out
    assert "  [PASS] stress <= 0.30 (actual 0.1" in out
    assert lines[-1] == "ALL SLO TARGETS PASSED"
    assert out.isascii()  # captured stdout is not a terminal: no emoji


def test_failing_slo_exits_1_and_names_it(failing_log: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", "--file", str(failing_log), "--count", "0"]) == 1
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("Analyzing all 200 heartbeats (of 200 total)")
    assert "[FAIL] coherence >= 0.80 (actual 0.7" in out
    assert out.rstrip().endswith("SLO TARGETS FAILED: coherence")


def test_json_report(log: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", "--file", str(log), "--count", "10", "--token", "b", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["count"] == 10 and data["total"] == 100 and data["token_id"] == "b"
    assert set(data["averages"]) == {"coherence", "continuity", "presence", "stress"}
    assert set(data["percentiles"]["stress"]) == {"p50", "p95", "p99"}
    assert data["slo_status"] == {"coherence_slo": True, "continuity_slo": True,
                                  "stress_slo": True}
    assert data["passed"] is True and data["last_heartbeat"]["token_id"] == "b"
    expected = read_heartbeats(log, token_id="b")[-10:]
    assert data["averages"]["coherence"] == pytest.approx(
        sum(h.coherence for h in expected) / 10)


def test_custom_slo_file(log: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "strict.yml"
    spec.write_text("objectives:\n  - {name: presence, metric: self_presence, "
                    "comparison: '>=', target: 0.99}\n")
    assert main(["replay", "--file", str(log), "--slo", str(spec)]) == 1
    assert "[FAIL] presence >= 0.99" in capsys.readouterr().out


@pytest.mark.parametrize(("argv", "message"), [
    (["--file", "{tmp}/missing.jsonl"], "missing.jsonl: no such heartbeat log"),
    (["--file", "{tmp}"], "is a directory, expected a JSON Lines heartbeat log"),
    (["--file", "{tmp}/empty.jsonl"], "empty.jsonl: no valid heartbeats to analyze (empty file)"),
    (["--file", "{tmp}/junk.jsonl"], "junk.jsonl: no valid heartbeats to analyze (1 malformed "
                                     "line(s) skipped, first at line 1: invalid JSON"),
    (["--file", "{log}", "--token", "zz"], "no valid heartbeats for token 'zz' to analyze\n"),
    (["--file", "{log}", "--slo", "{tmp}/bad.yml"], "bad.yml:1: <top level>: expected a mapping"),
])
def test_file_errors_exit_2_with_a_message(tmp_path: Path, log: Path, argv: list[str],
                                           message: str,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "empty.jsonl").write_bytes(b"")
    (tmp_path / "junk.jsonl").write_bytes(b"junk\n")
    (tmp_path / "bad.yml").write_text("[1]\n")
    args = [a.format(tmp=tmp_path, log=log) for a in argv]
    assert main(["replay", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("selfslo replay: error: ") and message in err
    assert "Traceback" not in err


@pytest.mark.parametrize("count", ["-1", "x", "1.5"])
def test_bad_count_is_a_usage_error(count: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["replay", "--count", count])
    assert exc.value.code == 2
    assert "argument --count: expected" in capsys.readouterr().err


def test_console_script_exit_codes_end_to_end(log: Path, failing_log: Path) -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "pytest_selfslo", "replay", *args],
                              capture_output=True, text=True, env={**os.environ, "NO_COLOR": "1"})

    assert run("--file", str(log)).returncode == 0
    assert run("--file", str(failing_log), "--count", "0").returncode == 1
    missing = run("--file", str(log) + ".nope")
    assert missing.returncode == 2 and "Traceback" not in missing.stderr


# ------------------------------------------------------------------ snapshot


def test_save_snapshot_content(log: Path, tmp_path: Path,
                               capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "state" / "self_state.json"
    assert main(["replay", "--file", str(log), "--save-snapshot", str(target)]) == 0
    snap = json.loads(target.read_text())
    assert set(snap) >= {"generated_at", "source", "count", "total", "averages", "percentiles",
                         "slo_status", "last_heartbeat"}
    assert snap["source"] == str(log) and snap["count"] == 50 and snap["total"] == 200
    assert snap["generated_at"].endswith("Z")
    assert snap["last_heartbeat"] == read_heartbeats(log)[-1].to_dict(rfc3339=True)
    assert f"snapshot written to {target}" in capsys.readouterr().err
    assert [p.name for p in target.parent.iterdir()] == ["self_state.json"]  # no temp left


def test_save_snapshot_default_path(log: Path, tmp_path: Path,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["replay", "--file", str(log), "--save-snapshot", "--json"]) == 0
    assert json.loads((tmp_path / "data" / "self_state.json").read_text())["count"] == 50


def test_snapshot_is_atomic_fsynced_and_keeps_the_old_file_on_failure(
        log: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    result = replay.replay(log, 20)
    target = tmp_path / "self_state.json"
    synced: list[int] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        synced.append(fd)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    save_snapshot(result, target, now=0)
    assert len(synced) == 2  # the temp file, then the directory
    old = target.read_bytes()
    assert orjson.loads(old)["generated_at"] == "1970-01-01T00:00:00Z"

    def crash(src: Any, dst: Any) -> None:
        raise OSError("power cut before rename")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="power cut"):
        save_snapshot(result, target, now=1)
    assert target.read_bytes() == old
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


# ------------------------------------------------------------ emoji, progress


class FakeTTY(io.StringIO):
    def __init__(self, tty: bool, encoding: str = "utf-8") -> None:
        super().__init__()
        self._tty = tty
        self._encoding = encoding

    def isatty(self) -> bool:
        return self._tty

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return self._encoding


@pytest.mark.parametrize(("tty", "encoding", "environ", "expected"), [
    (True, "utf-8", {"TERM": "xterm-256color"}, True),
    (True, "UTF-8", {}, True),
    (False, "utf-8", {"TERM": "xterm"}, False),          # piped
    (True, "utf-8", {"NO_COLOR": ""}, False),           # NO_COLOR set, even empty
    (True, "utf-8", {"TERM": "dumb"}, False),
    (True, "ascii", {"TERM": "xterm"}, False),
])
def test_supports_emoji(tty: bool, encoding: str, environ: dict[str, str],
                        expected: bool) -> None:
    assert supports_emoji(FakeTTY(tty, encoding), environ) is expected


def test_emoji_and_ascii_renderings(log: Path) -> None:
    result: ReplayResult = replay.replay(log, 50)
    fancy, plain = format_text(result, emoji=True), format_text(result, emoji=False)
    assert "\u2705 ALL SLO TARGETS PASSED" in fancy and "\u2705 [PASS] coherence" in fancy
    assert plain.isascii() and plain.replace("[PASS]", "") != plain


def test_progress_bar_only_on_a_tty(log: Path, monkeypatch: pytest.MonkeyPatch,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(cli_replay._Progress.__init__, "__defaults__", (0.0, 30))  # draw at once
    tty = FakeTTY(True)
    monkeypatch.setattr(sys, "stderr", tty)
    assert main(["replay", "--file", str(log), "--count", "0"]) == 0
    assert "\r[" + "#" * 30 + "] 100%" in tty.getvalue()
    piped = FakeTTY(False)
    monkeypatch.setattr(sys, "stderr", piped)
    assert main(["replay", "--file", str(log), "--count", "0"]) == 0
    assert piped.getvalue() == ""


def test_progress_waits_a_second() -> None:
    stream = FakeTTY(True)
    bar = cli_replay._Progress(stream)
    bar(50, 100)
    bar.close()
    assert stream.getvalue() == ""


# ------------------------------------------------------------------ generate


def test_generate_writes_a_replayable_file(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "gen.jsonl"
    assert main(["generate", "--scenario", "stress_spike", "-n", "90", "-o", str(out),
                 "--seed", "5", "--tokens", "x,y"]) == 0
    assert list(read_heartbeats(out, strict=True)) == generate_heartbeats(
        "stress_spike", 90, seed=5, tokens=("x", "y"))
    assert main(["generate", "--scenario", "steady", "-n", "10", "-o", str(out),
                 "--append", "--rfc3339"]) == 0
    read = read_heartbeats(out, strict=True)
    assert len(read) == 100
    assert '"ts":"2023-11-14T22:13:20.000000Z"' in out.read_text().splitlines()[-10]
    assert main(["generate", "--scenario", "steady", "-n", "3"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 3


def test_generate_rejects_bad_input(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["generate", "--scenario", "nope"])
    assert "invalid choice: 'nope'" in capsys.readouterr().err
    assert main(["generate", "--scenario", "steady", "--tokens", ","]) == 2
    assert "tokens must be a non-empty sequence" in capsys.readouterr().err


# ------------------------------------------------------------------ fixtures


def test_committed_fixture_is_the_generator_output() -> None:
    """fixtures/identity.jsonl is exactly `selfslo generate --scenario steady -n 720
    --tokens token-a,token-b`, so it can be regenerated and stays valid."""
    read = read_heartbeats(FIXTURES / "identity.jsonl", strict=True)
    assert list(read) == generate_heartbeats("steady", 720, tokens=("token-a", "token-b"))
    assert replay.replay(FIXTURES / "identity.jsonl", 0).passed


def test_malformed_fixture_exercises_every_skip_reason() -> None:
    read = read_heartbeats(FIXTURES / "malformed.jsonl")
    assert len(read) == 20 and read.skipped == 7
    joined = " | ".join(read.reasons)
    for reason in ("invalid JSON", "field 'coherence': expected a number in [0, 1], got 1.2",
                   "unknown kind 'event'", "missing field(s): 'presence', 'stress'",
                   "field 'ts': expected an RFC 3339", "got str 'high'", "torn last line"):
        assert reason in joined


def test_snapshot_is_written_even_when_an_slo_fails(failing_log: Path, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "state.json"
    assert main(["replay", "--file", str(failing_log), "--count", "0",
                 "--save-snapshot", str(target)]) == 1
    snap = json.loads(target.read_text())
    assert snap["slo_status"]["coherence_slo"] is False and snap["passed"] is False


def test_estimated_total_is_marked(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Past 1 MiB before the tail the total is an estimate: shown as ~M, flagged in JSON."""
    path = tmp_path / "big.jsonl"
    HeartbeatLog(path).extend(generate_heartbeats("steady", 12_000, tokens=("a", "b")))
    assert main(["replay", "--file", str(path)]) == 0
    header = capsys.readouterr().out.splitlines()[0]
    assert header.startswith("Analyzing last 50 heartbeats (of ~")
    estimate = int(header.split("~")[1].split()[0])
    assert abs(estimate - 12_000) < 600
    with path.open("ab") as f:
        f.write(b'{"ts": 1, "tok')  # a crashed writer's torn record
    assert main(["replay", "--file", str(path), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["total_exact"] is False
    assert (data["bad_lines"], data["bad_lines_from_end"]) == ([1], True)
    assert main(["replay", "--file", str(path)]) == 0
    assert "Skipped 1 malformed line(s) (lines from the end: 1; torn last line" in \
        capsys.readouterr().out
