"""promtool-compatible rule unit tests: ``selfslo test-rules FILE...`` and a Python API.

Semantics follow ``promtool test rules`` (``cmd/promtool/unittest.go``): input
series are loaded at ``interval`` from ``start_timestamp``; every group is
evaluated every ``evaluation_interval`` from the start up to the largest
``eval_time``; an ``alert_rule_test`` at ``eval_time`` is checked against the
evaluation at ``floor(eval_time / evaluation_interval)`` and compares the
*firing* alerts (labels and annotations, exactly); a ``promql_expr_test`` is an
instant query at exactly ``eval_time`` over the samples loaded so far; a rule
evaluation error stops the test group; exit code 0 when everything passes, 1
otherwise (including unreadable or invalid files).

Failure messages keep promtool's ``exp:``/``got:`` lines and add a unified diff
and, for an expected alert that is not firing, what the alert was doing then
(e.g. ``pending for 4m, `for` is 5m``) and the expression's value.

API (used by the pytest plugin)::

    test_file = load_test_file("rules/tests/phase_c_test.yml")
    for group in test_file.groups:
        result = run_test_group(test_file, group)
        assert result.passed, "\\n".join(result.failures)
    report = run_rule_tests(["rules/tests/*.yml"])
    print(report.format_text()); raise SystemExit(report.exit_code)
"""

from __future__ import annotations

import datetime as _dt
import glob
import json
import math
import time
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np

from pytest_selfslo._core.durations import format_duration
from pytest_selfslo._core.errors import (
    InputError,
    PromQLError,
    PromQLEvalError,
    RuleFileError,
    RuleTestFileError,
    SelfSloError,
    SeriesNotationError,
)
from pytest_selfslo._core.goregex import GoRegexError, Regexp, compile_go
from pytest_selfslo._core.limits import DEFAULT_LIMITS, Limits
from pytest_selfslo.alerting.ruleeval import GroupRun, _names, evaluate_groups
from pytest_selfslo.promql.engine import parse_expr
from pytest_selfslo.promql.features import FeatureSet, unavailable_function
from pytest_selfslo.promql.histogram import UNKNOWN_COUNTER_RESET, FloatHistogram
from pytest_selfslo.promql.semantics import Semantics, SemanticsLike
from pytest_selfslo.promql.series import parse_series_samples, sample_arrays
from pytest_selfslo.promql.storage import Storage
from pytest_selfslo.promql.values import (
    FloatArray,
    InstantSeries,
    InstantVector,
    Labels,
    ScalarValue,
    StringValue,
)
from pytest_selfslo.rulefmt.model import AlertingRule, RecordingRule, RuleGroup
from pytest_selfslo.rulefmt.releases import NO_UNIT_TESTING_HEADING, release_of
from pytest_selfslo.rulefmt.rulefile import load_rule_files
from pytest_selfslo.rulefmt.testfile import (
    RuleTestFile,
    TestGroup,
    expected_labels,
    load_test_file,
)
from pytest_selfslo.ruletest.coverage import RuleCoverage, RuleKey
from pytest_selfslo.ruletest.debugdump import debug_dump, debug_expr, go_duration
from pytest_selfslo.ruletest.jsondiff import Style
from pytest_selfslo.ruletest.report import alert_failure, expr_failure, sample_key

__all__ = [
    "GroupResult",
    "Observation",
    "RuleTestReport",
    "check_test_group",
    "input_storage",
    "load_test_file",
    "observe_group",
    "run_rule_tests",
    "run_test_group",
]


@dataclass
class GroupResult:
    """Outcome of one test group: ``passed``, readable ``failures``, rule ``coverage``."""

    name: str
    passed: bool
    failures: list[str] = field(default_factory=list)
    coverage: RuleCoverage = field(default_factory=RuleCoverage)
    mode: str = ""
    #: 1-based line of the test group in its file, and of the case behind each failure
    line: int = 0
    failure_lines: list[int] = field(default_factory=list)
    #: what ``--debug`` prints about the group (promtool's ``DEBUG:`` lines), else empty
    debug: list[str] = field(default_factory=list)

    def fail(self, line: int, text: str) -> None:
        """Record a failure found at ``line`` of the test file."""
        self.failures.append(text)
        self.failure_lines.append(line)


@dataclass
class FileResult:
    """Outcome of one unit-test file."""

    path: str
    groups: list[GroupResult] = field(default_factory=list)
    error: str | None = None
    warnings: list[str] = field(default_factory=list)
    #: the rule files the test file loads
    rule_files: tuple[str, ...] = ()
    #: ``error`` is about a rule file (promtool fails each selected group with it), and the
    #: names of those groups
    rule_error: bool = False
    failed_groups: tuple[str, ...] = ()
    #: when its groups started (promtool's JUnit ``timestamp``; empty when the file is unreadable)
    started: str = ""

    @property
    def passed(self) -> bool:
        """No file error and every selected group passed."""
        return self.error is None and all(g.passed for g in self.groups)


@dataclass
class RuleTestReport:
    """Outcome of a whole run: ``passed``, ``exit_code``, ``format_text()``, ``coverage``."""

    files: list[FileResult] = field(default_factory=list)
    #: the Prometheus release whose promtool output :meth:`format_text` imitates
    semantics: str = "3"

    @property
    def passed(self) -> bool:
        """Every file passed."""
        return all(f.passed for f in self.files)

    @property
    def exit_code(self) -> int:
        """promtool's exit code: 0 all passed, 1 otherwise."""
        return 0 if self.passed else 1

    @property
    def coverage(self) -> RuleCoverage:
        """Rule coverage merged over every group run."""
        return RuleCoverage().merge(*(g.coverage for f in self.files for g in f.groups))

    def format_text(self, *, debug: bool = False) -> str:
        """promtool-style text: ``SUCCESS`` or ``FAILED:`` + details per file.

        As the promtool of :attr:`semantics` prints it: before 2.55 each file's
        block opens with ``Unit Testing:  FILE``. With ``debug`` each file's
        groups' ``DEBUG:`` lines come before its status.
        """
        heading = release_of(self.semantics) < NO_UNIT_TESTING_HEADING
        out: list[str] = []
        for f in self.files:
            if heading:
                out.append(f"Unit Testing:  {f.path}")
            out.extend(f"  WARNING: {w}" for w in f.warnings)
            if debug:
                out.extend(line for g in f.groups for line in g.debug)
            if f.passed:
                out.append("  SUCCESS")
            else:
                out.append("  FAILED:")
                if f.error:
                    out.append(_indent(f.error, "    "))
                for g in f.groups:
                    for failure in g.failures:
                        out.extend([failure, ""])
            out.append("")
        return "\n".join(out)

    def to_json(self) -> dict[str, Any]:
        """Machine-readable report (``--format json``)."""
        return {
            "passed": self.passed, "exit_code": self.exit_code,
            "files": [{"path": f.path, "passed": f.passed, "error": f.error,
                       "groups": [{"name": g.name, "passed": g.passed, "failures": g.failures}
                                  for g in f.groups]} for f in self.files],
            "coverage": {"percentage": self.coverage.percentage,
                         "rules": [{"file": k.file, "group": k.group, "name": k.name,
                                    "kind": k.kind, "status": s}
                                   for k, s in sorted(self.coverage.status.items())]},
        }


def _indent(text: str, prefix: str) -> str:
    return "\n".join(prefix + line if line else line for line in text.splitlines())


def _ordered_groups(groups: list[RuleGroup], order: tuple[str, ...]) -> list[RuleGroup]:
    rank = {name: i for i, name in enumerate(order)}
    return sorted(groups, key=lambda g: rank.get(g.name, 0))


def _load_storage(group: TestGroup, eval_ms: int) -> Storage:
    """The input series, created in the order promtool creates them.

    promtool appends input samples step by step (all samples up to each
    evaluation time), so a series is created at the first evaluation at or
    after its first sample; the series of one step in Go map order, random on
    each run (for up to eight series a rotation of the file order), of which
    the file order, used here, is the likeliest.
    """
    storage = Storage()
    for item in group.input_series:
        labels, values = item.parsed
        if any(isinstance(v, FloatHistogram) for v in values):
            keep = np.array([v is not None for v in values], dtype=bool)
            ts = group.start_ms + np.flatnonzero(keep).astype(np.int64) * group.interval_ms
            present: list[float | FloatHistogram] | FloatArray = [
                v for v in values if v is not None]
        else:  # floats only: numpy arrays, no per-sample Python objects
            ts, present = sample_arrays(cast("list[float | None]", values), group.start_ms,
                                        group.interval_ms)
        if group.interval_ms == 0:  # promtool < 2.49 without interval: all at 0s, the first stays
            ts, present = ts[:1], present[:1]
        created = None
        if len(ts):
            created = group.start_ms - (-(int(ts[0]) - group.start_ms) // eval_ms) * eval_ms
        if isinstance(present, list):
            storage.add_mixed(labels, ts, present, created_ms=created)
        else:
            storage.add_samples(labels, ts, present, created_ms=created)
    return storage


def rule_groups_of(test_file: RuleTestFile) -> list[RuleGroup]:
    """The rule groups a test file loads (read once per file), in ``group_eval_order``.

    Raises :class:`RuleFileError` listing every problem of the first bad rule file.
    """
    cached = _RULES.get(id(test_file))
    if cached is not None and cached[0] is test_file:
        return cached[1]
    groups = _ordered_groups(load_rule_files(test_file.rule_files,
                                             ignore_unknown_fields=test_file.ignore_unknown_fields,
                                             semantics=test_file.semantics,
                                             limits=test_file.limits),
                             test_file.group_eval_order)
    if len(_RULES) > 64:
        _RULES.clear()
    _RULES[id(test_file)] = (test_file, groups)
    return groups


#: id(test file) -> (test file, its rule groups): the rules of a file are read once
_RULES: dict[int, tuple[RuleTestFile, list[RuleGroup]]] = {}


def _float_equal(a: float, b: float, fuzzy: bool) -> bool:
    if a == b:
        return True
    return fuzzy and (math.nextafter(a, -math.inf) == b or math.nextafter(a, math.inf) == b)


def run_test_group(test_file: RuleTestFile, group: TestGroup, *, semantics: SemanticsLike = "3",
                   features: FeatureSet | None = None, debug: bool = False,
                   diff: Style | None = None) -> GroupResult:
    """Run one test group of ``test_file`` exactly as promtool would.

    ``semantics`` may name a release (``"3.5"``); the engine follows its major version.
    ``features`` are promtool's ``--enable-feature`` ones; ``debug`` records promtool's
    ``--debug`` lines in :attr:`GroupResult.debug`; ``diff`` (a :mod:`.jsondiff` style)
    reports alert mismatches as promtool's ``--diff`` does.
    """
    try:
        rule_groups = rule_groups_of(test_file)
        gated = gated_rules(rule_groups, semantics, features or FeatureSet())
        if gated:
            raise RuleFileError(gated)
    except RuleFileError as exc:
        result = GroupResult(group.display_name, False, line=group.line)
        result.fail(group.line, _indent(str(exc), "    "))
        return result
    return check_test_group(test_file, group, rule_groups, semantics=semantics,
                            features=features, debug=debug, diff=diff)[0]


def gated_rules(rule_groups: list[RuleGroup], semantics: SemanticsLike,
                features: FeatureSet) -> str:
    """promtool's load errors for rules calling a function the release does not offer, or ``""``.

    One ``file:line:col: group ..., rule N (...): could not parse expression ...`` line each.
    """
    problems = []
    for g in rule_groups:
        for rule in g.rules:
            problem = unavailable_function(parse_expr(rule.expr), rule.expr, semantics, features)
            if problem is not None:
                line, col = rule.expr_pos if rule.expr_pos[0] else (rule.line, 1)
                problems.append(f"{rule.file}:{line}:{col}: group {g.name!r}, rule {rule.index} "
                                f"({rule.name!r}): could not parse expression {rule.expr!r}: "
                                f"{problem}")
    return "\n".join(problems)


def input_storage(group: TestGroup, eval_ms: int) -> Storage:
    """A fresh storage holding the group's ``input_series`` (what promtool loads)."""
    return _load_storage(group, eval_ms)


def check_test_group(test_file: RuleTestFile, group: TestGroup, rule_groups: list[RuleGroup], *,
                     semantics: SemanticsLike = "3", storage: Storage | None = None,
                     coverage: bool = True, quick: bool = False,
                     only_alerts: Collection[str] | None = None,
                     features: FeatureSet | None = None, debug: bool = False,
                     diff: Style | None = None) -> tuple[GroupResult, GroupRun | None]:
    """Run one test group against already loaded ``rule_groups``; also return the evaluation.

    ``storage`` (default: a fresh :func:`input_storage`) receives the rule outputs.
    With ``coverage=False`` no rule coverage is computed; with ``quick=True`` the
    check stops at the first failure and reports it in one line, without diff or
    explanation (the mutation runner checks hundreds of variants of one rule and
    only needs pass or fail); ``only_alerts`` skips the ``alert_rule_test`` items of
    other alerts (their rules are not in ``rule_groups``: their results are known).
    The run is ``None`` when evaluation failed before any step. ``features``,
    ``debug`` and ``diff``: see :func:`run_test_group`.
    """
    features = features or FeatureSet()
    if features.delayed_name_removal:
        semantics = Semantics.parse(semantics).with_options(delayed_name_removal=True)
    header = f"    name: {group.name},\n" if group.name else ""
    result = GroupResult(group.display_name, True, line=group.line)
    if debug:
        started = time.perf_counter()
        result.debug.append(f"DEBUG: Starting test {group.display_name}")
    run = _check(test_file, group, rule_groups, result, semantics, storage, coverage, quick,
                 only_alerts, features, diff, header, debug)
    if debug:
        if run is not None:
            result.debug.extend(debug_dump(run, group))
        result.debug.append(f"DEBUG: Test {group.display_name} finished, took "
                            f"{go_duration(time.perf_counter() - started)}")
    return result, run


def _check(test_file: RuleTestFile, group: TestGroup, rule_groups: list[RuleGroup],
           result: GroupResult, semantics: SemanticsLike, storage: Storage | None,
           coverage: bool, quick: bool, only_alerts: Collection[str] | None,
           features: FeatureSet, diff: Style | None, header: str, debug: bool) -> GroupRun | None:
    rule_groups = _ordered_groups(rule_groups, test_file.group_eval_order)
    keys = {id(r): RuleKey(g.file, g.name, r.name, r.kind) for g in rule_groups for r in g.rules}
    if coverage:
        result.coverage = RuleCoverage.of(keys.values())
    eval_ms = test_file.evaluation_interval_ms
    mint = group.start_ms
    steps = np.arange(mint, mint + group.max_eval_time_ms + 1, eval_ms, dtype=np.int64)
    try:
        run = evaluate_groups(rule_groups,
                              _load_storage(group, eval_ms) if storage is None else storage,
                              steps, semantics=semantics,
                              subquery_step_ms=eval_ms, external_labels=group.external_labels,
                              external_url=group.external_url,
                              extra_exprs=[c.expr for c in group.expr_cases]
                              + ([debug_expr(group)] if debug else []),
                              limits=test_file.limits)
    except PromQLError as exc:
        result.passed = False
        result.fail(group.line, f"    {exc}")
        return None
    result.mode = run.mode
    firing_tested: set[int] = set()
    for case in sorted(group.alert_cases, key=lambda c: c.eval_time_ms):
        step = case.eval_time_ms // eval_ms
        if step >= run.steps_done or (only_alerts is not None
                                      and case.alertname not in only_alerts):
            continue
        got = []
        rules = [r for _, r in run.rules() if isinstance(r, AlertingRule) and r.name == case.alertname]
        if quick and _labels_differ(run, rules, case, step):
            result.passed = False
            result.fail(case.line, f"    alertname: {case.alertname}, "
                                   f"time: {format_duration(case.eval_time_ms)}: alerts differ")
            return run
        for rule in rules:
            got += [(a.labels, a.annotations) for a in run.alerts_at(rule, step, firing_only=True)]
            if case.exp_alerts:
                firing_tested.add(id(rule))
            if coverage:
                result.coverage.mark(keys[id(rule)], "silent")
        exp = [(a.labels, a.annotations) for a in case.exp_alerts]
        if sorted(exp, key=sample_key) != sorted(got, key=sample_key):
            if quick:
                result.passed = False
                result.fail(case.line, f"    alertname: {case.alertname}, time: "
                                       f"{format_duration(case.eval_time_ms)}: annotations differ")
                return run
            result.fail(case.line, header + alert_failure(run, case, rules, exp, got, step,
                                                          diff=diff))
    if run.error is not None:
        result.fail(group.line, f"    {run.error}")
        result.passed = False
        return run
    for expr_case in group.expr_cases:
        failure = _check_expr(run, test_file, group, expr_case, features)
        if failure:
            result.fail(expr_case.line, failure)
            if quick:
                break
    result.passed = not result.failures
    if result.passed and coverage:
        _mark_coverage(result.coverage, run, keys, firing_tested, group)
    return run


def _labels_differ(run: GroupRun, rules: list[AlertingRule], case: Any, step: int) -> bool:
    """Whether the firing alerts' label sets already differ from the expected ones."""
    got = sorted(sorted(a.labels.items()) for rule in rules
                 for a in run.alerts_at(rule, step, firing_only=True, annotations=False))
    exp = sorted(sorted(a.labels.items()) for a in case.exp_alerts)
    return got != exp


def _query(run: GroupRun, group: TestGroup, expr: str, eval_time_ms: int) -> list[SampleValue]:
    """promtool's ``query``: an instant query; a scalar becomes one sample without labels.

    A native-histogram sample comes back as its histogram.
    """
    at = group.start_ms + eval_time_ms
    value = run.engine.evaluate(parse_expr(expr), np.array([at], dtype=np.int64))
    if isinstance(value, ScalarValue):
        return [((), float(value.values[0]))]
    if isinstance(value, InstantVector):
        return sorted(((s.labels, _value_at(s)) for s in value.series if s.present[0]),
                      key=lambda item: item[0])
    kind = "string" if isinstance(value, StringValue) else "range vector"
    raise PromQLEvalError(f"rule result is not a vector or scalar (got a {kind})")


def _check_expr(run: GroupRun, test_file: RuleTestFile, group: TestGroup, case: Any,
                features: FeatureSet) -> str | None:
    where = f"    expr: {json.dumps(case.expr)}, time: {format_duration(case.eval_time_ms)}"
    try:
        gated = unavailable_function(parse_expr(case.expr), case.expr, run.engine.semantics,
                                     features)
        if gated is not None:
            return f"{where}, err: {gated}"
        got = _query(run, group, case.expr, case.eval_time_ms)
    except PromQLError as exc:
        return f"{where}, err: {exc}"
    exp: list[SampleValue] = []
    for s in case.exp_samples:
        try:
            exp.append((expected_labels(s.labels), _expected_value(s)))
        except SelfSloError as exc:
            return f"{where}, err: labels {json.dumps(s.labels)}: {exc}"
    exp.sort(key=lambda x: x[0])
    if not run.engine.semantics.histogram_hint_in_notation:  # 2.x: hints neither shown nor compared
        exp, got = _without_hints(exp), _without_hints(got)
    same = len(exp) == len(got) and all(
        e[0] == g[0] and _same_value(e[1], g[1], test_file.fuzzy_compare)
        for e, g in zip(exp, got, strict=True))
    return None if same else expr_failure(where, exp, got)


#: one query result or expectation: labels and a float or a native histogram
SampleValue = tuple[Labels, "float | FloatHistogram"]


def _without_hints(samples: list[SampleValue]) -> list[SampleValue]:
    return [(lab, v.with_hint(UNKNOWN_COUNTER_RESET) if isinstance(v, FloatHistogram) else v)
            for lab, v in samples]


def _value_at(s: InstantSeries) -> float | FloatHistogram:
    if s.hist is not None and s.hist[0] is not None:
        h: FloatHistogram = s.hist[0]
        return h
    return float(s.values[0])


def _expected_value(sample: Any) -> float | FloatHistogram:
    """An ``exp_samples`` item's value: its ``histogram:`` when set (then ``value`` is ignored)."""
    if not sample.histogram:
        return float(sample.value)
    values = parse_series_samples(sample.histogram)
    if len(values) != 1:
        raise SeriesNotationError(f"expected 1 value, got {len(values)}")
    if not isinstance(values[0], FloatHistogram):
        raise SeriesNotationError(f"expected histogram, got {values[0]}")
    return values[0]


def _same_value(exp: float | FloatHistogram, got: float | FloatHistogram, fuzzy: bool) -> bool:
    """promtool compares histograms by their series notation (``TestExpression``), floats exactly."""
    if isinstance(exp, FloatHistogram) or isinstance(got, FloatHistogram):
        return (isinstance(exp, FloatHistogram) and isinstance(got, FloatHistogram)
                and exp.test_expression() == got.test_expression())
    return _float_equal(exp, got, fuzzy)


@dataclass
class Observation:
    """What a test group's rules and queries actually produce (no expectations involved).

    ``alerts[(alertname, eval_time_ms)]`` are the firing alerts as (labels, annotations);
    ``samples[(expr, eval_time_ms)]`` the query results as (labels, value) or an error
    string; ``error`` a rule-file or rule-evaluation error that stopped the group.
    """

    alerts: dict[tuple[str, int], list[tuple[dict[str, str], dict[str, str]]]] = field(
        default_factory=dict)
    samples: dict[tuple[str, int], list[SampleValue] | str] = field(default_factory=dict)
    error: str | None = None
    mode: str = ""


def observe_group(test_file: RuleTestFile, group: TestGroup, *, semantics: str = "3",
                  mode: str | None = None) -> Observation:
    """Evaluate a test group's rules and queries and report the actual results.

    Useful to write expectations, and the basis of the differential test against promtool.
    """
    obs = Observation()
    try:
        rule_groups = rule_groups_of(test_file)
        eval_ms = test_file.evaluation_interval_ms
        steps = np.arange(group.start_ms, group.start_ms + group.max_eval_time_ms + 1, eval_ms,
                          dtype=np.int64)
        run = evaluate_groups(rule_groups, _load_storage(group, eval_ms), steps, semantics=semantics,
                              subquery_step_ms=eval_ms, external_labels=group.external_labels,
                              external_url=group.external_url,
                              extra_exprs=[c.expr for c in group.expr_cases], mode=mode,
                              limits=test_file.limits)
    except (RuleFileError, PromQLError) as exc:
        obs.error = str(exc)
        return obs
    obs.mode = run.mode
    for case in group.alert_cases:
        step = case.eval_time_ms // eval_ms
        if step < run.steps_done:
            obs.alerts[(case.alertname, case.eval_time_ms)] = sorted(
                ((a.labels, a.annotations) for _, r in run.rules()
                 if isinstance(r, AlertingRule) and r.name == case.alertname
                 for a in run.alerts_at(r, step) if a.state.value == "firing"), key=sample_key)
    if run.error is not None:
        obs.error = str(run.error)
        return obs
    for expr_case in group.expr_cases:
        try:
            obs.samples[(expr_case.expr, expr_case.eval_time_ms)] = _query(
                run, group, expr_case.expr, expr_case.eval_time_ms)
        except PromQLError as exc:
            obs.samples[(expr_case.expr, expr_case.eval_time_ms)] = str(exc)
    return obs


def _mark_coverage(cov: RuleCoverage, run: GroupRun, keys: dict[int, RuleKey],
                   firing_tested: set[int], group: TestGroup) -> None:
    by_name: dict[str, list[RecordingRule]] = {}
    reads: dict[int, set[str]] = {}
    for _, rule in run.rules():
        if isinstance(rule, RecordingRule):
            by_name.setdefault(rule.name, []).append(rule)
        reads[id(rule)] = _names(parse_expr(rule.expr)) or set()
    wanted: set[str] = set()
    for case in group.expr_cases:
        wanted |= _names(parse_expr(case.expr)) or set()
    for _, rule in run.rules():
        if id(rule) in firing_tested:
            cov.mark(keys[id(rule)], "firing")
            wanted |= reads[id(rule)]
    seen: set[str] = set()
    while wanted - seen:
        name = (wanted - seen).pop()
        seen.add(name)
        for rule in by_name.get(name, []):
            cov.mark(keys[id(rule)], "tested")
            wanted |= reads[id(rule)]


def run_rule_tests(paths: list[str] | tuple[str, ...], *, semantics: str = "3",
                   run: list[str] | None = None, ignore_unknown_fields: bool = False,
                   limits: Limits = DEFAULT_LIMITS, features: FeatureSet | None = None,
                   debug: bool = False, diff: Style | None = None) -> RuleTestReport:
    """Run every test file (globs allowed); ``run`` regexes select groups by name like ``--run``.

    ``semantics`` is ``"2"``, ``"3"`` or a release such as ``"2.53"``: the
    files are read with that release's fields and defaults, the engine
    follows its major version (:mod:`~pytest_selfslo.rulefmt.releases`).
    Input over ``limits`` (or the PromQL size limits) raises
    :class:`~pytest_selfslo.errors.LimitError` rather than failing a test.
    ``features``, ``debug`` and ``diff``: promtool's flags (:func:`run_test_group`).
    """
    try:
        pattern = compile_go("|".join(run)) if run else None
    except GoRegexError as exc:
        raise InputError(f"--run: {exc}") from None
    options = _Options(semantics, pattern, ignore_unknown_fields, limits,
                       features or FeatureSet(), debug, diff)
    report = RuleTestReport(semantics=semantics)
    for raw in paths:
        for path in sorted(glob.glob(raw)) if glob.has_magic(raw) else [raw]:
            report.files.append(_run_file(path, options))
    return report


@dataclass(frozen=True)
class _Options:
    semantics: str
    pattern: Regexp | None
    ignore_unknown_fields: bool
    limits: Limits
    features: FeatureSet
    debug: bool
    diff: Style | None


def _run_file(path: str, options: _Options) -> FileResult:
    try:
        test_file = load_test_file(path, ignore_unknown_fields=options.ignore_unknown_fields,
                                   semantics=options.semantics, limits=options.limits)
    except RuleTestFileError as exc:
        return FileResult(path, error=str(exc))
    selected = [g for g in test_file.groups
                if options.pattern is None or options.pattern.search(g.name or "")]
    started = _dt.datetime.now().strftime("%Y-%m-%dT%H:%M:%S")
    try:
        if test_file.groups:
            gated = gated_rules(rule_groups_of(test_file), options.semantics, options.features)
            if gated:
                raise RuleFileError(gated)
    except RuleFileError as exc:  # each problem once, not once per group
        return FileResult(path, error=str(exc), rule_error=True, started=started,
                          failed_groups=tuple(g.display_name for g in selected))
    result = FileResult(path, warnings=list(test_file.warnings),
                        rule_files=tuple(test_file.rule_files), started=started)
    for group in selected:
        result.groups.append(run_test_group(test_file, group, semantics=options.semantics,
                                            features=options.features, debug=options.debug,
                                            diff=options.diff))
    return result
