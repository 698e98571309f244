"""Alerting and recording rules, rule groups, and their evaluation over time.

The definitions mirror Prometheus' ``rules/`` package: a :class:`RuleGroup`
holds :class:`RecordingRule` and :class:`AlertingRule` objects in file order.
:func:`~pytest_selfslo.rulefmt.rulefile.load_rule_files` builds them from rule
files; :mod:`pytest_selfslo.alerting.ruleeval` evaluates them on a step grid
(recording rules write back into storage, alerts run the pending/firing state
machine) the way ``promtool test rules`` does.

Example::

    groups = load_rule_files(["rules/*.yml"])
    for group in groups:
        for rule in group.rules:
            print(group.name, rule.kind, rule.name)
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

__all__ = ["AlertState", "AlertingRule", "RecordingRule", "Rule", "RuleGroup"]


class AlertState(enum.Enum):
    """State of one alert instance (Prometheus ``rules.AlertState``)."""

    INACTIVE = "inactive"
    PENDING = "pending"
    FIRING = "firing"


@dataclass(frozen=True)
class RecordingRule:
    """``record: name`` -- the expression's result is stored under ``name``.

    Example: ``RecordingRule(name="job:up:sum", expr="sum by (job) (up)")``.
    """

    name: str
    expr: str
    labels: dict[str, str] = field(default_factory=dict)
    file: str = ""
    line: int = 0
    #: 1-based position of the rule inside its group (what promtool reports)
    index: int = 0
    kind: str = "record"
    #: 1-based line and column of the ``expr`` value in its file ((0, 0): unknown)
    expr_pos: tuple[int, int] = field(default=(0, 0), compare=False)


@dataclass(frozen=True)
class AlertingRule:
    """``alert: name`` -- each output series is an alert instance.

    An instance is *pending* from the first evaluation its series is present and
    *firing* once it has been present for ``for_ms``; after it disappears it keeps
    firing for ``keep_firing_for_ms``. Example::

        AlertingRule(name="Down", expr="up == 0", for_ms=300_000,
                     labels={"severity": "page"},
                     annotations={"summary": "{{ $labels.instance }} down"})
    """

    name: str
    expr: str
    for_ms: int = 0
    keep_firing_for_ms: int = 0
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    file: str = ""
    line: int = 0
    index: int = 0
    kind: str = "alert"
    #: 1-based line and column of the ``expr`` value in its file ((0, 0): unknown)
    expr_pos: tuple[int, int] = field(default=(0, 0), compare=False)


Rule = RecordingRule | AlertingRule


@dataclass(frozen=True)
class RuleGroup:
    """A named group of rules evaluated in order at one interval.

    ``interval_ms`` is 0 when the file leaves it to the global default;
    ``query_offset_ms`` shifts every evaluation into the past; ``limit`` caps the
    number of series (recording) or alerts (alerting) a rule may produce (0: none).
    """

    name: str
    file: str
    rules: tuple[Rule, ...]
    interval_ms: int = 0
    query_offset_ms: int = 0
    limit: int = 0
    line: int = 0

    @property
    def alerting_rules(self) -> tuple[AlertingRule, ...]:
        """Only the alerting rules, in order."""
        return tuple(r for r in self.rules if isinstance(r, AlertingRule))

    @property
    def recording_rules(self) -> tuple[RecordingRule, ...]:
        """Only the recording rules, in order."""
        return tuple(r for r in self.rules if isinstance(r, RecordingRule))
