"""Offline replay: what would the controller have done on this recorded data?

Recorded data (heartbeat logs and/or promtool-style series files) is loaded
into the embedded engine's storage; the policy's gates are evaluated with
range queries on a decision grid, the alert rules (if given) with the
embedded rule evaluator on the same grid, and every step goes through the
same pure :func:`~pytest_selfslo.canary.machine.decide` the live tuner uses.
The result is the timeline of decisions with their reasons.

A policy with a ``compare:`` block gets its baseline comparison at every step:
the window's samples (``self_<score>[window]`` from the heartbeats, or the
policy's per-cohort expressions) are split by the bucketing of ``token_id`` at
the sampling the replayed canary has *at that step*, tested, and the
statistics printed on the timeline.

Series file format (YAML, like promtool's ``input_series``)::

    interval: 10s            # sample spacing (default 1m)
    start: 1700000000        # unix seconds of the first sample (default 0)
    input_series:
      - series: 'stability_score_ema{instance="a"}'
        values: '0.93x360'
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from pytest_selfslo._core.durations import parse_duration
from pytest_selfslo._core.errors import InputError, located
from pytest_selfslo.alerting.ruleeval import evaluate_groups
from pytest_selfslo.canary.cohorts import compare_samples, split_series
from pytest_selfslo.canary.comparison import CohortStats
from pytest_selfslo.canary.machine import Action, CanaryState, Decision, Observation, decide
from pytest_selfslo.canary.policy import CanaryPolicy, ComparePolicy
from pytest_selfslo.canary.source import series_values, vector_steps
from pytest_selfslo.heartbeat import read_heartbeats
from pytest_selfslo.promql.engine import Engine
from pytest_selfslo.promql.series import parse_series_line
from pytest_selfslo.promql.storage import Storage
from pytest_selfslo.rulefmt.goyaml import compose, read_document_or_raise, to_python
from pytest_selfslo.rulefmt.model import AlertState
from pytest_selfslo.rulefmt.rulefile import load_rule_files

__all__ = ["SimulationResult", "load_heartbeats_into", "load_series_file", "simulate",
           "simulate_files"]

_METRICS = ("coherence", "continuity", "presence", "stress")


def load_heartbeats_into(storage: Storage, path: str | Path,
                         notes: list[str] | None = None) -> tuple[float, float]:
    """Add the four SELF gauges of every heartbeat in ``path``; returns (first, last) timestamp.

    Malformed lines (a torn last line of a crashed writer, say) are skipped and
    described in ``notes``, as ``selfslo replay`` does.
    """

    beats = read_heartbeats(path)
    if beats.skipped and notes is not None:
        first = beats.bad_lines[0] if beats.bad_lines else "?"
        notes.append(f"{path}: skipped {beats.skipped} malformed line(s), first at line {first}"
                     + (f" ({beats.reasons[0]})" if beats.reasons else ""))
    if not beats:
        raise InputError(located("no valid heartbeats to simulate", path))
    by_token: dict[str, list[Any]] = {}
    for hb in beats:
        by_token.setdefault(hb.token_id, []).append(hb)
    for token, rows in by_token.items():
        ts = [round(hb.ts * 1000) for hb in rows]
        for metric in _METRICS:
            storage.add_samples({"__name__": f"self_{metric}", "token_id": token}, ts,
                                [getattr(hb, metric) for hb in rows])
    stamps = [hb.ts for hb in beats]
    return min(stamps), max(stamps)


def load_series_file(storage: Storage, path: str | Path) -> tuple[float, float]:
    """Load a series YAML file (see the module doc); returns (first, last) sample time in seconds.

    Read like a promtool unit-test file (the one positioned YAML reader, Go's
    ``yaml.v2``; a regular file only, its size, depth and aliases bounded);
    every problem is an :class:`InputError` ``path:line:col: why``.
    """
    spath = str(path)
    text = read_document_or_raise(path, "the series file", InputError)
    root, problem = compose(text, spath)
    if problem is not None:
        raise InputError(str(problem) if problem.code == "yaml-syntax" else
                         located(f"invalid YAML: {problem.message}", spath, problem.line,
                                 problem.column))
    data, nodes, problems = to_python(root, spath)
    if problems:
        raise InputError(str(problems[0]))

    def at(message: str, key: str = "") -> InputError:
        node = nodes.get(key) or root
        return InputError(located(message, spath, node.line if node else None,
                                  node.column if node else None))

    if not isinstance(data, dict):
        raise at(f"expected a mapping with an 'input_series' list, got {type(data).__name__}")
    if not isinstance(data.get("input_series"), list):
        raise at("expected a mapping with an 'input_series' list, got input_series: "
                 f"{data.get('input_series')!r}", "input_series")
    try:
        interval_ms = parse_duration(str(data.get("interval", "1m")))
    except ValueError:
        raise at(f"interval: expected a duration such as 10s, got {data.get('interval')!r}",
                 "interval") from None
    start = data.get("start", 0)
    if isinstance(start, bool) or not isinstance(start, (int, float)):
        raise at(f"start: expected unix seconds, got {start!r}", "start")
    if interval_ms <= 0:
        raise at("interval: expected a positive duration, got 0", "interval")
    start_ms = round(start * 1000)
    longest = 0
    for i, entry in enumerate(data["input_series"]):
        key = f"input_series[{i}]"
        if not isinstance(entry, dict) or "series" not in entry or "values" not in entry:
            raise at(f"{key}: expected {{series, values}}, got {entry!r}", key)
        line = f"{entry['series']} {entry['values']}"
        try:
            count = len(parse_series_line(line)[1])
            storage.load(line, interval_ms, start_ms)
        except InputError as exc:
            raise at(f"{key}: {exc}", key) from None
        longest = max(longest, count)
    return start_ms / 1000.0, (start_ms + max(longest - 1, 0) * interval_ms) / 1000.0


@dataclasses.dataclass(frozen=True)
class SimulationResult:
    """Every decision of a replay, in time order."""

    decisions: tuple[Decision, ...]
    policy: CanaryPolicy
    #: what the replay had to skip or assume (malformed input lines, ...)
    notes: tuple[str, ...] = ()

    @property
    def final_sampling(self) -> float:
        """The sampling after the last decision."""
        return self.decisions[-1].next if self.decisions else self.policy.floor

    def first(self, action: Action) -> Decision | None:
        """The first decision with ``action`` (``None`` if it never happened)."""
        return next((d for d in self.decisions if d.action is action), None)

    def first_firing(self) -> Decision | None:
        """The first decision that saw a firing rollback alert."""
        return next((d for d in self.decisions if d.firing_alerts), None)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: every decision dict plus the final sampling."""
        return {"final_sampling": self.final_sampling, "notes": list(self.notes),
                "decisions": [d.to_dict() for d in self.decisions]}

    def timeline(self, every_decision: bool = False) -> str:
        """Readable timeline: each change of action, sampling or comparison verdict (or every
        decision), with reasons and the comparison's statistics."""
        if not self.decisions:
            return "(no decisions)"
        t0 = self.decisions[0].at
        lines = []
        previous: tuple[Any, ...] | None = None
        for d in self.decisions:
            key = (d.action.value, d.next, d.comparison.verdict if d.comparison else None)
            if not every_decision and key == previous and d is not self.decisions[-1]:
                continue
            previous = key
            stamp = _dt.datetime.fromtimestamp(d.at, _dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
            change = (f"{d.current:>5.0%} -> {d.next:.0%}" if d.next != d.current
                      else f"{d.current:>5.0%}")
            stats = f"  [{d.comparison.summary()}]" if d.comparison is not None else ""
            lines.append(f"{stamp} (+{_elapsed(d.at - t0)})  {d.action.value.upper():<8} "
                         f"{change:<14} {'; '.join(_decisive(d.reasons))}{stats}")
        return "\n".join(lines)


def _decisive(reasons: Sequence[str]) -> list[str]:
    """The reasons that explain the action (passing gates are noise in a timeline)."""
    telling = [r for r in reasons if " passes: " not in r]
    return telling or list(reasons[-1:])


def _elapsed(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600:d}h{s % 3600 // 60:02d}m{s % 60:02d}s"


def simulate(policy: CanaryPolicy, storage: Storage, start: float, end: float, *,
             every: float = 60.0, groups: Sequence[Any] = (), initial: CanaryState | None = None,
             semantics: str = "3") -> SimulationResult:
    """Replay ``storage`` from ``start`` to ``end`` (unix seconds), one decision every ``every`` s."""
    if every <= 0:
        raise InputError(f"every: expected a positive number of seconds, got {every!r}")
    steps = np.arange(round(start * 1000), round(end * 1000) + 1, round(every * 1000), dtype=np.int64)
    if len(steps) == 0:
        return SimulationResult((), policy)
    firing_by_step: list[list[dict[str, str]]] = [[] for _ in steps]
    if groups:

        run = evaluate_groups(groups, storage, steps, semantics=semantics)
        for group in groups:
            for rule in group.alerting_rules:
                for i in range(len(steps)):
                    for alert in run.alerts_at(rule, i):
                        if alert.state is AlertState.FIRING:
                            firing_by_step[i].append(dict(alert.labels))
    engine = Engine(storage, semantics=semantics)
    table: dict[str, list[tuple[float | None, str | None]]] = {}
    errors: dict[str, str] = {}
    for gate in policy.gates:
        try:
            table[gate.name] = vector_steps(engine.evaluate(gate.expr, steps), len(steps))
        except Exception as exc:  # an unevaluable gate is an error in every observation
            errors[gate.name] = f"gate {gate.name}: {type(exc).__name__}: {exc}"
    compare = _Comparisons(policy.compare, engine, steps) if policy.compare is not None else None
    state = initial or CanaryState(sampling=policy.floor, since=start,
                                   step=policy.step_index(policy.floor))
    decisions = []
    for i, t_ms in enumerate(steps.tolist()):
        at = t_ms / 1000.0
        gates = {name: col[i][0] for name, col in table.items()}
        notes = {name: note for name, col in table.items() if (note := col[i][1]) is not None}
        obs = Observation(gates=gates, firing_alerts=firing_by_step[i],
                          error="; ".join(errors.values()) or None, at=at, notes=notes,
                          comparison=compare.at(i, state.sampling) if compare else None)
        decision = decide(policy, state, obs, at)
        decisions.append(decision)
        state = decision.state
    return SimulationResult(tuple(decisions), policy)


class _Comparisons:
    """The ``compare:`` block's cohorts on the decision grid, evaluated once, split per step."""

    def __init__(self, policy: ComparePolicy, engine: Engine, steps: np.ndarray) -> None:
        self.policy = policy
        self.error: str | None = None
        exprs = [policy.expr] if policy.canary is None else [policy.canary, str(policy.baseline)]
        self.results: list[Any] = []
        try:
            self.results = [engine.evaluate(expr, steps) for expr in exprs]
        except Exception as exc:  # an unevaluable expression: every comparison is inconclusive
            self.error = f"compare: {type(exc).__name__}: {exc}"

    def at(self, i: int, sampling: float) -> CohortStats:
        """The statistics at step ``i`` with the canary at ``sampling``."""
        if self.error is not None:
            return CohortStats(0, 0, sampling=sampling, note=self.error)
        if len(self.results) == 1:
            cohorts = split_series(series_values(self.results[0], i), self.policy.label, sampling)
            if cohorts.note is not None:
                return CohortStats(0, 0, sampling=sampling, note=cohorts.note)
            canary, baseline = cohorts.canary, cohorts.baseline
        else:
            pooled = [[v for _, v in series_values(r, i)] for r in self.results]
            canary, baseline = (np.concatenate(p) if p else np.zeros(0) for p in pooled)
        return compare_samples(self.policy, canary, baseline, sampling=sampling)


def simulate_files(policy: CanaryPolicy, *, heartbeats: Iterable[str | Path] = (),
                   series: Iterable[str | Path] = (), rules: Iterable[str | Path] = (),
                   every: float = 60.0, semantics: str = "3") -> SimulationResult:
    """Load heartbeat logs, series files and rule files, then :func:`simulate` over their span."""
    storage = Storage()
    spans: list[tuple[float, float]] = []
    notes: list[str] = []
    for path in heartbeats:
        spans.append(load_heartbeats_into(storage, path, notes))
    for path in series:
        spans.append(load_series_file(storage, path))
    if not spans:
        raise InputError("nothing to simulate: give --heartbeats FILE or --series FILE")
    groups: list[Any] = []
    rule_paths = [str(p) for p in rules]
    if rule_paths:

        groups = load_rule_files(rule_paths)
    start = min(s for s, _ in spans)
    end = max(e for _, e in spans)
    result = simulate(policy, storage, start, end, every=every, groups=groups, semantics=semantics)
    return dataclasses.replace(result, notes=tuple(notes))

