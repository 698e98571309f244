"""``selfslo lint`` on hostile neighbours and hostile text (issue 21, items 9 and 11)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from _limits import run_limited, selfslo

OK = """groups:
  - name: g
    rules:
      - alert: A
        expr: up == 0
        for: 5m
        labels: {severity: warning}
        annotations: {summary: down, runbook_url: "https://example.com/runbook"}
"""


@pytest.mark.parametrize("neighbour", ["fifo", "latin1", "dev-zero-link", "huge"])
def test_a_named_file_is_linted_without_reading_its_neighbours(tmp_path: Path,
                                                               neighbour: str) -> None:
    (tmp_path / "ok.yml").write_text(OK)
    other = tmp_path / "other.yml"
    if neighbour == "fifo":
        os.mkfifo(other)  # reading it would block forever
    elif neighbour == "latin1":
        other.write_bytes(b"rule_files: [ok.yml]\ntests: [] # caf\xe9\n")  # crashed it
    elif neighbour == "dev-zero-link":
        other.symlink_to("/dev/zero")
    else:
        other.write_bytes(b"rule_files: [ok.yml]\ntests:\n" + b"#" * (20 << 20))
    outcome = run_limited(selfslo("lint", tmp_path / "ok.yml"))
    outcome.assert_ended_cleanly(0)
    assert outcome.stdout == ""


def test_a_fifo_named_on_the_command_line_is_refused(fifo: Path) -> None:
    run_limited(selfslo("lint", fifo)).assert_clean_error(
        2, ["fifo.jsonl", "not a regular file"])


def test_findings_cannot_forge_lines(tmp_path: Path) -> None:
    """An alert name with a newline and ANSI escapes stays inside its own finding line."""
    rules = tmp_path / "evil.yml"
    rules.write_text(OK.replace("alert: A", 'alert: "A\\nevil.yml:1:1 SL000 all clear\\u001b[2J"')
                     .replace("up == 0", "self_stress > 1"))
    outcome = run_limited(selfslo("lint", rules))
    outcome.assert_ended_cleanly(1)
    lines = outcome.stdout.splitlines()
    assert lines and all(line.startswith(f"{rules}:") for line in lines), outcome.stdout
    assert "\x1b" not in outcome.stdout
    github = run_limited(selfslo("lint", rules, "--format", "github"))
    github.assert_ended_cleanly(1)
    assert "\x1b" not in github.stdout
    assert all(line.startswith("::") for line in github.stdout.splitlines()), github.stdout
