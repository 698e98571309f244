"""The rule sets and test files mutation testing runs on, parsed and indexed once.

A :class:`TestSource` is one promtool-format test file with the rules it loads
as a :class:`RuleSet` (every rule in evaluation order, its expression tree and
what it reads) and, per test group, the rules the group needs (:mod:`.deps`);
each group's input is loaded once (in promtool's series creation order) and
restored into a fresh storage for every run.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from pytest_selfslo.mutate import deps
from pytest_selfslo.mutate.engine import expr_tree
from pytest_selfslo.mutate.sites import RuleSite
from pytest_selfslo.mutate.tree import Node
from pytest_selfslo.promql.storage import Storage
from pytest_selfslo.promql.values import FloatArray, IntArray, Labels
from pytest_selfslo.rulefmt.model import Rule, RuleGroup
from pytest_selfslo.rulefmt.testfile import RuleTestFile
from pytest_selfslo.ruletest.runner import input_storage

__all__ = ["RuleKey", "RuleSet", "Snapshot", "TestSource", "expr_reads", "real", "union"]

Reads = deps.Reads
#: a storage's series with their creation keys (``Storage.snapshot``/``restore``)
Snapshot = list[tuple[Labels, IntArray, FloatArray, tuple[int, int, int]]]
#: a rule's identity across files: (real path, group index, rule index)
RuleKey = tuple[str, int, int]


def real(path: str) -> str:
    """The canonical path (rule files are matched across test files by it)."""
    return os.path.realpath(path)


@dataclass
class RuleSet:
    """The rules one test file loads, in evaluation order, with what each reads."""

    groups: list[RuleGroup]
    members: list[list[int]]
    flat: list[Rule]
    trees: list[Node | None]
    reads: list[Reads]
    index: dict[RuleKey, int]

    @classmethod
    def build(cls, files: Sequence[str], sites_of: Callable[[str], list[RuleSite]],
              order: Sequence[str] = ()) -> RuleSet:
        groups: list[RuleGroup] = []
        keys: list[list[RuleKey]] = []
        for path in files:
            by_group: dict[int, list[RuleSite]] = {}
            for site in sites_of(path):
                by_group.setdefault(site.group_index, []).append(site)
            for gi in sorted(by_group):
                groups.append(by_group[gi][0].group)
                keys.append([(real(path), gi, s.rule_index) for s in by_group[gi]])
        rank = {name: i for i, name in enumerate(order)}
        ordered = sorted(range(len(groups)), key=lambda i: rank.get(groups[i].name, 0))
        out = cls([], [], [], [], [], {})
        for gpos in ordered:
            group = groups[gpos]
            out.groups.append(group)
            members = []
            for key, rule in zip(keys[gpos], group.rules, strict=True):
                out.index[key] = len(out.flat)
                members.append(len(out.flat))
                out.flat.append(rule)
                tree = expr_tree(rule.expr)
                out.trees.append(tree)
                out.reads.append(deps.reads(tree))
            out.members.append(members)
        return out

    def read_of(self, override: dict[int, Reads] | None = None) -> Callable[[int], Reads]:
        def read(i: int) -> Reads:
            if override and i in override:
                return override[i]
            return self.reads[i]
        return read

    def subset(self, keep: Iterable[int], replace: dict[int, Rule] | None = None
               ) -> list[RuleGroup]:
        """The groups with only the rules in ``keep`` (some replaced), in evaluation order."""
        wanted = set(keep)
        out = []
        for group, members in zip(self.groups, self.members, strict=True):
            rules = tuple((replace or {}).get(i, self.flat[i]) for i in members if i in wanted)
            if rules:
                out.append(dataclasses.replace(group, rules=rules))
        return out


@dataclass
class TestSource:
    """One test file, its rule set and what each of its test groups needs."""

    __test__ = False  # not a pytest test class

    test_file: RuleTestFile
    rules: RuleSet
    needed: list[frozenset[int]]
    inputs: dict[int, Snapshot] = field(default_factory=dict)

    def storage(self, g: int) -> Storage:
        """A fresh storage with test group ``g``'s input, loaded once (creation order kept)."""
        if g not in self.inputs:
            group = self.test_file.groups[g]
            self.inputs[g] = input_storage(group, self.test_file.evaluation_interval_ms).snapshot()
        store = Storage()
        store.restore(self.inputs[g])
        return store


def expr_reads(expr: str) -> Reads:
    """What a query expression reads (None: anything, or it does not parse back)."""
    return deps.reads(expr_tree(expr)) if expr_tree(expr) is not None else None


def union(a: Reads, b: Reads) -> Reads:
    """What two expressions read together."""
    return None if a is None or b is None else a | b
