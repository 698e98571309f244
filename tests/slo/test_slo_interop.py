"""Service SLO model, Sloth import, burn-rate rules and the ``selfslo slo`` CLI."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from pytest_selfslo._core.errors import SLOSpecError
from pytest_selfslo.cli import main
from pytest_selfslo.rulefmt.rulefile import check_rule_text
from pytest_selfslo.slo.burnrate import default_burn_rates, generate_rules
from pytest_selfslo.slo.importers import import_spec, import_text
from pytest_selfslo.slo.service import dump_service_slos, load_service_slos_text

DATA = Path(__file__).parent / "data"
SLOTH = DATA / "sloth_getting_started.yml"

GOOD = """\
version: selfslo/v1
service: api
slos:
  - name: availability
    objective: 99.9
    window: {window}
    sli:
      ratio:
        errors: sum(rate(http_requests_total{{code=~"5.."}}[{{{{.window}}}}]))
        total: {total}
"""
TOTAL = "sum(rate(http_requests_total[{{.window}}]))"


def test_sloth_import_maps_every_field() -> None:
    spec = import_spec(SLOTH)
    slo = spec.slos[0]
    assert (spec.service, spec.labels, spec.source) == ("checkout", {"owner": "payments"},
                                                       "sloth prometheus/v1")
    assert (slo.objective, slo.window, slo.error_budget) == (99.9, "30d", 0.001)
    assert slo.sli.kind == "ratio" and 'code=~"5.."' in slo.sli.errors
    assert slo.alert_name == "CheckoutHighErrorRate"
    assert slo.page.labels == {"severity": "critical"}
    assert slo.ticket.labels == {"severity": "warning"}


def test_import_round_trips_through_our_format() -> None:
    spec = import_spec(SLOTH)
    again = load_service_slos_text(dump_service_slos(spec), "slo.yml")
    assert again.slos == spec.slos and again.service == spec.service


@pytest.mark.parametrize(("window", "total", "where", "why"), [
    ("30d", TOTAL, ":5:16:", "strictly between 0 and 100"),
    ("30x", TOTAL, ":6:13:", "'30x' is not a duration"),
    ("90d", TOTAL, ":6:13:", "'90d' is not supported"),
    ("30d", "sum(rate(x[5m]))", ":10:16:", "must use {{.window}}"),
    ("30d", "sum(rate(x[{{.window}}])", ":10:16:", "invalid PromQL"),
])
def test_bad_specs_are_located(window: str, total: str, where: str, why: str) -> None:
    text = GOOD.format(window=window, total=total)
    if "strictly" in why:
        text = text.replace("99.9", "101")
    with pytest.raises(SLOSpecError) as exc:
        import_text(text, "slo.yml")
    assert str(exc.value).startswith("slo.yml" + where)
    assert why in str(exc.value)


def test_unknown_sli_kind_and_missing_total() -> None:
    base = GOOD.format(window="30d", total=TOTAL)
    with pytest.raises(SLOSpecError, match=r"^slo.yml:8:7: sli: unknown SLI kind 'rate'"):
        import_text(base.replace("ratio:", "rate:"), "slo.yml")
    no_total = "\n".join(line for line in base.splitlines() if "total:" not in line)
    with pytest.raises(SLOSpecError, match=r"^slo.yml:9:9: missing required key 'total'"):
        import_text(no_total, "slo.yml")


def test_sloth_unmappable_fields_are_errors_not_dropped() -> None:
    text = SLOTH.read_text()
    unknown = text.replace("events:", "metrics:")
    with pytest.raises(SLOSpecError, match=r"^s.yml:11:7: sli: Sloth SLI kind 'metrics' cannot "
                                           r"be mapped \(expected exactly one of events, raw, "
                                           r"plugin\)"):
        import_text(unknown, "s.yml")
    two = text.replace("events:", "raw:\n        error_ratio_query: x\n      events:")
    with pytest.raises(SLOSpecError, match=r"sli: Sloth SLI kind 'raw, events' cannot be mapped"):
        import_text(two, "s.yml")
    extra = text.replace('    objective: 99.9', '    objective: 99.9\n    flavour: x')
    with pytest.raises(SLOSpecError, match=r"^s.yml:9:5: sloth slo: unsupported field 'flavour'"):
        import_text(extra, "s.yml")


def test_default_burn_rates_scale_with_window() -> None:
    assert [w.factor for w in default_burn_rates("30d")] == [14.4, 6.0, 3.0, 1.0]
    assert [w.factor for w in default_burn_rates("28d")] == [13.44, 5.6, 2.8, 0.933333]
    assert {(w.severity, w.long, w.short) for w in default_burn_rates("7d")} == {
        ("page", "1h", "5m"), ("page", "6h", "30m"), ("ticket", "1d", "2h"), ("ticket", "3d", "6h")}


def test_generated_rules_are_valid_and_deterministic() -> None:
    spec = import_spec(SLOTH)
    text = generate_rules(spec)
    assert text == generate_rules(import_spec(SLOTH))
    assert check_rule_text(text, "slo_rules.yml") == []
    # the sloth dialect: Sloth's three groups, its metadata records instead of our
    # slo:error_budget_remaining:ratio (slo:period_error_budget_remaining:ratio is Sloth's)
    groups = yaml.safe_load(text)["groups"]
    assert [g["name"] for g in groups] == [
        f"sloth-slo-{kind}-checkout-requests-availability"
        for kind in ("sli-recordings", "meta-recordings", "alerts")]
    rules = [r for g in groups for r in g["rules"]]
    records = [r["record"] for r in rules if "record" in r]
    assert records == [f"slo:sli_error:ratio_rate{w}"
                       for w in ("5m", "30m", "1h", "2h", "6h", "1d", "3d", "30d")] + [
        "slo:objective:ratio", "slo:error_budget:ratio", "slo:time_period:days",
        "slo:current_burn_rate:ratio", "slo:period_burn_rate:ratio",
        "slo:period_error_budget_remaining:ratio", "sloth_slo_info"]
    alerts = [r for r in rules if "alert" in r]
    # imported from Sloth: Sloth's label names, so routes written for Sloth's alerts still match
    assert [a["labels"]["sloth_severity"] for a in alerts] == ["page", "ticket"]
    assert rules[0]["labels"]["sloth_id"] == "checkout-requests-availability"
    # Sloth's dialect: Sloth's float arithmetic for the budget, (100 - 99.9) / 100 (the
    # product Sloth's (14.4 * 0.0009999999999999432) evaluates to, as one literal)
    b = (100 - 99.9) / 100
    assert repr(b) == "0.0009999999999999432"
    assert f"> {14.4 * b!r})" in alerts[0]["expr"] and f"> {6 * b!r})" in alerts[0]["expr"]
    assert f"> {3 * b!r})" in alerts[1]["expr"] and f"> {1 * b!r})" in alerts[1]["expr"]


def test_min_events_adds_the_guard() -> None:
    text = GOOD.format(window="30d", total=TOTAL) + "    min_events: 100\n"
    rules = yaml.safe_load(generate_rules(import_text(text, "slo.yml")))["groups"][0]["rules"]
    events = [r["record"] for r in rules if r.get("record", "").startswith("slo:sli_total")]
    assert events == ["slo:sli_total:events1h", "slo:sli_total:events6h",
                      "slo:sli_total:events1d", "slo:sli_total:events3d"]
    page = next(r for r in rules if r.get("labels", {}).get("slo_severity") == "page")
    assert "slo:sli_total:events1h" in page["expr"] and ">= 100" in page["expr"]


def test_cli_import_and_generate(tmp_path: Path) -> None:
    out = tmp_path / "slo.yml"
    assert main(["slo", "import", str(SLOTH), "-o", str(out)]) == 0
    assert load_service_slos_text(out.read_text(), str(out)).slos == import_spec(SLOTH).slos
    rules = tmp_path / "rules.yml"
    assert main(["slo", "generate", str(out), "-o", str(rules)]) == 0
    assert rules.read_text() == generate_rules(import_spec(SLOTH))


def test_cli_bad_spec_exits_2_and_writes_nothing(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text(GOOD.format(window="30x", total=TOTAL))
    out = tmp_path / "out.yml"
    assert main(["slo", "generate", str(bad), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"{bad}:6:13: window: '30x' is not a duration" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not out.exists()
