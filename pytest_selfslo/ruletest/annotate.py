"""Rule-test failures and coverage gaps as positioned annotations (``--format github|sarif|...``).

* ``RT001 test-failure`` -- a test case failed: at the ``alert_rule_test`` /
  ``promql_expr_test`` entry (or the test group, for an evaluation error);
* ``RT002 test-file`` -- a unit-test file, or a rule file it loads, is invalid:
  at each problem's position;
* ``RT003 untested-rule`` -- (with ``--coverage``) a rule no passing test
  shows firing (alerts) or reads (recording rules): at the rule.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from pytest_selfslo._core.errors import RuleFileError
from pytest_selfslo._core.limits import DEFAULT_LIMITS
from pytest_selfslo._core.reportformats import Annotation, Tool, ToolRule
from pytest_selfslo._core.safeio import read_regular_text
from pytest_selfslo.rulefmt.rulefile import load_rule_files
from pytest_selfslo.ruletest.coverage import RuleKey

if TYPE_CHECKING:
    from pytest_selfslo._core.gitdiff import Changes
    from pytest_selfslo.ruletest.runner import RuleTestReport

__all__ = ["CHECKS", "coverage_annotations", "filter_changed", "report_annotations",
           "rule_test_tool"]

#: code -> (name, level, summary)
CHECKS: dict[str, tuple[str, str, str]] = {
    "RT001": ("test-failure", "error", "a rule unit test failed"),
    "RT002": ("test-file", "error",
              "a rule unit-test file, or a rule file it loads, is invalid"),
    "RT003": ("untested-rule", "warning",
              "no passing test shows the alert firing or reads the recording rule"),
}
#: a source file quoted in annotations is a rule file: the rule-file budget
_MAX_SOURCE_BYTES = DEFAULT_LIMITS.max_file_bytes
_POSITION = re.compile(r"^\s*(?P<path>.+?):(?P<line>\d+):(?P<col>\d+): (?P<message>.*)$")


def rule_test_tool(version: str) -> Tool:
    """``selfslo test-rules`` and its annotation codes, for SARIF's ``tool.driver``."""
    return Tool("selfslo test-rules", version, tuple(
        ToolRule(code, name, summary, level) for code, (name, level, summary) in CHECKS.items()))


def _annotation(code: str, path: str, line: int, column: int, message: str) -> Annotation:
    name, level, _summary = CHECKS[code]
    return Annotation(path, max(line, 1), max(column, 1), code, name, level, message)


@cache
def _lines(path: str) -> tuple[str, ...]:
    try:
        return tuple(read_regular_text(path, _MAX_SOURCE_BYTES, "the rule file").split("\n"))
    except (OSError, UnicodeDecodeError):
        return ()


def _column(path: str, line: int) -> int:
    """The column of the entry starting at ``line`` (after its ``- ``), 1 if unknown."""
    lines = _lines(path)
    if not 0 < line <= len(lines):
        return 1
    text = lines[line - 1]
    return len(text) - len(text.lstrip(" -")) + 1


def _problems(path: str, text: str, fallback_line: int) -> list[Annotation]:
    """RT002 annotations of an error text made of ``path:line:col: message`` lines."""
    out = []
    for raw in text.splitlines():
        m = _POSITION.match(raw)
        if m is not None:
            out.append(_annotation("RT002", m["path"], int(m["line"]), int(m["col"]),
                                   m["message"]))
    if not out and text.strip():
        out.append(_annotation("RT002", path, fallback_line, _column(path, fallback_line),
                               " ".join(text.split())))
    return out


def report_annotations(report: RuleTestReport, *, coverage: bool = False) -> list[Annotation]:
    """What a :class:`~.runner.RuleTestReport` found, one annotation per failure.

    With ``coverage``, one ``RT003`` per rule that is ``untested`` or only ``silent``.
    """
    out: list[Annotation] = []
    _lines.cache_clear()
    for f in report.files:
        if f.error:
            out += _problems(f.path, f.error, 1)
        for group in f.groups:
            for line, text in zip(group.failure_lines, group.failures, strict=True):
                if _is_problem_list(text):  # a rule file the group loads is invalid
                    out += _problems(f.path, text, line)
                    continue
                message = f"test group {group.name!r} failed:\n" + _dedent(text)
                out.append(_annotation("RT001", f.path, line, _column(f.path, line), message))
    if coverage:
        out += coverage_annotations(report.coverage.status.items())
    return out


def _is_problem_list(text: str) -> bool:
    first = text.splitlines()[0] if text.strip() else ""
    m = _POSITION.match(first)
    return m is not None and Path(m["path"]).is_file()


def _dedent(text: str) -> str:
    lines = text.splitlines()
    pad = min((len(x) - len(x.lstrip()) for x in lines if x.strip()), default=0)
    return "\n".join(x[pad:] for x in lines).strip()


def coverage_annotations(status: Iterable[tuple[RuleKey, str]]) -> list[Annotation]:
    """RT003 for every rule key whose status is ``untested`` or ``silent``."""
    out = []
    positions: dict[str, dict[tuple[str, str, str], int]] = {}
    for key, state in sorted(status, key=lambda item: str(item[0])):
        if state not in ("untested", "silent"):
            continue
        file, group, name, kind = key.file, key.group, key.name, key.kind
        if file not in positions:
            positions[file] = _rule_lines(file)
        line = positions[file].get((group, name, kind), 1)
        if kind == "alert":
            what = (f"alert {name} is only tested not to fire" if state == "silent"
                    else f"alert {name} is not tested")
            why = "no passing test expects it to fire"
        else:
            what = f"recording rule {name} is not tested"
            why = "no passing test or tested rule reads it"
        out.append(_annotation("RT003", file, line, _column(file, line),
                               f'{what} (group "{group}"): {why}'))
    return out


def _rule_lines(file: str) -> dict[tuple[str, str, str], int]:
    try:
        groups = load_rule_files([file])
    except RuleFileError:
        return {}
    lines: dict[tuple[str, str, str], int] = {}
    for group in groups:
        for rule in group.rules:
            lines.setdefault((group.name, rule.name, rule.kind), rule.line)
    return lines


def _spans(starts: Iterable[int]) -> list[tuple[int, int]]:
    """[start, next start - 1] for sorted entry starts (the last one to the end of the file)."""
    ordered = sorted(set(starts))
    return [(a, b - 1) for a, b in zip(ordered, [*ordered[1:], 10**9], strict=True)]


def _span_of(line: int, spans: list[tuple[int, int]]) -> tuple[int, int]:
    return next(((a, b) for a, b in spans if a <= line <= b), (line, line))


def filter_changed(found: Iterable[Annotation], report: RuleTestReport,
                   changes: Changes) -> list[Annotation]:
    """The annotations about what changed since ``changes.ref`` (``--changed-since``).

    A failure is kept when its test group changed or a rule file it loads did;
    a file problem when its line changed; a coverage gap when its rule changed.
    """
    groups = {f.path: _spans(g.line for g in f.groups if g.line) for f in report.files}
    loads = {f.path: f.rule_files for f in report.files}
    rule_spans: dict[str, list[tuple[int, int]]] = {}
    out = []
    for a in found:
        if a.code == "RT001":
            first, last = _span_of(a.line, groups.get(a.path, []))
            keep = changes.touches(a.path, first, last) or any(
                changes.lines(r) is None or changes.lines(r) for r in loads.get(a.path, ()))
        elif a.code == "RT003":
            if a.path not in rule_spans:
                rule_spans[a.path] = _spans(_rule_lines(a.path).values())
            first, last = _span_of(a.line, rule_spans[a.path])
            keep = changes.touches(a.path, first, last)
        else:
            keep = changes.touches(a.path, a.line, a.line)
        if keep:
            out.append(a)
    return out
