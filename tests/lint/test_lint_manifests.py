"""PrometheusRule objects, ConfigMap rule files and multi-document YAML: the same rules,
the same findings and rule-test results as the plain file, positions in the manifest."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

from pytest_selfslo.cli import main
from pytest_selfslo.lint.findings import Finding
from pytest_selfslo.lint.runner import lint_paths
from pytest_selfslo.rulefmt.manifests import is_manifest, rule_documents
from pytest_selfslo.rulefmt.rulefile import check_rule_file, load_rule_files, parse_rule_text
from pytest_selfslo.ruletest.runner import run_rule_tests

#: rule groups with one problem per check family (SL031, SL021, SL035, SL032, SL033)
GROUPS = """\
groups:
  - name: slo
    rules:
      - alert: StressImpossible
        expr: self_stress > 1
        for: 5m
        labels: {severity: critical}
        annotations:
          summary: "stress on {{ $labels.token_id }}"
          runbook_url: https://runbooks.example/stress
      - alert: NoSeverity
        expr: avg by (token_id) (avg_over_time(self_coherence{job=~"^api$"}[30s])) < 0.8
        for: 5m
        annotations:
          summary: "coherence low on {{ $labels.instance }}"
          runbook_url: https://runbooks.example/coherence
      - record: job:self_presence:avg
        expr: avg by (job) (self_presence)
  - name: other
    interval: 30s
    rules:
      - alert: PresenceLow
        expr: |
          job:self_presence:avg
            < 0.5
        for: 10m
        labels: {severity: warning}
        annotations:
          summary: "presence {{ $value }} in {{ $labels.job }}"
          runbook_url: https://runbooks.example/presence
"""

TESTS = """\
rule_files:
  - {rule_file}
evaluation_interval: 1m
tests:
  - name: presence fires
    interval: 1m
    input_series:
      - series: 'self_presence{{job="api", token_id="a"}}'
        values: '0.2x20'
    alert_rule_test:
      - eval_time: 15m
        alertname: PresenceLow
        exp_alerts:
          - exp_labels: {{severity: warning, job: api}}
            exp_annotations:
              summary: "presence 0.2 in api"
              runbook_url: https://runbooks.example/presence
  - name: wrong expectation
    interval: 1m
    input_series:
      - series: 'self_presence{{job="api", token_id="a"}}'
        values: '0.2x20'
    alert_rule_test:
      - eval_time: 15m
        alertname: PresenceLow
        exp_alerts: []
"""


def prometheus_rule(groups: str = GROUPS, name: str = "slo-rules") -> str:
    return ("apiVersion: monitoring.coreos.com/v1\nkind: PrometheusRule\nmetadata:\n"
            f"  name: {name}\n  namespace: monitoring\n  labels:\n    role: alert-rules\n"
            "spec:\n" + textwrap.indent(groups, "  "))


def config_map(groups: str = GROUPS) -> str:
    return ("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: prometheus-rules\ndata:\n"
            "  prometheus.yml: |\n    global: {scrape_interval: 1m}\n"
            "  slo.rules.yaml: |\n" + textwrap.indent(groups, "    "))


DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
spec:
  replicas: 2
"""


def snippet(f: Finding, width: int = 12) -> str:
    """The source text a finding points at."""
    line = Path(f.path).read_text().split("\n")[f.line - 1]
    return line[f.column - 1:f.column - 1 + width]


def comparable(findings: list[Finding]) -> list[tuple[str, str, str]]:
    return sorted((f.code, f.message, snippet(f)) for f in findings)


@pytest.fixture
def plain(tmp_path: Path) -> Path:
    (tmp_path / "pyproject.toml").write_text("")
    path = tmp_path / "plain.yml"
    path.write_text(GROUPS)
    return path


@pytest.mark.parametrize("layout", ["prometheusrule", "configmap", "stream", "list", "flow"])
def test_manifest_lints_like_the_plain_file(plain: Path, layout: str) -> None:
    texts = {
        "prometheusrule": prometheus_rule(),
        "configmap": config_map(),
        "stream": "---\n" + DEPLOYMENT + "---\n# the rules\n" + prometheus_rule(),
        "list": "apiVersion: v1\nkind: List\nitems:\n"
                + textwrap.indent(prometheus_rule(), "  ").replace("  apiVersion", "- apiVersion", 1),
        "flow": ("apiVersion: monitoring.coreos.com/v1\nkind: PrometheusRule\n"
                 "metadata: {name: r}\nspec: {groups: [{name: slo, rules: [{alert: StressImpossible,"
                 " expr: self_stress > 1}]}]}\n"),
    }
    manifest = plain.parent / f"{layout}.yaml"
    manifest.write_text(texts[layout])
    ours, theirs = lint_paths([plain]), lint_paths([manifest])
    assert theirs and all(f.path == str(manifest) for f in theirs)
    if layout == "flow":  # one bare rule on one line: the same SL031, at its text
        impossible = [f for f in theirs if f.code == "SL031"]
        assert [f.message for f in impossible] == [f.message for f in ours if f.code == "SL031"]
        assert (impossible[0].line, snippet(impossible[0])) == (4, "self_stress ")
        return
    assert comparable(theirs) == comparable(ours)
    assert {f.code for f in ours} >= {"SL021", "SL031", "SL032", "SL033", "SL035"}
    # the positions moved with the text: they point into the manifest, not the plain lines
    assert [f.line for f in theirs] != [f.line for f in ours]


def test_rule_groups_and_lines_come_from_the_manifest(plain: Path) -> None:
    manifest = plain.parent / "crd.yaml"
    manifest.write_text(prometheus_rule())
    ours, theirs = load_rule_files([plain]), load_rule_files([manifest])
    assert [(g.name, g.interval_ms, [(r.name, r.expr, r.kind) for r in g.rules]) for g in ours] \
        == [(g.name, g.interval_ms, [(r.name, r.expr, r.kind) for r in g.rules]) for g in theirs]
    lines = manifest.read_text().split("\n")
    for group in theirs:
        assert lines[group.line - 1].strip() == f"- name: {group.name}"
        for rule in group.rules:
            assert lines[rule.line - 1].strip().endswith(f"{rule.kind}: {rule.name}")
    assert check_rule_file(manifest) == []


def test_rule_tests_give_the_same_results_for_both(plain: Path) -> None:
    manifest = plain.parent / "crd.yaml"
    manifest.write_text(prometheus_rule())
    for target in (plain, manifest):
        (plain.parent / f"test_{target.stem}.yml").write_text(TESTS.format(rule_file=target.name))
    report_plain = run_rule_tests([str(plain.parent / "test_plain.yml")])
    report_crd = run_rule_tests([str(plain.parent / "test_crd.yml")])
    outcome = [[(g.name, g.passed, g.failures) for g in f.groups] for f in report_plain.files]
    assert outcome == [[(g.name, g.passed, g.failures) for g in f.groups]
                       for f in report_crd.files]
    assert [g.passed for g in report_crd.files[0].groups] == [True, False]
    assert sorted(k.name for k in report_crd.coverage.status) == sorted(
        k.name for k in report_plain.coverage.status)


def test_several_prometheus_rules_in_one_file_are_separate_rule_files(tmp_path: Path) -> None:
    """Two objects may reuse a group name (the operator writes one file per object)."""
    path = tmp_path / "two.yaml"
    path.write_text(prometheus_rule(name="a") + "---\n" + prometheus_rule(name="b"))
    documents, problems = rule_documents(path.read_text())
    assert [d.origin for d in documents] == ["PrometheusRule monitoring/a",
                                             "PrometheusRule monitoring/b"]
    assert problems == []
    assert not [f for f in lint_paths([path]) if f.code == "SL010"]
    groups, found = parse_rule_text(path.read_text(), str(path))
    assert [g.name for g in groups] == ["slo", "other", "slo", "other"] and found == []


def test_objects_without_rules_are_ignored(tmp_path: Path) -> None:
    path = tmp_path / "deploy.yaml"
    path.write_text(DEPLOYMENT + "---\napiVersion: v1\nkind: ConfigMap\ndata:\n  a.txt: hello\n")
    assert lint_paths([path]) == []
    assert load_rule_files([path]) == []


def test_a_quoted_config_map_value_is_reported_not_guessed(tmp_path: Path) -> None:
    path = tmp_path / "cm.yaml"
    path.write_text('apiVersion: v1\nkind: ConfigMap\nmetadata: {name: r}\ndata:\n'
                    '  a.yaml: "groups:\\n- name: g\\n  rules: []\\n"\n')
    findings = lint_paths([path])
    assert [(f.code, f.line, f.column) for f in findings] == [("SL002", 5, 11)]
    assert "double-quoted" in findings[0].message and "literal block" in findings[0].message
    assert [p.line for p in check_rule_file(path)] == [5]


def test_a_prometheus_rule_without_groups_and_a_broken_stream(tmp_path: Path) -> None:
    empty = tmp_path / "empty.yaml"
    empty.write_text("apiVersion: monitoring.coreos.com/v1\nkind: PrometheusRule\n"
                     "metadata: {name: r}\nspec: {}\n")
    assert [(f.code, f.line) for f in lint_paths([empty])] == [("SL002", 4)]
    broken = tmp_path / "broken.yaml"
    broken.write_text(DEPLOYMENT + "---\nkind: PrometheusRule\nspec: [unclosed\n")
    found = lint_paths([broken])
    assert [(f.code, f.line) for f in found] == [("SL001", 10)]
    assert main(["lint", str(broken)]) == 1


@pytest.mark.parametrize(("tail", "expected"), [
    ("spec:\n  groups: " + "[" * 1001 + "]" * 1001,
     (11, 1009, "invalid YAML: nesting deeper than 1000 levels (MAX_DEPTH)")),
    ("".join(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10) if i else ', '.join(['x'] * 10)}]\n"
             for i in range(9)) + "spec: {groups: *a8}\n",
     (13, 10, "invalid YAML: document contains excessive aliasing: *a2")),
    ("spec: &s {groups: *s}\n", (10, 19, "invalid YAML: anchor 's' value contains itself")),
])
def test_a_hostile_manifest_is_one_problem_at_its_position(tmp_path: Path, tail: str,
                                                            expected: tuple[int, int, str]) -> None:
    """The stream is read by the one YAML reader: its limits hold in every document, and the
    problem is at the manifest's own line and column (here in the second document)."""
    text = DEPLOYMENT + "---\napiVersion: monitoring.coreos.com/v1\nkind: PrometheusRule\n" + tail
    documents, problems = rule_documents(text)
    assert documents == [] and len(problems) == 1
    line, column, message = expected
    assert (problems[0].line, problems[0].column, problems[0].kind) == (line, column, "syntax")
    assert problems[0].message.startswith(message)
    path = tmp_path / "hostile.yaml"
    path.write_text(text)
    assert [(p.line, p.column) for p in check_rule_file(path)] == [(line, column)]


def test_plain_files_are_not_manifests() -> None:
    assert not is_manifest(GROUPS)
    assert not is_manifest("groups:\n- name: g\n  rules:\n  - alert: A\n    expr: up\n"
                           "    labels: {kind: page}\n")
    assert is_manifest("---\n" + GROUPS)
    documents, _ = rule_documents("---\n" + GROUPS)
    assert documents[0].text == "\n" + GROUPS


def test_cli_lint_and_test_rules_read_manifests(plain: Path, capsys: pytest.CaptureFixture[str]
                                                ) -> None:
    manifest = plain.parent / "crd.yaml"
    manifest.write_text(prometheus_rule())
    assert main(["lint", str(manifest)]) == 1
    out = capsys.readouterr().out
    lines = prometheus_rule().split("\n")
    line = next(i for i, text in enumerate(lines, 1) if "expr: self_stress > 1" in text)
    assert f"{manifest}:{line}:{lines[line - 1].index('self_stress') + 1} SL031 " in out
    tests = plain.parent / "t.yml"
    tests.write_text(TESTS.format(rule_file="crd.yaml").split("  - name: wrong")[0])
    assert main(["test-rules", str(tests)]) == 0


def test_pytest_self_slo_collects_a_prometheus_rule(pytester: pytest.Pytester) -> None:
    (pytester.path / "rules" / "tests").mkdir(parents=True)
    (pytester.path / "rules" / "slo.yml").write_text(prometheus_rule(GROUPS.replace(
        "self_stress > 1", "self_stress > 0.5").replace("{job=~\"^api$\"}[30s]", "[5m]")
        .replace("      - alert: NoSeverity", "      - alert: Severe").replace(
        "        annotations:\n          summary: \"coherence low on {{ $labels.instance }}\"",
        "        labels: {severity: warning}\n        annotations:\n"
        "          summary: \"coherence low on {{ $labels.token_id }}\"")))
    (pytester.path / "rules" / "tests" / "t.yml").write_text(
        TESTS.format(rule_file="../slo.yml").split("  - name: wrong")[0])
    pytester.makeini("[pytest]\nselfslo_prometheus = embedded\nselfslo_canary_max_examples = 2\n")
    # (the drift item compares the rules with the built-in SELF SLO spec: not these rules)
    result = pytester.runpytest("--self-slo", "rules", "-p", "no:cacheprovider", "-q",
                                "-k", "not drift")
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed", 0) == 0 and outcomes["passed"] >= 4, result.stdout.str()
    nodeids = pytester.runpytest("--self-slo", "rules", "--collect-only", "-q",
                                 "-p", "no:cacheprovider").stdout.str()
    assert "rules/slo.yml::valid" in nodeids and "rules/slo.yml::lint" in nodeids
    assert "rules/tests/t.yml::presence fires" in nodeids


@pytest.mark.skipif(shutil.which("promtool") is None, reason="no promtool on PATH")
def test_promtool_check_item_reads_the_rule_files_of_a_manifest(pytester: pytest.Pytester) -> None:
    (pytester.path / "rules").mkdir()
    bad = prometheus_rule("groups:\n  - name: g\n    rules:\n      - alert: A\n"
                          "        expr: sum(\n")
    (pytester.path / "rules" / "bad.yml").write_text(bad)
    pytester.makeini("[pytest]\nselfslo_prometheus = local\nselfslo_canary_max_examples = 2\n")
    result = pytester.runpytest("--self-slo", "rules", "-p", "no:cacheprovider",
                                "-k", "promtool")
    result.assert_outcomes(failed=1)
    text = result.stdout.str()
    assert "promtool check rules rejected bad.yml" in text
    assert str(pytester.path / "rules" / "bad.yml") in text
