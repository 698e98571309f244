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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pytest_selfslo._core.errors import PromQLError, RuleFileError, SelfSloError
from pytest_selfslo.alerting.ruleeval import GroupRun
from pytest_selfslo.mutate import boundary, deps
from pytest_selfslo.mutate.engine import Generated, Mutant, expr_tree, generate_mutants
from pytest_selfslo.mutate.report import (
    EQUIVALENT,
    KILLED,
    SURVIVED,
    SUSPECT,
    MutantResult,
    MutationReport,
    RuleResult,
)
from pytest_selfslo.mutate.sites import RuleSite, load_rule_sites
from pytest_selfslo.mutate.sources import (
    RuleSet,
    Snapshot,
    TestSource,
    expr_reads,
    real,
    union,
)
from pytest_selfslo.mutate.suggest import Run, Suggester
from pytest_selfslo.mutate.tree import (
    Matrix,
    Node,
    Selector,
    Subquery,
    to_promql,
    walk,
)
from pytest_selfslo.promql.engine import parse_expr
from pytest_selfslo.promql.features import FeatureSet
from pytest_selfslo.promql.semantics import Semantics, SemanticsLike
from pytest_selfslo.promql.storage import Storage
from pytest_selfslo.promql.values import FloatArray, InstantVector, Labels, ScalarValue
from pytest_selfslo.rulefmt.model import Rule, RuleGroup
from pytest_selfslo.rulefmt.rulefile import expand_rule_paths
from pytest_selfslo.rulefmt.testfile import (
    load_test_file,
)
from pytest_selfslo.ruletest.runner import GroupResult, check_test_group, gated_rules

__all__ = ["MutationSetupError", "MutationSuite"]

_Reads = deps.Reads


class MutationSetupError(SelfSloError, ValueError):
    """The suite cannot be mutation-tested (a test fails without any mutation)."""


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
    sources: list[TestSource]
    semantics: SemanticsLike = "3"
    only: tuple[str, ...] | None = None
    #: promtool's ``--enable-feature`` (experimental functions in rules and expression tests)
    features: FeatureSet = field(default_factory=FeatureSet)
    #: copy the outputs of the rules upstream of a mutant from the original run (exact; off:
    #: every mutant re-evaluates all the rules its test groups need)
    incremental: bool = True
    _baselines: dict[tuple[int, int, frozenset[int]], tuple[bool, GroupRun | None, str]] = field(
        default_factory=dict)
    _labels: dict[str, dict[str, tuple[str, ...]]] = field(default_factory=dict)
    _file_sites: dict[str, list[RuleSite]] = field(default_factory=dict)
    _suggester: Suggester | None = None
    _prefills: dict[tuple[int, int, frozenset[int], frozenset[int]], Snapshot] = field(
        default_factory=dict)
    _subsets: dict[tuple[object, ...], frozenset[int]] = field(default_factory=dict)
    _plans: dict[tuple[object, ...], frozenset[int] | None] = field(default_factory=dict)

    # ------------------------------------------------------------ loading
    @classmethod
    def load(cls, rules: Sequence[str], tests: Sequence[str], *, semantics: SemanticsLike = "3",
             only: Iterable[str] | None = None, root: str | Path | None = None,
             features: FeatureSet | None = None) -> MutationSuite:
        """Load the rule files (globs) and the test files (globs) that exercise them.

        Raises :class:`~pytest_selfslo._core.errors.ConfigError` subclasses with
        ``file:line:col`` for invalid files or markers, and a
        :class:`~pytest_selfslo._core.errors.RuleFileError` with promtool's parse error
        for a rule calling a function the release does not offer without ``features``
        (``function "sort_by_label" is not enabled``).
        """
        features = features or FeatureSet()
        if features.delayed_name_removal:
            semantics = Semantics.parse(semantics).with_options(delayed_name_removal=True)
        base = Path(root) if root is not None else None

        def expand(patterns: Sequence[str]) -> list[str]:
            full = [str(base / p) if base is not None and not os.path.isabs(p) else p
                    for p in patterns]
            paths = expand_rule_paths(full)
            missing = [p for p in paths if not os.path.isfile(p)]
            if missing:  # a FIFO or a device is refused here, never opened
                why = "not a regular file" if os.path.exists(missing[0]) else "no such file"
                raise RuleFileError(f"{missing[0]}: {why}")
            return paths

        rule_paths = expand(rules)
        cache: dict[str, list[RuleSite]] = {}

        def sites_of(path: str) -> list[RuleSite]:
            key = real(path)
            if key not in cache:
                cache[key] = load_rule_sites(path)
            return cache[key]

        sites = [site for path in rule_paths for site in sites_of(path)]
        wanted = {real(p) for p in rule_paths}
        sources = []
        for path in expand(tests):
            test_file = load_test_file(path)
            if not any(real(f) in wanted for f in test_file.rule_files):
                continue
            ruleset = RuleSet.build(test_file.rule_files, sites_of, test_file.group_eval_order)
            needed = [deps.closure(deps.seeds(ruleset.flat, g, expr_reads), ruleset.flat,
                                   ruleset.read_of()) for g in test_file.groups]
            sources.append(TestSource(test_file, ruleset, needed))
        # promtool fails to load such a rule file, so no test of it can run
        groups: dict[int, RuleGroup] = {}
        for file_sites in cache.values():
            for site in file_sites:
                groups.setdefault(id(site.group), site.group)
        gated = gated_rules(list(groups.values()), semantics, features)
        if gated:
            raise RuleFileError(gated)
        suite = cls(sites, sources, semantics, tuple(only) if only is not None else None,
                    features=features)
        suite._file_sites = cache
        return suite

    @property
    def suggester(self) -> Suggester:
        """The survivors' difference search (shares this suite's files and cached runs)."""
        if self._suggester is None:
            self._suggester = Suggester(self.sources, self._file_sites, self.semantics,
                                        self.baseline, features=self.features)
        return self._suggester

    # ------------------------------------------------------------ structure
    def references(self, site: RuleSite) -> list[tuple[TestSource, int, int]]:
        """(test file, test group index, rule index) of every test group that needs ``site``."""
        key = (real(site.path), site.group_index, site.rule_index)
        out = []
        for src in self.sources:
            r = src.rules.index.get(key)
            if r is None:
                continue
            out += [(src, g, r) for g in range(len(src.test_file.groups)) if r in src.needed[g]]
        return out

    def subset_for(self, src: TestSource, g: int, r: int, mutant: Mutant | None = None
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
                override = {r: union(src.rules.reads[r], reads)}
            mutated = list(flat)
            mutated[r] = mutant.rule
            start |= deps.downstream(r, mutated, src.rules.read_of(override))
        self._subsets[key] = deps.closure(start, flat, src.rules.read_of(override))
        return self._subsets[key]

    def label_values(self, path: str, name: str) -> tuple[str, ...]:
        """Values of label ``name`` in the tests of rule file ``path`` and in its rules."""
        key = real(path)
        if key not in self._labels:
            found: dict[str, set[str]] = {}
            for src in self.sources:
                if key not in {real(f) for f in src.test_file.rule_files}:
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

    def baseline(self, src: TestSource, g: int, keep: frozenset[int]
                 ) -> tuple[bool, GroupRun | None, str]:
        """The original rules' run of test group ``g`` on the rules ``keep`` (cached)."""
        key = (id(src), g, keep)
        if key not in self._baselines:
            group = src.test_file.groups[g]
            result, run = check_test_group(src.test_file, group, src.rules.subset(keep),
                                           semantics=self.semantics, storage=src.storage(g),
                                           coverage=False, features=self.features)
            self._baselines[key] = (result.passed, run, "\n".join(result.failures))
        return self._baselines[key]

    def differs(self, src: TestSource, g: int, r: int, rule: Rule) -> bool:
        """Whether ``rule`` in place of rule ``r`` (same reads) changes what test group ``g``
        sees of it: its firing alerts or recorded samples at some evaluated step."""
        keep = self.subset_for(src, g, r)
        _, base, _ = self.baseline(src, g, keep)
        if base is None:
            return False
        _, run = self.check(src, g, r, keep, rule, src.rules.reads[r])
        return run is not None and boundary.first_difference(base, src.rules.flat[r], run,
                                                             rule) is not None

    def check(self, src: TestSource, g: int, r: int, keep: frozenset[int], rule: Rule,
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
                                    coverage=False, quick=True, features=self.features)
        changed, snapshot = plan
        store = Storage()
        store.restore(snapshot)
        alerts = {(rule if i == r else src.rules.flat[i]).name for i in changed
                  if (rule if i == r else src.rules.flat[i]).kind == "alert"}
        return check_test_group(src.test_file, group, src.rules.subset(changed, {r: rule}),
                                semantics=self.semantics, storage=store, coverage=False,
                                quick=True, only_alerts=alerts, features=self.features)

    def _incremental(self, src: TestSource, g: int, r: int, keep: frozenset[int], rule: Rule,
                     reads: _Reads) -> tuple[frozenset[int], Snapshot] | None:
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
            self._prefills[key] = [entry for entry in base.storage.snapshot()
                                   if not any(_produced_by(entry[0], p) for p in produced)]
        return changed, self._prefills[key]

    def _plan(self, src: TestSource, r: int, keep: frozenset[int], rule: Rule,
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
            tree = _tree_of(src, r, i, rule)
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
        runs: list[Run] = []
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
        found = (self.suggester.own_difference(mutant, runs)
                 or self.suggester.generated_difference(mutant))
        if found is None:
            return MutantResult(mutant, SUSPECT)
        difference, suggestion = found
        return MutantResult(mutant, SURVIVED, difference=difference, suggestion=suggestion)


def _tree_of(src: TestSource, r: int, i: int, rule: Rule) -> Node | None:
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
