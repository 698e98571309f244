"""Run one alert over promtool-notation series and explain its states, for the assertions.

:func:`simulate_alert` loads the series into the embedded engine's storage,
evaluates the rule groups at every evaluation step from 0 to ``at`` (engineer
C's :func:`~pytest_selfslo.alerting.ruleeval.evaluate_groups`, the promtool
algorithm), and returns an :class:`AlertTimeline`: per alert instance, its
state at every step. The timeline turns that into the sentences the
``assert_alert_*`` messages need ("pending since 21m (4m); `for` is 5m").
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import promql_parser

from pytest_selfslo._core.durations import format_duration, parse_duration
from pytest_selfslo._core.errors import PromQLError
from pytest_selfslo._core.names import unknown_name
from pytest_selfslo.alerting.ruleeval import evaluate_groups
from pytest_selfslo.promql.storage import Storage
from pytest_selfslo.rulefmt.model import AlertingRule
from pytest_selfslo.rulefmt.rulefile import groups_from_text, load_rule_files

SeriesInput = str | Mapping[str, str] | Sequence[Mapping[str, str]]

__all__ = ["AlertTimeline", "InstanceTimeline", "SeriesInput", "simulate_alert"]


@dataclass(frozen=True)
class InstanceTimeline:
    """One alert instance: its labels and its state (``inactive``/``pending``/``firing``) per step."""

    labels: dict[str, str]
    states: tuple[str, ...]
    active_at_ms: tuple[int, ...]
    values: tuple[float | None, ...]

    @property
    def state(self) -> str:
        """The state at the last step (``at``)."""
        return self.states[-1]

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        """Whether ``labels`` is a subset of this instance's labels."""
        return all(self.labels.get(k) == v for k, v in (labels or {}).items())


def _fmt_ms(ms: int) -> str:

    return format_duration(ms)


def _labels_text(labels: Mapping[str, str]) -> str:
    shown = {k: v for k, v in labels.items() if k != "alertname"}
    return "{" + ", ".join(f'{k}="{v}"' for k, v in sorted(shown.items())) + "}"


@dataclass(frozen=True)
class AlertTimeline:
    """States of every instance of one alerting rule at every evaluation step up to ``at``."""

    alertname: str
    expr: str
    for_ms: int
    steps_ms: tuple[int, ...]
    instances: tuple[InstanceTimeline, ...]
    #: the rule expression's left-hand side per step when it is ``<lhs> <cmp> <number>``
    lhs: tuple[str, dict[str, float]] | None = None

    @property
    def at_ms(self) -> int:
        return self.steps_ms[-1]

    @property
    def at_text(self) -> str:
        return _fmt_ms(self.at_ms)

    def instances_at_end(self, labels: Mapping[str, str] | None = None) -> list[InstanceTimeline]:
        """Instances whose labels include ``labels`` (all when None)."""
        return [i for i in self.instances if i.matches(labels)]

    def _describe_now(self, inst: InstanceTimeline) -> str:
        if inst.state == "inactive":
            last = max((k for k, s in enumerate(inst.states) if s != "inactive"), default=None)
            if last is None:
                return "inactive"
            return f"inactive (last active at {_fmt_ms(self.steps_ms[last])})"
        since = inst.active_at_ms[-1]
        held = self.at_ms - since
        if inst.state == "pending":
            return (f"pending since {_fmt_ms(since)} (for {_fmt_ms(held)}; "
                    f"`for` is {_fmt_ms(self.for_ms)})")
        return f"firing (active since {_fmt_ms(since)}, {_fmt_ms(held)} ago)"

    def state_summary(self, labels: Mapping[str, str] | None = None) -> str:
        """What the alert was at ``at``, e.g. ``pending since 21m (for 4m; `for` is 5m)``."""
        matching = self.instances_at_end(labels)
        if not matching:
            if self.instances and labels:
                return "never active with those labels"
            return "never active"
        return "; ".join(f"{_labels_text(i.labels)} {self._describe_now(i)}" for i in matching)

    def explain(self, labels: Mapping[str, str] | None = None) -> str:
        """Evidence lines: the rule, each instance's state changes, the expression's values."""
        lines = [f"  rule: alert {self.alertname}: {self.expr} (for: {_fmt_ms(self.for_ms)})",
                 f"  evaluated every {_fmt_ms(self._step())} from 0s to {self.at_text}"]
        if not self.instances:
            lines.append(f"  the expression returned no series at any evaluation "
                         f"from 0s to {self.at_text}")
        for inst in self.instances:
            marker = "" if inst.matches(labels) else " (labels do not match)"
            lines.append(f"  {_labels_text(inst.labels)}{marker}: {self._changes(inst)}")
        if self.lhs is not None and (not self.instances or not self.instances_at_end(labels)
                                     or any(i.state != "firing" for i in self.instances)):
            text, values = self.lhs
            if values:
                shown = ", ".join(f"{series} = {value:.6g}" for series, value in values.items())
                lines.append(f"  at {self.at_text}, {text} was: {shown}")
            else:
                lines.append(f"  at {self.at_text}, {text} returned no series (no data)")
        return "\n".join(lines)

    def _step(self) -> int:
        return self.steps_ms[1] - self.steps_ms[0] if len(self.steps_ms) > 1 else 0

    def _changes(self, inst: InstanceTimeline) -> str:
        parts = []
        previous = "inactive"
        for k, state in enumerate(inst.states):
            if state != previous:
                parts.append(f"{state} at {_fmt_ms(self.steps_ms[k])}")
                previous = state
        return ", ".join(parts) + f"; {inst.state} at {self.at_text}" if parts else "never active"


def _groups(rules: str | Path | Sequence[Any]) -> list[Any]:

    if isinstance(rules, Path) or (isinstance(rules, str) and "\n" not in rules
                                   and not rules.lstrip().startswith("groups:")):
        return load_rule_files([rules])
    if isinstance(rules, str):
        return groups_from_text(textwrap.dedent(rules))
    return list(rules)


def _series_text(series: SeriesInput) -> str:
    if isinstance(series, str):
        return textwrap.dedent(series)
    if isinstance(series, Mapping):
        return "\n".join(f"{selector} {values}" for selector, values in series.items())
    return "\n".join(f"{entry['series']} {entry['values']}" for entry in series)


def _ms(value: str | float) -> int:

    if isinstance(value, str):
        return parse_duration(value)
    return round(float(value) * 1000)


def simulate_alert(rules: str | Path | Sequence[Any], series: SeriesInput, alertname: str,
                   at: str | float, *, interval: str | float = "1m",
                   evaluation_interval: str | float | None = None,
                   semantics: str = "3") -> AlertTimeline:
    """Evaluate the groups defining ``alertname`` from 0 to ``at``; the alert's timeline.

    Raises :class:`AssertionError` (the assertions' failure type) when no rule is
    called ``alertname`` or the rules fail to evaluate, naming what exists.
    """
    __tracebackhide__ = True
    groups = _groups(rules)
    rule = next((r for g in groups for r in g.rules
                 if isinstance(r, AlertingRule) and r.name == alertname), None)
    if rule is None:
        raise AssertionError(unknown_name("alerting rule", alertname,
                                          (r.name for g in groups for r in g.alerting_rules)))
    storage = Storage()
    storage.load(_series_text(series), _ms(interval))
    step = _ms(evaluation_interval if evaluation_interval is not None else interval)
    end = _ms(at)
    steps = np.arange(0, end + 1, step, dtype=np.int64)
    if len(steps) == 0 or steps[-1] != end:
        steps = np.append(steps, np.int64(end))
    run = evaluate_groups(groups, storage, steps, semantics=semantics)
    if run.error is not None:
        raise AssertionError(f"the rules failed to evaluate: {run.error}")
    instances: dict[tuple[tuple[str, str], ...], dict[int, Any]] = {}
    for k in range(len(steps)):
        for alert in run.alerts_at(rule, k):
            instances.setdefault(tuple(sorted(alert.labels.items())), {})[k] = alert
    timelines = tuple(
        InstanceTimeline(
            labels=dict(key),
            states=tuple(per[k].state.value if k in per else "inactive"
                         for k in range(len(steps))),
            active_at_ms=tuple(per[k].active_at_ms if k in per else -1
                               for k in range(len(steps))),
            values=tuple(per[k].value if k in per else None for k in range(len(steps))),
        )
        for key, per in instances.items())
    return AlertTimeline(alertname, rule.expr, rule.for_ms, tuple(int(s) for s in steps),
                         timelines, _lhs_values(run.engine, rule.expr, end))


def _lhs_values(engine: Any, expr: str, at_ms: int) -> tuple[str, dict[str, float]] | None:
    """``(lhs text, {series: value})`` at ``at_ms`` when ``expr`` is ``<lhs> <cmp> <number>``."""
    try:
        node = promql_parser.parse(expr)
    except (ValueError, TypeError):
        return None
    if not (isinstance(node, promql_parser.BinaryExpr) and str(node.op) in
            ("<", "<=", ">", ">=", "==", "!=") and isinstance(node.rhs, promql_parser.NumberLiteral)):
        return None
    try:
        samples = engine.instant_samples(node.lhs, at_ms)
    except PromQLError:
        return None
    return node.lhs.prettify(), {_labels_text(dict(s.labels)): s.value for s in samples}
