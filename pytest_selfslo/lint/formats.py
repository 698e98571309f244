"""Lint findings (and SLO drift) in the CI formats of :mod:`pytest_selfslo._core.reportformats`.

    >>> print(format_findings(findings, "sarif", notes=notes))  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from pytest_selfslo._core.reportformats import Annotation, Tool, ToolRule, render
from pytest_selfslo._core.version import __version__
from pytest_selfslo.lint.findings import CHECKS, Finding, Severity

__all__ = ["finding_annotations", "format_findings", "lint_tool"]


def lint_tool() -> Tool:
    """``selfslo lint`` and its checks, for SARIF's ``tool.driver``."""
    return Tool("selfslo lint", __version__, tuple(
        ToolRule(c.code, c.name, c.summary, _level(c.severity)) for c in CHECKS.values()))


def _level(severity: Severity) -> str:
    return "error" if severity is Severity.ERROR else "warning"


def finding_annotations(findings: Iterable[Finding]) -> list[Annotation]:
    """Findings as format-neutral annotations."""
    return [Annotation(f.path, f.line, f.column, f.code, f.name, _level(f.severity), f.message)
            for f in findings]


def format_findings(findings: Sequence[Finding], fmt: str, notes: Sequence[str] = ()) -> str:
    """Render findings in ``fmt`` (text, json, github, sarif, checkstyle), no trailing newline.

    ``notes`` ("skipped: why" lines of the online checks) go into the SARIF log;
    the other formats leave them to the caller.
    """
    return render(finding_annotations(findings), fmt, lint_tool(), notes=notes)
