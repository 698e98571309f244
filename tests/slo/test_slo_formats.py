"""OpenSLO and Pyrra specs round-trip: import → generate → generated tests pass.

Our engine always; every real promtool of ``tests/promtool_runs.py``
(``$SELFSLO_PROMTOOLS``), skipped with the reason when there is none.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from promtool_runs import Promtool, params, promtool_file, run

from pytest_selfslo.cli import main
from pytest_selfslo.ruletest.runner import run_rule_tests
from pytest_selfslo.slo.importers import import_spec
from pytest_selfslo.slo.service import dump_service_slos, load_service_slos_text

DATA = Path(__file__).parent / "data"
OPENSLO = DATA / "openslo_checkout.yml"
PYRRA = DATA / "pyrra_api_latency.yml"
EXAMPLES = [pytest.param(OPENSLO, id="openslo"), pytest.param(PYRRA, id="pyrra")]


def _round_trip(tmp_path: Path, source: Path) -> Path:
    """import -o slo.yml, generate -o rules/slo.yml, tests -o rules/tests/slo_test.yml."""
    spec = tmp_path / "slo.yml"
    assert main(["slo", "import", str(source), "-o", str(spec)]) == 0
    rules = tmp_path / "rules"
    (rules / "tests").mkdir(parents=True)
    assert main(["slo", "generate", str(spec), "-o", str(rules / "slo.yml")]) == 0
    out = rules / "tests" / "slo_test.yml"
    assert main(["slo", "tests", str(spec), "-o", str(out)]) == 0
    return out


def test_openslo_mapping() -> None:
    spec = import_spec(OPENSLO)
    (slo,) = spec.slos
    assert (spec.service, spec.source, slo.name) == ("checkout", "openslo/v1",
                                                    "checkout-availability")
    assert (slo.objective, slo.window, slo.error_budget) == (99.5, "28d", 0.005)
    assert slo.sli.kind == "ratio"
    assert slo.sli.total == 'sum(rate(http_requests_total{job="checkout"}[{{.window}}]))'
    assert slo.sli.errors == (f"({slo.sli.total}) - "
                              '(sum(rate(http_requests_total{job="checkout",code!~"5.."}'
                              "[{{.window}}])))")
    assert [(b.severity, b.long, b.short, b.factor) for b in slo.burn_rates] == [
        ("page", "1h", "5m", 13.44), ("ticket", "1d", "2h", 2.8)]
    assert slo.page.annotations == {"openslo_notification_targets": "payments-oncall"}


def test_pyrra_mapping() -> None:
    spec = import_spec(PYRRA)
    latency, errors = spec.slos
    assert (spec.service, spec.source, spec.dialect) == ("shop", "pyrra.dev/v1alpha1", "pyrra")
    # Pyrra's rule labels: slo=<name>, the total selector's = matchers, pyrra.dev/ labels
    assert (latency.objective, latency.window, latency.labels) == (
        99.0, "28d", {"slo": "api-latency", "job": "api", "team": "payments"})
    assert latency.alert_name == "ApiLatencyBudgetBurn"
    # Pyrra's four pairs for 28d, each its own rule with Pyrra's for: and labels
    assert [(b.severity, b.long, b.short, b.factor, b.for_, b.labels["severity"],
             b.labels["exhaustion"]) for b in latency.burn_rates] == [
        ("page", "1h", "5m", 14.0, "2m", "page", "2d"),
        ("page", "6h", "30m", 7.0, "15m", "page", "4d"),
        ("ticket", "1d", "2h", 2.0, "1h", "ticket", "2w"),
        ("ticket", "4d", "6h", 1.0, "3h", "ticket", "4w")]
    assert latency.absent is None  # absent: false
    assert 'le="0.3"' in latency.sli.errors and latency.sli.total.startswith(
        "sum(rate(http_request_duration_seconds_count")
    assert (errors.objective, errors.window, errors.alert_name) == (99.9, "30d", "ErrorBudgetBurn")
    assert [(b.long, b.short, b.for_, b.labels["severity"]) for b in errors.burn_rates] == [
        ("1h4m", "5m", "2m", "critical"), ("6h26m", "32m", "16m", "critical"),
        ("1d1h43m", "2h9m", "1h4m", "warning"), ("4d6h51m", "6h26m", "3h13m", "warning")]
    assert errors.sli.errors == 'sum(rate(http_requests_total{job="api",code=~"5.."}[{{.window}}]))'


@pytest.mark.parametrize("source", EXAMPLES)
def test_import_is_lossless_through_our_format(source: Path) -> None:
    spec = import_spec(source)
    again = load_service_slos_text(dump_service_slos(spec), "slo.yml")
    assert again.slos == spec.slos and again.service == spec.service


@pytest.mark.parametrize("source", EXAMPLES)
def test_round_trip_under_our_engine(tmp_path: Path, source: Path) -> None:
    out = _round_trip(tmp_path, source)
    doc = yaml.safe_load(out.read_text())
    names = [g["name"] for g in doc["tests"]]
    assert any("budget exhaustion" in n for n in names)
    assert any("just above" in n for n in names)
    report = run_rule_tests([str(out)])
    assert report.passed, report.format_text()
    # the tests are not vacuous: a wrong threshold in the rules fails them
    rules = out.parent.parent / "slo.yml"
    text = rules.read_text()
    # OpenSLO: 13.44 × the budget (28d window); Pyrra: its 14 × (1-0.99), Pyrra's arithmetic
    page = "0.0672" if source == OPENSLO else repr(14 * (1 - 99 / 100))
    assert f"> {page})" in text
    rules.write_text(text.replace(f"> {page})", f"> {float(page) * 1.05!r})", 1))
    assert not run_rule_tests([str(out)]).passed


@pytest.mark.parametrize("promtool", params())
@pytest.mark.parametrize("source", EXAMPLES)
def test_round_trip_under_real_promtool(tmp_path: Path, source: Path, promtool: Promtool) -> None:
    out = _round_trip(tmp_path, source)
    name, left_out = promtool_file(promtool, out)  # long groups: newest promtool only
    output = run(promtool, [name], out.parent)
    assert "SUCCESS" in output and "FAILED" not in output, (
        f"{output}\n({left_out} long group(s) left to the newest promtool)")


_NO_TOTAL_OPENSLO = """\
    total:
      metricSource:
        metricSourceRef: prom
        spec:
          query: sum(http_requests_total{job="checkout"})
"""
_NO_TOTAL_PYRRA = """\
      total:
        metric: http_requests_total{job="api"}
"""
BAD = [
    # (file, text, replacement, where, why): acceptance 4 for every importer, and the
    # OpenSLO/Pyrra/Sloth features that cannot be mapped
    ("openslo_checkout.yml", "target: 0.995", "target: 1.01", ":80:15:",
     "target: must be a ratio strictly between 0 and 1, got 1.01"),
    ("openslo_checkout.yml", "  ratioMetric:", "  rateMetric:", ":18:3:",
     "SLI.spec: unsupported field 'rateMetric'"),
    ("openslo_checkout.yml", _NO_TOTAL_OPENSLO, "", ":19:5:", "missing required key 'total'"),
    ("openslo_checkout.yml", "duration: 28d", "duration: 30x", ":75:17:",
     "timeWindow.duration: '30x' is not a duration"),
    ("openslo_checkout.yml", "isRolling: true", "isRolling: false", ":76:18:",
     "calendar windows cannot be mapped"),
    ("openslo_checkout.yml", "budgetingMethod: Occurrences", "budgetingMethod: Timeslices",
     ":77:20:", "'Timeslices' cannot be mapped"),
    ("openslo_checkout.yml", "        metricSourceRef: prom\n        spec:\n          query: sum("
     'http_requests_total{job="checkout",code', "        type: Datadog\n        spec:\n"
     '          query: sum(http_requests_total{job="checkout",code', ":22:15:",
     "type 'Datadog' cannot be mapped"),
    ("pyrra_api_latency.yml", 'target: "99"', 'target: "101"', ":12:11:",
     "strictly between 0 and 100, got 101"),
    ("pyrra_api_latency.yml", "    latency:\n", "    latencyy:\n", ":15:5:",
     "unknown Pyrra indicator 'latencyy'"),
    ("pyrra_api_latency.yml", _NO_TOTAL_PYRRA, "", ":39:7:", "missing required key 'total'"),
    ("pyrra_api_latency.yml", "window: 4w", "window: 30x", ":13:11:", "'30x' is not a duration"),
    ("pyrra_api_latency.yml", "window: 4w", "window: 2w", ":13:11:", "'2w' is not supported"),
    ("pyrra_api_latency.yml", "  window: 4w\n", "  window: 4w\n  performanceOverAccuracy: true\n",
     ":14:28:", "performanceOverAccuracy: cannot be mapped"),
    ("pyrra_api_latency.yml", "    latency:\n      success:\n", "    latencyNative:\n      latency: "
     "fast\n      success:\n", ":17:7:", "indicator.latencyNative: unsupported field 'success'"),
    ("pyrra_api_latency.yml", "      fastBurn: page", "      fastestBurn: page", ":24:7:",
     "alerting.severities: unsupported field 'fastestBurn'"),
    ("sloth_getting_started.yml", "objective: 99.9", "objective: 101", ":8:16:",
     "strictly between 0 and 100, got 101"),
    ("sloth_getting_started.yml", "events:", "eventz:", ":11:7:",
     "Sloth SLI kind 'eventz' cannot be mapped"),
    ("sloth_getting_started.yml", "        total_query: sum(rate(http_requests_total"
     '{job="checkout"}[{{.window}}]))\n', "", ":12:9:", "missing required key 'total_query'"),
]


@pytest.mark.parametrize(("name", "text", "new", "where", "why"), BAD,
                         ids=[f"{b[0].split('_')[0]}-{b[4][:30]}" for b in BAD])
@pytest.mark.parametrize("command", ["import", "generate", "tests"])
def test_bad_specs_exit_2_located_and_write_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str, name: str, text: str,
        new: str, where: str, why: str) -> None:
    source = (DATA / name).read_text()
    assert text in source
    bad = tmp_path / name
    bad.write_text(source.replace(text, new, 1))
    out = tmp_path / "out.yml"
    assert main(["slo", command, str(bad), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"error: {bad}{where}" in err and why in err, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not out.exists()
