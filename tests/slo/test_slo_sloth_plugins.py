"""Sloth SLO plugins: chain order, what each plugin does to the generated rules, bad configs.

Expected rules are Sloth's, read off its plugin Go code (slok/sloth
``internal/plugin/slo``) and its generated examples; the behaviour on traffic is
compared with Sloth's own output in ``test_slo_sloth_equivalence.py``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from pytest_selfslo._core.errors import SLOSpecError
from pytest_selfslo.cli import main
from pytest_selfslo.rulefmt.rulefile import check_rule_text
from pytest_selfslo.slo.burnrate import SLOTH_META_RECORDS, generate_rules
from pytest_selfslo.slo.importers import import_text
from pytest_selfslo.slo.service import ServiceSLOs, dump_service_slos, load_service_slos_text
from pytest_selfslo.slo.slothplugins import (
    ALERT_RULES,
    DEFAULT_CHAIN,
    METADATA_RULES,
    SLI_RULES,
    ChainEntry,
    SlothPlugin,
    resolve_chain,
)

SPEC = """\
version: prometheus/v1
service: svc
labels:
  team: a
{service_plugins}slos:
  - name: avail
    objective: 99.9
    labels:
      tier: "2"
{slo_plugins}    sli:
      events:
        error_query: sum(rate(req_total{{code=~"5.."}}[{{{{.window}}}}]))
        total_query: sum(rate(req_total[{{{{.window}}}}]))
    alerting:
      name: High
      page_alert:
        labels: {{severity: page}}
      ticket_alert:
        labels: {{severity: ticket}}
"""


def _spec(service: str = "", slo: str = "") -> str:
    return SPEC.format(service_plugins=service, slo_plugins=slo)


def _slo_chain(*entries: str, override: bool = False) -> str:
    lines = ["    plugins:\n"]
    if override:
        lines.append("      overridePrevious: true\n")
    lines.append("      chain:\n")
    lines += [f"        - {e}\n" for e in entries]
    return "".join(lines)


def _groups(text: str) -> list[dict[str, Any]]:
    spec = import_text(text, "s.yml")
    out = generate_rules(spec)
    assert check_rule_text(out, "rules.yml") == []
    groups: list[dict[str, Any]] = yaml.safe_load(out)["groups"]
    return groups


def _by_kind(groups: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {g["name"].split("-")[2]: g for g in groups}  # sli / meta / alerts


def _rules(groups: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [r for g in groups for r in g["rules"] if r.get("record", r.get("alert")) == name]


# ----------------------------------------------------------------------------- the chain
def test_default_output_is_slothds_three_groups_with_metadata() -> None:
    groups = _groups(_spec())
    assert [g["name"] for g in groups] == ["sloth-slo-sli-recordings-svc-avail",
                                           "sloth-slo-meta-recordings-svc-avail",
                                           "sloth-slo-alerts-svc-avail"]
    meta = {r["record"]: r for r in _by_kind(groups)["meta"]["rules"]}
    assert tuple(meta) == SLOTH_META_RECORDS
    labels = {"team": "a", "tier": "2", "sloth_id": "svc-avail", "sloth_service": "svc",
              "sloth_slo": "avail"}
    assert meta["slo:objective:ratio"] == {"record": "slo:objective:ratio",
                                           "expr": "vector(0.9990000000000001)", "labels": labels}
    assert meta["slo:error_budget:ratio"]["expr"] == "vector(1-0.9990000000000001)"
    assert meta["slo:time_period:days"]["expr"] == "vector(30)"
    filt = '{sloth_id="svc-avail", sloth_service="svc", sloth_slo="avail"}'
    assert meta["slo:current_burn_rate:ratio"]["expr"] == (
        f"slo:sli_error:ratio_rate5m{filt}\n/ on(sloth_id, sloth_slo, sloth_service) group_left\n"
        f"slo:error_budget:ratio{filt}\n")
    assert "slo:sli_error:ratio_rate30d" in meta["slo:period_burn_rate:ratio"]["expr"]
    assert meta["slo:period_error_budget_remaining:ratio"]["expr"] == (
        f"1 - slo:period_burn_rate:ratio{filt}")
    assert meta["sloth_slo_info"]["labels"] == {
        **labels, "sloth_mode": "selfslo", "sloth_spec": "selfslo/v1", "sloth_version": "selfslo",
        "sloth_objective": "99.9"}
    # the period's ratio is Sloth's optimised average of the 5m ratios
    period = _rules(groups, "slo:sli_error:ratio_rate30d")[0]["expr"]
    assert period == (f"sum_over_time(slo:sli_error:ratio_rate5m{filt}[30d])\n"
                      f"/ ignoring (sloth_window)\ncount_over_time(slo:sli_error:ratio_rate5m"
                      f"{filt}[30d])\n")


def test_debug_plugins_with_priorities_change_nothing() -> None:
    debug = 'id: "sloth.dev/core/debug/v1"\n          priority: {}\n          config: {{msg: x}}'
    service = ("slo_plugins:\n  chain:\n    - id: sloth.dev/core/noop/v1\n      priority: -5\n"
               "    - id: sloth.dev/core/validate/v1\n")
    text = _spec(service, _slo_chain(debug.format(1050), debug.format(-1000)))
    spec = import_text(text, "s.yml")
    assert spec.slos[0].plugins == ()
    assert generate_rules(spec) == generate_rules(import_text(_spec(), "s.yml"))


def test_chain_order_follows_priority_and_override() -> None:
    a, b, c = SlothPlugin("a"), SlothPlugin("b"), SlothPlugin("c")
    service = [ChainEntry(a, 5), ChainEntry(None, -3)]
    slo = [ChainEntry(b, -1), ChainEntry(c, 0)]
    assert resolve_chain(service, False, slo, False) == (b, *DEFAULT_CHAIN, c, a)
    # service-level override drops the defaults; SLO-level also drops the service's plugins
    assert resolve_chain(service, True, slo, False) == (b, c, a)
    assert resolve_chain(service, False, slo, True) == (b, c)
    # stable: same priority keeps declaration order (service first)
    assert resolve_chain([ChainEntry(c, 0)], False, [ChainEntry(a, 0)], False) == (
        *DEFAULT_CHAIN, c, a)
    assert resolve_chain([], False, [], False) == ()


def test_override_without_alert_rules_means_no_alerts() -> None:
    chain = _slo_chain(f"id: {SLI_RULES}", f"id: {METADATA_RULES}", override=True)
    groups = _groups(_spec(slo=chain))
    assert [g["name"].split("-")[2] for g in groups] == ["sli", "meta"]
    only_alerts = _groups(_spec(slo=_slo_chain(f"id: {ALERT_RULES}", override=True)))
    assert [g["name"].split("-")[2] for g in only_alerts] == ["alerts"]


def test_sli_rules_disable_optimized() -> None:
    chain = _slo_chain(f"id: {SLI_RULES}\n          config: {{disableOptimized: true}}",
                       f"id: {METADATA_RULES}", f"id: {ALERT_RULES}", override=True)
    period = _rules(_groups(_spec(slo=chain)), "slo:sli_error:ratio_rate30d")[0]["expr"]
    assert period == ('(sum(rate(req_total{code=~"5.."}[30d])))\n/\n'
                      "(sum(rate(req_total[30d])))\n")


# ----------------------------------------------------------------------------- contrib
def test_rule_intervals_per_kind() -> None:
    chain = _slo_chain("id: sloth.dev/contrib/rule_intervals/v1\n          config:\n"
                       "            interval: {default: 5m, alert: 30s}")
    groups = _by_kind(_groups(_spec(slo=chain)))
    assert {k: g.get("interval") for k, g in groups.items()} == {
        "sli": "5m", "meta": "5m", "alerts": "30s"}


def test_denominator_corrected_rules() -> None:
    chain = _slo_chain("id: sloth.dev/contrib/denominator_corrected_rules/v1")
    groups = _groups(_spec(slo=chain))
    filt = '{sloth_id="svc-avail", sloth_service="svc", sloth_slo="avail"}'
    assert _rules(groups, "slo:sli_error:ratio_rate1h")[0]["expr"] == (
        f"(\nslo:numerator_correction:ratio1h{filt}\n* on()\n"
        'sum(rate(req_total{code=~"5.."}[1h]))\n)\n/\n(sum(rate(req_total[1h])))\n')
    kinds = _by_kind(groups)
    corrections = [r for r in kinds["meta"]["rules"]
                   if r["record"].startswith("slo:numerator_correction:ratio")]
    # in the metadata group, after Sloth's metadata rules: read one evaluation later
    assert [r["record"] for r in kinds["meta"]["rules"]][:7] == list(SLOTH_META_RECORDS)
    assert [r["record"][len("slo:numerator_correction:ratio"):] for r in corrections] == [
        "5m", "30m", "1h", "2h", "6h", "1d", "3d"]
    assert corrections[0]["expr"] == ("(sum(rate(req_total[5m])))/(sum(rate(req_total[30d])))")
    assert "sloth_window" not in corrections[0]["labels"]
    plain = _slo_chain("id: sloth.dev/contrib/denominator_corrected_rules/v1\n"
                       "          config: {disableOptimized: true}")
    assert _rules(_groups(_spec(slo=plain)), "slo:sli_error:ratio_rate30d")[0]["expr"] == (
        '(sum(rate(req_total{code=~"5.."}[30d])))\n/\n(sum(rate(req_total[30d])))\n')
    # before the default chain it is undone: sli_rules and metadata_rules replace its rules
    early = _slo_chain("id: sloth.dev/contrib/denominator_corrected_rules/v1\n"
                       "          priority: -1")
    assert _groups(_spec(slo=early)) == _groups(_spec())


def test_info_labels() -> None:
    chain = _slo_chain("id: sloth.dev/contrib/info_labels/v1\n          config:\n"
                       "            labels: {plug-l1: in-k1, team: b}")
    info = _rules(_groups(_spec(slo=chain)), "sloth_slo_info")[0]["labels"]
    assert info["plug-l1"] == "in-k1" and info["team"] == "b"
    other = _slo_chain("id: sloth.dev/contrib/info_labels/v1\n          config:\n"
                       "            metricName: slo:objective:ratio\n            labels: {x: y}")
    groups = _groups(_spec(slo=other))
    assert _rules(groups, "slo:objective:ratio")[0]["labels"]["x"] == "y"
    assert "x" not in _rules(groups, "sloth_slo_info")[0]["labels"]


def test_remove_labels() -> None:
    chain = _slo_chain("id: sloth.dev/contrib/remove_labels/v1\n          config:\n"
                       "            preserveLabels: [tier]\n"
                       "            skipMetrics: [slo:objective:ratio]")
    groups = _groups(_spec(slo=chain))
    ids = {"sloth_id": "svc-avail", "sloth_service": "svc", "sloth_slo": "avail"}
    assert _rules(groups, "slo:sli_error:ratio_rate5m")[0]["labels"] == {
        **ids, "tier": "2", "sloth_window": "5m"}
    assert _rules(groups, "slo:error_budget:ratio")[0]["labels"] == {**ids, "tier": "2"}
    assert _rules(groups, "slo:objective:ratio")[0]["labels"]["team"] == "a"  # skipped
    assert _rules(groups, "sloth_slo_info")[0]["labels"]["team"] == "a"  # always skipped


def test_error_budget_exhausted_alert() -> None:
    chain = _slo_chain("id: sloth.dev/contrib/error_budget_exhausted_alert/v1\n"
                       "          config:\n            threshold: 0.05\n            for: 10m\n"
                       "            alert_name: Spent\n            alert_labels: {sev: x}\n"
                       "            selector_labels: {env: prod}\n"
                       "            annotations: {summary: gone}")
    alerts = _by_kind(_groups(_spec(slo=chain)))["alerts"]["rules"]
    assert alerts[-1] == {
        "alert": "Spent",
        "expr": 'slo:period_error_budget_remaining:ratio{env="prod", sloth_id="svc-avail", '
                'sloth_service="svc", sloth_slo="avail", team="a", tier="2"} <= 0.05',
        "for": "10m", "labels": {"sev": "x"}, "annotations": {"summary": "gone"}}
    default = _slo_chain("id: sloth.dev/contrib/error_budget_exhausted_alert/v1")
    last = _by_kind(_groups(_spec(slo=default)))["alerts"]["rules"][-1]
    assert last["alert"] == "ErrorBudgetExhausted" and last["for"] == "5m"
    assert last["expr"].endswith(" <= 0")


def test_plugins_round_trip_through_our_format() -> None:
    chain = _slo_chain("id: sloth.dev/contrib/rule_intervals/v1\n          config:\n"
                       "            interval: {default: 1m, sliError: 2m}",
                       "id: sloth.dev/contrib/denominator_corrected_rules/v1\n"
                       "          priority: 3")
    spec = import_text(_spec(slo=chain), "s.yml")
    again: ServiceSLOs = load_service_slos_text(dump_service_slos(spec), "slo.yml")
    assert again.slos == spec.slos
    assert generate_rules(again) == generate_rules(spec)


# ----------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(("entry", "where", "why"), [
    ("id: sloth.dev/contrib/nope/v1", "12:15",
     "plugins.chain[0].id: unknown Sloth SLO plugin 'sloth.dev/contrib/nope/v1' (supported: "
     "sloth.dev/core/sli_rules/v1, "),
    ("id: sloth.dev/contrib/rule_intervals/v1\n          config: {interval: {alert: 1m}}", "13:30",
     "plugins.chain[0].config.interval.default: at least the default interval is required"),
    ("id: sloth.dev/contrib/rule_intervals/v1\n          config: {interval: {default: 5x}}",
     "13:40", "plugins.chain[0].config.interval.default: '5x' is not a duration"),
    ("id: sloth.dev/contrib/info_labels/v1", "12:15",
     "plugins.chain[0].config.labels: at least one label is required"),
    ("id: sloth.dev/contrib/info_labels/v1\n          config: {labelz: {a: b}}", "13:20",
     "plugins.chain[0].config: unsupported field 'labelz' (supported: labels, metricName)"),
    ("id: sloth.dev/contrib/error_budget_exhausted_alert/v1\n          config: {threshold: x}",
     "13:31", "plugins.chain[0].config.threshold: expected a number, got 'x'"),
    ("id: sloth.dev/core/debug/v1\n          priority: 1.5", "13:21",
     "plugins.chain[0].priority: expected an integer, got '1.5'"),
    ("id: sloth.dev/contrib/validate_victoria_metrics/v1", "12:15",
     "plugins.chain[0].id: sloth.dev/contrib/validate_victoria_metrics/v1 declares the SLI "
     "queries MetricsQL (VictoriaMetrics), which is not PromQL: Prometheus, promtool and "
     "selfslo's engine cannot evaluate them"),
])
def test_bad_plugin_configs_exit_2_located_nothing_written(
        entry: str, where: str, why: str, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "sloth.yml"
    spec.write_text(_spec(slo=_slo_chain(entry)))
    for command in ("import", "generate"):
        out = tmp_path / f"{command}.yml"
        assert main(["slo", command, str(spec), "-o", str(out)]) == 2
        err = capsys.readouterr().err
        assert f"{spec}:{where}: {why}" in err, err
        assert "Traceback" not in err and len(err.strip().splitlines()) == 1
        assert not out.exists()


def test_plugins_need_the_sloth_dialect() -> None:
    text = ("version: selfslo/v1\nservice: s\nslos:\n  - name: a\n    objective: 99\n"
            "    sli: {ratio: {errors: 'sum(rate(e[{{.window}}]))', "
            "total: 'sum(rate(t[{{.window}}]))'}}\n"
            "    plugins: [{id: sloth.dev/core/alert_rules/v1}]\n")
    with pytest.raises(SLOSpecError, match=r"^slo.yml:7:5: plugins: Sloth SLO plugins apply "
                                           r"to the sloth dialect only"):
        load_service_slos_text(text, "slo.yml")
    with pytest.raises(SLOSpecError, match=r"^slo.yml:8:20: plugins\[0\].id: unknown Sloth "
                                           r"SLO plugin 'sloth.dev/core/debug/v1'"):
        load_service_slos_text(text.replace("version", "dialect: sloth\nversion").replace(
            "alert_rules", "debug"), "slo.yml")
