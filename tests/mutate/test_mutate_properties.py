"""Acceptance 2: a mutant never crashes the run -- invalid mutants are never generated.

Over random rules (``mutate_strategies``): every mutant's expression parses with
promql-parser and means exactly the mutated tree, the rule file with the mutant
in place passes the ``promtool check rules``-grade validation of
:mod:`pytest_selfslo.rulefmt`, nothing is discarded, and running every mutant
against a unit test classifies it without raising.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import promql_parser
import yaml
from hypothesis import HealthCheck, given, settings
from mutate_strategies import INPUT_SERIES, rule_files

from pytest_selfslo._core.durations import parse_duration
from pytest_selfslo.mutate.engine import generate_mutants, rule_document
from pytest_selfslo.mutate.operators import NoData
from pytest_selfslo.mutate.report import STATUSES
from pytest_selfslo.mutate.runner import MutationSuite
from pytest_selfslo.mutate.sites import load_rule_sites
from pytest_selfslo.mutate.tree import from_parser
from pytest_selfslo.rulefmt.rulefile import check_rule_text
from pytest_selfslo.rulefmt.testfile import parse_test_text
from pytest_selfslo.ruletest.runner import observe_group


def profile(examples: int) -> settings:
    """Derandomised (CI), no deadline: each example generates and runs many mutants."""
    return settings(max_examples=examples, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow])


def _write(folder: Path, doc: dict[str, object]) -> Path:
    path = folder / "rules.yml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


@profile(150)
@given(doc=rule_files())
def test_every_mutant_is_a_valid_rule(doc: dict[str, object]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        sites = load_rule_sites(_write(Path(tmp), doc))
    group = doc["groups"][0]  # type: ignore[index]
    for site in sites:
        gen = generate_mutants(site, NoData())
        assert gen.discarded == [] and gen.skipped is None, (gen.discarded, gen.skipped)
        if site.rule.kind == "alert":  # at least its labels and annotations change
            assert gen.mutants, site.rule.expr
        assert len({m.id for m in gen.mutants}) == len(gen.mutants)
        for mutant in gen.mutants:
            tree = from_parser(promql_parser.parse(mutant.rule.expr))
            assert mutant.tree is None or tree == mutant.tree
            rules = list(group["rules"])
            own = [k.split(".", 1)[1] for k in site.positions if k.startswith("labels.")]
            rules[site.rule_index] = rule_document(mutant.rule, own)
            text = yaml.safe_dump({"groups": [{"name": "random", "rules": rules}]},
                                  sort_keys=False)
            assert check_rule_text(text) == [], (mutant.id, mutant.rule.expr)


def _passing_test(rules: Path, names: list[str]) -> dict[str, object]:
    """A unit test of ``rules`` whose expectations are what the original rules do."""
    group: dict[str, object] = {
        "interval": "1m", "input_series": [{"series": s, "values": v} for s, v in INPUT_SERIES],
        "alert_rule_test": [{"eval_time": t, "alertname": n} for n in names for t in ("3m", "30m")],
        "promql_expr_test": [{"expr": "count({__name__=~\"job:.*\"})", "eval_time": "20m"}]}
    doc = {"rule_files": [rules.name], "evaluation_interval": "1m", "tests": [group]}
    test_file = parse_test_text(yaml.safe_dump(doc), str(rules.parent / "test.yml"))
    seen = observe_group(test_file, test_file.groups[0])
    for case in group["alert_rule_test"]:  # type: ignore[attr-defined]
        case["exp_alerts"] = [
            {"exp_labels": {k: v for k, v in labels.items() if k != "alertname"},
             "exp_annotations": annotations}
            for labels, annotations in seen.alerts.get((case["alertname"],
                                                        parse_duration(case["eval_time"])), [])]
    (case,) = group["promql_expr_test"]  # type: ignore[misc]
    got = seen.samples.get((case["expr"], parse_duration(case["eval_time"])), [])
    case["exp_samples"] = [{"labels": "", "value": v} for _, v in got] if isinstance(got, list) else []
    return doc


@profile(25)
@given(doc=rule_files())
def test_no_mutant_crashes_the_run(doc: dict[str, object]) -> None:
    names = sorted({str(r["alert"]) for r in doc["groups"][0]["rules"]  # type: ignore[index]
                    if "alert" in r})
    with tempfile.TemporaryDirectory() as tmp:
        rules = _write(Path(tmp), doc)
        test = Path(tmp) / "test.yml"
        test.write_text(yaml.safe_dump(_passing_test(rules, names), sort_keys=False),
                        encoding="utf-8")
        report = MutationSuite.load([str(rules)], [str(test)]).run()
    statuses = [m.status for r in report.rules for m in r.mutants]
    assert set(statuses) <= set(STATUSES)
    for rule in report.rules:
        for result in rule.mutants:
            if result.status == "survived" and result.suggestion is not None:
                assert result.suggestion.yaml.startswith("  - name: ")
