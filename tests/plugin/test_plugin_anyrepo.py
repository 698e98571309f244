"""Issue 15: any team's rule repository goes green with ``pytest --self-slo``.

A fresh repository of ours (``.yaml`` rule files and promtool tests, no SELF
metric, no configuration) goes green, goes red with a clear message when a
test is wrong, and gets no SELF item unless it opts in; ``selfslo lint`` and
the plugin report the same findings; the ``::promtool`` cross-check fails when
promtool fails the file.
"""

from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path

import pytest
from stand_in_promtool import fake_bin, promtool_script, python_only_path

from pytest_selfslo.cli import main

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO / "tests" / "corpus" / "realworld"
needs_promtool = pytest.mark.skipif(shutil.which("promtool") is None,
                                    reason="the Debian 'prometheus' package is not installed")

ALERTS = """\
groups:
  - name: api
    rules:
      - record: job:http_errors:ratio_rate5m
        expr: |
          sum by (job) (rate(http_requests_total{code=~"5.."}[5m]))
            /
          sum by (job) (rate(http_requests_total[5m]))
      - alert: ApiErrorsHigh
        expr: job:http_errors:ratio_rate5m > 0.05
        for: 10m
        labels:
          severity: page
        annotations:
          summary: "{{ $labels.job }} fails {{ $value | humanizePercentage }} of requests"
"""
ALERTS_TEST = """\
rule_files: [../alerts.yaml]
evaluation_interval: 1m
tests:
  - name: errors page
    interval: 1m
    input_series:
      - series: 'http_requests_total{job="api", code="500"}'
        values: '0+10x30'
      - series: 'http_requests_total{job="api", code="200"}'
        values: '0+90x30'
    alert_rule_test:
      - eval_time: 20m
        alertname: ApiErrorsHigh
        exp_alerts:
          - exp_labels: {severity: page, job: api}
            exp_annotations:
              summary: api fails 10% of requests
  - name: healthy
    interval: 1m
    input_series:
      - series: 'http_requests_total{job="api", code="500"}'
        values: '0x30'
      - series: 'http_requests_total{job="api", code="200"}'
        values: '0+90x30'
    alert_rule_test:
      - eval_time: 20m
        alertname: ApiErrorsHigh
        exp_alerts: []
"""


@pytest.fixture
def team_repo(pytester: pytest.Pytester) -> pytest.Pytester:
    """A fresh repository: .yaml rules and promtool tests, no SELF metric, no config file."""
    (pytester.path / "rules" / "tests").mkdir(parents=True)
    (pytester.path / "rules" / "alerts.yaml").write_text(ALERTS)
    (pytester.path / "rules" / "tests" / "alerts_test.yaml").write_text(ALERTS_TEST)
    return pytester


def test_a_fresh_repository_goes_green_without_self_items(team_repo: pytest.Pytester) -> None:
    result = team_repo.runpytest("--self-slo", "-v", "--self-slo-prometheus=embedded")
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()
    result.stdout.fnmatch_lines_random([
        "rules/alerts.yaml::valid PASSED*",
        "rules/alerts.yaml::lint PASSED*",
        "rules/tests/alerts_test.yaml::errors page PASSED*",
        "rules/tests/alerts_test.yaml::healthy PASSED*",
        "rules/tests/alerts_test.yaml::lint PASSED*",
    ])
    # house policy, as warnings: SL021 (severity page), SL022 (no runbook_url)
    result.assert_outcomes(passed=5, warnings=2)
    result.stdout.fnmatch_lines_random([
        "*SelfSloLintWarning: *alerts.yaml:13:21 SL021 *got 'page'",
        "*SelfSloLintWarning: *alerts.yaml:9:16 SL022 *missing annotation 'runbook_url'"])
    result.stdout.no_fnmatch_line("selfslo::*")
    result.stdout.no_fnmatch_line("*selfslo::canary*")  # no canary item (paths may say canary)
    result.stdout.no_fnmatch_line("*canary-default*")
    result.stdout.fnmatch_lines(["*= rule coverage =*", "rule coverage: 100.0% of 2 rules"])


def test_one_wrong_test_turns_it_red_with_the_diff(team_repo: pytest.Pytester) -> None:
    test_file = team_repo.path / "rules" / "tests" / "alerts_test.yaml"
    test_file.write_text(ALERTS_TEST.replace("api fails 10% of requests",
                                             "api fails 20% of requests"))
    result = team_repo.runpytest("--self-slo", "--self-slo-prometheus=embedded")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(passed=4, failed=1, warnings=2)
    result.stdout.fnmatch_lines([
        "*rule test 'errors page' in alerts_test.yaml failed*",
        "*alertname: ApiErrorsHigh, time: 20m,*",
        '*Annotations:{summary="api fails 20% of requests"}*',
        '*Annotations:{summary="api fails 10% of requests"}*',
    ])
    result.stdout.no_fnmatch_line("*Traceback*")


@pytest.mark.parametrize(("args", "ini", "expected"), [
    ([], "", []),
    (["--self-slo-drift=on"], "", ["selfslo::slo-spec", "selfslo::drift"]),
    ([], "selfslo_canary_default = on\n", ["selfslo::canary-default::valid"]),
    # an SLO spec configured opts the project in: every SELF family runs
    (["--self-slo-slo=slo.yml"], "", ["selfslo::slo-spec", "selfslo::drift",
                                      "selfslo::canary-default::valid"]),
    # ... unless a family is switched off
    (["--self-slo-slo=slo.yml", "--self-slo-canary-default=off"], "selfslo_drift = off\n",
     ["selfslo::slo-spec"]),
])
def test_self_items_only_when_opted_in(team_repo: pytest.Pytester, args: list[str], ini: str,
                                       expected: list[str]) -> None:
    from pytest_selfslo.slo.spec import DEFAULT_SLO_SPEC, dump_slo_spec

    (team_repo.path / "slo.yml").write_text(dump_slo_spec(DEFAULT_SLO_SPEC))
    team_repo.makeini("[pytest]\n" + ini)
    result = team_repo.runpytest("--self-slo", "--collect-only", "-q", *args)
    collected = [line for line in result.stdout.lines if line.startswith("selfslo::")]
    assert [c for c in collected if "::property[" not in c and "::scenario[" not in c] == \
        expected


def test_rules_using_self_metrics_opt_in_by_themselves(team_repo: pytest.Pytester) -> None:
    shutil.copy(REPO / "rules" / "phase_c_rules.yml", team_repo.path / "rules")
    result = team_repo.runpytest("--self-slo", "--collect-only", "-q")
    result.stdout.fnmatch_lines_random(["selfslo::slo-spec", "selfslo::drift",
                                        "selfslo::canary-default::valid"])


def test_a_bad_family_switch_is_a_usage_error(team_repo: pytest.Pytester) -> None:
    result = team_repo.runpytest("--self-slo", "--self-slo-drift=sometimes")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--self-slo-drift: expected auto, on or off, got 'sometimes'*"])


def test_no_match_warning_lists_rule_files_nearby(pytester: pytest.Pytester) -> None:
    (pytester.path / "prometheus" / "unit").mkdir(parents=True)
    (pytester.path / "prometheus" / "alerts.rules").write_text(ALERTS)  # not YAML by name
    (pytester.path / "prometheus" / "alerts.yaml").write_text(ALERTS)
    (pytester.path / "prometheus" / "unit" / "alerts_test.yaml").write_text(
        ALERTS_TEST)
    (pytester.path / "values.yaml").write_text("replicas: 2\n")
    pytester.makepyfile("def test_x(): pass")
    result = pytester.runpytest("--self-slo")
    result.stdout.fnmatch_lines([
        "*--self-slo-rules 'rules/*.yml rules/*.yaml' matched no file under *: nothing of that "
        "kind is checked; 1 rule files (top-level groups:) found nearby: prometheus/alerts.yaml "
        "(point --self-slo-rules or its ini key at them)",
    ])
    result.stdout.fnmatch_lines([
        "*--self-slo-rule-tests 'rules/tests/*.yml rules/tests/*.yaml' matched no file*found "
        "nearby: prometheus/unit/alerts_test.yaml*",
    ])


def _cli_findings(root: Path, paths: list[str], monkeypatch: pytest.MonkeyPatch,
                  capsys: pytest.CaptureFixture[str]) -> list[dict[str, object]]:
    monkeypatch.chdir(root)
    main(["lint", "--format", "json", *paths])
    found = json.loads(capsys.readouterr().out)
    for f in found:
        f["path"] = str((root / str(f["path"])).resolve())
    return sorted(found, key=lambda f: json.dumps(f, sort_keys=True))


def _plugin_findings(pytester: pytest.Pytester, paths: list[str]) -> list[dict[str, object]]:
    pytester.runpytest("--self-slo", *paths, "--self-slo-prometheus=embedded",
                       "--self-slo-report=report.json",
                       "--self-slo-canary-default=off")
    report = json.loads((pytester.path / "report.json").read_text())
    found = report["lint"]
    for f in found:
        f["path"] = str(Path(str(f["path"])).resolve())
    return sorted(found, key=lambda f: json.dumps(f, sort_keys=True))


SL036_RULES = """\
groups:
  - name: ratio
    rules:
      - record: job:ratio
        expr: errors / requests
"""
SL036_TEST = """\
rule_files: [../more.yaml]
tests:
  - input_series:
      - series: 'errors{job="a", instance="1"}'
        values: '1x5'
      - series: 'errors{job="a", instance="2"}'
        values: '1x5'
      - series: 'requests{job="a", instance="1"}'
        values: '1x5'
    promql_expr_test:
      - expr: errors / ignoring(instance) requests
        eval_time: 1m
        exp_samples: []
"""


@pytest.mark.parametrize("source", ["repo", "corpus", "corpus+config"])
def test_cli_and_plugin_report_the_same_findings(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str], source: str) -> None:
    """One lint: ``selfslo lint`` and the ``::lint`` items (via the JSON report) agree."""
    if source == "repo":
        shutil.copytree(REPO / "rules", pytester.path / "rules")
        shutil.copytree(REPO / "docs", pytester.path / "docs")
        pytester.makeini("[pytest]\nselfslo_rules = rules/*.yml\n"
                         "selfslo_rule_tests = rules/tests/*.yml\n")
    else:
        shutil.copytree(CORPUS, pytester.path / "rules")
        pytester.makeini("[pytest]\n")
    if source == "corpus+config":  # a real SL036 and a configuration the two must share
        (pytester.path / "rules" / "more.yaml").write_text(SL036_RULES)
        (pytester.path / "rules" / "tests" / "more_test.yaml").write_text(SL036_TEST)
        pytester.makeini("[pytest]\nselfslo_lint_allowed_severities = page critical warning "
                         "info\nselfslo_lint_severity = SL020=error\n")
    cli = _cli_findings(pytester.path, ["rules"], monkeypatch, capsys)
    plugin = _plugin_findings(pytester, ["rules"])
    assert plugin == cli
    codes = {str(f["code"]) for f in cli}
    if source == "corpus":
        assert codes == {"SL020", "SL021", "SL022"}
    if source == "corpus+config":
        assert codes == {"SL020", "SL021", "SL022", "SL036"}
        assert {str(f["severity"]) for f in cli if f["code"] == "SL020"} == {"error"}
        assert not any("'page'" in str(f["message"]) for f in cli)


def test_the_corpus_goes_green_under_the_plugin(pytester: pytest.Pytester) -> None:
    shutil.copytree(CORPUS, pytester.path / "rules")
    result = pytester.runpytest("--self-slo", "--self-slo-prometheus=embedded", "-q")
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()
    result.stdout.no_fnmatch_line("selfslo::*")


# ---------------------------------------------------------------- ::promtool
@needs_promtool
def test_promtool_item_fails_when_promtool_fails_the_file(team_repo: pytest.Pytester) -> None:
    test_file = team_repo.path / "rules" / "tests" / "alerts_test.yaml"
    test_file.write_text(ALERTS_TEST.replace("api fails 10% of requests",
                                             "api fails 20% of requests"))
    result = team_repo.runpytest("--self-slo", "--self-slo-prometheus=local", "-v")
    result.stdout.fnmatch_lines_random([
        "rules/tests/alerts_test.yaml::promtool FAILED*",
        "rules/tests/alerts_test.yaml::errors page FAILED*",
    ])
    result.stdout.fnmatch_lines([
        "*promtool * FAILED alerts_test.yaml (the embedded engine fails it too; Prometheus "
        "*.x semantics)",
        "--- promtool test rules alerts_test.yaml (promtool *, exit 1) ---",
        "*FAILED:*",
    ])
    result.stdout.no_fnmatch_line("*Traceback*")


@needs_promtool
def test_promtool_item_passes_when_promtool_passes(team_repo: pytest.Pytester) -> None:
    result = team_repo.runpytest("--self-slo", "--self-slo-prometheus=local", "-v")
    result.stdout.fnmatch_lines_random(["rules/tests/alerts_test.yaml::promtool PASSED*",
                                        "rules/alerts.yaml::promtool-check PASSED*"])
    assert result.ret == pytest.ExitCode.OK


def test_semantics_mismatch_is_a_warning_naming_both(team_repo: pytest.Pytester,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    bin_dir = team_repo.path / "bin"
    fake_bin(bin_dir, "promtool", promtool_script("3.5.0", passes=True))
    monkeypatch.setenv("PATH", python_only_path(bin_dir))
    result = team_repo.runpytest("--self-slo", "rules/tests", "--self-slo-semantics=2", "-v")
    result.stdout.fnmatch_lines(["rules/tests/alerts_test.yaml::promtool PASSED*"])
    result.stdout.fnmatch_lines([
        "*SemanticsMismatchWarning: promtool 3.5.0 evaluates with Prometheus 3.x semantics, "
        "the run selected 2.53.x (--self-slo-semantics)*"])  # "2" means 2.53
    assert result.ret == pytest.ExitCode.OK


def test_lint_configuration_error_is_a_usage_error(team_repo: pytest.Pytester) -> None:
    team_repo.makeini("[pytest]\nselfslo_lint_severity = SL020=loud\n")
    result = team_repo.runpytest("--self-slo")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*lint configuration: *tox.ini [[]pytest[]]: severity of "
                                 "SL020: expected one of error, warning, off, got 'loud'*"])


def test_coverage_counts_only_what_was_collected(pytester: pytest.Pytester) -> None:
    """Naming one rule file and its test measures that file, not every file the globs match."""
    (pytester.path / "rules" / "tests").mkdir(parents=True)
    (pytester.path / "rules" / "alerts.yaml").write_text(ALERTS)
    (pytester.path / "rules" / "tests" / "alerts_test.yaml").write_text(ALERTS_TEST)
    shutil.copytree(CORPUS, pytester.path / "rules" / "others")
    pytester.makeini("[pytest]\nselfslo_rules = rules/*.yaml rules/others/*.yaml\n"
                     "selfslo_rule_tests = rules/tests/*.yaml rules/others/tests/*.yaml\n")
    result = pytester.runpytest("--self-slo", "rules/alerts.yaml", "rules/tests/alerts_test.yaml",
                                "--self-slo-prometheus=embedded")
    result.stdout.fnmatch_lines(["rule coverage: 100.0% of 2 rules"])
    result = pytester.runpytest("--self-slo", "rules", "--self-slo-prometheus=embedded")
    result.stdout.fnmatch_lines(["rule coverage: *% of 29 rules"])


def test_promql_engine_load_takes_a_promqltest_header(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(textwrap.dedent("""
        import pytest
        from pytest_selfslo._core.errors import SeriesNotationError

        def test_load_header(promql_engine):
            promql_engine.load("load 5m\\n  x 0+300x10")
            assert promql_engine.query_value("x", at="10m") == 600
            assert promql_engine.query_value("x", time=600) == 600
            assert promql_engine.query_value('count({__name__="load"})') is None

        def test_durations_are_not_values(promql_engine):
            with pytest.raises(SeriesNotationError, match="a duration is not a sample value"):
                promql_engine.load("x 5m 10m")

        def test_header_and_interval_twice(promql_engine):
            with pytest.raises(SeriesNotationError, match="give the interval once"):
                promql_engine.load("load 5m\\nx 1 2", interval="1m")

        def test_eval_is_not_a_series(promql_engine):
            with pytest.raises(SeriesNotationError, match="'eval' is a promqltest command"):
                promql_engine.load("load 1m\\n x 1\\neval instant at 1m x\\n  x 1")

        def test_at_and_time_together(promql_engine):
            with pytest.raises(TypeError, match="at= or time=, not both"):
                promql_engine.query_value("1", at=0, time=0)
    """))
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=5)
