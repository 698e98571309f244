"""Rule-file loading and promtool-check-grade validation with positions."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_selfslo._core.durations import format_duration, format_go_duration, parse_duration
from pytest_selfslo._core.errors import RuleFileError
from pytest_selfslo.rulefmt.model import AlertingRule, RecordingRule
from pytest_selfslo.rulefmt.rulefile import check_rule_text, load_rule_files

GOOD = """\
groups:
  - name: g
    interval: 30s
    query_offset: 1m
    limit: 5
    labels: {team: a}
    rules:
      - record: job:up:sum
        expr: sum by (job) (up)
      - alert: Down
        expr: up == 0
        for: 5m
        keep_firing_for: 2m
        labels: {severity: page}
        annotations: {summary: "{{ $labels.job }} down"}
"""


def test_good_file_loads(tmp_path: Path) -> None:
    (tmp_path / "a.yml").write_text(GOOD)
    (group,) = load_rule_files([str(tmp_path / "*.yml")])
    assert (group.name, group.interval_ms, group.query_offset_ms, group.limit) == ("g", 30_000, 60_000, 5)
    record, alert = group.rules
    assert isinstance(record, RecordingRule) and record.labels == {"team": "a"}
    assert isinstance(alert, AlertingRule)
    assert (alert.for_ms, alert.keep_firing_for_ms, alert.line) == (300_000, 120_000, 10)
    assert alert.labels == {"team": "a", "severity": "page"}


@pytest.mark.parametrize(("text", "code", "line", "fragment"), [
    ("groups:\n  - name: g\n    owner: x\n    rules: []\n", "unknown-field", 3, "'owner' not found"),
    ("groups:\n  - name: g\n    rules: []\n  - name: g\n    rules: []\n", "duplicate-group", 4,
     "repeated"),
    ("groups:\n  - name: g\n    rules:\n      - record: a\n        alert: b\n        expr: up\n",
     "record-and-alert", 4, "only one of"),
    ("groups:\n  - name: g\n    rules:\n      - expr: up\n", "no-record-or-alert", 4, "one of"),
    ("groups:\n  - name: g\n    rules:\n      - record: a\n", "no-expr", 4, "'expr' must be set"),
    ("groups:\n  - name: g\n    rules:\n      - record: a\n        expr: 'up +'\n", "bad-expr", 5,
     "could not parse"),
    ("groups:\n  - name: g\n    rules:\n      - record: 'a-b'\n        expr: up\n", "record-name", 4,
     "invalid recording rule name"),
    ("groups:\n  - name: g\n    rules:\n      - record: a\n        expr: up\n        for: 1m\n",
     "recording-field", 4, "'for'"),
    # an empty label name (Prometheus 3 takes any other UTF-8 name, such as 0bad)
    ("groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n        labels:\n"
     "          '': x\n", "label-name", 7, "invalid label name"),
    ("groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n        annotations:\n"
     "          s: '{{ $label.x }}'\n", "template", 7, 'undefined variable "$label"'),
    ("groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n        for: 5 minutes\n",
     "type", 6, "expected a duration"),
    ("groups: [\n", "yaml-syntax", 2, "invalid YAML"),
    ("groups:\n  - name: g\n    rules:\n      - record: a\n        expr: 'up[5m]'\n", "expr-type", 5,
     "returns a range vector"),
    ("groups:\n  - name: g\n    rules:\n      - record: a\n        expr: 'rate(up)'\n", "bad-expr", 5,
     "expected type matrix in call to function 'rate'"),
])
def test_problems_have_code_line_and_message(text: str, code: str, line: int, fragment: str) -> None:
    problems = check_rule_text(text, "r.yml")
    assert [p.code for p in problems] == [code], problems
    assert problems[0].line == line
    assert fragment in problems[0].message
    assert str(problems[0]).startswith(f"r.yml:{line}:")


def test_all_problems_listed_in_one_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text("groups:\n  - name: g\n    x: 1\n    rules:\n      - record: a\n")
    with pytest.raises(RuleFileError) as err:
        load_rule_files([bad])
    message = str(err.value)
    assert f"{bad}:3:5:" in message and f"{bad}:5:" in message


def test_ignore_unknown_fields() -> None:
    text = "groups:\n  - name: g\n    owner: x\n    rules: []\n"
    assert check_rule_text(text, ignore_unknown_fields=True) == []


@pytest.mark.parametrize(("text", "ms", "canonical"), [
    ("0", 0, "0s"), ("5m", 300_000, "5m"), ("1h30m", 5_400_000, "1h30m"), ("14d", 1_209_600_000, "2w"),
    ("2m59s999ms", 179_999, "2m59s999ms"), ("106700d", 106700 * 86_400_000, "106700d"),
])
def test_durations_round_trip(text: str, ms: int, canonical: str) -> None:
    assert parse_duration(text) == ms
    assert format_duration(ms) == canonical


@pytest.mark.parametrize("text", ["", "60", "1.5m", "30m1h", "-5m", "5 m"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError, match="not a valid duration"):
        parse_duration(text)


@pytest.mark.parametrize(("ms", "text"), [
    (0, "0s"), (500, "500ms"), (1500, "1.5s"), (120_000, "2m0s"), (3_600_000, "1h0m0s"),
    (1_704_067_200_000, "473352h0m0s"),
])
def test_go_time_duration(ms: int, text: str) -> None:
    assert format_go_duration(ms) == text
