"""Which rules a test group can observe, and which rules a rule's output flows into.

A test group observes the alerts its ``alert_rule_test`` items name and the
series its ``promql_expr_test`` expressions select; it *needs* those rules and,
transitively, every rule producing a series they may read. "May read" follows
the selectors: the metric name must match what a rule writes (its record name,
or ``ALERTS``/``ALERTS_FOR_STATE``) and every matcher on a label the rule sets
statically must accept that value, so ``ratio_rate1h{slo="coherence"}`` does
not need the ``slo="stress"`` rule of the same name. A selector without a fixed
metric name may read anything. Only the groups that need a rule run its
mutants, and they only evaluate the rules they need plus the mutated rule's
downstream (whose evaluation errors promtool would report).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence

from pytest_selfslo.mutate.tree import Matcher, Matrix, Node, Selector, walk
from pytest_selfslo.rulefmt.model import AlertingRule, Rule
from pytest_selfslo.rulefmt.testfile import TestGroup

__all__ = ["Reads", "closure", "downstream", "feeds", "names", "produced_names", "reads",
           "seeds"]

#: the selectors an expression has, as (metric name, matchers); None: it may read anything
Reads = frozenset[tuple[str, tuple[Matcher, ...]]] | None
_ALERT_SERIES = frozenset({"ALERTS", "ALERTS_FOR_STATE"})


def reads(tree: Node | None) -> Reads:
    """The selectors of an expression; None when one has no fixed metric name."""
    if tree is None:
        return None
    out: set[tuple[str, tuple[Matcher, ...]]] = set()
    for _, node in walk(tree):
        sel = node.selector if isinstance(node, Matrix) else node
        if not isinstance(sel, Selector):
            continue
        name = sel.name or next((m.value for m in sel.matchers
                                 if m.name == "__name__" and m.op == "="), None)
        if not name or sel.or_matchers:
            return None
        out.add((name, tuple(m for m in sel.matchers if m.name != "__name__")))
    return frozenset(out)


def names(selected: Reads) -> frozenset[str] | None:
    """Metric names of :func:`reads` (None: any)."""
    return None if selected is None else frozenset(name for name, _ in selected)


def produced_names(rule: Rule) -> frozenset[str]:
    """Metric names a rule writes (``ALERTS``/``ALERTS_FOR_STATE`` for an alert)."""
    return _ALERT_SERIES if isinstance(rule, AlertingRule) else frozenset({rule.name})


def _fixed_labels(rule: Rule) -> dict[str, str]:
    fixed = {k: v for k, v in rule.labels.items() if "{{" not in v}
    if isinstance(rule, AlertingRule):
        fixed["alertname"] = rule.name
    return fixed


def _accepts(m: Matcher, value: str) -> bool:
    if m.op == "=":
        return value == m.value
    if m.op == "!=":
        return value != m.value
    try:
        hit = re.fullmatch(m.value, value, re.DOTALL) is not None
    except re.error:
        return True
    return hit if m.op == "=~" else not hit


def feeds(rule: Rule, selected: Reads) -> bool:
    """Whether one of the ``selected`` selectors may select a series ``rule`` writes."""
    if selected is None:
        return True
    produced = produced_names(rule)
    fixed = _fixed_labels(rule)
    return any(name in produced and all(m.name not in fixed or _accepts(m, fixed[m.name])
                                        for m in matchers)
               for name, matchers in selected)


def seeds(rules: Sequence[Rule], group: TestGroup, expr_reads: Callable[[str], Reads]
          ) -> set[int]:
    """Indices of the rules a test group observes directly."""
    alertnames = {c.alertname for c in group.alert_cases}
    out: set[int] = set()
    for i, rule in enumerate(rules):
        if isinstance(rule, AlertingRule) and rule.name in alertnames:
            out.add(i)
    for case in group.expr_cases:
        selected = expr_reads(case.expr)
        out |= {i for i, rule in enumerate(rules) if feeds(rule, selected)}
    return out


def closure(start: Iterable[int], rules: Sequence[Rule], read_of: Callable[[int], Reads]
            ) -> frozenset[int]:
    """``start`` plus every rule producing something they (transitively) may read."""
    done: set[int] = set()
    todo = list(start)
    while todo:
        i = todo.pop()
        if i in done:
            continue
        done.add(i)
        selected = read_of(i)
        todo += [j for j, rule in enumerate(rules) if j not in done and feeds(rule, selected)]
    return frozenset(done)


def downstream(index: int, rules: Sequence[Rule], read_of: Callable[[int], Reads]
               ) -> frozenset[int]:
    """``index`` plus every rule that (transitively) may read its output."""
    done = {index}
    todo = [index]
    while todo:
        rule = rules[todo.pop()]
        for j in range(len(rules)):
            if j not in done and feeds(rule, read_of(j)):
                done.add(j)
                todo.append(j)
    return frozenset(done)
