"""Running every mutant of every rule against the promtool-format rule tests.

For a mutant of rule R the runner runs only the unit-test files whose
``rule_files`` include R's file, only their test groups that need R (see
:mod:`.deps`), and in those only the rules they need plus R's downstream -- on
the embedded engine, in-process. Everything that does not depend on the mutant
is done once: rule and test files are parsed once, each test group's input
arrays are built once, and the original rules' run of each (group, rule subset)
is cached, so a rule's mutants cost one small evaluation each.

Classification:

* **killed** -- a test group fails (a wrong alert or sample, or an evaluation
  error promtool would report);
* **survived** -- no test fails, but the original and the mutant differ on the
  input of some test group (the tests evaluate it and do not check it), or on
  a generated input (no test has data where it matters); a *suggested test*
  shows the difference and is verified to pass on the original and fail on the
  mutant;
* **equivalent-suspect** -- no test fails and no input was found where the
  mutant differs: no test group even evaluates the rule at a time where the
  mutation could matter, and the generated inputs did not find one either;
* **equivalent** -- marked in the rule file (``# selfslo-mutate: equivalent=ID
  reason``); not counted in the score.

Score: killed / (killed + survived + equivalent-suspect), in percent.

    suite = MutationSuite.load(["rules/*.yml"], ["rules/tests/*.yml"])
    report = suite.run()
    print(report.format_text()); raise SystemExit(report.exit_code(fail_under=100))
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pytest_selfslo._core.errors import PromQLError, RuleFileError, SelfSloError
from pytest_selfslo.alerting.ruleeval import GroupRun, evaluate_groups
from pytest_selfslo.mutate import boundary, deps
from pytest_selfslo.mutate.engine import Generated, Mutant, expr_tree, generate_mutants
from pytest_selfslo.mutate.report import (
    EQUIVALENT,
    KILLED,
    SURVIVED,
    SUSPECT,
    Difference,
    MutantResult,
    MutationReport,
    RuleResult,
    Suggestion,
)
from pytest_selfslo.mutate.sites import RuleSite, load_rule_sites
from pytest_selfslo.mutate.tree import (
    Matcher,
    Matrix,
    Node,
    Selector,
    Subquery,
    to_promql,
    walk,
)
from pytest_selfslo.promql.engine import parse_expr
from pytest_selfslo.promql.series import parse_series_line
from pytest_selfslo.promql.storage import LabelMatcher, Storage
from pytest_selfslo.promql.values import FloatArray, InstantVector, IntArray, Labels, ScalarValue
from pytest_selfslo.rulefmt.model import Rule, RuleGroup
from pytest_selfslo.rulefmt.rulefile import expand_rule_paths
from pytest_selfslo.rulefmt.testfile import (
    InputSeries,
    RuleTestFile,
    TestGroup,
    load_test_file,
    parse_test_text,
)
from pytest_selfslo.ruletest.runner import GroupResult, check_test_group

__all__ = ["MutationSetupError", "MutationSuite"]

_Reads = deps.Reads
_Arrays = tuple[Labels, IntArray, FloatArray]
_EVERYTHING = [LabelMatcher("__name__", "=~", ".*")]
_Key = tuple[str, int, int]


class MutationSetupError(SelfSloError, ValueError):
    """The suite cannot be mutation-tested (a test fails without any mutation)."""


def _real(path: str) -> str:
    return os.path.realpath(path)


@dataclass
class _RuleSet:
    """The rules one test file loads, in evaluation order, with what each reads."""

    groups: list[RuleGroup]
    members: list[list[int]]
    flat: list[Rule]
    trees: list[Node | None]
    reads: list[_Reads]
    index: dict[_Key, int]

    @classmethod
    def build(cls, files: Sequence[str], sites_of: Callable[[str], list[RuleSite]],
              order: Sequence[str] = ()) -> _RuleSet:
        groups: list[RuleGroup] = []
        keys: list[list[_Key]] = []
        for path in files:
            by_group: dict[int, list[RuleSite]] = {}
            for site in sites_of(path):
                by_group.setdefault(site.group_index, []).append(site)
            for gi in sorted(by_group):
                groups.append(by_group[gi][0].group)
                keys.append([(_real(path), gi, s.rule_index) for s in by_group[gi]])
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

    def read_of(self, override: dict[int, _Reads] | None = None) -> Callable[[int], _Reads]:
        def read(i: int) -> _Reads:
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
class _Source:
    """One test file, its rule set and what each of its test groups needs."""

    test_file: RuleTestFile
    rules: _RuleSet
    needed: list[frozenset[int]]
    inputs: list[list[_Arrays]] = field(default_factory=list)

    def storage(self, g: int) -> Storage:
        """A fresh storage with test group ``g``'s input (arrays built once)."""
        if not self.inputs:
            self.inputs = [_input_arrays(group) for group in self.test_file.groups]
        store = Storage()
        for labels, ts, vs in self.inputs[g]:
            store.add_samples(labels, ts, vs)
        return store


def _input_arrays(group: TestGroup) -> list[_Arrays]:
    out: list[_Arrays] = []
    for item in group.input_series:
        labels, values = item.parsed
        keep = np.array([v is not None for v in values], dtype=bool)
        arr = np.array([np.nan if v is None else v for v in values], dtype=np.float64)
        ts = group.start_ms + np.flatnonzero(keep).astype(np.int64) * group.interval_ms
        out.append((labels, ts, arr[keep]))
    return out


def _expr_reads(expr: str) -> _Reads:
    return deps.reads(expr_tree(expr)) if expr_tree(expr) is not None else None


class _SiteData:
    """The :class:`~pytest_selfslo.mutate.operators.DataContext` of one rule."""

    def __init__(self, suite: MutationSuite, site: RuleSite) -> None:
        self.suite = suite
        self.site = site
        self._values: dict[str, FloatArray] = {}
        self._changes: dict[str, bool] = {}
        self._outputs: dict[tuple[int, str], object] = {}

    def operand_values(self, expr: Node) -> FloatArray:
        text = to_promql(expr)
        if text not in self._values:
            found: list[FloatArray] = []
            for src, g, r in self.suite.references(self.site):
                run = self.suite.baseline(src, g, self.suite.subset_for(src, g, r))[1]
                if run is None:
                    continue
                try:
                    value = run.engine.evaluate(parse_expr(text), run.steps[:run.steps_done])
                except PromQLError:
                    continue
                if isinstance(value, InstantVector):
                    found += [s.values[s.present] for s in value.series]
                elif isinstance(value, ScalarValue):
                    found.append(np.asarray(value.values))
            values = np.concatenate(found) if found else np.zeros(0)
            self._values[text] = values[np.isfinite(values)]
        return self._values[text]

    def label_values(self, name: str) -> tuple[str, ...]:
        return self.suite.label_values(self.site.path, name)

    def changes(self, expr: Node) -> bool:
        text = to_promql(expr)
        if text not in self._changes:
            rule = dataclasses.replace(self.site.rule, expr=text)
            # cheap first: does the expression's output change anywhere? only then the rule's
            # alerts or samples (``for``, templates and downstream rules may still hide it)
            self._changes[text] = self._output_changes(text) and any(
                self.suite.differs(src, g, r, rule) for src, g, r in self.suite.references(self.site))
        return self._changes[text]

    def _output_changes(self, text: str) -> bool:
        for src, g, r in self.suite.references(self.site):
            run = self.suite.baseline(src, g, self.suite.subset_for(src, g, r))[1]
            if run is None:
                continue
            steps = run.steps[:run.steps_done]
            key = (id(run), self.site.rule.expr)
            try:
                if key not in self._outputs:
                    self._outputs[key] = _output(run.engine.evaluate(
                        parse_expr(self.site.rule.expr), steps))
                if _output(run.engine.evaluate(parse_expr(text), steps)) != self._outputs[key]:
                    return True
            except PromQLError:
                return True
        return False


@dataclass
class MutationSuite:
    """Rule files, the unit tests that load them, and everything cached between mutants."""

    sites: list[RuleSite]
    sources: list[_Source]
    semantics: str = "3"
    only: tuple[str, ...] | None = None
    #: copy the outputs of the rules upstream of a mutant from the original run (exact; off:
    #: every mutant re-evaluates all the rules its test groups need)
    incremental: bool = True
    _baselines: dict[tuple[int, int, frozenset[int]], tuple[bool, GroupRun | None, str]] = field(
        default_factory=dict)
    _labels: dict[str, dict[str, tuple[str, ...]]] = field(default_factory=dict)
    _file_sites: dict[str, list[RuleSite]] = field(default_factory=dict)
    _generated: dict[tuple[int, frozenset[int], boundary.Candidate], GroupRun | None] = field(
        default_factory=dict)
    _prefills: dict[tuple[int, int, frozenset[int], frozenset[int]], list[_Arrays]] = field(
        default_factory=dict)
    _subsets: dict[tuple[object, ...], frozenset[int]] = field(default_factory=dict)
    _plans: dict[tuple[object, ...], frozenset[int] | None] = field(default_factory=dict)

    # ------------------------------------------------------------ loading
    @classmethod
    def load(cls, rules: Sequence[str], tests: Sequence[str], *, semantics: str = "3",
             only: Iterable[str] | None = None, root: str | Path | None = None) -> MutationSuite:
        """Load the rule files (globs) and the test files (globs) that exercise them.

        Raises :class:`~pytest_selfslo._core.errors.ConfigError` subclasses with
        ``file:line:col`` for invalid files or markers.
        """
        base = Path(root) if root is not None else None

        def expand(patterns: Sequence[str]) -> list[str]:
            full = [str(base / p) if base is not None and not os.path.isabs(p) else p
                    for p in patterns]
            paths = expand_rule_paths(full)
            missing = [p for p in paths if not os.path.isfile(p)]
            if missing:
                raise RuleFileError(f"{missing[0]}: no such file")
            return paths

        rule_paths = expand(rules)
        cache: dict[str, list[RuleSite]] = {}

        def sites_of(path: str) -> list[RuleSite]:
            key = _real(path)
            if key not in cache:
                cache[key] = load_rule_sites(path)
            return cache[key]

        sites = [site for path in rule_paths for site in sites_of(path)]
        wanted = {_real(p) for p in rule_paths}
        sources = []
        for path in expand(tests):
            test_file = load_test_file(path)
            if not any(_real(f) in wanted for f in test_file.rule_files):
                continue
            ruleset = _RuleSet.build(test_file.rule_files, sites_of, test_file.group_eval_order)
            needed = [deps.closure(deps.seeds(ruleset.flat, g, _expr_reads), ruleset.flat,
                                   ruleset.read_of()) for g in test_file.groups]
            sources.append(_Source(test_file, ruleset, needed))
        suite = cls(sites, sources, semantics, tuple(only) if only is not None else None)
        suite._file_sites = cache
        return suite

    # ------------------------------------------------------------ structure
    def references(self, site: RuleSite) -> list[tuple[_Source, int, int]]:
        """(test file, test group index, rule index) of every test group that needs ``site``."""
        key = (_real(site.path), site.group_index, site.rule_index)
        out = []
        for src in self.sources:
            r = src.rules.index.get(key)
            if r is None:
                continue
            out += [(src, g, r) for g in range(len(src.test_file.groups)) if r in src.needed[g]]
        return out

    def subset_for(self, src: _Source, g: int, r: int, mutant: Mutant | None = None
                   ) -> frozenset[int]:
        """Rules to evaluate for test group ``g`` when rule ``r`` is (replaced by ``mutant``)."""
        reads = src.rules.reads[r]
        if mutant is not None and mutant.field == "expr":
            reads = deps.reads(mutant.tree)
        key = (id(src), g, r, None if mutant is None else _signature(mutant.rule, reads))
        if key in self._subsets:
            return self._subsets[key]
        override = None
        flat = src.rules.flat
        start = set(src.needed[g]) | deps.downstream(r, flat, src.rules.read_of())
        if mutant is not None:
            if mutant.field == "expr":
                override = {r: _union(src.rules.reads[r], reads)}
            mutated = list(flat)
            mutated[r] = mutant.rule
            start |= deps.downstream(r, mutated, src.rules.read_of(override))
        self._subsets[key] = deps.closure(start, flat, src.rules.read_of(override))
        return self._subsets[key]

    def label_values(self, path: str, name: str) -> tuple[str, ...]:
        """Values of label ``name`` in the tests of rule file ``path`` and in its rules."""
        key = _real(path)
        if key not in self._labels:
            found: dict[str, set[str]] = {}
            for src in self.sources:
                if key not in {_real(f) for f in src.test_file.rule_files}:
                    continue
                for group in src.test_file.groups:
                    for item in group.input_series:
                        for k, v in item.parsed[0]:
                            found.setdefault(k, set()).add(v)
                for rule in src.rules.flat:
                    for k, v in rule.labels.items():
                        if "{{" not in v:
                            found.setdefault(k, set()).add(v)
            self._labels[key] = {k: tuple(sorted(v)) for k, v in found.items()}
        return self._labels[key].get(name, ())

    def baseline(self, src: _Source, g: int, keep: frozenset[int]
                 ) -> tuple[bool, GroupRun | None, str]:
        """The original rules' run of test group ``g`` on the rules ``keep`` (cached)."""
        key = (id(src), g, keep)
        if key not in self._baselines:
            group = src.test_file.groups[g]
            result, run = check_test_group(src.test_file, group, src.rules.subset(keep),
                                           semantics=self.semantics, storage=src.storage(g),
                                           coverage=False)
            self._baselines[key] = (result.passed, run, "\n".join(result.failures))
        return self._baselines[key]

    def differs(self, src: _Source, g: int, r: int, rule: Rule) -> bool:
        """Whether ``rule`` in place of rule ``r`` (same reads) changes what test group ``g``
        sees of it: its firing alerts or recorded samples at some evaluated step."""
        keep = self.subset_for(src, g, r)
        _, base, _ = self.baseline(src, g, keep)
        if base is None:
            return False
        _, run = self.check(src, g, r, keep, rule, src.rules.reads[r])
        return run is not None and boundary.first_difference(base, src.rules.flat[r], run,
                                                             rule) is not None

    def check(self, src: _Source, g: int, r: int, keep: frozenset[int], rule: Rule,
              reads: _Reads) -> tuple[GroupResult, GroupRun | None]:
        """Test group ``g`` with rule ``r`` replaced by ``rule`` (which reads ``reads``).

        Incremental when that is exact: the rules upstream of ``r`` produce what they
        produced in the original run, so their outputs are copied from it and only
        ``r`` and its downstream are evaluated (and only their alerts checked).
        """
        group = src.test_file.groups[g]
        plan = self._incremental(src, g, r, keep, rule, reads)
        if plan is None:
            return check_test_group(src.test_file, group, src.rules.subset(keep, {r: rule}),
                                    semantics=self.semantics, storage=src.storage(g),
                                    coverage=False, quick=True)
        changed, arrays = plan
        store = Storage()
        for labels, ts, vs in arrays:
            store.add_samples(labels, ts, vs)
        alerts = {(rule if i == r else src.rules.flat[i]).name for i in changed
                  if (rule if i == r else src.rules.flat[i]).kind == "alert"}
        return check_test_group(src.test_file, group, src.rules.subset(changed, {r: rule}),
                                semantics=self.semantics, storage=store, coverage=False,
                                quick=True, only_alerts=alerts)

    def _incremental(self, src: _Source, g: int, r: int, keep: frozenset[int], rule: Rule,
                     reads: _Reads) -> tuple[frozenset[int], list[_Arrays]] | None:
        """(rules to evaluate, the storage to start from), or None when a full run is needed.

        Evaluated: ``r``, its downstream, and any rule that one of those reads although it
        comes later in the evaluation order (promtool shows it one step late, so it must be
        evaluated along); every other rule of ``keep`` is copied from the original run.
        """
        _, base, _ = self.baseline(src, g, keep)
        if not self.incremental or base is None:
            return None
        sig = (id(src), g, r, keep, _signature(rule, reads))
        if sig not in self._plans:
            self._plans[sig] = self._plan(src, r, keep, rule, reads)
        changed = self._plans[sig]
        if changed is None:
            return None
        key = (id(src), g, keep, changed)
        if key not in self._prefills:
            produced = [src.rules.flat[i] for i in changed]
            self._prefills[key] = [
                (labels, ts, vs) for labels, ts, vs in base.storage.select(_EVERYTHING)
                if not any(_produced_by(labels, p) for p in produced)]
        return changed, self._prefills[key]

    def _plan(self, src: _Source, r: int, keep: frozenset[int], rule: Rule,
              reads: _Reads) -> frozenset[int] | None:
        flat = src.rules.flat
        mutated = list(flat)
        mutated[r] = rule
        read = src.rules.read_of({r: reads})
        changed = set((deps.downstream(r, mutated, read)
                       | deps.downstream(r, flat, src.rules.read_of())) & keep)
        grown = True
        while grown:
            late = {j for i in changed for j in keep - changed
                    if j >= i and deps.feeds(mutated[j], read(i))}
            grown = bool(late)
            changed |= late
        for i in changed:
            tree = deps_tree(src, r, i, rule)
            if tree is None or _time_shifted(tree):
                return None
            if any(not _separable(mutated[i], flat[u]) for u in keep - changed):
                return None
        return frozenset(changed)

    # ------------------------------------------------------------ running
    def neighbour(self, site: RuleSite) -> tuple[str, str] | None:
        """(name, expr) of the recording rule before ``site`` in its group (the first: after)."""
        if site.rule.kind != "record":
            return None
        records = [r for r in site.group.rules if r.kind == "record"]
        pos = next(i for i, r in enumerate(records) if r is site.rule)
        other = pos - 1 if pos > 0 else pos + 1
        if other >= len(records):
            return None
        return records[other].name, records[other].expr

    def mutants(self, site: RuleSite) -> Generated:
        """The mutants of one rule (the data-dependent steps use this suite's tests)."""
        return generate_mutants(site, _SiteData(self, site), only=self.only,
                                neighbour=self.neighbour(site))

    def check_baselines(self, site: RuleSite) -> None:
        """Raise :class:`MutationSetupError` when a test group needing ``site`` already fails."""
        for src, g, r in self.references(site):
            passed, _, failures = self.baseline(src, g, self.subset_for(src, g, r))
            if not passed:
                name = src.test_file.groups[g].display_name
                raise MutationSetupError(
                    f"{src.test_file.path}: test {name!r} fails without any mutation; mutation "
                    f"testing needs passing rule tests:\n{failures}")

    def run_rule(self, site: RuleSite) -> RuleResult:
        """Generate and run every mutant of one rule."""
        self.check_baselines(site)
        generated = self.mutants(site)
        result = RuleResult(site, skipped=generated.skipped, discarded=list(generated.discarded))
        for mutant in generated.mutants:
            result.mutants.append(self.run_mutant(mutant))
        return result

    def run(self, sites: Iterable[RuleSite] | None = None) -> MutationReport:
        """Every rule (or ``sites``), in file order."""
        return MutationReport([self.run_rule(s) for s in (self.sites if sites is None else sites)])

    def run_mutant(self, mutant: Mutant) -> MutantResult:
        """Run one mutant against the test groups that need its rule; classify it."""
        site = mutant.site
        marker = site.marker_for(mutant.id)
        runs: list[tuple[_Source, int, int, frozenset[int], GroupRun]] = []
        for src, g, r in self.references(site):
            keep = self.subset_for(src, g, r, mutant)
            group = src.test_file.groups[g]
            reads = deps.reads(mutant.tree) if mutant.field == "expr" else src.rules.reads[r]
            result, run = self.check(src, g, r, keep, mutant.rule, reads)
            if not result.passed:
                note = (f"marked equivalent at line {marker.line} but killed: remove the marker"
                        if marker is not None else None)
                return MutantResult(mutant, KILLED, killed_by=f"{src.test_file.path}::"
                                    f"{group.display_name}", note=note)
            if run is not None:
                runs.append((src, g, r, keep, run))
        if marker is not None:
            return MutantResult(mutant, EQUIVALENT, marker=marker)
        found = self._own_difference(mutant, runs) or self._generated_difference(mutant)
        if found is None:
            return MutantResult(mutant, SUSPECT)
        difference, suggestion = found
        return MutantResult(mutant, SURVIVED, difference=difference, suggestion=suggestion)

    # ------------------------------------------------------------ differences
    def _own_difference(self, mutant: Mutant,
                        runs: list[tuple[_Source, int, int, frozenset[int], GroupRun]]
                        ) -> tuple[Difference, Suggestion | None] | None:
        for src, g, r, keep, run in runs:
            _, base, _ = self.baseline(src, g, keep)
            if base is None:
                continue
            step = boundary.first_difference(base, src.rules.flat[r], run, mutant.rule)
            if step is None:
                continue
            group = src.test_file.groups[g]
            names = self._input_names(src, keep, mutant)
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

    def _input_names(self, src: _Source, keep: frozenset[int], mutant: Mutant) -> set[str] | None:
        """Raw metric names the evaluated rules read (None: any)."""
        produced: set[str] = set()
        names: set[str] = set()
        r = src.rules.index[(_real(mutant.site.path), mutant.site.group_index,
                             mutant.site.rule_index)]
        for i in keep:
            produced |= deps.produced_names(src.rules.flat[i])
            got = deps.names(deps.reads(mutant.tree) if i == r and mutant.field == "expr"
                             else src.rules.reads[i])
            if got is None:
                return None
            names |= got
        return names - produced

    def _suggest(self, src: _Source, r: int, mutant: Mutant, group: TestGroup,
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
                                 semantics=self.semantics, coverage=False, quick=True)
        bad, _ = check_test_group(test_file, parsed.groups[0],
                                  src.rules.subset(every, {r: mutant.rule}),
                                  semantics=self.semantics, coverage=False, quick=True)
        if not ok.passed or bad.passed:
            return None
        return Suggestion(src.test_file.path, text)

    def _generated_difference(self, mutant: Mutant) -> tuple[Difference, Suggestion | None] | None:
        site = mutant.site
        src = self._source_for(site)
        key = (_real(site.path), site.group_index, site.rule_index)
        r = src.rules.index[key]
        reads = src.rules.reads[r]
        if mutant.field == "expr":
            reads = _union(reads, deps.reads(mutant.tree))
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
            if cache_key not in self._generated:
                self._generated[cache_key] = _evaluate(original, group, steps, self.semantics,
                                                       eval_ms)
            a = self._generated[cache_key]
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

    def _source_for(self, site: RuleSite) -> _Source:
        """The test file a new test for ``site`` belongs in: the first one testing the rule,
        else the first one loading its file, else a new file next to it."""
        key = (_real(site.path), site.group_index, site.rule_index)
        loading = [src for src in self.sources if key in src.rules.index]
        for src in loading:
            if any(src.rules.index[key] in needed for needed in src.needed):
                return src
        if loading:
            return loading[0]
        # no test file loads this rule file: a bare one, as a new test file would be
        text = f"rule_files: [{Path(site.path).name}]\ntests: []\n"
        test_file = parse_test_text(text, str(Path(site.path).parent / "mutation_test.yml"))
        ruleset = _RuleSet.build([site.path], lambda p: self._file_sites[_real(p)])
        src = _Source(test_file, ruleset, [])
        self.sources.append(src)
        return src

    def _input_selectors(self, src: _Source, keep: frozenset[int], mutant: Mutant
                         ) -> list[str] | None:
        """Series (text) to generate for the raw metrics the rules read; None: cannot tell.

        They share one identity (e.g. ``token_id="frozen"``): the label set, other
        than the name, that the tests' input series use with the most of these
        metrics; a selector's equality matchers win over it.
        """
        names = self._input_names(src, keep, mutant)
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
        r = src.rules.index[(_real(mutant.site.path), mutant.site.group_index,
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


def deps_tree(src: _Source, r: int, i: int, rule: Rule) -> Node | None:
    """The tree of rule ``i`` of ``src`` (``rule``'s when ``i`` is the mutated ``r``)."""
    return expr_tree(rule.expr) if i == r else src.rules.trees[i]


def _time_shifted(tree: Node) -> bool:
    """``@`` or a negative offset: the rule looks ahead of the step being evaluated."""
    for _, node in walk(tree):
        sel = node.selector if isinstance(node, Matrix) else node
        if isinstance(sel, (Selector, Subquery)) and (
                sel.at is not None or (sel.offset_ms or 0) < 0):
            return True
    return False


def _signature(rule: Rule, reads: _Reads) -> tuple[object, ...]:
    """What the rule sets (kind, name, static labels) and reads: all the dependency analysis sees."""
    return (reads, rule.kind, rule.name, tuple(sorted(_static(rule).items())))


def _static(rule: Rule) -> dict[str, str]:
    return {k: v for k, v in rule.labels.items() if "{{" not in v}


def _produced_by(labels: Labels, rule: Rule) -> bool:
    """Whether series ``labels`` is one ``rule`` writes (by name and static labels)."""
    got = dict(labels)
    name = got.get("__name__")
    if rule.kind == "alert":
        return name in ("ALERTS", "ALERTS_FOR_STATE") and got.get("alertname") == rule.name
    return name == rule.name and all(got.get(k) == v for k, v in _static(rule).items())


def _separable(a: Rule, b: Rule) -> bool:
    """Whether the series of ``a`` and ``b`` can never be the same (name or a static label)."""
    if a.kind != b.kind or (a.kind == "record" and a.name != b.name):
        return True
    if a.kind == "alert":
        return a.name != b.name
    la, lb = _static(a), _static(b)
    return any(k in lb and lb[k] != v for k, v in la.items())


def _output(value: object) -> object:
    """A comparable form of an evaluation result (absent samples and NaN made equal)."""
    if isinstance(value, InstantVector):
        return sorted((s.labels, s.present.tobytes(),
                       np.where(s.present, np.nan_to_num(s.values, nan=-1.5e308), 0).tobytes())
                      for s in value.series)
    if isinstance(value, ScalarValue):
        return np.nan_to_num(np.asarray(value.values), nan=-1.5e308).tobytes()
    return repr(value)


def _union(a: _Reads, b: _Reads) -> _Reads:
    return None if a is None or b is None else a | b


def _series_name(item: InputSeries) -> str:
    return next((v for k, v in item.parsed[0] if k == "__name__"), "")


def _synthetic_group(cand: boundary.Candidate, eval_ms: int) -> TestGroup:
    series = tuple(InputSeries(s, v, 0, parse_series_line(f"{s} {v}")) for s, v in cand.series)
    return TestGroup(0, None, eval_ms, series, (), (), {}, "", 0, 0)


def _evaluate(groups: list[RuleGroup], group: TestGroup, steps: np.ndarray, semantics: str,
              eval_ms: int) -> GroupRun | None:
    store = Storage()
    for labels, ts, vs in _input_arrays(group):
        store.add_samples(labels, ts, vs)
    try:
        return evaluate_groups(groups, store, steps, semantics=semantics,
                               subquery_step_ms=eval_ms)
    except PromQLError:
        return None
