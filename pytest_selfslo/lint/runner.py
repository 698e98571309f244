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
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_selfslo.lint.cache import LintCache, file_deps
from pytest_selfslo.lint.checks.promql import (
    check_vector_matching,
    series_matching_problems,
)
from pytest_selfslo.lint.checks.structure import check_file, runbook_candidates
from pytest_selfslo.lint.context import LintContext
from pytest_selfslo.lint.documents import load_files
from pytest_selfslo.lint.drift import drift_findings
from pytest_selfslo.lint.findings import Finding, Severity, resolve_codes
from pytest_selfslo.lint.loader import load_file
from pytest_selfslo.lint.model import RuleFile
from pytest_selfslo.lint.prepare import expand_paths, parse_exprs
from pytest_selfslo.lint.promql_walk import parse_promql
from pytest_selfslo.promql.series import parse_series_labels, parse_series_values

if TYPE_CHECKING:
    from pytest_selfslo.canary.policy import CanaryPolicy
    from pytest_selfslo.slo.spec import SLOSpec

__all__ = ["expand_paths", "has_errors", "lint_files", "lint_paths", "parse_exprs"]


def _series_labels(text: str) -> dict[str, str]:

    try:
        return dict(parse_series_labels(text))
    except ValueError:
        raise
    except BaseException as exc:  # a promql-parser panic (pyo3 PanicException)
        if type(exc).__name__ != "PanicException":
            raise
        raise ValueError(f"invalid series descriptor {text!r}: parser panic") from None


def _check_test_file(rf: RuleFile) -> tuple[list[dict[str, str]], list[Path]]:
    """SL005/SL003 on a unit-test file; returns its input series and resolved rule files."""
    assert rf.tests is not None
    base = Path(rf.path).parent
    series: list[dict[str, str]] = []
    rule_files: list[Path] = []

    def add(code: str, line: int, col: int, message: str) -> None:
        found = rf.finding(code, line, col, message)
        if found is not None:
            rf.findings.append(found)

    for fld in rf.tests.rule_files:
        hits = sorted(glob.glob(str(base / fld.value)))
        if not hits:
            add("SL005", fld.line, fld.column, f"rule_files: {fld.value!r} matches no file "
                f"(relative to {base})")
        rule_files += [Path(h) for h in hits]
    for sel, values in rf.tests.input_series:
        try:
            series.append(_series_labels(sel.value))
        except ValueError as exc:
            add("SL005", sel.line, sel.column, f"input_series: {exc}")
            continue
        if values is not sel and "{{" not in values.value:  # native histograms: promtool-only

            try:
                parse_series_values(values.value)
            except ValueError as exc:
                add("SL005", values.line, values.column, f"input_series values: {exc}")
    for fld in rf.tests.exprs:
        try:
            ast = parse_promql(fld.value)
        except ValueError as exc:
            add("SL003", fld.line, fld.column, f"promql_expr_test: could not parse "
                f"{fld.value!r}: {exc}")
            continue
        for _needle, message in series_matching_problems(ast, series):
            add("SL036", fld.line, fld.column, f"promql_expr_test: {message}")
    return series, rule_files


def _sibling_tests(rule_files: Sequence[RuleFile], loaded: dict[str, RuleFile]) -> list[RuleFile]:
    """Unit-test files next to linted rule files that were not linted themselves."""
    dirs = {Path(rf.path).parent for rf in rule_files if rf.kind == "rules"}
    extra = []
    for d in sorted(dirs):
        for p in sorted(d.glob("*.y*ml")):
            if str(p) in loaded:
                continue
            try:
                text = p.read_text(encoding="utf-8")
            except OSError:
                continue
            if "rule_files" in text and "tests" in text:
                sib = load_file(p, text)
                if sib.kind == "tests":
                    extra.append(sib)
    return extra


def lint_files(files: Sequence[RuleFile], ctx: LintContext, *,
               keep_ast: bool = True) -> list[Finding]:
    """Run every check over already-loaded files.

    ``keep_ast=False`` lets rules whose AST no later step needs (no unit-test
    series for SL036) go without it (see :func:`parse_exprs`); the drift check
    needs every AST.
    """
    by_path = {rf.path: rf for rf in files}
    for tf in [rf for rf in files if rf.kind == "tests"] + _sibling_tests(files, by_path):
        series, targets = _check_test_file(tf)
        for target in targets:
            for rf in files:
                if rf.kind == "rules" and Path(rf.path).resolve() == target.resolve():
                    ctx.known_series.setdefault(rf.path, []).extend(series)
                    ctx.series_sources[rf.path] = Path(tf.path).name
    parsed: dict[str, Any] = {}
    for rf in files:
        parse_exprs(rf, parsed, None if keep_ast or rf.path in ctx.known_series else ctx)
    out: list[Finding] = []
    for rf in files:
        out += rf.findings
        if rf.kind != "rules":
            continue
        out += check_file(rf, ctx)
        out.extend(check_vector_matching(rf, ctx))
    return out


def lint_paths(paths: Iterable[str | Path], *, slo: SLOSpec | None = None, policy: CanaryPolicy | None = None,
               disabled: Iterable[str] = (), root: str | Path | None = None,
               scrape_interval: float | None = None, slo_path: str | Path | None = None,
               policy_path: str | Path | None = None,
               cache_dir: str | Path | None = None,
               severities: Iterable[str] | None = None) -> list[Finding]:
    """Lint rule files (directories are searched) and, with ``slo``/``policy``, check drift.

    ``disabled`` holds check ids or names turned off for every file. Findings
    come back sorted by path, line and column. Raises ConfigError for a path
    that does not exist and ValueError for an unknown check in ``disabled``.
    ``severities`` replaces the allowed ``severity`` label values (SL021). With ``cache_dir``, unchanged files reuse their findings from an earlier run
    (:mod:`.cache`); the cache is bypassed when drift is checked.
    """
    off = resolve_codes(disabled)
    ctx = LintContext(root=Path(root) if root is not None else None)
    if scrape_interval is not None:
        ctx.scrape_interval = scrape_interval
    if severities is not None:
        ctx.severities = frozenset(severities)
    targets = expand_paths(paths)
    with _no_gc():
        if cache_dir is not None and slo is None and policy is None:
            return sorted(f for f in _lint_cached(targets, ctx, Path(cache_dir))
                          if f.code not in off)
        files = [rf for p in targets for rf in load_files(p)]
        findings = lint_files(files, ctx, keep_ast=slo is not None or policy is not None)
        if slo is not None or policy is not None:

            findings += drift_findings(files, slo, policy, spec_path=slo_path,
                                       policy_path=policy_path)
        # freed while the GC is paused: re-enabled with the rules still alive, its next
        # collection would first traverse every object they hold
        del files, ctx
        return sorted(f for f in findings if f.code not in off)


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


def _lint_cached(targets: Sequence[Path], ctx: LintContext, cache_dir: Path) -> list[Finding]:
    """Lint ``targets`` reusing cached per-file findings; store the new ones."""

    settings = f"scrape={ctx.scrape_interval}|sev={sorted(ctx.severities)}|root={ctx.root}"
    cache = LintCache(cache_dir, settings)
    out: list[Finding] = []
    misses: list[tuple[Path, bytes, list[RuleFile]]] = []
    for path in targets:
        data = path.read_bytes()
        hit = cache.get(path, data)
        if hit is not None:
            out += hit
            continue
        misses.append((path, data, load_files(path, data.decode("utf-8", errors="replace"))))
    if misses:
        fresh = lint_files([rf for _p, _d, rfs in misses for rf in rfs], ctx, keep_ast=False)
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


