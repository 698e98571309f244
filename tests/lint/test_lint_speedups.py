"""The linter's shortcuts give the same answers as the plain ways they replace.

Each speed-up of the cold lint (``benchmarks/lint.py``) has a test here: the
resolver-free YAML composer builds the same node tree, the expression index
visits the nodes ``promql.astwalk`` visits, ``op_name``'s table agrees with the
token text, and the per-run memos (template syntax, labels a template reads,
parsed expressions) neither merge different rules nor outlive a run.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import promql_parser as pp
import pytest
import yaml

from pytest_selfslo.lint.context import LintContext
from pytest_selfslo.lint.promql_walk import index_expr, op_name, parse_promql
from pytest_selfslo.lint.runner import lint_paths
from pytest_selfslo.promql.astwalk import selectors, walk
from pytest_selfslo.rulefmt.goyaml import MAPPING, SCALAR, SEQUENCE, Node, compose_text

ROOT = Path(__file__).resolve().parents[2]
CONFORMANCE = ROOT.parent / "shared" / "conformance" / "promqltest"

TRICKY_YAML = """\
groups:
  - name: g  # comment
    rules:
      - alert: A
        expr: |
          sum by (job) (
            rate(x_total[5m])
          ) > 0
        for: 5m
        labels: {severity: warning, n: 5, b: true, f: 1.5, z: null, e: ""}
        annotations:
          summary: &s "quoted {{ $value }}"
          description: *s
          runbook_url: 'single'
          explicit: !!str 12
          folded: >
            two
            lines
      - record: r
        expr: x
        labels:
          - a list
          - [flow, list]
"""


class _PlainLoader(yaml.SafeLoader):
    """PyYAML's pure composer with no implicit tags (every plain scalar is text)."""

    yaml_implicit_resolvers = {}  # noqa: RUF012 (PyYAML's class-level registry)


def _tree(node: Any) -> Any:
    """Kind, start position, end line (collections) and value of every PyYAML node."""
    start = (node.start_mark.line + 1, node.start_mark.column + 1)
    if isinstance(node, yaml.ScalarNode):
        return "scalar", start, (node.value, node.style is None and node.tag.endswith(":str"))
    end = node.end_mark.line + 1
    if isinstance(node, yaml.SequenceNode):
        return "sequence", start, end, [_tree(n) for n in node.value]
    return "mapping", start, end, [(_tree(k), _tree(v)) for k, v in node.value]


def _our_tree(node: Node) -> Any:
    """The same from the reader's nodes (aliases followed, as PyYAML shares the node)."""
    node = node.deref
    start = (node.line, node.column)
    if node.kind == SCALAR:
        return "scalar", start, (node.value, node.plain or node.tag == "!!str")
    if node.kind == SEQUENCE:
        return "sequence", start, node.end_line, [_our_tree(n) for n in node.value]
    assert node.kind == MAPPING
    return "mapping", start, node.end_line, [(_our_tree(k), _our_tree(v)) for k, v in node.value]


@pytest.mark.parametrize("source", ["tricky", "project"])
def test_the_reader_composes_the_tree_pyyaml_does(source: str) -> None:
    """Same structure, text, plain-ness and positions as PyYAML's composer (libyaml events)."""
    text = TRICKY_YAML if source == "tricky" else (ROOT / "rules" / "phase_c_rules.yml").read_text()
    expected = _tree(yaml.compose(text, Loader=_PlainLoader))
    root = compose_text(text, "rules.yml")
    assert root is not None
    assert _our_tree(root) == expected
    assert expected[0] == "mapping"


EXPRESSIONS = [
    'topk(3, rate(x[5m:1m] offset 1m)) + on (a) group_left (b) -(count_values("v", y)) > bool 1',
    'absent(sum(up{job=~"^a.*$"}))',
    'label_replace(x, "dst", "$1", "src", "(.*)") unless ignoring (i) y',
    "histogram_quantile(0.9, sum by (le) (rate(h_bucket[5m] @ 100)))",
    "-(((a)))",
    "quantile_over_time(0.5, self_stress[10m])[30m:1m]",
    '"a string"',
    "1 + 2 * 3 ^ 4",
    "vector(time()) or on () sort(x)",
]


_EVAL = re.compile(r"^eval(?:_\w+)?\s+instant\s+at\s+\S+\s+(.+)$")


def _conformance_exprs() -> list[str]:
    """The queries of the ``eval instant`` lines of the promqltest files."""
    exprs = []
    for path in sorted(CONFORMANCE.glob("*.test")):
        for line in path.read_text().splitlines():
            m = _EVAL.match(line)
            if m:
                exprs.append(m.group(1))
    return exprs


def _same_walk(expr: str) -> bool:
    """index_expr vs astwalk.walk on ``expr``; False when it does not parse."""
    try:
        ast = parse_promql(expr)
    except ValueError:
        return False
    index = index_expr(ast)
    walked = list(walk(ast))
    assert [(type(n), str(n)) for n in index.nodes] == [(type(n), str(n)) for n in walked]
    assert [(str(n), op) for n, op in index.binaries] == [
        (str(n), op_name(n.op)) for n in walked if isinstance(n, pp.BinaryExpr)]
    assert [(str(n), op) for n, op in index.aggregations] == [
        (str(n), op_name(n.op)) for n in walked if isinstance(n, pp.AggregateExpr)]
    assert [(str(n), name) for n, name in index.calls] == [
        (str(n), n.func.name) for n in walked if isinstance(n, pp.Call)]
    assert [str(n) for n in index.selectors] == [str(n) for n in selectors(ast)]
    assert [str(n) for n in index.ranges] == [
        str(n) for n in walked if isinstance(n, (pp.MatrixSelector, pp.SubqueryExpr))]
    return True


@pytest.mark.parametrize("expr", EXPRESSIONS)
def test_index_visits_what_astwalk_visits(expr: str) -> None:
    assert _same_walk(expr)


def test_index_visits_what_astwalk_visits_on_conformance_queries() -> None:
    if not CONFORMANCE.is_dir():
        pytest.skip(f"{CONFORMANCE} is absent")
    checked = sum(_same_walk(e) for e in _conformance_exprs())
    assert checked > 300


@pytest.mark.parametrize("expr", [
    "a > b", "a >= b", "a < b", "a <= b", "a == b", "a != b", "a and b", "a or b",
    "a unless b", "a + b", "a - b", "a * b", "a / b", "a % b", "a ^ b", "a atan2 b",
    "sum(a)", "avg(a)", "count(a)", "min(a)", "max(a)", "group(a)", "stddev(a)", "stdvar(a)",
    "topk(1, a)", "bottomk(1, a)", 'count_values("x", a)', "quantile(0.5, a)", "SUM(a)",
])
def test_op_name_table_agrees_with_the_token_text(expr: str) -> None:
    op = parse_promql(expr).op
    assert op_name(op) == str(op).strip().lower()


def _lint(tmp_path: Path, body: str) -> list[str]:
    path = tmp_path / "rules.yml"
    path.write_text(body)
    return [f"{f.line}:{f.column} {f.code} {f.message}" for f in lint_paths([path], root=tmp_path)]


def _alerts(*alerts: tuple[str, str, str], for_: str = "5m", tail: str = "") -> str:
    """A rule file of (name, expr, summary) alerts; alert k starts on line 4 + 5k, its
    expr value at column 15 of line 5 + 5k, its annotations on line 8 + 5k."""
    text = "groups:\n  - name: g\n    rules:\n"
    for name, expr, summary in alerts:
        text += (f"      - alert: {name}\n        expr: {expr}\n        for: {for_}\n"
                 "        labels: {severity: warning}\n"
                 f"        annotations: {{summary: {summary}, "
                 "runbook_url: https://runbooks.example/x}\n")
    return text + tail


def test_a_bad_template_repeated_is_reported_for_each_rule_with_its_name(tmp_path: Path) -> None:
    body = _alerts(("First", "avg(self_stress) > 0.5", '"{{ .Broken"'),
                   ("Second", "avg(self_stress) > 0.6", '"{{ .Broken"'))
    sl004 = [f for f in _lint(tmp_path, body) if " SL004 " in f]
    assert len(sl004) == 2
    assert sl004[0].startswith("8:") and "__alert_First" in sl004[0]
    assert sl004[1].startswith("13:") and "__alert_Second" in sl004[1]
    # a second run gives the same findings: the memo lives in one run only
    assert [f for f in _lint(tmp_path, body) if " SL004 " in f] == sl004


def test_one_template_text_is_judged_against_each_rules_own_labels(tmp_path: Path) -> None:
    summary = '"{{ $labels.token_id }} {{ $labels.token_id }}"'
    body = _alerts(("Aggregated", "avg(self_stress) > 0.5", summary),
                   ("Kept", "avg by (token_id) (self_stress) > 0.5", summary))
    sl032 = [f for f in _lint(tmp_path, body) if " SL032 " in f]
    # the label is read twice in Aggregated's template: one finding per use, as before
    assert len(sl032) == 2
    assert all(f.startswith("8:") and '"Aggregated"' in f for f in sl032)


def test_equal_expressions_are_parsed_once_but_reported_per_rule(tmp_path: Path) -> None:
    records = ("      - record: bad:one\n        expr: sum(\n"
               "      - record: bad:two\n        expr: sum(\n")
    body = _alerts(("A", "rate(self_stress[5m]) > 0.5", "s"),
                   ("B", "rate(self_stress[5m]) > 0.5", "s"), tail=records)
    found = _lint(tmp_path, body)
    assert [f.split(" ", 2)[:2] for f in found if " SL030 " in f] == [
        ["5:20", "SL030"], ["10:20", "SL030"]]
    assert [f.split(" ", 2)[:2] for f in found if " SL003 " in f] == [
        ["15:15", "SL003"], ["17:15", "SL003"]]


@pytest.mark.parametrize("duration", ["0", "0s", "0m"])
def test_a_zero_for_is_still_no_for(tmp_path: Path, duration: str) -> None:
    body = _alerts(("A", "avg(self_stress) > 0.5", "s"), for_=duration)
    assert [f for f in _lint(tmp_path, body) if " SL020 " in f] == [
        "6:14 SL020 group \"g\", rule 1, \"A\": threshold alert without 'for': one bad "
        "evaluation fires it; add e.g. 'for: 5m'"]


def test_a_fresh_context_has_empty_memos() -> None:
    ctx = LintContext()
    assert ctx.template_ok == {} and ctx.template_labels == {}
    assert LintContext().template_ok is not ctx.template_ok
