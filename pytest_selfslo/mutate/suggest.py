"""Suggested tests: where an original rule and its mutant differ, written as a test to paste.

For a mutant no test kills, :class:`Suggester` first compares the original and
the mutant on the test groups' own inputs (the runs the runner already made),
then on generated inputs (:func:`.boundary.generated_inputs`); the difference
becomes a ``tests:`` entry (:func:`.boundary.snippet`) that is only offered
after checking it passes on the original rules and fails on the mutant, with
every rule of the test file loaded, as promtool would.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pytest_selfslo._core.errors import PromQLError, SelfSloError
from pytest_selfslo.alerting.ruleeval import GroupRun, evaluate_groups
from pytest_selfslo.mutate import boundary, deps
from pytest_selfslo.mutate.engine import Mutant
from pytest_selfslo.mutate.report import Difference, Suggestion
from pytest_selfslo.mutate.sites import RuleSite
from pytest_selfslo.mutate.sources import RuleSet, TestSource, real, union
from pytest_selfslo.mutate.tree import Matcher, Matrix, Selector, to_promql, walk
from pytest_selfslo.promql.features import FeatureSet
from pytest_selfslo.promql.semantics import SemanticsLike
from pytest_selfslo.promql.series import parse_series_line
from pytest_selfslo.rulefmt.model import RuleGroup
from pytest_selfslo.rulefmt.testfile import InputSeries, TestGroup, parse_test_text
from pytest_selfslo.ruletest.runner import check_test_group, input_storage

__all__ = ["Found", "Run", "Suggester"]

#: a difference and the verified test showing it (None when none could be verified)
Found = tuple[Difference, Suggestion | None]
#: one test group's run of a mutant: (test file, group index, rule index, rules kept, run)
Run = tuple[TestSource, int, int, frozenset[int], GroupRun]
Baseline = Callable[[TestSource, int, frozenset[int]], tuple[bool, GroupRun | None, str]]


@dataclass
class Suggester:
    """Finds where a surviving mutant differs from the original and writes the test."""

    sources: list[TestSource]
    file_sites: dict[str, list[RuleSite]]
    semantics: SemanticsLike
    #: the original rules' cached run of a test group on a rule subset
    baseline: Baseline
    #: the original rules' runs of generated inputs, shared by a rule's mutants
    generated: dict[tuple[int, frozenset[int], boundary.Candidate], GroupRun | None] = field(
        default_factory=dict)
    #: promtool's ``--enable-feature`` of the run (the suggested tests are checked with it)
    features: FeatureSet = field(default_factory=FeatureSet)

    def own_difference(self, mutant: Mutant, runs: list[Run]) -> Found | None:
        """The first difference on a test group's own input, with its suggested test."""
        for src, g, r, keep, run in runs:
            _, base, _ = self.baseline(src, g, keep)
            if base is None:
                continue
            step = boundary.first_difference(base, src.rules.flat[r], run, mutant.rule)
            if step is None:
                continue
            group = src.test_file.groups[g]
            names = self.input_names(src, keep, mutant)
            series = [(s.series, s.values) for s in group.input_series
                      if names is None or _series_name(s) in names]
            case = boundary.observation_case(base, src.rules.flat[r], step,
                                             src.test_file.evaluation_interval_ms)
            where = f"the input of {src.test_file.path} test {group.display_name!r}"
            suggestion = self._suggest(src, r, mutant, group, series, case) or self._suggest(
                src, r, mutant, group, [(s.series, s.values) for s in group.input_series], case)
            diff = Difference(src.test_file.path, where, case["eval_time"], "test input")
            return diff, suggestion
        return None

    def input_names(self, src: TestSource, keep: frozenset[int], mutant: Mutant) -> set[str] | None:
        """Raw metric names the evaluated rules read (None: any)."""
        produced: set[str] = set()
        names: set[str] = set()
        r = src.rules.index[(real(mutant.site.path), mutant.site.group_index,
                             mutant.site.rule_index)]
        for i in keep:
            produced |= deps.produced_names(src.rules.flat[i])
            got = deps.names(deps.reads(mutant.tree) if i == r and mutant.field == "expr"
                             else src.rules.reads[i])
            if got is None:
                return None
            names |= got
        return names - produced

    def _suggest(self, src: TestSource, r: int, mutant: Mutant, group: TestGroup,
                 series: list[tuple[str, str]], case: dict[str, object]) -> Suggestion | None:
        """A verified test entry: passes with the original rules, fails with the mutant."""
        rule = mutant.site.rule
        text = boundary.snippet(
            name=f"{rule.name}: {mutant.operator.name} {mutant.detail}",
            interval_ms=group.interval_ms, series=series, case=case, start_ms=group.start_ms,
            external_labels=group.external_labels, external_url=group.external_url)
        eval_ms = src.test_file.evaluation_interval_ms
        header = f"evaluation_interval: {eval_ms}ms\ntests:\n"
        try:
            parsed = parse_test_text(header + text, src.test_file.path)
        except SelfSloError:
            return None
        test_file = dataclasses.replace(src.test_file, groups=parsed.groups)
        every = range(len(src.rules.flat))
        ok, _ = check_test_group(test_file, parsed.groups[0], src.rules.subset(every),
                                 semantics=self.semantics, coverage=False, quick=True,
                                 features=self.features)
        bad, _ = check_test_group(test_file, parsed.groups[0],
                                  src.rules.subset(every, {r: mutant.rule}),
                                  semantics=self.semantics, coverage=False, quick=True,
                                  features=self.features)
        if not ok.passed or bad.passed:
            return None
        return Suggestion(src.test_file.path, text)

    def generated_difference(self, mutant: Mutant) -> Found | None:
        """The first difference on a generated input (simplest first), with its test."""
        site = mutant.site
        src = self._source_for(site)
        key = (real(site.path), site.group_index, site.rule_index)
        r = src.rules.index[key]
        reads = src.rules.reads[r]
        if mutant.field == "expr":
            reads = union(reads, deps.reads(mutant.tree))
        keep = deps.closure({r}, src.rules.flat, src.rules.read_of({r: reads}))
        original = src.rules.subset(keep)
        mutated = src.rules.subset(keep, {r: mutant.rule})
        trees = [t for i in sorted(keep) if (t := src.rules.trees[i]) is not None]
        if mutant.tree is not None:
            trees.append(mutant.tree)
        rules = [src.rules.flat[i] for i in sorted(keep)] + [mutant.rule]
        selectors = self._input_selectors(src, keep, mutant)
        if selectors is None:
            return None
        eval_ms = src.test_file.evaluation_interval_ms
        for cand in boundary.generated_inputs(trees, rules, selectors, eval_ms):
            group = _synthetic_group(cand, eval_ms)
            steps = np.arange(0, (cand.steps + 1) * eval_ms, eval_ms, dtype=np.int64)
            cache_key = (id(src), keep, cand)
            if cache_key not in self.generated:
                self.generated[cache_key] = _evaluate(original, group, steps, self.semantics,
                                                       eval_ms)
            a = self.generated[cache_key]
            b = _evaluate(mutated, group, steps, self.semantics, eval_ms)
            if a is None or b is None or a.error is not None:
                continue
            step = boundary.first_difference(a, src.rules.flat[r], b, mutant.rule)
            if step is None:
                continue
            case = boundary.observation_case(a, src.rules.flat[r], step, eval_ms)
            suggestion = self._suggest(src, r, mutant, group, list(cand.series), case)
            if suggestion is None:
                continue
            diff = Difference(src.test_file.path, f"a generated input ({cand.description})",
                              str(case["eval_time"]), "generated input")
            return diff, suggestion
        return None

    def _source_for(self, site: RuleSite) -> TestSource:
        """The test file a new test for ``site`` belongs in: the first one testing the rule,
        else the first one loading its file, else a new file next to it."""
        key = (real(site.path), site.group_index, site.rule_index)
        loading = [src for src in self.sources if key in src.rules.index]
        for src in loading:
            if any(src.rules.index[key] in needed for needed in src.needed):
                return src
        if loading:
            return loading[0]
        # no test file loads this rule file: a bare one, as a new test file would be
        text = f"rule_files: [{Path(site.path).name}]\ntests: []\n"
        test_file = parse_test_text(text, str(Path(site.path).parent / "mutation_test.yml"))
        ruleset = RuleSet.build([site.path], lambda p: self.file_sites[real(p)])
        src = TestSource(test_file, ruleset, [])
        self.sources.append(src)
        return src

    def _input_selectors(self, src: TestSource, keep: frozenset[int], mutant: Mutant
                         ) -> list[str] | None:
        """Series (text) to generate for the raw metrics the rules read; None: cannot tell.

        They share one identity (e.g. ``token_id="frozen"``): the label set, other
        than the name, that the tests' input series use with the most of these
        metrics; a selector's equality matchers win over it.
        """
        names = self.input_names(src, keep, mutant)
        if names is None:
            return None
        best: tuple[int, tuple[tuple[str, str], ...]] = (0, ())
        for source in self.sources:
            for group in source.test_file.groups:
                covered: dict[tuple[tuple[str, str], ...], set[str]] = {}
                for item in group.input_series:
                    ident = tuple(kv for kv in item.parsed[0] if kv[0] != "__name__")
                    covered.setdefault(ident, set()).add(_series_name(item))
                for ident, got in covered.items():
                    if len(got & names) > best[0]:
                        best = (len(got & names), ident)
        r = src.rules.index[(real(mutant.site.path), mutant.site.group_index,
                             mutant.site.rule_index)]
        trees = [mutant.tree if i == r else src.rules.trees[i] for i in sorted(keep)]
        out = []
        for name in sorted(names):
            labels = dict(best[1])
            for tree in trees:
                for _, node in walk(tree) if tree is not None else ():
                    sel = node.selector if isinstance(node, Matrix) else node
                    if isinstance(sel, Selector) and sel.name == name:
                        labels.update((m.name, m.value) for m in sel.matchers
                                      if m.op == "=" and m.name != "__name__")
            out.append(to_promql(Selector(name, tuple(Matcher(k, "=", v)
                                                      for k, v in sorted(labels.items())))))
        return out



def _series_name(item: InputSeries) -> str:
    return next((v for k, v in item.parsed[0] if k == "__name__"), "")


def _synthetic_group(cand: boundary.Candidate, eval_ms: int) -> TestGroup:
    series = tuple(InputSeries(s, v, 0, parse_series_line(f"{s} {v}")) for s, v in cand.series)
    return TestGroup(0, None, eval_ms, series, (), (), {}, "", 0, 0)


def _evaluate(groups: list[RuleGroup], group: TestGroup, steps: np.ndarray,
              semantics: SemanticsLike,
              eval_ms: int) -> GroupRun | None:
    store = input_storage(group, eval_ms)
    try:
        return evaluate_groups(groups, store, steps, semantics=semantics,
                               subquery_step_ms=eval_ms)
    except PromQLError:
        return None
