"""Which rules a rule unit-test suite actually exercises.

Definitions (per rule, keyed by file, group, name and kind):

* alerting rule -- ``firing`` when a *passing* test group has an
  ``alert_rule_test`` expecting at least one alert of it; ``silent`` when it is
  only tested expecting no alert (or only in failing groups); ``untested``
  otherwise;
* recording rule -- ``tested`` when its name is selected by a
  ``promql_expr_test`` expression, or when it is (transitively) read by a tested
  alerting rule or tested recording rule; ``untested`` otherwise.

The percentage counts ``firing`` and ``tested`` as covered: a rule that is only
ever shown *not* to fire has not been shown to work.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

__all__ = ["RuleCoverage", "RuleKey"]

_RANK = {"untested": 0, "silent": 1, "firing": 2, "tested": 2}


@dataclass(frozen=True, order=True)
class RuleKey:
    """Identity of a rule: file, group, name and kind (``alert`` or ``record``).

    Rules sharing a name in one group (several recording rules writing
    ``job:errors:rate5m`` for different label sets) share one entry: tests select
    series by name, so coverage is tracked per name.
    """

    file: str
    group: str
    name: str
    kind: str


@dataclass
class RuleCoverage:
    """Status per rule; merge results of several groups/files with :meth:`merge`.

    Example::

        cov = RuleCoverage()
        cov.mark(RuleKey("r.yml", "g", "Down", "alert"), "firing")
        print(cov.percentage, cov.format_table())
    """

    status: dict[RuleKey, str] = field(default_factory=dict)

    def add(self, key: RuleKey) -> None:
        """Register a rule as known (untested unless marked)."""
        self.status.setdefault(key, "untested")

    def mark(self, key: RuleKey, status: str) -> None:
        """Raise ``key`` to ``status`` (never lowers: firing beats silent beats untested)."""
        current = self.status.get(key, "untested")
        if _RANK[status] >= _RANK[current]:
            self.status[key] = status

    def merge(self, *others: RuleCoverage) -> RuleCoverage:
        """A new coverage holding the best status of every rule across ``self`` and ``others``."""
        out = RuleCoverage(dict(self.status))
        for other in others:
            for key, status in other.status.items():
                out.add(key)
                out.mark(key, status)
        return out

    @property
    def percentage(self) -> float:
        """Share of rules that are ``firing`` or ``tested`` (100.0 when there are no rules)."""
        if not self.status:
            return 100.0
        covered = sum(1 for s in self.status.values() if s in ("firing", "tested"))
        return 100.0 * covered / len(self.status)

    def untested(self) -> list[RuleKey]:
        """Rules nothing exercises."""
        return sorted(k for k, s in self.status.items() if s == "untested")

    def format_table(self, statuses: Iterable[str] | None = None) -> str:
        """A fixed-width table: file, group, kind, name, status, plus the total line.

        ``statuses`` keeps only the rows with those statuses (e.g. ``untested`` and
        ``silent``); no row left prints no header, only the total line."""
        keep = None if statuses is None else set(statuses)
        rows = [("FILE", "GROUP", "KIND", "RULE", "STATUS")]
        rows += [(k.file, k.group, k.kind, k.name, s) for k, s in sorted(self.status.items())
                 if keep is None or s in keep]
        if len(rows) == 1 and keep is not None:
            return f"rule coverage: {self.percentage:.1f}% of {len(self.status)} rules"
        widths = [max(len(r[i]) for r in rows) for i in range(5)]
        lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
                 for row in rows]
        lines.append(f"rule coverage: {self.percentage:.1f}% of {len(self.status)} rules")
        return "\n".join(lines)

    @classmethod
    def of(cls, keys: Iterable[RuleKey]) -> RuleCoverage:
        """Coverage with every key registered as untested."""
        cov = cls()
        for key in keys:
            cov.add(key)
        return cov
