"""The printable mirror of the promql-parser AST: printing round-trips, rewriting works."""

from __future__ import annotations

import dataclasses
import math

import promql_parser
import pytest
from hypothesis import given, settings
from mutate_strategies import conditions, instants

from pytest_selfslo.mutate.tree import (
    Binary,
    Matcher,
    Number,
    Selector,
    from_parser,
    print_checked,
    replace_at,
    to_promql,
    walk,
)
from pytest_selfslo.rulefmt.rulefile import load_rule_files

EXPRESSIONS = [
    'x > -0.5', '-x', 'x - -1', '1e-7 + Inf - NaN', 'sum without (a) (x)', 'topk(3, x)',
    'count_values("v", x)', 'quantile(0.9, x)', 'x * on (a) group_left (b) y',
    'x / ignoring (a) group_right y', 'x and ignoring(a) y', 'x or y', '(x)',
    'x[5m:1m] offset -2m', 'x @ 100', 'x @ start()', 'rate(x[5m] @ end())',
    '{__name__="x",a=~"b.*"}', 'x{a="b" or c="d"}', 'x{a="b" or c="d", e="f"}',
    'label_replace(x, "a", "$1", "b", "(.*)")', 'x ^ y ^ z', '-x ^ 2', 'sum by () (x)',
    'x > bool 0x10', 'x atan2 y', 'x offset 1h30m', 'sum(x) by (a)', r'x{a!~"b\\n\"c"}',
    'x[5m:]', '1 > bool 2', 'x > ignoring() y', 'x unless on() y', 'x @ 100.5',
    'x[1m] offset 1s500ms', 'max_over_time(x[1h:5m])', '-(1)', 'x > 1e300', 'vector(1)',
    'time()', 'x{a="é ☃"}', 'absent_over_time(x[5m])',
]


def _repo_expressions() -> list[str]:
    return [r.expr for g in load_rule_files(["rules/*.yml"]) for r in g.rules]


@pytest.mark.parametrize("expr", EXPRESSIONS)
def test_printing_round_trips(expr: str) -> None:
    tree = from_parser(promql_parser.parse(expr))
    text = print_checked(tree)
    assert text is not None, to_promql(tree)
    assert from_parser(promql_parser.parse(text)) == tree


def test_every_repository_rule_round_trips(monkeypatch: pytest.MonkeyPatch) -> None:
    from pathlib import Path

    monkeypatch.chdir(Path(__file__).resolve().parents[2])
    exprs = _repo_expressions()
    assert len(exprs) == 28
    assert all(print_checked(from_parser(promql_parser.parse(e))) is not None for e in exprs)


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(expr=instants() | conditions())
def test_random_expressions_round_trip(expr: str) -> None:
    tree = from_parser(promql_parser.parse(expr))
    text = print_checked(tree)
    assert text is not None, (expr, to_promql(tree))
    # the text means the same tree, and printing is a fixed point
    assert to_promql(from_parser(promql_parser.parse(text))) == text


def test_print_checked_refuses_a_tree_the_text_does_not_mean() -> None:
    # a scalar comparison without bool does not parse; an unparenthesised lower-precedence
    # operand parses to a different tree: neither is accepted
    assert print_checked(Binary(">", Number(1), Number(2))) is None
    inner = Binary("+", Selector("a"), Selector("b"))
    assert print_checked(Binary("*", inner, Selector("c"))) is None
    assert print_checked(Binary("*", Selector("c"), Selector("d"))) == "c * d"


def test_nan_numbers_are_equal_and_zero_prints_plainly() -> None:
    assert Number(math.nan) == Number(math.nan)
    assert Number(0.0) != Number(1.0)
    assert to_promql(Number(-0.001)) == "-0.001" and to_promql(Number(5.0)) == "5"


def test_replace_at_rewrites_one_node_and_keeps_the_original() -> None:
    tree = from_parser(promql_parser.parse('avg_over_time(x{a="b"}[5m]) < 0.8'))
    paths = {type(node).__name__: path for path, node in walk(tree)}
    flipped = replace_at(tree, (), lambda n: dataclasses.replace(n, op=">="))
    assert to_promql(flipped) == 'avg_over_time(x{a="b"}[5m]) >= 0.8'
    nudged = replace_at(tree, paths["Number"], Number(0.85))
    assert to_promql(nudged) == 'avg_over_time(x{a="b"}[5m]) < 0.85'
    cleared = replace_at(tree, paths["Selector"], Selector("x", (Matcher("a", "=", "c"),)))
    assert to_promql(cleared) == 'avg_over_time(x{a="c"}[5m]) < 0.8'
    assert to_promql(tree) == 'avg_over_time(x{a="b"}[5m]) < 0.8'
