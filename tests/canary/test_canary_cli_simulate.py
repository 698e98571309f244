"""``selfslo canary`` commands and offline simulation on the fixtures scenarios (acceptance 5, 6)."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from pytest_selfslo._core.errors import InputError
from pytest_selfslo.canary.machine import Action
from pytest_selfslo.canary.policy import DEFAULT_POLICY
from pytest_selfslo.canary.simulate import simulate_files
from pytest_selfslo.cli import main

ROOT = Path(__file__).resolve().parents[2]
FIX = ROOT / "fixtures" / "canary"
RULES = ROOT / "rules" / "phase_c_rules.yml"
STABILITY = FIX / "stability_green.yml"


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["canary", *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_set_status_history_verify(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = str(tmp_path)
    code, out, _ = run_cli(capsys, "set", "0.25", "--reason", "green", "--state-dir", d)
    assert code == 0 and "5% -> 25%" in out
    code, out, _ = run_cli(capsys, "status", "--state-dir", d)
    assert code == 0 and "canary sampling: 25% (step 3 of 5)" in out
    code, out, _ = run_cli(capsys, "status", "--json", "--state-dir", d)
    assert json.loads(out)["state"]["sampling"] == 0.25
    code, out, _ = run_cli(capsys, "pause", "--reason", "incident 42", "--state-dir", d)
    assert code == 0 and "paused at 25%" in out
    code, out, _ = run_cli(capsys, "resume", "--reason", "fixed", "--state-dir", d)
    assert code == 0 and "resumed" in out
    code, out, _ = run_cli(capsys, "history", "--state-dir", d)
    assert [line.split()[2] for line in out.splitlines()] == ["manual", "pause", "resume"]
    code, out, _ = run_cli(capsys, "history", "--json", "--limit", "1", "--state-dir", d)
    assert json.loads(out)["action"] == "resume"
    code, out, _ = run_cli(capsys, "verify-audit", "--state-dir", d)
    assert code == 0 and "audit log OK: 3 record(s)" in out


def test_state_dir_from_environment(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SELFSLO_STATE_DIR", str(tmp_path))
    assert run_cli(capsys, "set", "0.1", "--reason", "r")[0] == 0
    assert (tmp_path / "canary_state.json").exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["set", "0.3", "--reason", "x"], "new_sampling: expected one of the policy steps"),
        (["set", "1.5", "--reason", "x"], "new_sampling: expected a finite number in (0, 1], got 1.5"),
        (["set", "0.5", "--reason", ""], "reason: expected a non-empty text"),
        (["resume", "--reason", "x"], "cannot resume: the canary is already running"),
    ],
)
def test_refused_commands_exit_2_with_the_reason(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                 argv: list[str], message: str) -> None:
    code, _, err = run_cli(capsys, *argv, "--state-dir", str(tmp_path))
    assert code == 2 and message in err
    assert not (tmp_path / "canary_audit.jsonl").exists()


def test_tampered_audit_fails_verify_with_exit_1(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    d = str(tmp_path)
    run_cli(capsys, "set", "0.5", "--reason", "r", "--state-dir", d)
    log = tmp_path / "canary_audit.jsonl"
    log.write_text(log.read_text().replace('"new":0.5', '"new":1.0'))
    code, _, err = run_cli(capsys, "verify-audit", "--state-dir", d)
    assert code == 1 and "audit log does NOT verify" in err and "edited" in err


def test_corrupt_state_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "canary_state.json").write_text("{")
    code, _, err = run_cli(capsys, "status", "--state-dir", str(tmp_path))
    assert code == 2 and "canary_state.json: not valid JSON" in err
    assert (tmp_path / "canary_state.json").read_text() == "{"


def test_invalid_policy_names_file_line_and_key(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    policy = tmp_path / "policy.yml"
    policy.write_text("steps: [0.1, 0.5]\ngates:\n  - name: x\n    expr: up\n"
                      "    comparison: '>='\n    threshold: high\n")
    code, _, err = run_cli(capsys, "status", "--policy", str(policy), "--state-dir", str(tmp_path))
    assert code == 2
    assert f"{policy}:6: gates[0].threshold: expected a finite number, got 'high'" in err


def test_tune_with_prometheus_down_holds(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "tune", "--apply", "--prometheus", "http://127.0.0.1:9",
                           "--state-dir", str(tmp_path))
    assert code == 0 and "HOLD" in out and "metrics source error" in out
    assert not (tmp_path / "canary_audit.jsonl").exists()


def test_run_loop_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest_selfslo", "canary", "run", "--every", "1s", "--prometheus",
         "http://127.0.0.1:9", "--state-dir", str(tmp_path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    watchdog = threading.Timer(60, proc.kill)  # never hang the suite on a stuck child
    watchdog.start()
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()  # the first decision is out: the loop is running
        assert "HOLD" in first
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
    finally:
        watchdog.cancel()
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0
    assert "received SIGTERM" in err and "canary tuner stopped after" in err


def test_simulate_steady_walks_to_100_percent_respecting_dwell() -> None:
    result = simulate_files(DEFAULT_POLICY, heartbeats=[FIX / "steady.jsonl"], series=[STABILITY],
                            rules=[RULES])
    advances = [d for d in result.decisions if d.action is Action.ADVANCE]
    assert [d.next for d in advances] == [0.10, 0.25, 0.50, 1.00]
    since = result.decisions[0].at
    for d in advances:
        assert d.at - since >= DEFAULT_POLICY.dwell_at(d.current)
        since = d.at
    assert result.final_sampling == 1.0
    assert result.decisions[-1].action is Action.COMPLETE
    assert result.first(Action.ROLLBACK) is None


@pytest.mark.parametrize("failure_limit", [DEFAULT_POLICY.failure_limit, 1000])
def test_simulate_stress_spike_rolls_back_at_the_first_firing_alert(failure_limit: int) -> None:
    policy = dataclasses.replace(DEFAULT_POLICY, failure_limit=failure_limit)
    result = simulate_files(policy, heartbeats=[FIX / "stress_spike.jsonl"], series=[STABILITY],
                            rules=[RULES])
    rollback, firing = result.first(Action.ROLLBACK), result.first_firing()
    assert rollback is not None and firing is not None
    assert rollback.at <= firing.at  # never later than the first firing alert
    if firing.current > policy.floor:
        assert firing is rollback  # and exactly at it when still above the floor
    assert any("Stress" in a["alertname"] for a in firing.firing_alerts)
    assert result.final_sampling == policy.floor


def test_simulate_without_stability_data_never_advances() -> None:
    result = simulate_files(DEFAULT_POLICY, heartbeats=[FIX / "steady.jsonl"])
    assert {d.action for d in result.decisions} == {Action.HOLD}
    assert any("no data for gate stability_score_ema" in r for r in result.decisions[-1].reasons)


def test_simulate_cli_prints_the_timeline(capsys: pytest.CaptureFixture[str],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    code, out, _ = run_cli(capsys, "simulate", "--heartbeats", "fixtures/canary/stress_spike.jsonl",
                           "--series", "fixtures/canary/stability_green.yml")
    assert code == 0
    assert "alerts from rules/phase_c_rules.yml" in out
    assert "ROLLBACK   25% -> 5%    rollback alert firing: AURIS_SELF_Stress" in out
    assert "final sampling 5%" in out
    code, out, _ = run_cli(capsys, "simulate", "--json", "--series",
                           "fixtures/canary/stability_green.yml", "--rules", str(RULES))
    assert json.loads(out)["final_sampling"] == 0.05


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("input_series: 3", "1:1: expected a mapping with an 'input_series' list"),
        ("interval: soon\ninput_series: []",
         "1:1: interval: expected a duration such as 10s, got 'soon'"),
        ("start: 1\ninput_series:\n  - series: up\n",
         "3:5: input_series[0]: expected {series, values}"),
        ("input_series:\n  - {series: up, values: '1 x'}\n  - {series: up, values: '1 x'}",
         "2:5: input_series[0]:"),
        ("input_series: [\n", "2:1: invalid YAML"),
        ("input_series: []\ninput_series: []\n",
         "2:1: document: field 'input_series' already set"),
        ("a: &a [x, x, x, x, x, x, x, x, x, x]\n"
         + "".join(f"{c}: &{c} [{', '.join([f'*{p}'] * 10)}]\n"
                   for p, c in zip("abcdefgh", "bcdefghi", strict=True)) + "input_series: *i\n",
         "4:8: invalid YAML: document contains excessive aliasing: *c"),
        ("input_series: " + "[" * 2000 + "]" * 2000,
         "1:1014: invalid YAML: nesting deeper than 1000 levels (MAX_DEPTH)"),
    ],
)
def test_bad_series_files_are_clear_errors(tmp_path: Path, content: str, message: str) -> None:
    """``path:line:col: why`` from the one YAML reader (Go's yaml.v2, as promtool test files)."""
    path = tmp_path / "s.yml"
    path.write_text(content)
    with pytest.raises(InputError) as exc:
        simulate_files(DEFAULT_POLICY, series=[path])
    assert str(exc.value).startswith(f"{path}:{message}"), str(exc.value)


@pytest.mark.parametrize("special", ["fifo", "/dev/zero", "directory"])
def test_special_series_files_are_refused_unread(tmp_path: Path, special: str) -> None:
    path = {"fifo": tmp_path / "fifo.yml", "/dev/zero": Path("/dev/zero"),
            "directory": tmp_path}[special]
    if special == "fifo":
        os.mkfifo(path)
    with pytest.raises(InputError, match="cannot read the series file: is a"):
        simulate_files(DEFAULT_POLICY, series=[path])


def test_simulate_needs_data() -> None:
    with pytest.raises(InputError, match="nothing to simulate"):
        simulate_files(DEFAULT_POLICY)



def test_malformed_heartbeat_lines_are_skipped_and_reported(tmp_path: Path) -> None:
    path = tmp_path / "hb.jsonl"
    path.write_text((FIX / "steady.jsonl").read_text() + '{"ts": 1700003600, "kind": "heart')
    result = simulate_files(DEFAULT_POLICY, heartbeats=[path], series=[STABILITY])
    assert len(result.notes) == 1 and "skipped 1 malformed line(s), first at line 361" in result.notes[0]
    assert result.final_sampling == 1.0


def test_a_log_without_valid_heartbeats_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "hb.jsonl"
    path.write_text("not json\n")
    with pytest.raises(InputError, match="no valid heartbeats to simulate"):
        simulate_files(DEFAULT_POLICY, heartbeats=[path])
