"""dashboards/self_slo.json: valid PromQL over known metrics, SLO lines from the spec."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import promql_parser
import pytest

from pytest_selfslo.lint.domain import KNOWN_METRICS
from pytest_selfslo.promql.astwalk import selectors
from pytest_selfslo.slo.spec import DEFAULT_SLO_SPEC

DASHBOARD = Path(__file__).resolve().parents[2] / "dashboards" / "self_slo.json"


def _panels() -> list[dict[str, Any]]:
    data = json.loads(DASHBOARD.read_text())
    out = []
    for panel in data["panels"]:
        out.append(panel)
        out.extend(panel.get("panels", []))
    return out


def _targets() -> list[tuple[str, str]]:
    return [(p["title"], t["expr"]) for p in _panels() for t in p.get("targets", [])]


@pytest.mark.parametrize(("title", "expr"), _targets())
def test_panel_promql_parses_and_names_known_metrics(title: str, expr: str) -> None:
    ast = promql_parser.parse(expr)
    names = {s.name for s in selectors(ast)}
    assert names, f"{title}: {expr!r} selects no metric"
    unknown = names - set(KNOWN_METRICS)
    assert not unknown, f"panel {title!r}: unknown metric(s) {sorted(unknown)} in {expr!r}"


def test_required_panels_present() -> None:
    exprs = {e for _t, e in _targets()}
    for required in ("avg(self_coherence)", "avg(self_continuity)", "avg(self_stress)",
                     "max(selfslo_canary_sampling)"):
        assert required in exprs
    assert any(e.startswith("ALERTS{") and 'alertstate="firing"' in e for e in exprs)
    tables = [p for p in _panels() if p["type"] == "table"]
    assert any("token_id" in t["expr"] for p in tables for t in p["targets"])


@pytest.mark.parametrize("objective", DEFAULT_SLO_SPEC.objectives, ids=lambda o: o.name)
def test_slo_threshold_lines_match_the_spec(objective: Any) -> None:
    panel = next(p for p in _panels()
                 if any(t["expr"] == f"avg({objective.metric})" for t in p.get("targets", [])))
    defaults = panel["fieldConfig"]["defaults"]
    assert defaults["custom"]["thresholdsStyle"]["mode"].startswith("line")
    steps = defaults["thresholds"]["steps"]
    assert [s["value"] for s in steps] == [None, objective.target]
    # the colour above the line is green for ">=" objectives and red for "<=" ones
    assert steps[1]["color"] == ("green" if objective.comparison == ">=" else "red")
