"""The raw SLI kind (an error-ratio query), Sloth's ``sli.raw`` and ``sli.plugin`` (SLI plugins
ported to Python, ``--sli-plugins DIR``), OpenSLO's ``ratioMetric.raw``."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from promtool_runs import Promtool, params, promtool_file, run

from pytest_selfslo._core.errors import SLOSpecError
from pytest_selfslo.cli import main
from pytest_selfslo.rulefmt.rulefile import check_rule_text
from pytest_selfslo.ruletest.runner import run_rule_tests
from pytest_selfslo.slo.burnrate import generate_rules
from pytest_selfslo.slo.importers import import_spec, import_text
from pytest_selfslo.slo.service import dump_service_slos, load_service_slos_text
from pytest_selfslo.slo.testgen import generate_tests, raw_as_ratio

HERE = Path(__file__).parent
PLUGINS = HERE / "sli_plugins"
PLUGIN_SPEC = HERE / "data" / "sloth_plugin.yml"
#: what Sloth's Go plugin returns for PLUGIN_SPEC (Sloth's examples/_gen/plugin-getting-started.yml)
GO_QUERY = (
    '\nsum(rate(http_request_duration_seconds_count{ f1="v1",f2="v2",job="myservice",'
    'code=~"(5..|429)" }[{{.window}}]))\n/\n'
    'sum(rate(http_request_duration_seconds_count{ f1="v1",f2="v2",job="myservice" }'
    '[{{.window}}]))')
RAW = """\
version: selfslo/v1
service: wifi
slos:
  - name: satisfaction
    objective: 95
    sli:
      raw:
        error_ratio: |
          1 - (
            sum(sum_over_time(client_satisfaction_ratio[{{.window}}]))
            /
            sum(count_over_time(client_satisfaction_ratio[{{.window}}]))
          )
"""
SLOTH_RAW = """\
version: "prometheus/v1"
service: "home-wifi"
labels:
  component: ubiquiti
slos:
  - name: "wifi-client-satisfaction"
    objective: 95
    sli:
      raw:
        error_ratio_query: 1 - avg(avg_over_time(client_satisfaction_ratio[{{.window}}]))
    alerting:
      name: WifiClientSatisfaction
      page_alert:
        labels:
          severity: home
"""


# ------------------------------------------------------------------ the raw kind in our spec
def test_raw_sli_round_trips_and_generates_the_query_per_window() -> None:
    spec = load_service_slos_text(RAW, "slo.yml")
    sli = spec.slos[0].sli
    assert sli.kind == "raw" and sli.error_ratio.startswith("1 - (")
    again = load_service_slos_text(dump_service_slos(spec), "again.yml")
    assert again.slos == spec.slos
    rules = yaml.safe_load(generate_rules(spec))["groups"][0]["rules"]
    by_name = {r["record"]: r["expr"] for r in rules if "record" in r}
    assert by_name["slo:sli_error:ratio_rate1h"] == sli.error_ratio.replace(
        "{{.window}}", "1h") + "\n"
    assert "[5m]" in by_name["slo:sli_error:ratio_rate5m"]
    assert "{{.window}}" not in generate_rules(spec)
    with pytest.raises(ValueError, match="no errors/total"):
        sli.error_query()


@pytest.mark.parametrize(("edit", "where", "why"), [
    (lambda t: t + "    min_events: 100\n", ":14:17:", "min_events: a raw SLI has no event counts"),
    (lambda t: t.replace("[{{.window}}]", "[5m]"), ":8:22:", "must use {{.window}}"),
    (lambda t: t.replace("sum(count_over_time", "sum(count_over_time("), ":8:22:",
     "sli.raw.error_ratio: invalid PromQL"),
    (lambda t: t.replace("error_ratio:", "ratio_query:"), ":8:9:",
     "sli.raw: unsupported field 'ratio_query'"),
    (lambda t: t.replace("raw:", "rawr:"), ":7:7:", "expected exactly one of ratio, latency, "
     "threshold, raw"),
])
def test_bad_raw_specs_are_located(edit: object, where: str, why: str) -> None:
    with pytest.raises(SLOSpecError) as exc:
        load_service_slos_text(edit(RAW), "slo.yml")  # type: ignore[operator]
    assert str(exc.value).startswith("slo.yml" + where), str(exc.value)
    assert why in str(exc.value)


def test_tests_for_a_raw_sli_that_is_not_errors_over_total_are_refused() -> None:
    with pytest.raises(SLOSpecError, match="cannot generate tests for a raw SLI that is not a "
                                           "division of two aggregations"):
        generate_tests(load_service_slos_text(RAW, "slo.yml"), "../slo.yml")


def test_raw_as_ratio_splits_only_a_division_of_aggregations() -> None:
    assert raw_as_ratio(GO_QUERY) == (
        'sum(rate(http_request_duration_seconds_count{f1="v1",f2="v2",job="myservice",'
        'code=~"(5..|429)"}[{{.window}}]))',
        'sum(rate(http_request_duration_seconds_count{f1="v1",f2="v2",job="myservice"}'
        '[{{.window}}]))')
    assert raw_as_ratio("(sum(rate(a[{{.window}}])) / sum(rate(b[{{.window}}])))") is not None
    for query in ("sum(rate(a[{{.window}}])) / on() sum(rate(b[{{.window}}]))",
                  "rate(a[{{.window}}]) / rate(b[{{.window}}])",
                  "sum(rate(a[{{.window}}])) * sum(rate(b[{{.window}}]))",
                  "sum(rate(a[5m])) / sum(rate(b[{{.window}}]))"):
        assert raw_as_ratio(query) is None, query


# ------------------------------------------------------------------------ Sloth sli.raw
def test_sloth_raw_and_crd_raw_import_as_raw_slis() -> None:
    spec = import_text(SLOTH_RAW, "s.yml")
    assert spec.slos[0].sli.kind == "raw"
    assert spec.slos[0].sli.error_ratio == \
        "1 - avg(avg_over_time(client_satisfaction_ratio[{{.window}}]))"
    crd = ("apiVersion: sloth.slok.dev/v1\nkind: PrometheusServiceLevel\nmetadata: {name: x}\n"
           "spec:\n  service: s\n  slos:\n  - name: a\n    objective: 99\n    sli:\n"
           "      raw:\n        errorRatioQuery: 1 - avg(avg_over_time(up{job=\"a\"}[{{.window}}]))\n")
    assert import_text(crd, "c.yml").slos[0].sli.error_ratio == \
        '1 - avg(avg_over_time(up{job="a"}[{{.window}}]))'
    with pytest.raises(SLOSpecError, match=r"^c.yml:11:9: sli.raw: unsupported field "
                                           r"'error_ratio_query'"):
        import_text(crd.replace("errorRatioQuery", "error_ratio_query"), "c.yml")


def test_sloth_raw_rules_are_valid_rules() -> None:
    text = generate_rules(import_text(SLOTH_RAW, "s.yml"))
    assert check_rule_text(text, "slo.yml") == []


# --------------------------------------------------------------------- Sloth sli.plugin
def test_plugin_sli_is_the_query_the_go_plugin_returns() -> None:
    spec = import_spec(PLUGIN_SPEC, [PLUGINS])
    sli = spec.slos[0].sli
    assert sli.kind == "raw"
    assert sli.error_ratio == GO_QUERY.strip()


def _plugin(tmp_path: Path, body: str, name: str = "p.py", plugin_id: str = "probe") -> Path:
    directory = tmp_path / "plugins"
    directory.mkdir(exist_ok=True)
    (directory / name).write_text(f"SLI_PLUGIN_ID = {plugin_id!r}\n\n{body}")
    return directory


def _spec(plugin_id: str = "probe", options: str = "{job: api, n: '3'}") -> str:
    return (PLUGIN_SPEC.read_text().replace("getting_started_availability", plugin_id)
            .replace('        options:\n          job: "myservice"\n'
                     "          filter: 'f1=\"v1\",f2=\"v2\"'\n", f"        options: {options}\n"))


def test_plugin_receives_slothes_meta_labels_and_options(tmp_path: Path) -> None:
    plugins = _plugin(tmp_path, (
        "import json\n\n"
        "def sli_plugin(meta, labels, options):\n"
        "    seen = json.dumps([meta, labels, options], sort_keys=True)\n"
        "    return f'sum(rate(x[{{{{.window}}}}])) / sum(rate(y[{{{{.window}}}}])) # {seen}'\n"))
    spec = import_text(_spec(), "s.yml", [plugins])
    seen = yaml.safe_load(spec.slos[0].sli.error_ratio.split(" # ", 1)[1])
    assert seen == [{"objective": "99.900000", "service": "myservice",
                     "slo": "requests-availability"},
                    {"owner": "myteam", "tier": "2"}, {"job": "api", "n": "3"}]


def test_plugin_dirs_are_searched_recursively_and_loaded_once(tmp_path: Path) -> None:
    plugins = tmp_path / "plugins" / "a" / "b"
    plugins.mkdir(parents=True)
    (plugins / "deep.py").write_text(
        "SLI_PLUGIN_ID = 'probe'\nCALLS = []\n\n"
        "def sli_plugin(meta, labels, options):\n    CALLS.append(1)\n"
        "    return f'sum(rate(e[{{{{.window}}}}])) / sum(rate(t[{{{{.window}}}}])) + {len(CALLS)}'\n")
    (tmp_path / "plugins" / "not_a_plugin.py").write_text("raise SystemExit('never imported')\n")
    text = _spec()
    two = text + text[text.index("  - name"):].replace("requests-availability", "second")
    spec = import_text(two, "s.yml", [tmp_path / "plugins"])
    assert [s.sli.error_ratio[-1] for s in spec.slos] == ["1", "2"]


@pytest.mark.parametrize(("body", "where", "why"), [
    ("def sli_plugin(meta, labels, options):\n    raise ValueError('job options is required')\n",
     ":11:9:", "sli.plugin: SLI plugin 'probe' ("),
    ("def sli_plugin(meta, labels, options):\n    return 'sum(rate(x[5m]))'\n",
     ":11:9:", "sli.plugin: the query of 'probe': the query must use {{.window}}"),
    ("def sli_plugin(meta, labels, options):\n    return 'sum(rate(x[{{.window}}])'\n",
     ":11:9:", "invalid PromQL"),
    ("def sli_plugin(meta, labels, options):\n    return 42\n",
     ":11:9:", "returned int, expected the error-ratio query (str)"),
])
def test_plugin_failures_are_located_at_the_spec(tmp_path: Path, body: str, where: str,
                                                 why: str) -> None:
    plugins = _plugin(tmp_path, body)
    with pytest.raises(SLOSpecError) as exc:
        import_text(_spec(), "s.yml", [plugins])
    assert str(exc.value).startswith("s.yml" + where), str(exc.value)
    assert why in str(exc.value)
    if "ValueError" in body:
        assert "failed: job options is required" in str(exc.value)


def test_the_ported_example_plugin_reports_what_the_go_one_does() -> None:
    no_tier = PLUGIN_SPEC.read_text().replace('  tier: "2"\n', "")
    with pytest.raises(SLOSpecError, match=r'^s.yml:10:9: .*failed: invalid labels: "tier" label '
                                           r"is required$"):
        import_text(no_tier, "s.yml", [PLUGINS])
    bad_filter = PLUGIN_SPEC.read_text().replace("""'f1="v1",f2="v2"'""", "'f1'")
    with pytest.raises(SLOSpecError, match=r"failed: invalid prometheus filter: f1,$"):
        import_text(bad_filter, "s.yml", [PLUGINS])


def test_unknown_plugin_id_names_the_directories_and_the_docs(tmp_path: Path) -> None:
    with pytest.raises(SLOSpecError) as exc:
        import_text(_spec("nope"), "s.yml", [PLUGINS, tmp_path])
    text = str(exc.value)
    assert text.startswith("s.yml:11:13: sli.plugin.id: unknown SLI plugin 'nope'")
    assert f"directories searched: {PLUGINS}, {tmp_path}" in text and "docs/slo.md" in text
    with pytest.raises(SLOSpecError, match="directories searched: none given"):
        import_text(_spec("nope"), "s.yml")


def test_plugin_loading_errors(tmp_path: Path) -> None:
    body = "def sli_plugin(meta, labels, options):\n    return ''\n"
    plugins = _plugin(tmp_path, body, "a.py")
    _plugin(tmp_path, body, "b.py")
    with pytest.raises(SLOSpecError, match=r"b.py:1:1: SLI plugin id 'probe' is already "
                                           r"defined by .*a.py$"):
        import_text(_spec(), "s.yml", [plugins])
    (plugins / "b.py").write_text("SLI_PLUGIN_ID = 'other'\nimport no_such_module_x\n")
    with pytest.raises(SLOSpecError, match=r"b.py:1:1: importing the SLI plugin failed: "
                                           r"ModuleNotFoundError"):
        import_text(_spec(), "s.yml", [plugins])
    (plugins / "b.py").write_text("SLI_PLUGIN_ID = 'other'\n")
    with pytest.raises(SLOSpecError, match=r"b.py:1:1: SLI plugin 'other' defines no "
                                           r"sli_plugin\(meta, labels, options\) function"):
        import_text(_spec(), "s.yml", [plugins])
    (plugins / "b.py").write_text("SLI_PLUGIN_ID = (\n")
    with pytest.raises(SLOSpecError, match=r"b.py:1:\d+: SLI plugin is not valid Python"):
        import_text(_spec(), "s.yml", [plugins])
    with pytest.raises(SLOSpecError, match="SLI plugin directory does not exist"):
        import_text(_spec(), "s.yml", [tmp_path / "missing"])


def test_plugins_are_not_loaded_for_specs_without_a_plugin_sli(tmp_path: Path) -> None:
    (tmp_path / "boom.py").write_text("SLI_PLUGIN_ID = 'x'\nraise RuntimeError('loaded')\n")
    assert import_text(SLOTH_RAW, "s.yml", [tmp_path]).slos[0].sli.kind == "raw"


# ------------------------------------------------------------------------------- CLI
def test_cli_imports_generates_and_tests_a_plugin_spec(tmp_path: Path) -> None:
    out = tmp_path / "slo.yml"
    assert main(["slo", "import", str(PLUGIN_SPEC), "--sli-plugins", str(PLUGINS),
                 "-o", str(out)]) == 0
    assert load_service_slos_text(out.read_text(), "slo.yml").slos[0].sli.kind == "raw"
    rules = tmp_path / "rules" / "slo.yml"
    rules.parent.mkdir()
    assert main(["slo", "generate", str(PLUGIN_SPEC), "--sli-plugins", str(PLUGINS),
                 "-o", str(rules)]) == 0
    tests = tmp_path / "rules" / "tests" / "slo_test.yml"
    tests.parent.mkdir()
    assert main(["slo", "tests", str(PLUGIN_SPEC), "--sli-plugins", str(PLUGINS),
                 "-o", str(tests)]) == 0
    report = run_rule_tests([str(tests)])
    assert report.passed, report.format_text()
    text = rules.read_text()
    assert 'job="myservice",code=~"(5..|429)"' in text
    rules.write_text(text.replace('job="myservice",code=~', 'job="other",code=~'))
    assert not run_rule_tests([str(tests)]).passed  # the tests see the plugin's query


@pytest.mark.parametrize("promtool", params())
def test_generated_plugin_tests_pass_under_promtool(promtool: Promtool, tmp_path: Path) -> None:
    spec = import_spec(PLUGIN_SPEC, [PLUGINS])
    (tmp_path / "slo.yml").write_text(generate_rules(spec))
    (tmp_path / "slo_test.yml").write_text(generate_tests(spec, "slo.yml"))
    # the long groups (period, tickets) come from the generator paths of any Sloth events
    # spec, which test_slo_testgen runs under the newest promtool: short groups here
    name, left_out = promtool_file(promtool, tmp_path / "slo_test.yml", long=False)
    output = run(promtool, [name], tmp_path)
    assert "SUCCESS" in output and "FAILED" not in output, (
        f"{output[:4000]}\n({left_out} long group(s) left to the newest promtool)")


@pytest.mark.parametrize(("args", "why"), [
    ([], "s.yml:11:13: sli.plugin.id: unknown SLI plugin 'getting_started_availability'"),
    (["--sli-plugins", "{tmp}/plugins"], "s.yml:11:9: sli.plugin: SLI plugin"),
])
def test_cli_bad_plugin_specs_exit_2_and_write_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        args: list[str], why: str) -> None:
    _plugin(tmp_path, "def sli_plugin(meta, labels, options):\n    raise KeyError('job')\n",
            plugin_id="getting_started_availability")
    (tmp_path / "s.yml").write_text(PLUGIN_SPEC.read_text())
    out = tmp_path / "out.yml"
    monkeypatch.chdir(tmp_path)
    for command in ("import", "generate", "tests"):
        code = main(["slo", command, "s.yml", *[a.format(tmp=tmp_path) for a in args],
                     "-o", str(out)])
        assert code == 2
        err = capsys.readouterr().err
        assert why in err and "Traceback" not in err
        assert not out.exists()


# ---------------------------------------------------------------------- OpenSLO raw
OPENSLO_RAW = """\
apiVersion: openslo/v1
kind: SLO
metadata:
  name: wifi
spec:
  service: home
  budgetingMethod: Occurrences
  timeWindow:
    - duration: 28d
      isRolling: true
  objectives:
    - target: 0.95
  indicator:
    metadata:
      name: satisfaction
    spec:
      ratioMetric:
        counter: false
        rawType: {raw_type}
        raw:
          metricSource:
            type: Prometheus
            spec:
              query: avg(avg_over_time(client_satisfaction_ratio[{{{{.window}}}}]))
"""


def test_openslo_raw_ratio_maps_to_a_raw_sli() -> None:
    failure = import_text(OPENSLO_RAW.format(raw_type="failure"), "o.yml").slos[0].sli
    assert failure.kind == "raw"
    assert failure.error_ratio == "avg(avg_over_time(client_satisfaction_ratio[{{.window}}]))"
    success = import_text(OPENSLO_RAW.format(raw_type="success"), "o.yml").slos[0].sli
    assert success.error_ratio == f"1 - (\n{failure.error_ratio}\n)"
    rules = generate_rules(import_text(OPENSLO_RAW.format(raw_type="success"), "o.yml"))
    record = next(r for r in yaml.safe_load(rules)["groups"][0]["rules"]
                  if r.get("record") == "slo:sli_error:ratio_rate1h")
    assert record["expr"] == "1 - (\navg(avg_over_time(client_satisfaction_ratio[1h]))\n)\n"


@pytest.mark.parametrize(("edit", "where", "why"), [
    (lambda t: t.replace("        rawType: failure\n", ""), ":18:9:",
     "ratioMetric: raw needs rawType (success or failure)"),
    (lambda t: t.replace("rawType: failure", "rawType: good"), ":19:18:",
     "ratioMetric.rawType: expected one of success, failure, got 'good'"),
    (lambda t: t.replace("        raw:\n", "        total: {}\n        raw:\n"), ":20:9:",
     "ratioMetric.total: give either raw or good/bad and total, not both"),
    (lambda t: t.replace("[{{.window}}]", "[5m]"), ":24:22:", "must use {{.window}}"),
])
def test_bad_openslo_raw_ratios_are_located(edit: object, where: str, why: str) -> None:
    text = edit(OPENSLO_RAW.format(raw_type="failure"))  # type: ignore[operator]
    with pytest.raises(SLOSpecError) as exc:
        import_text(text, "o.yml")
    assert str(exc.value).startswith("o.yml" + where), str(exc.value)
    assert why in str(exc.value)
