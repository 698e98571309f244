"""Issue 15: any team's rule repository lints clean -- no false alarms, one configuration.

The corpus under ``tests/corpus/realworld`` has the shapes of kubernetes-mixin
rendered rules and a platform team's Helm-chart rules. Each false positive
the issue reported has a regression test here in its real-world shape.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from pytest_selfslo._core.errors import ConfigError
from pytest_selfslo.cli import main
from pytest_selfslo.lint.config import LintConfig, find_lint_config, load_lint_config
from pytest_selfslo.lint.findings import Severity
from pytest_selfslo.lint.runner import lint_paths

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO / "tests" / "corpus" / "realworld"


def _rules(tmp_path: Path, body: str, name: str = "alerts.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(body))
    return path


def _codes(findings: list) -> list[str]:
    return [f.code for f in findings]


def test_the_corpus_has_no_lint_errors_by_default() -> None:
    findings = lint_paths([CORPUS])
    errors = [f.format() for f in findings if f.severity is Severity.ERROR]
    assert errors == []
    # house policy is still reported, as warnings: severity: page, no runbook_url
    assert {"SL021", "SL022"} <= set(_codes(findings))
    assert all(f.severity is Severity.WARNING for f in findings)


def test_the_corpus_is_not_a_self_project() -> None:
    """No SELF metric in the corpus: the SELF domain checks stay off (auto)."""
    from pytest_selfslo.lint.domain import text_uses_self_metrics

    texts = [p.read_text() for p in sorted(CORPUS.rglob("*.yaml"))]
    assert texts and not any(text_uses_self_metrics(t) for t in texts)


# ---------------------------------------------------------------- SL036
SAME_SERIES_TWICE = """\
    rule_files: [alerts.yaml]
    tests:
      - name: at max
        input_series:
          - series: 'current{job="ksm", hpa="web"}'
            values: '10x10'
          - series: 'max_replicas{job="ksm", hpa="web"}'
            values: '10x10'
        promql_expr_test:
          - expr: current / max_replicas
            eval_time: 5m
            exp_samples:
              - labels: '{job="ksm", hpa="web"}'
                value: 1
      - name: below max
        input_series:
          - series: 'current{job="ksm", hpa="web"}'
            values: '4x10'
          - series: 'max_replicas{job="ksm", hpa="web"}'
            values: '10x10'
"""
HPA_RULE = """\
    groups:
      - name: hpa
        rules:
          - alert: HpaMaxedOut
            expr: current == max_replicas
            for: 15m
            labels: {severity: warning}
            annotations: {summary: at max, runbook_url: "https://example.org/hpa"}
"""


def test_sl036_does_not_pool_series_of_independent_test_groups(tmp_path: Path) -> None:
    _rules(tmp_path, HPA_RULE)
    _rules(tmp_path, SAME_SERIES_TWICE, "alerts_test.yaml")
    assert "SL036" not in _codes(lint_paths([tmp_path]))


def test_sl036_still_finds_duplicates_within_one_test_group(tmp_path: Path) -> None:
    _rules(tmp_path, HPA_RULE)
    _rules(tmp_path, SAME_SERIES_TWICE.replace(
        "          - series: 'max_replicas{job=\"ksm\", hpa=\"web\"}'\n            values: '10x10'\n"
        "        promql_expr_test:",
        "          - series: 'max_replicas{job=\"ksm\", hpa=\"web\"}'\n            values: '10x10'\n"
        "          - series: 'current{job=\"ksm\", hpa=\"web\", pod=\"b\"}'\n"
        "            values: '1x10'\n"
        "        promql_expr_test:"), "alerts_test.yaml")
    # pod="b" is a second "current" series whose match labels ({hpa, job, pod}) differ: no
    # collision; the same labels twice in one entry are what Prometheus refuses
    assert "SL036" not in _codes(lint_paths([tmp_path]))
    _rules(tmp_path, SAME_SERIES_TWICE.replace(
        "        promql_expr_test:",
        "          - series: 'current{job=\"ksm\", hpa=\"web\", instance=\"b\"}'\n"
        "            values: '1x10'\n"
        "        promql_expr_test:", 1).replace(
        "expr: current / max_replicas", "expr: current / ignoring(instance) max_replicas"),
        "alerts_test.yaml")
    found = [f for f in lint_paths([tmp_path]) if f.code == "SL036"]
    assert found and "2 series on the left side" in found[0].message


# ---------------------------------------------------------------- SL032
def test_sl032_time_minus_an_aggregation_keeps_its_labels(tmp_path: Path) -> None:
    """kubernetes-mixin KubeJobNotCompleted: scalar - vector keeps the vector's labels."""
    path = _rules(tmp_path, """\
        groups:
          - name: kubernetes-apps
            rules:
              - alert: KubeJobNotCompleted
                expr: |
                  time() - max by (namespace, job_name, cluster) (kube_job_status_start_time{job="kube-state-metrics"}
                    and
                  kube_job_status_active{job="kube-state-metrics"} > 0) > 43200
                labels: {severity: warning}
                annotations:
                  summary: Job did not complete in time
                  runbook_url: https://example.org/kubejobnotcompleted
                  description: Job {{ $labels.namespace }}/{{ $labels.job_name }} is taking too long.
    """)
    assert "SL032" not in _codes(lint_paths([path]))


@pytest.mark.parametrize("expr", [
    "scalar(sum(x)) * max by (instance) (x) > 1",
    "max by (instance) (x) / (2 * pi()) > 1",
    "hour(max by (instance) (x)) > 1",
])
def test_sl032_other_scalar_vector_shapes_keep_labels(tmp_path: Path, expr: str) -> None:
    path = _rules(tmp_path, f"""\
        groups:
          - name: g
            rules:
              - alert: A
                expr: {expr}
                for: 5m
                labels: {{severity: warning}}
                annotations: {{summary: "on {{{{ $labels.instance }}}}", runbook_url: "https://e.org"}}
    """)
    assert "SL032" not in _codes(lint_paths([path]))


def test_sl032_still_finds_a_label_aggregated_away(tmp_path: Path) -> None:
    path = _rules(tmp_path, """\
        groups:
          - name: g
            rules:
              - alert: A
                expr: time() - max by (cluster) (kube_job_status_start_time) > 43200
                for: 5m
                labels: {severity: warning}
                annotations: {summary: "job {{ $labels.job_name }}", runbook_url: "https://e.org"}
    """)
    found = [f for f in lint_paths([path]) if f.code == "SL032"]
    assert len(found) == 1 and "$labels.job_name" in found[0].message
    assert "result keeps {cluster}" in found[0].message


# ---------------------------------------------------------------- SL030
COUNTERS_WITHOUT_SUFFIX = """\
    groups:
      - name: kubelet
        rules:
          - alert: KubeNodeEviction
            expr: sum(rate(kubelet_evictions{job="kubelet"}[15m])) by (cluster, eviction_signal, instance) > 0
            for: 5m
            labels: {severity: info}
            annotations: {summary: evicting, runbook_url: "https://example.org/eviction"}
          - alert: KubeletClientCertificateRenewalErrors
            expr: increase(kubelet_certificate_manager_client_expiration_renew_errors[5m]) > 0
            for: 15m
            labels: {severity: warning}
            annotations: {summary: renew errors, runbook_url: "https://example.org/renew"}
          - record: instance:node_vmstat_pgmajfault:rate5m
            expr: sum by (instance) (rate(node_vmstat_pgmajfault[5m]))
"""


def test_sl030_is_silent_about_counters_it_cannot_judge(tmp_path: Path) -> None:
    """kubelet_evictions and *_renew_errors are counters without a _total suffix."""
    path = _rules(tmp_path, COUNTERS_WITHOUT_SUFFIX)
    assert "SL030" not in _codes(lint_paths([path]))


def test_sl030_uses_the_servers_metadata(tmp_path: Path) -> None:
    path = _rules(tmp_path, COUNTERS_WITHOUT_SUFFIX)
    types = {"kubelet_evictions": "counter", "node_vmstat_pgmajfault": "unknown",
             "kubelet_certificate_manager_client_expiration_renew_errors": "gauge"}
    found = [f for f in lint_paths([path], metric_types=types) if f.code == "SL030"]
    assert [f.message.split(": ", 1)[1] for f in found] == [
        "increase() over gauge kubelet_certificate_manager_client_expiration_renew_errors: "
        "the Prometheus server's metadata says kubelet_certificate_manager_client_expiration_"
        "renew_errors is a gauge; a gauge is not a counter, use deriv(), delta() or "
        "avg_over_time()"]


def test_sl030_uses_how_the_file_and_its_tests_use_the_metric(tmp_path: Path) -> None:
    _rules(tmp_path, """\
        groups:
          - name: queues
            rules:
              - alert: QueueGrowing
                expr: deriv(queue_depth[30m]) > 0
                for: 30m
                labels: {severity: warning}
                annotations: {summary: growing, runbook_url: "https://example.org/q"}
              - record: queue:depth:rate5m
                expr: rate(queue_depth[5m])
              - record: temp:rate5m
                expr: rate(room_temperature[5m])
    """)
    _rules(tmp_path, """\
        rule_files: [alerts.yaml]
        tests:
          - input_series:
              - series: 'room_temperature{room="a"}'
                values: '21 20.5 22 19 23'
    """, "alerts_test.yaml")
    found = {f.message.split('", rule ')[1].split('"')[1]: f.message
             for f in lint_paths([tmp_path]) if f.code == "SL030"}
    assert set(found) == {"queue:depth:rate5m", "temp:rate5m"}
    assert "queue_depth is used as a gauge in this file (deriv() in group" in \
        found["queue:depth:rate5m"]
    assert "room_temperature's values in alerts_test.yaml go down as only a gauge's do" in \
        found["temp:rate5m"]


def test_sl030_test_values_that_only_rise_make_a_counter(tmp_path: Path) -> None:
    _rules(tmp_path, """\
        groups:
          - name: g
            rules:
              - record: a:rate5m
                expr: rate(thing[5m])
              - record: b:deriv
                expr: deriv(thing[5m])
    """)
    _rules(tmp_path, "rule_files: [alerts.yaml]\ntests:\n  - input_series:\n"
           "      - series: thing\n        values: '0+5x10'\n", "alerts_test.yaml")
    assert "SL030" not in _codes(lint_paths([tmp_path]))


def test_sl030_still_knows_the_self_gauges_in_a_self_project(tmp_path: Path) -> None:
    path = _rules(tmp_path, """\
        groups:
          - name: g
            rules:
              - record: x:rate
                expr: rate(self_stress[5m])
    """)
    found = [f for f in lint_paths([path]) if f.code == "SL030"]
    assert len(found) == 1 and "over gauge self_stress: self_stress is a gauge" in found[0].message
    # with the SELF domain switched off, a SELF name is just another unknown metric
    assert "SL030" not in _codes(lint_paths([path], config=LintConfig(domain="off")))


def test_sl031_self_domains_only_in_a_self_project(tmp_path: Path) -> None:
    path = _rules(tmp_path, """\
        groups:
          - name: g
            rules:
              - alert: Never
                expr: stability_score_ema > 1
                for: 5m
                labels: {severity: warning}
                annotations: {summary: s, runbook_url: "https://e.org"}
    """)
    assert "SL031" in _codes(lint_paths([path]))  # a SELF metric: auto opts in
    assert "SL031" not in _codes(lint_paths([path], config=LintConfig(domain="off")))
    generic = _rules(tmp_path, """\
        groups:
          - name: g
            rules:
              - alert: Never
                expr: up > 1
                for: 5m
                labels: {severity: warning}
                annotations: {summary: s, runbook_url: "https://e.org"}
    """, "generic.yaml")
    # what holds for every Prometheus (up is 0 or 1) is checked in every project
    assert "SL031" in _codes(lint_paths([generic], config=LintConfig(domain="off")))


# ---------------------------------------------------------------- SL021 / SL022 and config
PAGE_ALERT = """\
    groups:
      - name: platform
        rules:
          - alert: AppDown
            expr: up{job="app"} == 0
            for: 5m
            labels: {severity: page}
            annotations: {message: "app is down"}
"""


def test_house_policy_checks_are_warnings_by_default(tmp_path: Path) -> None:
    findings = lint_paths([_rules(tmp_path, PAGE_ALERT)])
    assert sorted(_codes(findings)) == ["SL021", "SL022", "SL022"]
    assert {f.severity for f in findings} == {Severity.WARNING}
    assert "got 'page'" in next(f.message for f in findings if f.code == "SL021")


def test_pyproject_table_configures_the_lint(tmp_path: Path) -> None:
    _rules(tmp_path, PAGE_ALERT)
    (tmp_path / "pyproject.toml").write_text(textwrap.dedent("""\
        [tool.selfslo.lint]
        allowed_severities = ["page", "ticket"]
        required_annotations = ["message"]
        severity = { SL020 = "error", "short-range" = "off" }
        disable = ["no-condition"]
    """))
    config = find_lint_config(tmp_path / "alerts.yaml")
    assert config.allowed_severities == frozenset({"page", "ticket"})
    assert config.source == f"{tmp_path / 'pyproject.toml'} [tool.selfslo.lint]"
    assert lint_paths([tmp_path / "alerts.yaml"], config=config) == []
    # per-check severity: a missing `for` becomes an error
    (tmp_path / "alerts.yaml").write_text(
        textwrap.dedent(PAGE_ALERT).replace("        for: 5m\n", ""))
    found = lint_paths([tmp_path / "alerts.yaml"], config=config)
    assert [(f.code, f.severity) for f in found] == [("SL020", Severity.ERROR)]


def test_ini_keys_configure_the_lint(tmp_path: Path) -> None:
    _rules(tmp_path, PAGE_ALERT)
    (tmp_path / "tox.ini").write_text(
        "[pytest]\nselfslo_lint_allowed_severities = critical, warning, page\n"
        "selfslo_lint_severity = SL022=error\n")
    config = find_lint_config(tmp_path)
    found = lint_paths([tmp_path / "alerts.yaml"], config=config)
    assert [(f.code, f.severity) for f in found] == [("SL022", Severity.ERROR)] * 2


def test_inline_disable_comments_still_work_with_a_config(tmp_path: Path) -> None:
    path = _rules(tmp_path, PAGE_ALERT.replace(
        "          - alert: AppDown", "          # selfslo-lint: disable=SL021\n"
                                    "          - alert: AppDown"))
    config = LintConfig().replace(severity=(("SL021", Severity.ERROR),))
    assert "SL021" not in _codes(lint_paths([path], config=config))


@pytest.mark.parametrize(("text", "fragment"), [
    ('[tool.selfslo.lint]\nseverity = { SL020 = "fatal" }\n',
     "severity of SL020: expected one of error, warning, off, got 'fatal'"),
    ('[tool.selfslo.lint]\ndisable = ["SL999"]\n', "unknown lint check 'SL999'"),
    ('[tool.selfslo.lint]\nseverties = ["page"]\n', "unknown key(s) severties"),
    ('[tool.selfslo.lint]\ndomain = "maybe"\n', "domain: expected auto, on or off"),
    ('[tool.selfslo.lint]\nscrape_interval = "soon"\n', "scrape_interval: expected a duration"),
    ('[tool.selfslo.lint]\ndisable = ["SL035"]\n[tool.pytest.ini_options]\n'
     'selfslo_lint_disable = "SL033"\n', "lint configured twice"),
])
def test_bad_lint_configuration_is_a_clear_error(tmp_path: Path, text: str,
                                                 fragment: str) -> None:
    (tmp_path / "pyproject.toml").write_text(text)
    with pytest.raises(ConfigError) as info:
        load_lint_config(tmp_path / "pyproject.toml")
    assert fragment in str(info.value)
    assert str(tmp_path / "pyproject.toml") in str(info.value)


def test_cli_reads_the_project_config_and_exits_2_on_a_bad_one(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _rules(tmp_path, PAGE_ALERT)
    (tmp_path / "pyproject.toml").write_text('[tool.selfslo.lint]\nseverity = {SL021 = "error"}\n')
    monkeypatch.chdir(tmp_path)
    assert main(["lint", "alerts.yaml"]) == 1
    assert "alerts.yaml:7:28 SL021 " in capsys.readouterr().out
    (tmp_path / "pyproject.toml").write_text('[tool.selfslo.lint]\nseverity = {SL021 = 3}\n')
    assert main(["lint", "alerts.yaml"]) == 2
    err = capsys.readouterr().err
    assert "selfslo lint: error: " in err and "severity of SL021" in err
    assert "Traceback" not in err


def test_cli_json_of_the_corpus_matches_lint_paths(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    assert main(["lint", "--format", "json", "tests/corpus/realworld"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == [f.to_dict() for f in lint_paths(["tests/corpus/realworld"])]


@pytest.mark.parametrize("name", ["missing.ini", "missing.toml", "setup.cfg"])
def test_a_named_lint_config_that_does_not_exist_is_an_error(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        name: str) -> None:
    # a typo in --config used to lint silently with the defaults
    _rules(tmp_path, PAGE_ALERT)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as info:
        load_lint_config(tmp_path / name)
    assert str(tmp_path / name) in str(info.value) and "No such file" in str(info.value)
    assert main(["lint", "--config", name, "alerts.yaml"]) == 2
    err = capsys.readouterr().err
    assert f"selfslo lint: error: {name}: cannot read the lint configuration: No such file" in err
    assert "Traceback" not in err
