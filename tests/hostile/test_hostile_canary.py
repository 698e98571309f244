"""Hostile canary state and audit logs through the real ``selfslo canary`` (items 1, 2, 9, 11).

Acceptance 3 lives here: the truncation scenario and a forged append to a
keyed chain are detected, and ``verify-audit`` never writes (every file of
the state directory byte-identical, modification times unchanged).
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from _limits import Outcome, run_limited, selfslo

from pytest_selfslo.canary.audit import record_hash


def canary(state: Path, *args: str | Path, key: Path | None = None) -> Outcome:
    extra: list[str | Path] = ["--audit-key-file", key] if key is not None else []
    return run_limited(selfslo("canary", *args, "--state-dir", state, *extra))


def snapshot(directory: Path) -> dict[str, tuple[bytes, int, int]]:
    """Every entry of ``directory``: content, modification time and mode."""
    out = {}
    for entry in sorted(directory.iterdir()):
        st = entry.stat()
        out[entry.name] = (entry.read_bytes(), st.st_mtime_ns, st.st_mode)
    st = directory.stat()
    out["."] = (b"", st.st_mtime_ns, st.st_mode)
    return out


@pytest.fixture
def key(tmp_path: Path) -> Path:
    path = tmp_path / "audit.key"
    path.write_text("k3y-material-0123456789abcdef0123\n")
    path.chmod(0o600)
    return path


def test_truncated_log_refuses_the_next_change(tmp_path: Path) -> None:
    """Issue 21 item 1: the acknowledged 0.25 record must not vanish into ``.torn``."""
    state = tmp_path / "state"
    canary(state, "set", "0.1", "--reason", "first").assert_ended_cleanly(0)
    canary(state, "set", "0.25", "--reason", "second").assert_ended_cleanly(0)
    log = state / "canary_audit.jsonl"
    os.truncate(log, log.stat().st_size - 7)
    before = snapshot(state)
    refused = canary(state, "set", "0.5", "--reason", "third")
    refused.assert_clean_error(2, ["expected 2 records (per the state file), got 1",
                                   "the log was truncated", "nothing was written",
                                   "repair-audit"])
    assert snapshot(state) == before  # refused before touching anything
    verify = canary(state, "verify-audit")
    verify.assert_ended_cleanly(1)
    assert "does NOT verify" in verify.stderr and "the log was truncated" in verify.stderr
    assert snapshot(state) == before


def test_repair_is_explicit_audited_and_then_verifies(tmp_path: Path) -> None:
    state = tmp_path / "state"
    for value in ("0.1", "0.25"):
        canary(state, "set", value, "--reason", "up").assert_ended_cleanly(0)
    log = state / "canary_audit.jsonl"
    os.truncate(log, log.stat().st_size - 7)
    repaired = canary(state, "repair-audit", "--reason", "disk incident 7")
    repaired.assert_ended_cleanly(0)
    assert "moved an incomplete last line" in repaired.stdout
    assert "appended repair record 2 (0.1 -> 0.25" in repaired.stdout
    canary(state, "verify-audit").assert_ended_cleanly(0)
    history = canary(state, "history", "--json")
    records = [json.loads(line) for line in history.stdout.splitlines()]
    assert [r["action"] for r in records] == ["manual", "repair"]
    assert records[1]["reason"].startswith("disk incident 7 [repair-audit: expected 2 records")
    canary(state, "set", "0.5", "--reason", "onwards").assert_ended_cleanly(0)


def _forge_append(log: Path, mac: str | None) -> None:
    """What a writer without the key can do: a well-formed record with a valid SHA-256 link."""
    last = json.loads(log.read_text().splitlines()[-1])
    fields = {**last, "seq": last["seq"] + 1, "old": last["new"], "new": 1.0,
              "version": last["version"] + 1, "reason": "forged", "prev_hash": last["hash"]}
    fields.pop("mac", None)
    fields["hash"] = record_hash(fields)
    if mac is not None:
        fields["mac"] = mac
    with log.open("a") as fh:
        fh.write(json.dumps(fields) + "\n")


@pytest.mark.parametrize("mac", [None, "0" * 64])
def test_forged_append_to_a_keyed_chain_is_detected(tmp_path: Path, key: Path,
                                                    mac: str | None) -> None:
    state = tmp_path / "state"
    canary(state, "set", "0.1", "--reason", "keyed", key=key).assert_ended_cleanly(0)
    _forge_append(state / "canary_audit.jsonl", mac)
    before = snapshot(state)
    verify = canary(state, "verify-audit", key=key)
    verify.assert_ended_cleanly(1)
    assert ("no MAC after keyed records" if mac is None else "MAC mismatch") in verify.stderr
    refused = canary(state, "set", "0.25", "--reason", "next", key=key)
    refused.assert_clean_error(2, "record 2")
    assert snapshot(state) == before


def test_forged_append_to_an_unkeyed_chain_is_not_detectable(tmp_path: Path) -> None:
    """The documented limit of an unkeyed chain: a recomputed append looks like a
    change interrupted before its state write (and is rolled forward)."""
    state = tmp_path / "state"
    canary(state, "set", "0.1", "--reason", "plain").assert_ended_cleanly(0)
    _forge_append(state / "canary_audit.jsonl", None)
    verify = canary(state, "verify-audit")
    verify.assert_ended_cleanly(0)
    assert "not in the state file yet" in verify.stderr


def test_keyless_writer_refuses_a_keyed_log(tmp_path: Path, key: Path) -> None:
    state = tmp_path / "state"
    canary(state, "set", "0.1", "--reason", "keyed", key=key).assert_ended_cleanly(0)
    canary(state, "set", "0.25", "--reason", "no key").assert_clean_error(
        2, ["the audit log is keyed", "--audit-key-file"])


def test_audit_key_file_readable_by_others_is_refused(tmp_path: Path, key: Path) -> None:
    key.chmod(0o644)
    canary(tmp_path / "s", "set", "0.1", "--reason", "r", key=key).assert_clean_error(
        2, ["accessible to group or others (mode 0644)", "chmod 600"])


def test_audit_key_fifo_is_refused(tmp_path: Path, fifo: Path) -> None:
    canary(tmp_path / "s", "status", key=fifo).assert_clean_error(2, "FIFO")


@pytest.mark.parametrize("damage", ["clean", "torn", "truncated", "pending", "no-state",
                                    "garbage", "keyed"])
def test_verify_audit_never_writes(tmp_path: Path, key: Path, damage: str) -> None:
    state = tmp_path / "state"
    keyed = key if damage == "keyed" else None
    for value in ("0.1", "0.25", "0.5"):
        canary(state, "set", value, "--reason", f"to {value}", key=keyed).assert_ended_cleanly(0)
    log = state / "canary_audit.jsonl"
    if damage == "torn":
        with log.open("ab") as fh:
            fh.write(b'{"seq": 4, "ac')
    elif damage == "truncated":
        os.truncate(log, log.stat().st_size - 7)
    elif damage == "pending":  # the state write of the last change never happened
        raw = json.loads((state / "canary_state.json").read_text())
        last = json.loads(log.read_text().splitlines()[-2])
        raw.update(sampling=last["new"], version=last["version"], audit_head=last["hash"],
                   audit_count=last["seq"])
        (state / "canary_state.json").write_text(json.dumps(raw))
    elif damage == "no-state":
        (state / "canary_state.json").unlink()
    elif damage == "garbage":
        with log.open("a") as fh:
            fh.write("garbage\n")
    before = snapshot(state)
    outcome = canary(state, "verify-audit", key=keyed)
    outcome.assert_ended_cleanly(1 if damage in ("truncated", "garbage") else 0)
    assert snapshot(state) == before


def test_store_files_are_owner_only(tmp_path: Path) -> None:
    state = tmp_path / "state"
    canary(state, "set", "0.1", "--reason", "r").assert_ended_cleanly(0)
    with (state / "canary_audit.jsonl").open("ab") as fh:
        fh.write(b'{"torn')
    canary(state, "set", "0.25", "--reason", "r").assert_ended_cleanly(0)
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in state.iterdir()}
    assert modes == {"canary_state.json": 0o600, "canary_audit.jsonl": 0o600,
                     "canary_audit.jsonl.torn": 0o600, ".canary.lock": 0o600}


def test_history_escapes_forged_lines(tmp_path: Path) -> None:
    """Issue 21 item 9: a reason with newlines and ANSI escapes stays on its own line."""
    state = tmp_path / "state"
    evil = ("ok\n    2  2030-01-01T00:00:00Z  manual      5% -> 100%  cli:admin: approved"
            "\x1b[2K\u202eevil")
    canary(state, "set", "0.1", "--reason", evil).assert_ended_cleanly(0)
    history = canary(state, "history")
    history.assert_ended_cleanly(0)
    assert len(history.stdout.splitlines()) == 1
    assert "\x1b" not in history.stdout and "\u202e" not in history.stdout
    assert "ok\\n    2  2030" in history.stdout and "\\x1b[2K\\u202eevil" in history.stdout


@pytest.mark.parametrize("reason", ["\u200b\u200b", "\x1b\x07", " \t", "\u202e"])
def test_reason_without_a_visible_character_is_refused(tmp_path: Path, reason: str) -> None:
    canary(tmp_path / "s", "set", "0.1", "--reason", reason).assert_clean_error(
        2, "reason: expected")


def test_status_escapes_decision_reasons(tmp_path: Path) -> None:
    state = tmp_path / "state"
    canary(state, "set", "0.1", "--reason", "r").assert_ended_cleanly(0)
    path = state / "canary_state.json"
    raw = json.loads(path.read_text())
    raw["last_decision"] = {"action": "hold\x1b[31m", "next_canary": 0.1,
                            "reasons": ["alert AURIS\nfake line\x07"]}
    path.write_text(json.dumps(raw))
    status = canary(state, "status")
    status.assert_ended_cleanly(0)
    assert "\x1b" not in status.stdout and "\x07" not in status.stdout
    assert "  - alert AURIS\\nfake line\\x07" in status.stdout


def test_state_file_that_is_a_fifo_is_refused(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    os.mkfifo(state / "canary_state.json")
    canary(state, "status").assert_clean_error(2, ["canary_state.json", "FIFO"])


def test_many_gates_with_a_duplicate(tmp_path: Path) -> None:
    """The duplicate-name check is linear (it was quadratic: 10k gates took 8 s)."""
    gates = "".join(f"  - {{name: g{i}, expr: 'avg(x)', comparison: '<=', threshold: 0.3}}\n"
                    for i in range(2000))
    policy = tmp_path / "policy.yml"
    policy.write_text("gates:\n" + gates + "  - {name: g7, expr: 'avg(x)', comparison: '<=', "
                      "threshold: 0.3}\n")
    canary(tmp_path / "s", "status", "--policy", policy).assert_clean_error(
        2, ["gates[2000].name", "a name not used by an earlier gate", "'g7'"])
