"""The promtool-compatible runner: semantics, failure messages, coverage, API and CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from pytest_selfslo._core.errors import RuleTestFileError
from pytest_selfslo.alerting.ruleeval import alert_timeline
from pytest_selfslo.cli.test_rules import configure, run
from pytest_selfslo.ruletest.runner import load_test_file, run_rule_tests, run_test_group

RULES = """\
groups:
  - name: g
    rules:
      - record: job:err:avg5m
        expr: avg by (job) (avg_over_time(err[5m]))
      - alert: HighErr
        expr: job:err:avg5m > 0.5
        for: 5m
        labels: {severity: page}
        annotations:
          summary: "{{ $labels.job }} errors at {{ $value | humanizePercentage }}"
      - alert: Flappy
        expr: err > 0.5
        keep_firing_for: 3m
"""


def write(tmp_path: Path, tests: str) -> Path:
    (tmp_path / "rules.yml").write_text(RULES)
    path = tmp_path / "test.yml"
    path.write_text("rule_files: [rules.yml]\nevaluation_interval: 1m\ntests:\n" + tests)
    return path


FIRING = """\
  - name: fires
    interval: 1m
    input_series:
      - series: 'err{job="api"}'
        values: '1x20'
    alert_rule_test:
      - eval_time: 4m
        alertname: HighErr
        exp_alerts: []
      - eval_time: 5m30s
        alertname: HighErr
        exp_alerts:
          - exp_labels: {job: api, severity: page}
            exp_annotations: {summary: "api errors at 100%"}
    promql_expr_test:
      - expr: job:err:avg5m
        eval_time: 2m
        exp_samples:
          - labels: 'job:err:avg5m{job="api"}'
            value: 1
"""


def test_for_and_eval_time_flooring(tmp_path: Path) -> None:
    report = run_rule_tests([str(write(tmp_path, FIRING))])
    assert report.passed, report.format_text()
    cov = report.coverage
    statuses = {k.name: s for k, s in cov.status.items()}
    assert statuses == {"job:err:avg5m": "tested", "HighErr": "firing", "Flappy": "untested"}
    assert cov.percentage == pytest.approx(200 / 3)
    assert "rule coverage: 66.7% of 3 rules" in cov.format_table()


def test_missing_alert_explains_pending_state(tmp_path: Path) -> None:
    path = write(tmp_path, FIRING.replace("eval_time: 5m30s", "eval_time: 4m30s"))
    report = run_rule_tests([str(path)])
    assert report.exit_code == 1
    text = report.format_text()
    assert "alertname: HighErr, time: 4m30s" in text
    assert "diff (-expected +got):" in text
    assert "is pending for 4m at 4m, `for` is 5m" in text


def test_missing_alert_explains_expression_value(tmp_path: Path) -> None:
    path = write(tmp_path, FIRING.replace("values: '1x20'", "values: '0.2x20'").replace(
        "value: 1\n", "value: 0.2\n"))
    text = run_rule_tests([str(path)]).format_text()
    assert "left-hand side job:err:avg5m{} is job:err:avg5m{job=\"api\"} 0.2" in text


def test_keep_firing_for_timeline() -> None:
    ts = np.arange(0, 10 * 60_000, 60_000, dtype=np.int64)
    present = np.array([1, 1, 0, 0, 1, 0, 0, 0, 0, 0], dtype=bool)
    state, active_at, _ = alert_timeline(ts, present, 0, 180_000)
    # fires at once, keeps firing through the 2-step gap (same ActiveAt), then 3m after the last
    assert state.tolist() == [2, 2, 2, 2, 2, 2, 2, 2, 0, 0]
    assert set(active_at[:8].tolist()) == {0}
    state, _, _ = alert_timeline(ts, present, 120_000, 0)
    assert state.tolist() == [1, 1, 0, 0, 1, 0, 0, 0, 0, 0]


def test_group_api_and_run_filter(tmp_path: Path) -> None:
    path = write(tmp_path, FIRING + FIRING.replace("name: fires", "name: other").replace(
        "value: 1\n", "value: 2\n"))
    test_file = load_test_file(path)
    assert [g.display_name for g in test_file.groups] == ["fires", "other"]
    first = run_test_group(test_file, test_file.groups[0])
    second = run_test_group(test_file, test_file.groups[1])
    assert first.passed and not second.passed
    assert "exp: {__name__=\"job:err:avg5m\", job=\"api\"} 2E+00" in second.failures[0]
    assert run_rule_tests([str(path)], run=["fires"]).exit_code == 0
    assert run_rule_tests([str(path)], run=["oth"]).exit_code == 1


def test_rule_error_stops_group(tmp_path: Path) -> None:
    (tmp_path / "rules.yml").write_text(
        "groups:\n  - name: g\n    rules:\n      - record: j\n        expr: a + on(x) b\n")
    path = tmp_path / "t.yml"
    path.write_text("rule_files: [rules.yml]\ntests:\n  - input_series:\n"
                    "      - {series: 'a{x=\"1\"}', values: '1'}\n"
                    "      - {series: 'b{x=\"1\",y=\"1\"}', values: '_ 1'}\n"
                    "      - {series: 'b{x=\"1\",y=\"2\"}', values: '_ 1'}\n"
                    "    promql_expr_test:\n      - {expr: a, eval_time: 2m}\n")
    text = run_rule_tests([str(path)]).format_text()
    assert "rule: j, time: 1m0s, err:" in text and "many-to-many" in text


@pytest.mark.parametrize(("body", "fragment"), [
    ("tests:\n  - intervall: 1m\n", ":2:5: tests[0]: field 'intervall' not found"),
    ("evaluation_interval: 1x\n", ":1:22: evaluation_interval: expected a duration"),
    ("tests:\n  - input_series:\n      - {series: 'up', values: '1+x'}\n", ":3:9:"),
    ("tests:\n  - alert_rule_test:\n      - eval_time: 1m\n", "misses required attribute alertname"),
    ("group_eval_order: [a, a]\n", "group name repeated in evaluation order: a"),
])
def test_bad_test_files(tmp_path: Path, body: str, fragment: str) -> None:
    path = tmp_path / "t.yml"
    path.write_text(body)
    with pytest.raises(RuleTestFileError) as err:
        load_test_file(path)
    assert str(err.value).startswith(str(path))
    assert fragment in str(err.value)
    assert run_rule_tests([str(path)]).exit_code == 1


def test_cli_text_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import argparse

    parser = argparse.ArgumentParser()
    configure(parser)
    path = str(write(tmp_path, FIRING))
    assert run(parser.parse_args([path, "--coverage"])) == 0
    out = capsys.readouterr().out
    assert "SUCCESS" in out and "HighErr" in out
    assert run(parser.parse_args([path, "--format", "json"])) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["passed"] is True and data["files"][0]["groups"][0]["name"] == "fires"


def test_selfslo_cli_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from pytest_selfslo.cli import main

    good = str(write(tmp_path, FIRING))
    assert main(["test-rules", good]) == 0
    bad = tmp_path / "bad.yml"
    bad.write_text("tests: [\n")
    # promtool exits 1 for unreadable input too (not the generic usage code 2)
    assert main(["test-rules", str(bad), "--semantics", "2"]) == 1
    assert main(["test-rules", str(tmp_path / "missing.yml")]) == 1
    err = capsys.readouterr().err
    assert f"{bad}:2:1: invalid YAML" in err and "cannot read test file" in err


def test_an_alertname_typo_in_a_test_suggests_the_loaded_name(tmp_path: Path) -> None:
    path = write(tmp_path, """\
  - interval: 1m
    input_series:
      - series: 'err{job="a"}'
        values: '1x20'
    alert_rule_test:
      - eval_time: 15m
        alertname: HighEr
        exp_alerts:
          - exp_labels: {severity: page, job: a}
""")
    report = run_rule_tests([str(path)])
    assert not report.passed
    assert "note: no alerting rule named 'HighEr'; did you mean 'HighErr'?" in \
        report.format_text()
