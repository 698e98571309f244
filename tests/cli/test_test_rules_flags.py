"""``selfslo test-rules`` accepts promtool's flags: --enable-feature, --junit, --debug, --diff.

No promtool needed: these pin our own behaviour (the comparison with each real
promtool is ``tests/ruletest/test_testrules_flags_promtool.py``).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from pytest_selfslo.cli import main
from pytest_selfslo.promql.engine import parse_expr
from pytest_selfslo.promql.features import FeatureSet, parse_features, unavailable_function
from pytest_selfslo.ruletest.debugdump import go_duration
from pytest_selfslo.ruletest.jsondiff import COLOR, PLAIN, json_diff, strip_ansi

RULES = """groups:
- name: g
  rules:
  - alert: High
    expr: up > 0
    labels: {severity: page}
"""
TEST = """rule_files: [rules.yml]
tests:
- name: first
  interval: 1m
  input_series:
  - series: 'up{job="a"}'
    values: '1 1 1'
  alert_rule_test:
  - alertname: High
    eval_time: 2m
    exp_alerts:
    - exp_labels: {severity: SEVERITY, job: a}
- interval: 1m
  input_series:
  - series: 'up{job="a"}'
    values: '1'
  promql_expr_test:
  - expr: EXPR
    eval_time: 0m
    exp_samples: [{labels: 'up{job="a"}', value: 1}]
"""


def _write(tmp: Path, severity: str = "page", expr: str = "sort_by_label(up, 'job')") -> str:
    (tmp / "rules.yml").write_text(RULES)
    path = tmp / "t.yml"
    path.write_text(TEST.replace("SEVERITY", severity).replace("EXPR", expr))
    return str(path)


def test_experimental_function_needs_the_feature(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path)
    assert main(["test-rules", path]) == 1
    assert 'err: 1:1: parse error: function "sort_by_label" is not enabled' in capsys.readouterr().err
    assert main(["test-rules", "--enable-feature=promql-experimental-functions", path]) == 0
    # promtool 2.53 cannot enable it: the flag is an unknown option there, with a warning
    assert main(["test-rules", "--semantics", "2.53",
                 "--enable-feature=promql-experimental-functions", path]) == 1
    err = capsys.readouterr().err
    assert 'WARNING: Unknown option for --enable-feature: "promql-experimental-functions"' in err


def test_gated_rule_points_at_the_expression(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "rules.yml").write_text(RULES.replace("up > 0", "limitk(1, up) > 0"))
    (tmp_path / "t.yml").write_text(TEST.replace("SEVERITY", "page").replace("EXPR", "up"))
    assert main(["test-rules", str(tmp_path / "t.yml")]) == 1
    err = capsys.readouterr().err
    assert ("rules.yml:5:11: group 'g', rule 1 ('High'): could not parse expression "
            "'limitk(1, up) > 0': 1:1: parse error: limitk() is experimental and must be "
            "enabled with --enable-feature=promql-experimental-functions") in err
    assert main(["test-rules", "--enable-feature", "promql-experimental-functions",
                 str(tmp_path / "t.yml")]) == 0


@pytest.mark.parametrize(("semantics", "values", "enabled", "warnings"), [
    ("3.5", ["promql-experimental-functions,promql-delayed-name-removal"],
     {"promql-experimental-functions", "promql-delayed-name-removal"}, []),
    ("3.5", ["foo", ",", "promql-delayed-name-removal"], {"promql-delayed-name-removal"},
     ["Unknown feature passed to --enable-feature: foo"]),
    ("3.1", ["promql-experimental-functions"], set(), ["--enable-feature is currently a no-op"]),
    ("2.42", ["promql-at-modifier,no-default-scrape-port,bar"], set(),
     ['Option for --enable-feature is a no-op after promotion to a stable feature: '
      '"promql-at-modifier"', 'Unknown option for --enable-feature: "bar"']),
])
def test_feature_names_per_release(semantics: str, values: list[str], enabled: set[str],
                                   warnings: list[str]) -> None:
    features = parse_features(values, semantics)
    assert features.enabled == enabled
    assert list(features.warnings) == warnings


@pytest.mark.parametrize(("semantics", "query", "message"), [
    ("2.42", "count(mad_over_time(x[5m]))", '1:7: parse error: unknown function with name '
                                            '"mad_over_time"'),
    ("2.53", "count(mad_over_time(x[5m]))", '1:7: parse error: function "mad_over_time" is '
                                            'not enabled'),
    ("2.53", "sum(\n  limit_ratio(0.5, x))", '2:3: parse error: unknown function with name '
                                             '"limit_ratio"'),
    ("3.5", "first_over_time(x[5m])", '1:1: parse error: unknown function with name '
                                      '"first_over_time"'),
    ("3.5", "start()", '1:6: parse error: unexpected "("'),
    ("2.42", "holt_winters(x[5m], 0.5, 0.5) + histogram_count(x)", None),
])
def test_unavailable_function_messages(semantics: str, query: str, message: str | None) -> None:
    assert unavailable_function(parse_expr(query), query, semantics, FeatureSet()) == message


def test_junit_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, severity="ticket", expr="up")
    broken = tmp_path / "broken.yml"
    broken.write_text("tests: [\n")
    out = tmp_path / "report.xml"
    assert main(["test-rules", "--junit", str(out), path, str(broken)]) == 1
    root = ET.fromstring(out.read_text())
    suites = [(s.get("name"), s.get("tests"), s.get("failures"), s.get("errors")) for s in root]
    assert suites == [(path, "2", "1", "0"), (str(broken), "1", "0", "1")]
    first = root[0][0]
    assert first.get("name") == "first"
    failure = first.find("failure")
    assert failure is not None and failure.text is not None
    assert failure.text.startswith("    name: first,\n    alertname: High, time: 2m, \n")
    assert root[0][1].get("name") == "unnamed#1" and root[0][1].find("failure") is None
    assert root[1][0].get("name") == "unknown" and root[1][0].find("error") is not None
    assert root[1].get("timestamp") == "" and root[0].get("timestamp")
    assert "&#xA;" in out.read_text()  # newlines escaped as Go's encoding/xml does
    assert not list(tmp_path.glob(".report.xml.*"))  # the temporary file is gone
    capsys.readouterr()


def test_junit_unwritable_path_is_a_usage_error(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, expr="up")
    target = tmp_path / "missing" / "report.xml"
    assert main(["test-rules", "--junit", str(target), path]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"selfslo test-rules: error: --junit: cannot write {target}: no such "
                   f"directory {str(target.parent)!r}"]
    assert not target.parent.exists()
    assert main(["test-rules", f"--junit={tmp_path}", path]) == 2
    assert "is a directory" in capsys.readouterr().err


def test_diff_plain_when_not_a_terminal(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    path = _write(tmp_path, severity="ticket", expr="up")
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert main(["test-rules", "--diff", path]) == 1
    err = capsys.readouterr().err
    assert '"severity": "ticket" => "page"' in err
    assert "\033[" not in err
    assert "exp:[" not in err  # the diff replaces promtool's exp/got blobs, as promtool does


def test_json_diff_styles() -> None:
    exp = [{"Labels": {"a": "1", "b": "x"}, "Annotations": {}}]
    got = [{"Labels": {"a": "2"}, "Annotations": {"s": "y"}},
           {"Labels": {}, "Annotations": {}}]
    coloured = json_diff(exp, got, COLOR)
    assert '\033[0;33m"1" => "2"\033[0m' in coloured
    assert '\033[0;31m"b": "x"\033[0m' in coloured
    assert '\033[0;32m"s": "y"\033[0m' in coloured
    plain = json_diff(exp, got, PLAIN)
    assert "[-\"b\": \"x\"-]" in plain and "{+\"s\": \"y\"+}" in plain
    assert strip_ansi(coloured).splitlines()[0] == "["
    # a multi-line added value is marked on every line, as jsondiff does
    assert plain.count("{+") == plain.count("+}") >= 4


def test_debug_and_compat_flags(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, expr="up")
    assert main(["test-rules", "--debug", "--experimental", "--no-diff", path]) == 0
    out = capsys.readouterr().out
    assert "DEBUG: Starting test first\nDEBUG: Dump of all data (input_series and rules) at 2m1s:" \
        in out
    assert '{__name__="up", job="a"} =>\n1 @[60000]\n1 @[120000]' in out
    assert "DEBUG: Test unnamed#1 finished, took " in out
    assert main(["test-rules", "--no-debug", path]) == 0
    assert "DEBUG" not in capsys.readouterr().out


@pytest.mark.parametrize(("seconds", "text"), [
    (0.021077402, "21.077402ms"), (0.0000015, "1.5µs"), (1.5, "1.5s"), (61, "1m1s"),
    (3600, "1h0m0s"), (0, "0s"), (121, "2m1s"),
])
def test_go_duration(seconds: float, text: str) -> None:
    assert go_duration(seconds) == text
