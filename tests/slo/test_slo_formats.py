"""OpenSLO and Pyrra specs round-trip: import → generate → generated tests pass.

Our engine always; every real promtool of ``tests/promtool_runs.py``
(``$SELFSLO_PROMTOOLS``), skipped with the reason when there is none.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from promtool_runs import Promtool, params, run

from pytest_selfslo.cli import main
from pytest_selfslo.ruletest.runner import run_rule_tests
from pytest_selfslo.slo.importers import import_spec
from pytest_selfslo.slo.service import load_service_slos_text, dump_service_slos

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
    assert (spec.service, spec.source) == ("shop", "pyrra.dev/v1alpha1")
    assert (latency.objective, latency.window, latency.labels) == (99.0, "28d",
                                                                    {"team": "payments"})
    assert latency.alert_name == "ApiLatencyBudgetBurn"
    assert latency.page.labels == {"severity": "page"} and latency.ticket.labels == {
        "severity": "ticket"}
    assert 'le="0.3"' in latency.sli.errors and latency.sli.total.startswith(
        "sum(rate(http_request_duration_seconds_count")
    assert (errors.objective, errors.window, errors.alert_name) == (99.9, "30d", "ErrorBudgetBurn")
    assert errors.page.labels == {"severity": "critical"}
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
    assert any("one step above" in n for n in names)
    report = run_rule_tests([str(out)])
    assert report.passed, report.format_text()
    # the tests are not vacuous: a wrong threshold in the rules fails them
    rules = out.parent.parent / "slo.yml"
    text = rules.read_text()
    budget = "0.005" if source == OPENSLO else "0.01"
    assert f" * {budget})" in text
    rules.write_text(text.replace(f" * {budget})", f" * {budget} * 1.05)", 1))
    assert not run_rule_tests([str(out)]).passed


@pytest.mark.parametrize("promtool", params())
@pytest.mark.parametrize("source", EXAMPLES)
def test_round_trip_under_real_promtool(tmp_path: Path, source: Path, promtool: Promtool) -> None:
    out = _round_trip(tmp_path, source)
    output = run(promtool, [out.name], out.parent)
    assert "SUCCESS" in output and "FAILED" not in output, output
