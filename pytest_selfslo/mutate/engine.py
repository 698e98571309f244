"""Turning operator changes into checked, numbered mutants of one rule.

Every change an operator proposes goes through the same gate before it is a
:class:`Mutant`: the expression tree is printed and must parse back to the
same tree (:func:`~pytest_selfslo.mutate.tree.print_checked`), the mutated
rule must pass the ``promtool check rules``-grade validation of
:mod:`pytest_selfslo.rulefmt.rulefile` (written as a one-rule file), and it must
differ from the original and from every earlier mutant of the rule. What fails
the gate is counted in :attr:`Generated.discarded`, never run -- so a mutant
cannot crash the run.

Ids are ``<operator code>#<n>``, ``n`` counting that operator's mutants of the
rule from 1 in a fixed order (the expression's nodes pre-order, then the
operator's variants), so the same rule and tests always give the same ids.

    >>> from pytest_selfslo.mutate.operators import NoData
    >>> from pytest_selfslo.mutate.sites import load_rule_sites
    >>> site = load_rule_sites("rules/phase_c_rules.yml")[0]    # avg_over_time(...) < 0.80
    >>> gen = generate_mutants(site, NoData())
    >>> [(m.id, m.detail) for m in gen.mutants][:3]
    [('MU01#1', '< 0.8 -> < 0.801'), ('MU01#2', '< 0.8 -> < 0.799'), ('MU02#1', '< 0.8 -> < 0.88')]
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import promql_parser

from pytest_selfslo._core.durations import format_duration
from pytest_selfslo.mutate.operators import OPERATORS, Change, DataContext, Operator, RuleView
from pytest_selfslo.mutate.sites import RuleSite
from pytest_selfslo.mutate.tree import (
    Node,
    Number,
    UnsupportedExpr,
    from_parser,
    print_checked,
    to_promql,
)
from pytest_selfslo.rulefmt.model import AlertingRule, RecordingRule, Rule
from pytest_selfslo.rulefmt.rulefile import check_rule_text

__all__ = ["Generated", "Mutant", "expr_tree", "generate_mutants", "rule_document"]


@dataclass(frozen=True)
class Mutant:
    """One mutated rule: ``id`` (``MU03#1``), the operator, the rule before and after."""

    id: str
    operator: Operator
    site: RuleSite
    rule: Rule
    #: the mutated expression's tree (the original's when only another field changed)
    tree: Node | None
    detail: str
    field: str
    before: str
    after: str

    @property
    def key(self) -> str:
        """Unique and stable across runs: ``file::group#i/rule#j::id``."""
        return f"{self.site.path}::{self.site.group_index}/{self.site.rule_index}::{self.id}"

    @property
    def position(self) -> tuple[int, int]:
        """Line and column of the mutated field in the rule file."""
        return self.site.position(self.field.split(".", 1)[0] if self.field in ("for",
                                  "keep_firing_for", "expr") else self.field)

    def diff(self) -> list[str]:
        """The mutated field as ``-``/``+`` lines."""
        return ([f"- {line}" for line in self.before.splitlines()]
                + [f"+ {line}" for line in self.after.splitlines()])


@dataclass
class Generated:
    """The mutants of one rule, plus why some could not be generated."""

    mutants: list[Mutant] = field(default_factory=list)
    #: changes that failed the gate (unprintable, unparsable or invalid rule): never run
    discarded: list[str] = field(default_factory=list)
    #: why the expression operators were skipped (the expression does not print back)
    skipped: str | None = None


def expr_tree(expr: str) -> Node | None:
    """The mirror tree of a rule expression, or None when it does not print back to itself."""
    try:
        tree = from_parser(promql_parser.parse(expr))
    except (UnsupportedExpr, ValueError):
        return None
    except BaseException as exc:  # pyo3 PanicException
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise
        return None
    return tree if print_checked(tree) is not None else None


def rule_document(rule: Rule, own_labels: Iterable[str] | None = None) -> dict[str, Any]:
    """The rule as a rule-file mapping (``alert``/``record``, ``expr``, ``for``...)."""
    doc: dict[str, Any] = {("alert" if isinstance(rule, AlertingRule) else "record"): rule.name,
                           "expr": rule.expr}
    if isinstance(rule, AlertingRule):
        if rule.for_ms:
            doc["for"] = format_duration(rule.for_ms)
        if rule.keep_firing_for_ms:
            doc["keep_firing_for"] = format_duration(rule.keep_firing_for_ms)
    keys = list(rule.labels) if own_labels is None else [k for k in own_labels if k in rule.labels]
    if keys:
        doc["labels"] = {k: rule.labels[k] for k in keys}
    if isinstance(rule, AlertingRule) and rule.annotations:
        doc["annotations"] = dict(rule.annotations)
    return doc


def _valid(rule: Rule) -> str | None:
    """Why ``rule`` would fail ``promtool check rules`` (None: it passes)."""
    # JSON is YAML: the same document, written by the C json module instead of PyYAML's emitter
    text = json.dumps({"groups": [{"name": "mutant", "rules": [rule_document(rule)]}]})
    problems = check_rule_text(text, "<mutant>")
    return "; ".join(p.message for p in problems) or None


def _identity(rule: Rule, expr: str) -> tuple[Any, ...]:
    extra: tuple[Any, ...] = ()
    if isinstance(rule, AlertingRule):
        extra = (rule.for_ms, rule.keep_firing_for_ms, tuple(sorted(rule.annotations.items())))
    return (expr, tuple(sorted(rule.labels.items())), *extra)


def _field_text(rule: Rule, field_name: str) -> str:
    if field_name == "expr":
        return rule.expr
    if field_name == "for" and isinstance(rule, AlertingRule):
        return f"for: {format_duration(rule.for_ms)}"
    if field_name == "keep_firing_for" and isinstance(rule, AlertingRule):
        return f"keep_firing_for: {format_duration(rule.keep_firing_for_ms)}"
    kind, _, key = field_name.partition(".")
    values = rule.labels if kind == "labels" else getattr(rule, "annotations", {})
    return f"{key}: {values.get(key, '')}"


def generate_mutants(site: RuleSite, data: DataContext, *, only: Iterable[str] | None = None,
                     neighbour: tuple[str, str] | None = None) -> Generated:
    """Every valid mutant of ``site``'s rule, in operator-table order, numbered per operator.

    ``only`` restricts to operator codes; ``neighbour`` is the (name, expr) of the
    recording rule whose expression ``neighbour-expr`` swaps in.
    """
    wanted = set(only) if only is not None else None
    out = Generated()
    rule = site.rule
    tree = expr_tree(rule.expr)
    printed = to_promql(tree) if tree is not None else rule.expr
    if tree is None:
        out.skipped = ("the expression does not print back to itself (unsupported syntax): "
                       "only its for, keep_firing_for, labels and annotations are mutated")
    neighbour_tree = None
    if neighbour is not None:
        ntree = expr_tree(neighbour[1])
        neighbour_tree = (neighbour[0], ntree) if ntree is not None else None
    own = tuple(k.split(".", 1)[1] for k in site.positions if k.startswith("labels."))
    view = RuleView(rule, tree if tree is not None else Number(0.0), neighbour_tree, own)
    seen = {_identity(rule, printed)}
    for op in OPERATORS:
        if wanted is not None and op.code not in wanted:
            continue
        n = 0
        for change in op.generate(view, data):
            if change.expr is not None and (tree is None or change.expr == tree):
                continue
            mutant_rule = _apply(rule, change, out)
            if mutant_rule is None:
                continue
            ident = _identity(mutant_rule, mutant_rule.expr if change.expr is not None else printed)
            if ident in seen:
                continue
            seen.add(ident)
            n += 1
            before = printed if change.field == "expr" else _field_text(rule, change.field)
            out.mutants.append(Mutant(
                f"{op.code}#{n}", op, site, mutant_rule, change.expr or tree, change.detail,
                change.field, before, _field_text(mutant_rule, change.field)))
    return out


def _apply(rule: Rule, change: Change, out: Generated) -> Rule | None:
    expr = rule.expr
    if change.expr is not None:
        text = print_checked(change.expr)
        if text is None:
            out.discarded.append(f"{change.detail}: does not print back ({to_promql(change.expr)})")
            return None
        expr = text
    fields: dict[str, Any] = {"expr": expr, **change.rule}
    if isinstance(rule, RecordingRule):
        fields = {k: v for k, v in fields.items() if k in ("expr", "labels")}
    mutant = dataclasses.replace(rule, **fields)
    reason = _valid(mutant)
    if reason is not None:
        out.discarded.append(f"{change.detail}: invalid rule: {reason}")
        return None
    return mutant
