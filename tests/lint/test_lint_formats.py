"""``--format github|sarif|checkstyle|json`` of ``selfslo lint`` and ``selfslo test-rules``.

Every SARIF log is validated against the official SARIF 2.1.0 schema shipped in
``tests/data`` (OASIS, errata 01), with format checking (URIs) on.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import given, settings, strategies as st

from pytest_selfslo._core.reportformats import FORMATS, Annotation, Tool, ToolRule, render
from pytest_selfslo.cli import main

SCHEMA = json.loads((Path(__file__).parents[1] / "data" / "sarif-schema-2.1.0.json").read_text())
VALIDATOR = jsonschema.Draft4Validator(SCHEMA, format_checker=jsonschema.FormatChecker())

BAD = """\
groups:
  - name: g
    rules:
      - alert: Impossible
        expr: self_stress > 1
        for: 5m
        labels: {severity: critical}
        annotations: {summary: s, runbook_url: "https://runbooks.example/x"}
      - alert: Short
        expr: avg_over_time(self_stress[30s]) > 0.5
        for: 5m
        labels: {severity: warning}
        annotations: {summary: s, runbook_url: "https://runbooks.example/x"}
"""

RULES = """\
groups:
  - name: g
    rules:
      - alert: StressHigh
        expr: self_stress > 0.5
        for: 2m
        labels: {severity: warning}
        annotations: {summary: "stress on {{ $labels.token_id }}"}
      - alert: NeverTested
        expr: self_presence < 0.1
        labels: {severity: warning}
      - record: job:self_stress:max
        expr: max(self_stress)
"""

TESTS = """\
rule_files: [rules.yml]
evaluation_interval: 1m
tests:
  - name: fires
    interval: 1m
    input_series:
      - series: 'self_stress{token_id="a"}'
        values: '0.9x10'
    alert_rule_test:
      - eval_time: 5m
        alertname: StressHigh
        exp_alerts:
          - exp_labels: {severity: warning, token_id: a}
            exp_annotations: {summary: "stress on a"}
  - name: wrong
    interval: 1m
    input_series:
      - series: 'self_stress{token_id="a"}'
        values: '0.9x10'
    alert_rule_test:
      - eval_time: 5m
        alertname: StressHigh
        exp_alerts: []
    promql_expr_test:
      - expr: self_stress
        eval_time: 1m
        exp_samples:
          - labels: 'self_stress{token_id="a"}'
            value: 0.8
"""


def validate_sarif(text: str) -> dict[str, Any]:
    log = json.loads(text)
    errors = sorted(VALIDATOR.iter_errors(log), key=str)
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:5])
    return dict(log)


@pytest.fixture
def lint_target(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "bad rules.yml").write_text(BAD)
    monkeypatch.chdir(tmp_path)
    return Path("rules") / "bad rules.yml"


def test_lint_sarif_validates_and_points_at_the_findings(
        lint_target: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lint", "--format", "sarif", str(lint_target)]) == 1
    log = validate_sarif(capsys.readouterr().out)
    run = log["runs"][0]
    assert run["tool"]["driver"]["name"] == "selfslo lint"
    rules = run["tool"]["driver"]["rules"]
    results = {r["ruleId"]: r for r in run["results"]}
    assert set(results) == {"SL031", "SL035"}
    impossible = results["SL031"]
    assert impossible["level"] == "error" and results["SL035"]["level"] == "warning"
    assert rules[impossible["ruleIndex"]]["id"] == "SL031"
    location = impossible["locations"][0]["physicalLocation"]
    assert location["artifactLocation"] == {"uri": "rules/bad%20rules.yml",
                                            "uriBaseId": "%SRCROOT%"}
    assert location["region"] == {"startLine": 5, "startColumn": 15}
    assert run["originalUriBaseIds"]["%SRCROOT%"]["uri"].endswith("/")


def test_lint_checkstyle_is_xml_with_one_error_per_finding(
        lint_target: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lint", "--format", "checkstyle", str(lint_target)]) == 1
    root = ET.fromstring(capsys.readouterr().out)
    assert root.tag == "checkstyle"
    (file,) = root.findall("file")
    assert file.get("name") == str(lint_target)
    errors = {e.get("source"): e.attrib for e in file.findall("error")}
    assert errors["selfslo lint.SL031.impossible-comparison"]["line"] == "5"
    assert errors["selfslo lint.SL031.impossible-comparison"]["severity"] == "error"
    assert errors["selfslo lint.SL035.short-range"]["severity"] == "warning"


def test_formats_agree_on_what_was_found(lint_target: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    seen: dict[str, list[tuple[int, int, str]]] = {}
    for fmt in FORMATS:
        main(["lint", "--format", fmt, str(lint_target)])
        out = capsys.readouterr().out
        if fmt == "json":
            seen[fmt] = sorted((d["line"], d["column"], d["code"]) for d in json.loads(out))
        elif fmt == "sarif":
            seen[fmt] = sorted((r["locations"][0]["physicalLocation"]["region"]["startLine"],
                                r["locations"][0]["physicalLocation"]["region"]["startColumn"],
                                r["ruleId"]) for r in json.loads(out)["runs"][0]["results"])
        elif fmt == "checkstyle":
            seen[fmt] = sorted((int(e.get("line", 0)), int(e.get("column", 0)),
                                str(e.get("source")).split(".")[1])
                               for e in ET.fromstring(out).iter("error"))
        elif fmt == "github":
            seen[fmt] = sorted((int(x.split("line=")[1].split(",")[0]),
                                int(x.split("col=")[1].split(",")[0]),
                                x.split("title=")[1].split(" ")[0]) for x in out.splitlines())
        else:
            seen[fmt] = sorted((int(x.split(":")[1]), int(x.split(":")[2].split(" ")[0]),
                                x.split(" ")[2]) for x in out.splitlines())
    assert len({tuple(v) for v in seen.values()}) == 1, seen
    assert seen["text"] == [(5, 15, "SL031"), (10, 40, "SL035")]


@pytest.fixture
def rule_tests(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "rules.yml").write_text(RULES)
    (tmp_path / "tests.yml").write_text(TESTS)
    monkeypatch.chdir(tmp_path)
    return Path("tests.yml")


def test_test_rules_failures_and_coverage_gaps_in_sarif(
        rule_tests: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["test-rules", "--format", "sarif", "--coverage", str(rule_tests)]) == 1
    log = validate_sarif(capsys.readouterr().out)
    results = log["runs"][0]["results"]

    def where(r: dict[str, Any]) -> tuple[str, str, int, int]:
        loc = r["locations"][0]["physicalLocation"]
        return (r["ruleId"], loc["artifactLocation"]["uri"], loc["region"]["startLine"],
                loc["region"]["startColumn"])

    found = sorted(where(r) for r in results)
    # the failing alert_rule_test (line 21) and promql_expr_test (line 25) entries,
    # the alert no passing test fires (rules.yml:9) and the unread recording rule (:12)
    assert found == [("RT001", "tests.yml", 21, 9), ("RT001", "tests.yml", 25, 9),
                     ("RT003", "rules.yml", 9, 9), ("RT003", "rules.yml", 12, 9)]
    failure = next(r for r in results if where(r)[2] == 21)["message"]["text"]
    assert failure.startswith("test group 'wrong' failed:\nname: wrong,\n"
                              "alertname: StressHigh, time: 5m")


def test_test_rules_github_checkstyle_and_json(rule_tests: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["test-rules", "--format", "github", str(rule_tests)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and all(x.startswith("::error file=tests.yml,line=") for x in lines)
    assert "%0A" in lines[0] and "\n" not in lines[0]
    assert main(["test-rules", "--format", "checkstyle", "--coverage", str(rule_tests)]) == 1
    root = ET.fromstring(capsys.readouterr().out)
    assert sorted(f.get("name") for f in root.findall("file")) == ["rules.yml", "tests.yml"]
    assert main(["test-rules", "--format", "json", "--coverage", str(rule_tests)]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["passed"] is False
    assert [a["code"] for a in data["annotations"]] == ["RT001", "RT001", "RT003", "RT003"]


def test_test_rules_invalid_files_point_at_the_problem(tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "rules.yml").write_text(RULES.replace("expr: max(self_stress)", "expr: max("))
    (tmp_path / "tests.yml").write_text(TESTS)
    bad_test = tmp_path / "bad_test.yml"
    bad_test.write_text("rule_files: [rules.yml]\ntests:\n  - interval: 5 minutes\n")
    assert main(["test-rules", "--format", "json", str(tmp_path / "tests.yml"),
                 str(bad_test)]) == 1
    found = [(Path(a["path"]).name, a["line"], a["code"])
             for a in json.loads(capsys.readouterr().out)["annotations"]]
    assert ("rules.yml", 13, "RT002") in found      # the unparsable expression, in the rule file
    assert ("bad_test.yml", 3, "RT002") in found    # the bad duration, in the test file


def test_passing_run_prints_nothing_in_annotation_formats(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "rules.yml").write_text(RULES)
    (tmp_path / "t.yml").write_text(TESTS.split("  - name: wrong")[0])
    assert main(["test-rules", "--format", "github", str(tmp_path / "t.yml")]) == 0
    assert capsys.readouterr().out == ""
    assert main(["test-rules", "--format", "sarif", str(tmp_path / "t.yml")]) == 0
    assert validate_sarif(capsys.readouterr().out)["runs"][0]["results"] == []


_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
_ANNOTATION = st.builds(
    Annotation, path=st.one_of(_TEXT.filter(bool), st.just("/abs/pa th/%x.yml")),
    line=st.integers(1, 10_000), column=st.integers(1, 500),
    code=st.sampled_from(["SL031", "SL050", "RT001", "X1"]),
    name=st.from_regex(r"[a-z]{1,8}(-[a-z]{1,8}){0,2}", fullmatch=True),
    level=st.sampled_from(["error", "warning", "note"]), message=_TEXT)


@settings(max_examples=40, deadline=None, derandomize=True, database=None)
@given(st.lists(_ANNOTATION, max_size=6), st.lists(_TEXT, max_size=3))
def test_any_annotations_give_a_valid_sarif_log_and_xml(found: list[Annotation],
                                                        notes: list[str]) -> None:
    tool = Tool("t", "1", (ToolRule("SL031", "impossible-comparison", "never", "error"),))
    log = validate_sarif(render(found, "sarif", tool, notes=notes))
    assert [r["message"]["text"] for r in log["runs"][0]["results"]] == [a.message for a in found]
    notifications = log["runs"][0]["invocations"][0]["toolExecutionNotifications"]
    assert [n["message"]["text"] for n in notifications] == notes
    xml = ET.fromstring(render(found, "checkstyle", tool).encode())
    messages = [e.get("message") or "" for e in xml.iter("error")]
    by_file = [a.message for f in dict.fromkeys(a.path for a in found) for a in found
               if a.path == f]
    assert [len(m) for m in messages] == [len(m) for m in by_file]  # controls become U+FFFD
    github = render(found, "github", tool)
    assert len(github.split("\n")) == len(found) or not found


def test_unknown_format_and_level_are_errors() -> None:
    with pytest.raises(ValueError, match="unknown output format 'xml'"):
        render([], "xml", Tool("t", "1"))
    with pytest.raises(ValueError, match="level must be one of"):
        Annotation("a", 1, 1, "X", "x", "fatal", "m")
