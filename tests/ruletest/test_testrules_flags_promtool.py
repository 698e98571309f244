"""promtool's ``test rules`` flags, ours against every real promtool.

For each promtool binary (``$SELFSLO_PROMTOOLS``: 2.42, 2.53 and 3.5 in CI),
with the engine semantics of its release:

* ``--enable-feature=promql-experimental-functions``: a rule or a test
  expression calling each function a recent Prometheus added (experimental or
  not) passes or fails exactly as with promtool, with and without the flag,
  and a refused expression gets promtool's parse error word for word;
* ``--junit`` (promtool 2.55+): the same suites, counts, test cases, failures
  and errors, each failure text starting with promtool's;
* ``--debug`` (3.0+): the same ``DEBUG:`` lines but the durations;
* ``--diff`` (2.52+): the same coloured ``diff:`` block.

Each skips, with the reason, when the binary lacks the flag or none is available.
"""

from __future__ import annotations

import os
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml
from promtool_runs import Promtool

from pytest_selfslo.promql.features import parse_features
from pytest_selfslo.ruletest.jsondiff import COLOR
from pytest_selfslo.ruletest.junit import junit_xml
from pytest_selfslo.ruletest.runner import run_rule_tests

#: one call of each function whose availability differs between releases
CALLS = {
    "sort_by_label": 'sort_by_label(up, "job")',
    "sort_by_label_desc": 'sort_by_label_desc(up, "job")',
    "mad_over_time": "mad_over_time(up[5m])",
    "limitk": "limitk(1, up)",
    "limit_ratio": "limit_ratio(1, up)",
    "double_exponential_smoothing": "double_exponential_smoothing(up[5m], 0.5, 0.5)",
    "ts_of_max_over_time": "ts_of_max_over_time(up[5m])",
    "ts_of_last_over_time": "ts_of_last_over_time(up[5m])",
    "histogram_avg": "histogram_avg(up)",
    "histogram_stddev": "histogram_stddev(up)",
    "first_over_time": "first_over_time(up[5m])",
    "info": "info(up)",
    "plain": "up",
}
#: the embedded engine refuses info() (docs/promql-functions.md): promtool with the flag runs it
UNSUPPORTED = {"info"}
FLAG = "--enable-feature=promql-experimental-functions"


def _promtool(binary: Promtool, args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([binary.path, "test", "rules", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=300, check=False, env={**os.environ, "NO_COLOR": ""})


def _write_cases(tmp: Path) -> list[str]:
    names = []
    for name, call in CALLS.items():
        (tmp / f"rules_{name}.yml").write_text(yaml.safe_dump(
            {"groups": [{"name": "g", "rules": [{"record": f"r:{name}", "expr": call}]}]}))
        series = [{"series": 'up{job="a"}', "values": "1 1 1"}]
        for kind, rule_files, expr in (("rule", [f"rules_{name}.yml"], f"count(r:{name})"),
                                       ("expr", [], f"count({call})")):
            (tmp / f"{kind}_{name}.yml").write_text(yaml.safe_dump({
                "rule_files": rule_files, "evaluation_interval": "1m",
                "tests": [{"interval": "1m", "input_series": series, "promql_expr_test": [
                    {"expr": expr, "eval_time": "2m",
                     "exp_samples": [{"labels": "{}", "value": 1}]}]}]}))
            names.append(f"{kind}_{name}.yml")
    return names


@pytest.mark.parametrize("flag", [False, True], ids=["default", "experimental-functions"])
def test_experimental_function_verdicts(promtool_bin: Promtool, tmp_path: Path, flag: bool) -> None:
    files = _write_cases(tmp_path)
    features = parse_features([FLAG.split("=", 1)[1]] if flag else [], promtool_bin.semantics)
    mismatches = []
    for name in files:
        proc = _promtool(promtool_bin, [FLAG, name] if flag else [name], tmp_path)
        report = run_rule_tests([str(tmp_path / name)], semantics=promtool_bin.semantics,
                                features=features)
        function = name.split("_", 1)[1].removesuffix(".yml")
        if function in UNSUPPORTED and proc.returncode == 0:
            assert "not supported by the embedded engine" in report.format_text()
            continue
        if report.exit_code != proc.returncode:
            mismatches.append(f"{name}: promtool {proc.returncode}, ours {report.exit_code}")
            continue
        err = [ln for ln in proc.stderr.splitlines() if "parse error" in ln]
        if name.startswith("expr_") and err:  # the expression's error, word for word
            assert err[0].strip() in report.format_text(), (err[0], report.format_text())
    assert not mismatches, f"{promtool_bin.name}:\n" + "\n".join(mismatches)


RULES = """groups:
- name: g
  rules:
  - alert: High
    expr: up > 0
    for: 1m
    labels: {severity: page}
    annotations: {summary: 'up is {{ $value }}'}
  - record: job:up
    expr: sum by (job) (up)
"""

PASSING = """rule_files: [rules.yml]
evaluation_interval: 1m
tests:
- name: first
  interval: 1m
  input_series:
  - series: 'up{job="a"}'
    values: '1 1 1'
  - series: 'up{job="b"}'
    values: '0 2 NaN'
  alert_rule_test:
  - alertname: High
    eval_time: 2m
    exp_alerts:
    - exp_labels: {severity: page, job: a}
      exp_annotations: {summary: 'up is 1'}
- interval: 1m
  input_series:
  - series: 'up{job="a"}'
    values: '1 1 1'
  promql_expr_test:
  - expr: job:up
    eval_time: 1m
    exp_samples:
    - labels: 'job:up{job="a"}'
      value: 1
"""


def _files(tmp: Path) -> list[str]:
    (tmp / "rules.yml").write_text(RULES)
    (tmp / "pass.yml").write_text(PASSING)
    failing = (PASSING.replace("value: 1\n", "value: 2\n")
               .replace("severity: page, job: a", "severity: ticket, job: a")
               .replace("'up is 1'", "'up is 1'}\n    - exp_labels: {severity: page, job: c"))
    (tmp / "fail.yml").write_text(failing)
    (tmp / "badrules.yml").write_text(PASSING.replace("[rules.yml]", "[broken_rules.yml]"))
    (tmp / "broken_rules.yml").write_text("groups:\n- name: g\n  rules:\n  - record: x\n"
                                          "    expr: 'up +'\n")
    (tmp / "broken.yml").write_text("rule_files: [rules.yml]\ntests: [\n")
    return ["pass.yml", "fail.yml", "badrules.yml", "broken.yml"]


def _structure(xml_text: str) -> list[tuple[object, ...]]:
    root = ET.fromstring(xml_text)
    assert root.tag == "testsuites"
    out: list[tuple[object, ...]] = []
    for suite in root:
        assert suite.tag == "testsuite"
        attrs = tuple(suite.get(k) for k in ("name", "tests", "failures", "errors", "skipped"))
        cases = tuple((c.get("name"), len(c.findall("failure")), c.find("error") is not None)
                      for c in suite)
        out.append((attrs, bool(suite.get("timestamp")), cases))
    return out


def test_junit_matches_promtool(promtool_bin: Promtool, tmp_path: Path) -> None:
    if promtool_bin.version < (2, 55, 0):
        pytest.skip(f"{promtool_bin.name} has no --junit (2.55+)")
    files = _files(tmp_path)
    proc = _promtool(promtool_bin, ["--junit=theirs.xml", *files], tmp_path)
    assert proc.returncode == 1, proc.stderr
    theirs = (tmp_path / "theirs.xml").read_text()
    cwd = Path.cwd()
    os.chdir(tmp_path)  # suite names are the paths as given, like promtool's
    try:
        ours = junit_xml(run_rule_tests(files, semantics=promtool_bin.semantics))
    finally:
        os.chdir(cwd)
    assert _structure(ours) == _structure(theirs)
    mine = {(s.get("name"), c.get("name")): [f.text or "" for f in c.findall("failure")]
            for s in ET.fromstring(ours) for c in s}
    for suite in ET.fromstring(theirs):
        for case in suite:
            if suite.get("name") == "fail.yml":  # our failure texts begin with promtool's
                for want, got in zip([f.text or "" for f in case.findall("failure")],
                                     mine[(suite.get("name"), case.get("name"))], strict=True):
                    assert got.startswith(want), (want, got)


def test_debug_matches_promtool(promtool_bin: Promtool, tmp_path: Path) -> None:
    if promtool_bin.version < (3, 0, 0):
        pytest.skip(f"{promtool_bin.name} has no --debug (3.0+)")
    _files(tmp_path)
    for name in ("pass.yml", "fail.yml"):
        proc = _promtool(promtool_bin, ["--debug", name], tmp_path)
        theirs = [ln for ln in proc.stdout.splitlines()
                  if ln and not ln.startswith(("DEBUG: Test ", "  SUCCESS"))]
        report = run_rule_tests([str(tmp_path / name)], semantics=promtool_bin.semantics,
                                debug=True)
        ours = [ln for g in report.files[0].groups for ln in g.debug
                if not ln.startswith("DEBUG: Test ")]
        assert ours == theirs
        assert sum(ln.startswith("DEBUG: Test ") for g in report.files[0].groups
                   for ln in g.debug) == len(report.files[0].groups)


def test_diff_matches_promtool(promtool_bin: Promtool, tmp_path: Path) -> None:
    if promtool_bin.version < (2, 52, 0):
        pytest.skip(f"{promtool_bin.name} has no --diff (2.52+)")
    _files(tmp_path)
    proc = _promtool(promtool_bin, ["--diff", "fail.yml"], tmp_path)
    start = proc.stderr.index("        diff: ")
    end = proc.stderr.index("\n            ]", start) + len("\n            ]")
    theirs = proc.stderr[start:end]
    report = run_rule_tests([str(tmp_path / "fail.yml")], semantics=promtool_bin.semantics,
                            diff=COLOR)
    failure = report.files[0].groups[0].failures[0]
    assert theirs in failure, f"promtool:\n{theirs}\nours:\n{failure}"
    assert "\033[0;31m" in theirs  # an expected alert is missing: the red part is compared too


DELAYED = """evaluation_interval: 1m
tests:
- interval: 1m
  input_series:
  - series: 'up{job="a"}'
    values: '1 2 3 4'
  promql_expr_test:
  - expr: 'label_replace(rate(up[5m]), "x", "$1", "__name__", "(.*)")'
    eval_time: 3m
    exp_samples: [{labels: '{job="a"}', value: 0}]
  - expr: 'sum by (__name__) (rate(up[5m]))'
    eval_time: 3m
    exp_samples: [{labels: '{}', value: 0}]
"""


@pytest.mark.parametrize("flag", [False, True], ids=["default", "delayed-name-removal"])
def test_delayed_name_removal_matches_promtool(promtool_bin: Promtool, tmp_path: Path,
                                               flag: bool) -> None:
    (tmp_path / "t.yml").write_text(DELAYED)
    option = "--enable-feature=promql-delayed-name-removal"
    proc = _promtool(promtool_bin, [option, "t.yml"] if flag else ["t.yml"], tmp_path)
    features = parse_features([option.split("=", 1)[1]] if flag else [], promtool_bin.semantics)
    report = run_rule_tests([str(tmp_path / "t.yml")], semantics=promtool_bin.semantics,
                            features=features)
    theirs = [ln.strip() for ln in proc.stderr.splitlines() if ln.strip().startswith("got:")]
    ours = [ln.strip() for ln in report.format_text().splitlines()
            if ln.strip().startswith("got:")]
    assert len(theirs) == 2
    assert ours == theirs
    assert features.delayed_name_removal == (flag and promtool_bin.version >= (3, 4, 0))


def test_success_output_matches_promtool_byte_for_byte(promtool_bin: Promtool, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """stdout of a passing run: ``Unit Testing:  FILE`` opens each file's block only before 2.55."""
    _files(tmp_path)
    (tmp_path / "pass2.yml").write_text((tmp_path / "pass.yml").read_text())
    proc = _promtool(promtool_bin, ["pass.yml", "pass2.yml"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    monkeypatch.chdir(tmp_path)
    report = run_rule_tests(["pass.yml", "pass2.yml"], semantics=promtool_bin.semantics)
    assert report.format_text() + "\n" == proc.stdout
    assert ("Unit Testing:  pass.yml" in proc.stdout) == (promtool_bin.version < (2, 55, 0))
