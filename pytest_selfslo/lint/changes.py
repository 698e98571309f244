"""``selfslo lint --changed-since REF``: report only on the rules changed since a git revision.

Everything is linted (a check may need the other files: unit-test series,
drift against the spec), then a finding is kept when the rule it is in has a
changed line (:mod:`pytest_selfslo._core.gitdiff`), or, for a finding outside
any rule (a duplicate group name, a YAML error), when its own line changed. A
file that is new since ``REF`` keeps all its findings.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from pytest_selfslo._core.gitdiff import Changes
from pytest_selfslo.lint.documents import load_files
from pytest_selfslo.lint.findings import Finding
from pytest_selfslo.lint.model import RuleFile

__all__ = ["ChangedRules"]


class ChangedRules:
    """The rules of the linted files and which of them changed since ``changes.ref``."""

    def __init__(self, changes: Changes, files: Sequence[RuleFile]) -> None:
        self.changes = changes
        self.ranges: dict[str, list[tuple[int, int]]] = {}
        for rf in files:
            spans = self.ranges.setdefault(rf.path, [])
            spans += [(rule.start_line, rule.end_line) for rule in rf.rules()]

    @classmethod
    def load(cls, changes: Changes, paths: Iterable[str | Path]) -> ChangedRules:
        """Read the rule files at ``paths`` (as the linter expanded them) for their rule spans."""
        return cls(changes, [rf for p in paths for rf in load_files(p)])

    def rule_changed(self, path: str, start: int, end: int) -> bool:
        """Whether the rule spanning ``start``..``end`` of ``path`` has a changed line."""
        return self.changes.touches(path, start, end)

    def keep(self, finding: Finding) -> bool:
        """Whether ``finding`` is about something that changed."""
        for start, end in self.ranges.get(finding.path, ()):
            if start <= finding.line <= end:
                return self.changes.touches(finding.path, start, end)
        return self.changes.touches(finding.path, finding.line, finding.line)

    def filter(self, findings: Iterable[Finding]) -> list[Finding]:
        """The findings about changed rules (see :meth:`keep`)."""
        return [f for f in findings if self.keep(f)]
