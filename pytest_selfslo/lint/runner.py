"""``lint_paths``: load files, parse every expression once, run every check.

The pytest plugin and ``selfslo lint`` both call :func:`lint_paths`; it
never raises on bad input (every problem is a :class:`Finding`), only on a
path that does not exist or an unknown check id.

    >>> from pytest_selfslo.lint import Severity, lint_paths
    >>> from pytest_selfslo.slo import DEFAULT_SLO_SPEC
    >>> findings = lint_paths(["rules/"], slo=DEFAULT_SLO_SPEC)
    >>> [f.format() for f in findings if f.severity is Severity.ERROR]
    []
"""

from __future__ import annotations

import contextlib
import gc
import glob
import itertools
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_selfslo._core.safeio import read_regular
from pytest_selfslo.lint.cache import LintCache, file_deps
from pytest_selfslo.lint.checks.promql import (
    check_vector_matching,
    expr_facts,
    series_matching_problems,
)
from pytest_selfslo.lint.checks.structure import check_file, runbook_candidates
from pytest_selfslo.lint.config import LintConfig
from pytest_selfslo.lint.context import LintContext
from pytest_selfslo.lint.documents import load_files
from pytest_selfslo.lint.domain import text_uses_self_metrics
from pytest_selfslo.lint.drift import drift_findings
from pytest_selfslo.lint.findings import Finding, Severity, resolve_codes
from pytest_selfslo.lint.loader import load_file, read_rule_text
from pytest_selfslo.lint.model import RuleFile
from pytest_selfslo.lint.prepare import expand_paths, parse_exprs
from pytest_selfslo.lint.promql_walk import parse_promql
from pytest_selfslo.promql.exprguard import check_expr
from pytest_selfslo.promql.series import (
    check_series_values,
    count_series_values,
    parse_series_labels,
    parse_series_values,
)
from pytest_selfslo.rulefmt.goyaml import MAX_DOCUMENT_BYTES

if TYPE_CHECKING:
    from pytest_selfslo.canary.policy import CanaryPolicy
    from pytest_selfslo.slo.spec import SLOSpec

__all__ = ["expand_paths", "has_errors", "lint_files", "lint_paths", "parse_exprs",
           "self_domain_applies"]


def _series_labels(text: str) -> dict[str, str]:
    try:
        return dict(parse_series_labels(text))
    except ValueError:
        raise
    except BaseException as exc:  # a promql-parser panic (pyo3 PanicException)
        if type(exc).__name__ != "PanicException":
            raise
        raise ValueError(f"invalid series descriptor {text!r}: parser panic") from None


#: series longer than this are validated without being expanded and give no shape
#: (0+1x10000000 would be 10 million floats); real test series have hundreds of values
_SHAPE_VALUES = 100_000


def _shape(values: list[Any]) -> str | None:
    """"gauge" when test values cannot be a counter's (negative, or falling to a non-zero
    value twice: a restart resets a counter to zero), "counter" when they only rise."""
    numbers = [v for v in values if v is not None and v == v]
    steps = list(itertools.pairwise(numbers))
    if any(v < 0 for v in numbers):
        return "gauge"
    falls = sum(1 for a, b in steps if b < a and b != 0)
    if falls >= 2:
        return "gauge"
    if falls == 0 and any(b > a for a, b in steps):
        return "counter"
    return None


class _TestData:
    """What a unit-test file tells about the rule files it loads."""

    def __init__(self) -> None:
        #: label sets of the input series, one list per ``tests[]`` entry
        self.groups: list[list[dict[str, str]]] = []
        self.rule_files: list[Path] = []
        #: metric -> shapes of its input series' values ("counter"/"gauge")
        self.shapes: dict[str, set[str]] = {}


def _check_test_file(rf: RuleFile) -> _TestData:
    """SL005/SL003/SL036 on a unit-test file; what it tells about the rule files it loads."""
    assert rf.tests is not None
    base = Path(rf.path).parent
    data = _TestData()

    def add(code: str, line: int, col: int, message: str) -> None:
        found = rf.finding(code, line, col, message)
        if found is not None:
            rf.findings.append(found)

    for fld in rf.tests.rule_files:
        hits = sorted(glob.glob(str(base / fld.value)))
        if not hits:
            add("SL005", fld.line, fld.column, f"rule_files: {fld.value!r} matches no file "
                f"(relative to {base})")
        data.rule_files += [Path(h) for h in hits]
    for group_series, group_exprs in rf.tests.groups:
        series: list[dict[str, str]] = []
        for sel, values in group_series:
            check_expr(sel.value, f"{rf.path}:{sel.line}:{sel.column}")
            try:
                labels = _series_labels(sel.value)
            except ValueError as exc:
                add("SL005", sel.line, sel.column, f"input_series: {exc}")
                continue
            series.append(labels)
            if values is sel or "{{" in values.value:  # native histograms: promtool-only
                continue
            try:
                if count_series_values(values.value) > _SHAPE_VALUES:
                    check_series_values(values.value)  # validated, never expanded
                    continue
                parsed = parse_series_values(values.value)
            except ValueError as exc:
                add("SL005", values.line, values.column, f"input_series values: {exc}")
                continue
            shape = _shape(list(parsed))
            name = labels.get("__name__")
            if shape is not None and name:
                data.shapes.setdefault(name, set()).add(shape)
        data.groups.append(series)
        seen: set[tuple[int, int, str]] = set()
        for fld in group_exprs:
            try:
                ast = parse_promql(fld.value, f"{rf.path}:{fld.line}:{fld.column}")
            except ValueError as exc:
                add("SL003", fld.line, fld.column, f"promql_expr_test: could not parse "
                    f"{fld.value!r}: {exc}")
                continue
            for _needle, message in series_matching_problems(ast, series):
                if (fld.line, fld.column, message) not in seen:
                    seen.add((fld.line, fld.column, message))
                    add("SL036", fld.line, fld.column, f"promql_expr_test: {message}")
    return data


def _other_tests(rule_files: Sequence[RuleFile], loaded: dict[str, RuleFile],
                 candidates: Sequence[Path]) -> list[RuleFile]:
    """Unit-test files among ``candidates`` (files the run was given) that were not loaded.

    The cached path lints only the files that changed; a unit test it did not
    reload still feeds SL036 of the rule files it loads. Only files the user
    named (or that a named directory holds) are ever read: ``lint dir/ok.yml``
    does not look at ``dir/``'s other files.
    """
    dirs = {Path(rf.path).parent for rf in rule_files if rf.kind == "rules"}
    extra = []
    for p in candidates:
        if str(p) in loaded or p.parent not in dirs:
            continue
        text = read_rule_text(p)  # bounded, regular files only
        if isinstance(text, RuleFile):  # reported when that file itself is linted
            continue
        if "rule_files" in text and "tests" in text:
            other = load_file(p, text)
            if other.kind == "tests":
                extra.append(other)
    return extra


def lint_files(files: Sequence[RuleFile], ctx: LintContext, *,
               keep_ast: bool = True, candidates: Sequence[Path] = ()) -> list[Finding]:
    """Run every check over already-loaded files.

    ``keep_ast=False`` lets rules whose AST no later step needs (no unit-test
    series for SL036) go without it (see :func:`parse_exprs`); the drift check
    needs every AST. ``candidates`` are the run's other files, read only for
    the unit tests among them (see :func:`_other_tests`).
    """
    by_path = {rf.path: rf for rf in files}
    resolved = {Path(rf.path).resolve(): rf for rf in files if rf.kind == "rules"}
    for tf in [rf for rf in files if rf.kind == "tests"] + _other_tests(files, by_path,
                                                                          candidates):
        data = _check_test_file(tf)
        for target in data.rule_files:
            rule_file = resolved.get(target.resolve())
            if rule_file is None:
                continue
            ctx.known_series.setdefault(rule_file.path, []).extend(data.groups)
            ctx.series_sources[rule_file.path] = Path(tf.path).name
            shapes = ctx.series_shapes.setdefault(rule_file.path, {})
            for name, found in data.shapes.items():
                shapes.setdefault(name, set()).update(found)
    parsed: dict[str, Any] = {}
    for rf in files:
        parse_exprs(rf, parsed, None if keep_ast or rf.path in ctx.known_series else ctx)
    _gauge_uses(files, ctx)
    out: list[Finding] = []
    for rf in files:
        out += rf.findings
        if rf.kind != "rules":
            continue
        out += check_file(rf, ctx)
        out.extend(check_vector_matching(rf, ctx))
    return out


def _gauge_uses(files: Sequence[RuleFile], ctx: LintContext) -> None:
    """Record, per rule file, the metrics it passes to gauge functions (SL030 evidence)."""
    memo = ctx.expr_problems
    for rf in files:
        if rf.kind != "rules":
            continue
        uses: dict[str, str] = {}
        for rule in rf.rules():
            index = rule.expr_index
            if index is None:
                continue
            text = rule.expr.value
            facts = memo.get(text)
            if facts is None:
                facts = memo[text] = expr_facts(text, index, ctx.scrape_interval, ctx.self_domain)
            for name, fn in facts[3]:
                uses.setdefault(name, f"{fn}() in {rule.where}")
        if uses:
            ctx.gauge_uses[rf.path] = uses


def self_domain_applies(config: LintConfig, texts: Iterable[str], opted_in: bool = False) -> bool:
    """Whether the SELF domain checks run: ``domain`` on, or auto and the project is a SELF
    one (``opted_in``: an SLO spec or canary policy is configured, or a text names a SELF
    metric)."""
    if config.domain != "auto":
        return config.domain == "on"
    return opted_in or any(text_uses_self_metrics(t) for t in texts)


def lint_paths(paths: Iterable[str | Path], *, slo: SLOSpec | None = None,
               policy: CanaryPolicy | None = None,
               disabled: Iterable[str] = (), root: str | Path | None = None,
               scrape_interval: float | None = None, slo_path: str | Path | None = None,
               policy_path: str | Path | None = None,
               cache_dir: str | Path | None = None,
               severities: Iterable[str] | None = None,
               config: LintConfig | None = None, opted_in: bool = False,
               metric_types: Mapping[str, str] | None = None) -> list[Finding]:
    """Lint rule files (directories are searched) and, with ``slo``/``policy``, check drift.

    The one lint of the project: ``selfslo lint``, the ``::lint`` items of
    ``pytest --self-slo`` and its JSON report all come from here, with a
    :class:`LintConfig` (:func:`.config.find_lint_config`). ``disabled``,
    ``scrape_interval`` and ``severities`` (allowed ``severity`` label values,
    SL021) override the config's keys. The SELF domain checks apply when
    ``config.domain`` is on, or auto and the project is a SELF one: ``opted_in``
    (an SLO spec or canary policy is configured), ``slo``/``policy`` given, or
    a linted file names a SELF metric. ``metric_types`` (a server's metadata)
    decides counter vs gauge for SL030. Findings come back sorted by path, line
    and column. Raises ConfigError for a path that does not exist and
    ValueError for an unknown check in ``disabled``. With ``cache_dir``,
    unchanged files reuse their findings from an earlier run (:mod:`.cache`);
    the cache is bypassed when drift is checked.
    """
    config = config or LintConfig()
    config = config.replace(disabled=config.disabled | resolve_codes(disabled))
    if scrape_interval is not None:
        config = config.replace(scrape_interval=scrape_interval)
    if severities is not None:
        config = config.replace(allowed_severities=frozenset(severities))
    ctx = LintContext(root=Path(root) if root is not None else None,
                      scrape_interval=config.scrape_interval,
                      severities=config.allowed_severities,
                      required_annotations=config.required_annotations,
                      metric_types=dict(metric_types or {}))
    targets = expand_paths(paths)
    opted_in = opted_in or slo is not None or policy is not None
    with _no_gc():
        if cache_dir is not None and slo is None and policy is None:
            return sorted(config.apply(_lint_cached(targets, ctx, Path(cache_dir), config,
                                                    opted_in)))
        files = [rf for p in targets for rf in load_files(p)]
        ctx.self_domain = self_domain_applies(config, (rf.text for rf in files), opted_in)
        findings = lint_files(files, ctx, keep_ast=slo is not None or policy is not None)
        if slo is not None or policy is not None:
            findings += drift_findings(files, slo, policy, spec_path=slo_path,
                                       policy_path=policy_path)
        # freed while the GC is paused: re-enabled with the rules still alive, its next
        # collection would first traverse every object they hold
        del files, ctx
        return sorted(config.apply(findings))


@contextlib.contextmanager
def _no_gc() -> Iterator[None]:
    """Pause the cyclic GC while building the node trees: they are acyclic and short-lived,
    and collections triggered by the allocation burst cost a third of the run."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _read_target(path: Path) -> bytes | None:
    """The bytes of a file to lint (bounded like :func:`read_rule_text`); None when it cannot
    be read, which its own load then reports (and nothing is cached)."""
    try:
        return read_regular(path, MAX_DOCUMENT_BYTES, "the rule file")
    except OSError:
        return None


def _lint_cached(targets: Sequence[Path], ctx: LintContext, cache_dir: Path,
                 config: LintConfig, opted_in: bool) -> list[Finding]:
    """Lint ``targets`` reusing cached per-file findings; store the new ones.

    Entries hold the findings before ``config.apply`` (its severities and disables
    are applied to hits and misses alike)."""
    contents = [(path, _read_target(path)) for path in targets]
    ctx.self_domain = self_domain_applies(
        config, (data.decode("utf-8", errors="replace") for _p, data in contents if data),
        opted_in)
    settings = (f"scrape={ctx.scrape_interval}|sev={sorted(ctx.severities)}|root={ctx.root}"
                f"|required={list(ctx.required_annotations)}|domain={ctx.self_domain}"
                f"|types={sorted(ctx.metric_types.items())}")
    cache = LintCache(cache_dir, settings)
    out: list[Finding] = []
    misses: list[tuple[Path, bytes, list[RuleFile]]] = []
    unreadable: list[RuleFile] = []
    for path, data in contents:
        if data is None:
            unreadable += load_files(path)  # an SL001 that says why
            continue
        hit = cache.get(path, data)
        if hit is not None:
            out += hit
            continue
        misses.append((path, data, load_files(path, data.decode("utf-8", errors="replace"))))
    out += [f for rf in unreadable for f in rf.findings]
    if misses:
        fresh = lint_files([rf for _p, _d, rfs in misses for rf in rfs], ctx, keep_ast=False,
                           candidates=targets)
        for path, data, rfs in misses:
            mine = [f for f in fresh if f.path == str(path)]
            links = [link for rf in rfs if rf.kind == "rules"
                     for link in runbook_candidates(rf, ctx)]
            cache.put(path, data, mine, file_deps(path, links))
            out += mine
    return out


def has_errors(findings: Iterable[Finding]) -> bool:
    """True when any finding is an error (``selfslo lint`` then exits 1)."""
    return any(f.severity is Severity.ERROR for f in findings)


