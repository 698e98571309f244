"""Mutation results and their text, JSON and GitHub renderings.

Per surviving mutant: ``file:line:col`` of the mutated field, the operator id
and name, the rule, the mutated field as a ``-``/``+`` diff, where the original
and the mutant differ, and the suggested test (a ``tests:`` entry to paste)::

    rules/alerts.yml:9:11: MU01 threshold-step survived in CoherenceLow (MU01#1: < 0.8 -> < 0.801)
      - avg_over_time(self_coherence[5m]) < 0.8
      + avg_over_time(self_coherence[5m]) < 0.801
      no test fails; they differ at eval_time 5m on a generated input (constant 0.8)
      suggested test (paste under `tests:` in rules/tests/alerts_test.yml):
      - name: ...

The score is killed / (killed + survived + equivalent-suspect) in percent;
mutants marked equivalent in the rule file are not counted.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pytest_selfslo.mutate.engine import Mutant
    from pytest_selfslo.mutate.sites import Marker, RuleSite

__all__ = ["EQUIVALENT", "KILLED", "STATUSES", "SURVIVED", "SUSPECT", "Difference",
           "MutantResult", "MutationReport", "RuleResult", "Suggestion", "format_results",
           "score"]

KILLED = "killed"
SURVIVED = "survived"
SUSPECT = "equivalent-suspect"
EQUIVALENT = "equivalent"
STATUSES = (KILLED, SURVIVED, SUSPECT, EQUIVALENT)


@dataclass(frozen=True)
class Difference:
    """Where original and mutant differ: test file, which input, ``eval_time``, input kind."""

    test_file: str
    where: str
    eval_time: str
    source: str


@dataclass(frozen=True)
class Suggestion:
    """A verified ``tests:`` entry for ``test_file`` that kills the mutant."""

    test_file: str
    yaml: str


@dataclass
class MutantResult:
    """One mutant's outcome."""

    mutant: Mutant
    status: str
    killed_by: str | None = None
    difference: Difference | None = None
    suggestion: Suggestion | None = None
    marker: Marker | None = None
    note: str | None = None

    def to_json(self, root: Path | None = None) -> dict[str, Any]:
        """JSON-ready form."""
        m = self.mutant
        line, col = m.position
        return {
            "id": m.id, "operator": m.operator.code, "operator_name": m.operator.name,
            "rule": m.site.name, "file": _rel(m.site.path, root), "line": line, "column": col,
            "field": m.field, "detail": m.detail, "status": self.status,
            "original": m.before, "mutant": m.after, "killed_by": _rel(self.killed_by, root),
            "difference": None if self.difference is None else {
                "test_file": _rel(self.difference.test_file, root),
                "where": self.difference.where, "eval_time": self.difference.eval_time,
                "source": self.difference.source},
            "suggestion": None if self.suggestion is None else {
                "test_file": _rel(self.suggestion.test_file, root), "yaml": self.suggestion.yaml},
            "equivalent_reason": None if self.marker is None else self.marker.reason,
            "note": self.note,
        }

    def format(self, root: Path | None = None, same_as: str | None = None) -> str:
        """The survivor message: position, operator, diff, difference, suggested test.

        ``same_as`` names an earlier mutant whose suggested test is the same one.
        """
        m = self.mutant
        line, col = m.position
        head = (f"{_rel(m.site.path, root)}:{line}:{col}: {m.operator.code} {m.operator.name} "
                f"{self.status} in {m.site.name} ({m.id}: {m.detail})")
        out = [head, *(f"  {d}" for d in m.diff())]
        if self.status == SUSPECT:
            out.append("  no test fails, and no input was found where the mutant differs: if it "
                       "is equivalent, mark it in the rule file with "
                       f"`# selfslo-mutate: equivalent={m.id} <reason>`")
        if self.difference is not None:
            out.append(f"  no test fails; original and mutant differ at eval_time "
                       f"{self.difference.eval_time} on {_rel_text(self.difference.where, root)}")
        if self.suggestion is not None and same_as is not None:
            out.append(f"  suggested test: the one shown for {same_as} kills it too")
        elif self.suggestion is not None:
            out.append(f"  suggested test (paste under `tests:` in "
                       f"{_rel(self.suggestion.test_file, root)}):")
            out.append(self.suggestion.yaml.rstrip("\n"))
        elif self.status == SURVIVED:
            out.append("  (no suggested test could be verified)")
        if self.note:
            out.append(f"  note: {self.note}")
        return "\n".join(out)


def format_results(results: list[MutantResult], root: Path | None = None) -> list[str]:
    """Each result's message; a suggested test already shown is referred to, not repeated."""
    shown: dict[tuple[str, str], str] = {}
    out = []
    for result in results:
        same_as = None
        if result.suggestion is not None:
            body = result.suggestion.yaml.split("\n", 1)[-1]
            key = (result.suggestion.test_file, body)
            same_as = shown.get(key)
            if same_as is None:
                shown[key] = f"{result.mutant.site.name} {result.mutant.id}"
        out.append(result.format(root, same_as))
    return out


def _rel(path: str | None, root: Path | None) -> str | None:
    if path is None or root is None:
        return path
    head, sep, tail = path.partition("::")
    try:
        rel = os.path.relpath(head, root)
    except ValueError:
        return path
    return (head if rel.startswith("..") else rel) + sep + tail


def _rel_text(text: str, root: Path | None) -> str:
    if root is None:
        return text
    return text.replace(str(root).rstrip("/") + "/", "")


def score(counts: dict[str, int]) -> float:
    """killed / (killed + survived + equivalent-suspect) in percent (100 when nothing counts)."""
    total = counts.get(KILLED, 0) + counts.get(SURVIVED, 0) + counts.get(SUSPECT, 0)
    return 100.0 if total == 0 else 100.0 * counts.get(KILLED, 0) / total


@dataclass
class RuleResult:
    """The mutants of one rule."""

    site: RuleSite
    mutants: list[MutantResult] = field(default_factory=list)
    skipped: str | None = None
    discarded: list[str] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        """Mutants per status."""
        out = dict.fromkeys(STATUSES, 0)
        for m in self.mutants:
            out[m.status] += 1
        return out

    @property
    def score(self) -> float:
        """This rule's mutation score in percent."""
        return score(self.counts)

    @property
    def open(self) -> list[MutantResult]:
        """Survivors and equivalent-suspects (what lowers the score)."""
        return [m for m in self.mutants if m.status in (SURVIVED, SUSPECT)]

    def to_json(self, root: Path | None = None) -> dict[str, Any]:
        """JSON-ready form."""
        s = self.site
        return {"file": _rel(s.path, root), "group": s.group.name, "rule": s.name,
                "kind": s.rule.kind, "line": s.rule.line, "score": round(self.score, 2),
                "counts": self.counts, "skipped": self.skipped, "discarded": self.discarded,
                "mutants": [m.to_json(root) for m in self.mutants]}


@dataclass
class MutationReport:
    """Every rule's mutants: ``score``, ``counts``, ``format_text()``, ``to_json()``."""

    rules: list[RuleResult] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        """Mutants per status over every rule."""
        out = dict.fromkeys(STATUSES, 0)
        for r in self.rules:
            for k, v in r.counts.items():
                out[k] += v
        return out

    @property
    def score(self) -> float:
        """The mutation score in percent."""
        return score(self.counts)

    def exit_code(self, fail_under: float = 100.0) -> int:
        """0 when the score reaches ``fail_under``, else 1."""
        return 0 if self.score >= fail_under else 1

    def summary(self) -> str:
        """``mutation score: 97.5% (killed 195, survived 5, ...)``."""
        c = self.counts
        total = sum(c.values())
        return (f"mutation score: {self.score:.1f}% (killed {c[KILLED]}, survived {c[SURVIVED]}, "
                f"equivalent-suspect {c[SUSPECT]}, marked equivalent {c[EQUIVALENT]}; "
                f"{total} mutants of {len(self.rules)} rules)")

    def format_text(self, root: Path | None = None) -> str:
        """Every open mutant's message, then the summary."""
        blocks = format_results([m for r in self.rules for m in r.open], root)
        notes = [f"{_rel(m.mutant.site.path, root)}:{m.mutant.position[0]}: note: {m.note}"
                 for r in self.rules for m in r.mutants if m.note and m.status == KILLED]
        return "\n\n".join([*blocks, *notes, self.summary()])

    def format_github(self, root: Path | None = None) -> str:
        """GitHub workflow annotations: one per open mutant, then a notice with the score."""
        lines = []
        for r in self.rules:
            for m in r.open:
                line, col = m.mutant.position
                level = "error" if m.status == SURVIVED else "warning"
                title = f"{m.mutant.operator.code} {m.mutant.operator.name} {m.status}"
                body = m.format(root).replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
                lines.append(f"::{level} file={_rel(m.mutant.site.path, root)},line={line},"
                             f"col={col},title={title}::{body}")
        lines.append(f"::notice title=mutation score::{self.summary()}")
        return "\n".join(lines)

    def to_json(self, root: Path | None = None) -> dict[str, Any]:
        """Machine-readable report (``--format json``)."""
        return {"score": round(self.score, 2), "counts": self.counts,
                "rules": [r.to_json(root) for r in self.rules]}
