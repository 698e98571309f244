"""Rule coverage across a ``pytest --self-slo`` run: ship, merge, print, threshold.

The definitions are the embedded runner's
(:class:`pytest_selfslo.ruletest.coverage.RuleCoverage`): an alerting rule is
``firing`` (a passing test expects it to fire), ``silent`` (only ever tested
expecting no alert) or ``untested``; a recording rule is ``tested`` or
``untested``; the percentage counts ``firing`` and ``tested``.

This module adds what a distributed pytest run needs: each rule-test item turns
its group's coverage into a plain list (:func:`coverage_payload`, which
survives the trip from an xdist worker in the test report), each collected rule
file's ``valid`` item sends its rules as untested (:func:`rules_payload`), and
:class:`CoverageTracker` on the controlling process merges them. So coverage is
over what was collected from the paths given: the rule files collected and the
rule files their collected tests load, never every file the globs match.
File names are made relative to the rootdir so the same rule file reached
through ``rules/tests/../phase_c_rules.yml`` and ``rules/phase_c_rules.yml``
is one rule.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pytest_selfslo._core.limits import DEFAULT_LIMITS, Limits

__all__ = ["CoverageTracker", "coverage_payload", "rules_payload"]

Payload = list[list[str]]


def _relative(file: str, root: Path) -> str:
    path = Path(os.path.normpath(Path(file).absolute()))
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


def coverage_payload(coverage: Any, root: Path) -> Payload:
    """``[[file, group, kind, name, status], ...]`` of a ``RuleCoverage`` (JSON-ready)."""
    return sorted([_relative(k.file, root), k.group, k.kind, k.name, status]
                  for k, status in coverage.status.items())


def rules_payload(path: Path, root: Path, limits: Limits = DEFAULT_LIMITS,
                  semantics: str = "3") -> Payload:
    """Every rule of the rule file ``path`` as ``untested`` (an invalid file, or one over
    ``limits``: none -- its ``valid`` item reports why)."""
    from pytest_selfslo._core.errors import LimitError, RuleFileError
    from pytest_selfslo.rulefmt.rulefile import load_rule_files

    try:
        groups = load_rule_files([path], limits=limits, semantics=semantics)
    except (RuleFileError, LimitError, OSError):
        return []
    return sorted([_relative(group.file, root), group.name, rule.kind, rule.name, "untested"]
                  for group in groups for rule in group.rules)


class CoverageTracker:
    """Merges the coverage payloads of the items that ran (rule tests and rule files)."""

    def __init__(self, root: Path) -> None:
        from pytest_selfslo.ruletest.coverage import RuleCoverage

        self.root = root
        self.coverage = RuleCoverage()

    def add(self, payload: Sequence[Sequence[str]] | None) -> None:
        """Merge one item's :func:`coverage_payload` (None: the item had no coverage)."""
        from pytest_selfslo.ruletest.coverage import RuleKey

        for file, group, kind, name, status in payload or ():
            key = RuleKey(file, group, name, kind)
            self.coverage.add(key)
            self.coverage.mark(key, status)

    def has_rules(self) -> bool:
        """Whether there is any rule to report on."""
        return bool(self.coverage.status)

    def summary(self) -> dict[str, Any]:
        """Per-rule status, counts and percentage (JSON-ready; also the hook's argument)."""
        rules = [{"file": k.file, "group": k.group, "kind": k.kind, "name": k.name, "status": s}
                 for k, s in sorted(self.coverage.status.items())]
        counts = {f"{kind}_{status}": 0 for kind, statuses in
                  (("alert", ("firing", "silent", "untested")), ("record", ("tested", "untested")))
                  for status in statuses}
        for rule in rules:
            counts[f"{rule['kind']}_{rule['status']}"] += 1
        total = len(rules)
        covered = counts["alert_firing"] + counts["record_tested"]
        return {"rules": rules, "counts": counts, "covered": covered, "total": total,
                "percentage": round(self.coverage.percentage, 2)}

    def format_table(self, all_rows: bool = False) -> str:
        """The runner's per-rule table (only untested and silent rules unless ``all_rows``)
        plus a totals line per kind."""
        counts = self.summary()["counts"]
        statuses = None if all_rows else ("untested", "silent")
        return (self.coverage.format_table(statuses) + "\n"
                f"alerting rules: {counts['alert_firing']} firing, {counts['alert_silent']} "
                f"only silent, {counts['alert_untested']} untested; recording rules: "
                f"{counts['record_tested']} tested, {counts['record_untested']} untested")
