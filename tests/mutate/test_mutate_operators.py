"""The operator table: what each operator does to a rule, ids, docs in step with the code."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from pytest_selfslo.mutate.engine import generate_mutants
from pytest_selfslo.mutate.operators import OPERATORS, NoData, resolve_operators
from pytest_selfslo.mutate.sites import RuleSite
from pytest_selfslo.mutate.tree import Node, to_promql
from pytest_selfslo.rulefmt.rulefile import parse_rule_text

ROOT = Path(__file__).resolve().parents[2]


def site_of(text: str, index: int = 0) -> RuleSite:
    groups, problems = parse_rule_text(text, "r.yml")
    assert problems == []
    rules = [(g, r) for g in groups for r in g.rules]
    group, rule = rules[index]
    return RuleSite("r.yml", 0, group.rules.index(rule), group, rule,
                    {"expr": (3, 11), "labels.severity": (6, 9)})


def alert(expr: str, extra: str = "") -> str:
    return (f"groups:\n- name: g\n  rules:\n  - alert: A\n    expr: {expr}\n{extra}")


def mutants(text: str, code: str, data: object = None, index: int = 0) -> list[tuple[str, str]]:
    gen = generate_mutants(site_of(text, index), data or NoData(), only=[code])
    assert gen.discarded == []
    return [(m.id, m.after) for m in gen.mutants]


@pytest.mark.parametrize(("code", "expr", "expected"), [
    ("MU02", "x < 0.8", ["x < 0.88", "x < 0.72"]),
    ("MU03", "x < 0.8", ["x <= 0.8", "x > 0.8"]),
    ("MU03", "x == 1", ["x != 1"]),
    ("MU04", "x > bool 1", ["x > 1"]),
    ("MU07", "rate(x[5m])", ["rate(x[2m30s])", "rate(x[10m])"]),
    ("MU07", "max_over_time(x[1h:5m])", ["max_over_time(x[30m:5m])", "max_over_time(x[2h:5m])"]),
    ("MU08", "x offset 5m > 1", ["x > 1"]),
    ("MU09", 'x{a="1", b="2"}', ['x{b="2"}', 'x{a="1"}']),
    ("MU10", 'x{a="1"}', ['x{a="1_mutant"}']),
    ("MU11", "sum by (a, b) (x) > 1 and on (a) y",
     ["sum by (a, b) (x) > 1 and on () y", "sum by (b) (x) > 1 and on (a) y",
      "sum by (a) (x) > 1 and on (a) y"]),  # pre-order: the `and` comes first
    ("MU12", "avg(x) > sum(y)", ["max(x) > sum(y)", "min(x) > sum(y)", "avg(x) > count(y)"]),
    ("MU13", "rate(x[5m]) > irate(y[5m])",
     ["irate(x[5m]) > irate(y[5m])", "increase(x[5m]) > irate(y[5m])", "rate(x[5m]) > rate(y[5m])"]),
    ("MU14", "x > 1 unless y", ["x > 1", "y"]),
    ("MU15", "absent(x{a=\"b\"})", ['group(x{a="b"})']),
    ("MU15", "absent_over_time(x[5m])", ["group(present_over_time(x[5m]))"]),
])
def test_expression_operators(code: str, expr: str, expected: list[str]) -> None:
    got = mutants(alert(f"'{expr}'"), code)
    assert [after for _, after in got] == expected
    assert [i for i, _ in got] == [f"{code}#{n}" for n in range(1, len(expected) + 1)]


def test_threshold_step_without_data_moves_one_unit_of_the_third_digit() -> None:
    assert [a for _, a in mutants(alert("x < 0.8"), "MU01")] == ["x < 0.801", "x < 0.799"]
    assert [a for _, a in mutants(alert("x > 14.4"), "MU01")] == ["x > 14.5", "x > 14.3"]
    assert [a for _, a in mutants(alert("x > 0"), "MU01")] == ["x > 0.01", "x > -0.01"]


class _Data(NoData):
    """Test data: the compared side takes these values; every candidate changes the rule."""

    def __init__(self, values: list[float], changing: bool = True) -> None:
        self.values = np.array(values)
        self.changing = changing
        self.asked: list[str] = []

    def operand_values(self, expr: Node) -> np.ndarray:
        return self.values

    def changes(self, expr: Node) -> bool:
        self.asked.append(to_promql(expr))
        return self.changing

    def label_values(self, name: str) -> tuple[str, ...]:
        return ("1", "2") if name == "a" else ()


def test_threshold_step_moves_just_past_the_nearest_test_value() -> None:
    data = _Data([0.5, 0.8, 0.85, 0.95])
    got = [a for _, a in mutants(alert("x < 0.8"), "MU01", data)]
    # 0.8 itself is a test value: just above it (0.801) is the smallest change that matters;
    # downwards the nearest value is 0.5 (x < 0.5 is false there)
    assert got == ["x < 0.801", "x < 0.5"]


def test_threshold_step_skips_values_where_the_rule_would_not_change() -> None:
    data = _Data([0.85, 0.9], changing=False)
    got = [a for _, a in mutants(alert("x > 0.8"), "MU01", data)]
    assert data.asked == ["x > 0.85", "x > 0.9"]  # asked in order, nearest first
    assert got == ["x > 0.801", "x > 0.799"]  # none changes the rule: the fixed step


def test_matcher_value_prefers_a_value_the_tests_use() -> None:
    assert mutants(alert("x{a=\"1\"}"), "MU10", _Data([])) == [("MU10#1", 'x{a="2"}')]


def test_rule_field_operators() -> None:
    text = alert("x > 1", "    for: 5m\n    keep_firing_for: 1m\n    labels:\n      severity: page\n"
                          "    annotations:\n      summary: s\n")
    assert [a for _, a in mutants(text, "MU05")] == ["for: 2m30s", "for: 10m", "for: 0s"]
    assert [a for _, a in mutants(text, "MU06")] == ["keep_firing_for: 30s",
                                                     "keep_firing_for: 2m", "keep_firing_for: 0s"]
    assert [a for _, a in mutants(text, "MU16")] == ["severity: page_mutant", "summary: s (mutant)"]
    assert mutants(alert("x > 1"), "MU05") == []  # no for: nothing to halve


def test_neighbour_expr_swaps_in_the_previous_recording_rule() -> None:
    text = ("groups:\n- name: g\n  rules:\n  - record: a\n    expr: x * 2\n"
            "  - record: b\n    expr: y\n")
    site = site_of(text, 1)
    gen = generate_mutants(site, NoData(), only=["MU17"], neighbour=("a", "x * 2"))
    assert [(m.id, m.after, m.detail) for m in gen.mutants] == [
        ("MU17#1", "x * 2", "expression of a swapped in")]


def test_invalid_changes_are_discarded_not_run() -> None:
    # dropping the only matcher of a nameless selector leaves `{}`, which does not parse
    gen = generate_mutants(site_of(alert("'{job=\"a\"} > 1'")), NoData(), only=["MU09"])
    assert gen.mutants == [] and len(gen.discarded) == 1
    assert "does not print back" in gen.discarded[0]


def test_mutant_diff_and_position() -> None:
    gen = generate_mutants(site_of(alert("x < 0.8")), NoData(), only=["MU03"])
    first = gen.mutants[0]
    assert first.diff() == ["- x < 0.8", "+ x <= 0.8"]
    assert first.position == (3, 11)
    assert first.key == "r.yml::0/0::MU03#1"


def test_resolve_operators_by_id_or_name() -> None:
    assert resolve_operators(["comparison-flip", "MU05", "mu05", ""]) == ("MU03", "MU05")
    with pytest.raises(ValueError, match="unknown mutation operator 'nope'"):
        resolve_operators(["nope"])


def test_docs_list_every_operator_with_its_description() -> None:
    text = (ROOT / "docs" / "mutation.md").read_text(encoding="utf-8")
    headings = re.findall(r"^## (MU\d\d) (\S+)$", text, flags=re.M)
    assert headings == [(op.code, op.name) for op in OPERATORS]
    for op in OPERATORS:
        section = text.split(f"## {op.code} {op.name}\n", 1)[1]
        assert section.lstrip().startswith(op.description), op.code
    assert len({op.code for op in OPERATORS}) == len({op.name for op in OPERATORS}) == 17
