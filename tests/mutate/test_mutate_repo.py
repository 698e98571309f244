"""The repository's own rules and tests: 100% mutation score, equivalents proved and marked.

``rules/phase_c_rules.yml`` is rendered from the SLO spec, so its
``selfslo-mutate`` markers come from :func:`pytest_selfslo.lint.render.burn_rate_markers`;
the incremental evaluation the runner uses is checked against full re-evaluation.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_selfslo.lint.render import burn_rate_markers
from pytest_selfslo.mutate.report import EQUIVALENT, KILLED
from pytest_selfslo.mutate.runner import MutationSuite
from pytest_selfslo.slo.spec import DEFAULT_SLO_SPEC

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def suite() -> MutationSuite:
    return MutationSuite.load([str(ROOT / "rules" / "*.yml")],
                              [str(ROOT / "rules" / "tests" / "*.yml")])


def test_every_mutant_of_the_repository_rules_is_killed_or_marked(suite: MutationSuite) -> None:
    report = suite.run()
    assert report.score == 100.0, report.format_text(ROOT)
    counts = report.counts
    assert counts["survived"] == counts["equivalent-suspect"] == 0
    assert counts[KILLED] > 300 and len(report.rules) == 28
    # only the burn-rate alerts carry markers, each with its proof as the reason
    marked = {r.site.name for r in report.rules for m in r.mutants if m.status == EQUIVALENT}
    assert marked == {f"AURIS_SELF_{s}_BurnRate_{k}" for s in ("Coherence", "Continuity", "Stress")
                      for k in ("Fast", "Slow")}
    assert counts[EQUIVALENT] == 30


@pytest.mark.parametrize("name", ["AURIS_SELF_Coherence_BurnRate_Slow", "AURIS_SELF_Stress_High",
                                  "AURIS_SELF_Heartbeat_Stale"])
def test_incremental_runs_classify_like_full_runs(suite: MutationSuite, name: str) -> None:
    site = next(s for s in suite.sites if s.name == name)
    full = MutationSuite.load([str(ROOT / "rules" / "*.yml")],
                              [str(ROOT / "rules" / "tests" / "*.yml")])
    full.incremental = False
    full_site = next(s for s in full.sites if s.name == name)
    fast = suite.run_rule(site)
    slow = full.run_rule(full_site)
    assert [(m.mutant.id, m.status, m.killed_by) for m in fast.mutants] == [
        (m.mutant.id, m.status, m.killed_by) for m in slow.mutants]


def test_recording_rule_mutants_incremental_equals_full(suite: MutationSuite) -> None:
    # a ratio rule has a downstream (the burn-rate alerts): only its upstream is copied
    site = next(s for s in suite.sites if s.name == "selfslo:sli_error:ratio_rate1h")
    full = MutationSuite.load([str(ROOT / "rules" / "*.yml")],
                              [str(ROOT / "rules" / "tests" / "*.yml")])
    full.incremental = False
    full_site = next(s for s in full.sites if (s.group_index, s.rule_index) ==
                     (site.group_index, site.rule_index))
    fast, slow = suite.run_rule(site), full.run_rule(full_site)
    assert [(m.mutant.id, m.status) for m in fast.mutants] == [
        (m.mutant.id, m.status) for m in slow.mutants]
    assert {m.status for m in fast.mutants} == {KILLED}


def test_markers_are_emitted_only_where_equivalence_is_proved() -> None:
    default = burn_rate_markers(DEFAULT_SLO_SPEC)
    fast = default["AURIS_SELF_Coherence_BurnRate_Fast"]
    assert [m.split("=", 1)[1].split(" ", 1)[0] for m in fast] == [
        "MU03#1", "MU03#3", "MU02#3", "MU02#4", "MU09"]
    # with a 1.25% budget the fast limit is 0.18 = 9/50, which a 1h window of 1m samples
    # reaches: `>=` is no longer equivalent there and its marker disappears
    other = burn_rate_markers(DEFAULT_SLO_SPEC, error_budget=0.0125)
    assert not any("MU03#1" in m for m in other["AURIS_SELF_Coherence_BurnRate_Fast"])
    rules = (ROOT / "rules" / "phase_c_rules.yml").read_text(encoding="utf-8")
    assert all(line in rules for lines in default.values() for line in lines)


def test_dependency_changing_mutants_incremental_equals_full() -> None:
    # matcher, label and neighbour mutants change what a rule reads or writes (MU10 makes a
    # ratio read a *later* rule, MU17 a rule read itself): the cases the plan must get right
    only = ["MU09", "MU10", "MU16", "MU17"]
    fast = MutationSuite.load([str(ROOT / "rules" / "*.yml")],
                              [str(ROOT / "rules" / "tests" / "*.yml")], only=only)
    full = MutationSuite.load([str(ROOT / "rules" / "*.yml")],
                              [str(ROOT / "rules" / "tests" / "*.yml")], only=only)
    full.incremental = False
    sites = [s for s in fast.sites if s.rule.kind == "record"][:5]
    full_sites = [s for s in full.sites if s.rule.kind == "record"][:5]
    for a, b in zip(sites, full_sites, strict=True):
        got = [(m.mutant.id, m.status, m.killed_by) for m in fast.run_rule(a).mutants]
        assert got == [(m.mutant.id, m.status, m.killed_by) for m in full.run_rule(b).mutants]
        assert got
