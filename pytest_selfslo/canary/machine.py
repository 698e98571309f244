"""The canary decision function: ``decide(policy, state, observation, now) -> Decision``.

PURE: no I/O, no clock, no environment. Everything the decision depends on is
an argument, so the same inputs always give the same decision, it can be
replayed offline (``selfslo canary simulate``) and property-tested. The tuner
gathers the observation, calls :func:`decide` and persists the result.

Order of precedence (first match wins):

1. a firing rollback alert above ``rollback_to`` → ``rollback`` (even when paused);
2. paused → ``paused``;
3. a source error → ``hold`` (the streak of successes restarts);
4. a failing gate (or missing data on a ``no_data: fail`` gate, or a baseline
   comparison judged a ``regression``) → ``hold``, or ``rollback`` after
   ``failure_limit`` consecutive failing observations;
5. missing data on a ``no_data: hold`` gate, or an ``inconclusive`` baseline
   comparison below the top step → ``hold`` (at 100% no baseline is left);
6. all gates green: at 100% → ``complete``; else ``advance`` once the step's
   ``min_dwell`` has passed, ``consecutive_successes`` green observations were
   seen in a row and ``now`` is later than the last change; else ``hold``.

With a ``compare:`` block the comparison's statistics arrive precomputed on
the observation (:class:`~pytest_selfslo.canary.comparison.CohortStats`) and
are judged here by :func:`~pytest_selfslo.canary.comparison.judge`; the
verdict and the statistics are part of the decision.

Counters only move for a *new* observation (``observation.at`` later than the
last one counted), so calling :func:`decide` twice at the same ``now`` with the
same evidence can never advance twice.
"""

from __future__ import annotations

import dataclasses
import enum
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

from pytest_selfslo.canary.comparison import CohortStats, CompareResult, Verdict, judge
from pytest_selfslo.canary.policy import COMPARISONS, CanaryPolicy

__all__ = ["Action", "CanaryState", "Decision", "GateResult", "Observation", "decide"]


class Action(str, enum.Enum):
    """What the controller decided; the string values are the wire format."""

    ADVANCE = "advance"
    HOLD = "hold"
    ROLLBACK = "rollback"
    COMPLETE = "complete"
    PAUSED = "paused"


#: how good an action is for the rollout (monotonicity: better evidence never ranks lower)
ACTION_RANK: dict[Action, int] = {Action.ROLLBACK: 0, Action.HOLD: 1, Action.PAUSED: 1,
                                  Action.ADVANCE: 2, Action.COMPLETE: 2}


@dataclasses.dataclass(frozen=True)
class CanaryState:
    """The controller's durable state (what the store persists).

    ``since`` is the time of the last sampling change; ``last_observed`` the
    time of the last observation counted, so replays never count twice.

    >>> CanaryState(sampling=0.05, since=0.0).paused
    False
    """

    sampling: float
    since: float
    step: int = 0
    paused: bool = False
    version: int = 0
    consecutive_successes: int = 0
    failures: int = 0
    last_observed: float | None = None
    last_decision: Mapping[str, Any] | None = None
    audit_head: str | None = None
    audit_count: int = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready mapping (the state file's content)."""
        out = dataclasses.asdict(self)
        out["last_decision"] = dict(self.last_decision) if self.last_decision is not None else None
        return out


@dataclasses.dataclass(frozen=True)
class Observation:
    """What the metrics source saw at time ``at``.

    ``gates`` maps gate name to its value (``None`` = no data); ``error`` is set
    when the source failed (unreachable, garbage); ``notes`` explains a missing
    gate value (``"no series"``, ``"3 series, expected 1"``); ``comparison``
    carries the baseline comparison's statistics, computed outside ``decide()``
    (``None``: not computed -- inconclusive under a policy with ``compare:``).
    """

    gates: Mapping[str, float | None]
    firing_alerts: Sequence[Mapping[str, str]] = ()
    error: str | None = None
    at: float = 0.0
    notes: Mapping[str, str] = dataclasses.field(default_factory=dict)
    comparison: CohortStats | None = None


class GateResult(NamedTuple):
    """One gate's verdict inside a decision (a named tuple: decisions are made at 100k/s)."""

    name: str
    value: float | None
    comparison: str
    threshold: float
    ok: bool
    missing: bool
    no_data: str

    def to_dict(self) -> dict[str, Any]:
        """``{value, comparison, threshold, ok, missing, no_data}`` for the decision dict."""
        return {"value": self.value, "comparison": self.comparison, "threshold": self.threshold,
                "ok": self.ok, "missing": self.missing, "no_data": self.no_data}


@dataclasses.dataclass(frozen=True)
class Decision:
    """The outcome of :func:`decide`: the action, the sampling before/after and why.

    ``state`` is the next :class:`CanaryState` (version and ``last_decision``
    unchanged: the store bumps the one and the tuner records the other).
    """

    action: Action
    current: float
    next: float
    reasons: tuple[str, ...]
    gates: tuple[GateResult, ...]
    firing_alerts: tuple[Mapping[str, str], ...]
    at: float
    state: CanaryState
    #: the baseline comparison judged under the policy (``None`` without a ``compare:`` block)
    comparison: CompareResult | None = None

    @property
    def changes_sampling(self) -> bool:
        """Whether applying this decision changes the sampling (advance/rollback)."""
        return self.action in (Action.ADVANCE, Action.ROLLBACK)

    def to_dict(self) -> dict[str, Any]:
        """The design's decision dict: ``action``, ``current_canary``, ``next_canary``, ``reasons``, ``gates``."""
        out = {
            "action": self.action.value,
            "current_canary": self.current,
            "next_canary": self.next,
            "reasons": list(self.reasons),
            "gates": {g.name: g.to_dict() for g in self.gates},
            "firing_alerts": [dict(a) for a in self.firing_alerts],
            "at": self.at,
        }
        if self.comparison is not None:
            out["comparison"] = self.comparison.to_dict()
        return out


def _value(raw: float | None) -> float | None:
    """A finite float, or ``None`` for no data (``None``, NaN, infinities, non-numbers)."""
    if type(raw) is float:  # the common case, checked first
        return raw if math.isfinite(raw) else None
    if raw is None or isinstance(raw, bool) or not isinstance(raw, (int, float)):
        return None
    return float(raw) if math.isfinite(raw) else None


#: one gate as ``_evaluate_gates`` reads it: name, comparison, threshold, no_data, operator
_GateSpec = tuple[str, str, float, str, Callable[[float, float], bool]]


def _gate_specs(policy: CanaryPolicy) -> tuple[_GateSpec, ...]:
    """The policy's gates as plain tuples, built once per policy object (kept beside its
    fields, like the comparison's reason texts: equality, hashing and ``asdict`` only see
    the fields)."""
    specs: tuple[_GateSpec, ...] | None = policy.__dict__.get("_gate_specs")
    if specs is None:
        specs = tuple((g.name, g.comparison, g.threshold, g.no_data, COMPARISONS[g.comparison])
                      for g in policy.gates)
        object.__setattr__(policy, "_gate_specs", specs)
    return specs


def _evaluate_gates(policy: CanaryPolicy, observation: Observation) -> tuple[GateResult, ...]:
    if observation.error is not None:  # a failed source: every gate is missing
        return tuple(GateResult(g.name, None, g.comparison, g.threshold, False, True, g.no_data)
                     for g in policy.gates)
    results: list[GateResult] = []
    append = results.append
    get = observation.gates.get
    new = tuple.__new__  # GateResult(...) without the named tuple's Python-level __new__
    for name, comparison, threshold, no_data, compare in _gate_specs(policy):
        raw = get(name)
        # a finite float (inf - inf and nan - nan are nan, never 0.0): the common case, inline
        value = raw if type(raw) is float and raw - raw == 0.0 else _value(raw)
        if value is None:
            append(new(GateResult, (name, None, comparison, threshold, False, True, no_data)))
        else:
            append(new(GateResult, (name, value, comparison, threshold, compare(value, threshold),
                                    False, no_data)))
    return tuple(results)


def _gate_reason(gate: GateResult, note: str | None) -> str:
    spec = f"{gate.name} {gate.comparison} {gate.threshold:g}"  # only for the gates that matter
    if gate.missing:
        return f"no data for gate {spec}" + (f" ({note})" if note else "")
    verdict = "passes" if gate.ok else "fails"
    return f"gate {spec} {verdict}: value {gate.value:.4g}"


def decide(policy: CanaryPolicy, state: CanaryState, observation: Observation,
           now: float) -> Decision:
    """Decide what the canary should do given the evidence (pure, deterministic)."""
    current = state.sampling
    gates = _evaluate_gates(policy, observation)
    cmp = judge(policy.compare, observation.comparison) if policy.compare is not None else None
    fresh = state.last_observed is None or observation.at > state.last_observed
    observed = observation.at if fresh else state.last_observed
    # alerts count even beside a source error: a firing alert that did arrive is real evidence
    firing = tuple(a for a in observation.firing_alerts
                   if any(m.matches(a) for m in policy.rollback_alerts)
                   ) if observation.firing_alerts else ()
    reasons: list[str] = []

    def done(action: Action, target: float, *, paused: bool | None = None,
             consecutive_successes: int | None = None, failures: int | None = None) -> Decision:
        # one constructor call, no dataclasses.replace: decide() runs at >100k decisions/s
        keep_paused = state.paused if paused is None else paused
        if target != current:
            nxt = CanaryState(target, now, policy.step_index(target), keep_paused, state.version,
                              0, 0, observed, state.last_decision, state.audit_head,
                              state.audit_count)
        else:
            nxt = CanaryState(
                current, state.since, state.step, keep_paused, state.version,
                state.consecutive_successes if consecutive_successes is None else consecutive_successes,
                state.failures if failures is None else failures, observed, state.last_decision,
                state.audit_head, state.audit_count)
        return Decision(action, current, target, tuple(reasons), gates, firing, now, nxt, cmp)

    floor = policy.floor
    if firing:
        names = sorted({a.get("alertname", "?") for a in firing})
        if current > floor:
            reasons.append(f"rollback alert firing: {', '.join(names)}; rolling back to {floor:g}")
            return done(Action.ROLLBACK, floor, paused=state.paused or policy.pause_on_rollback)
        reasons.append(f"rollback alert firing: {', '.join(names)}; already at {floor:g}")
        return done(Action.HOLD, current, consecutive_successes=0)
    if state.paused:
        reasons.append("paused: a human must resume the canary")
        return done(Action.PAUSED, current)
    if observation.error is not None:
        reasons.append(f"metrics source error: {observation.error}")
        return done(Action.HOLD, current, consecutive_successes=0)

    failing = [g for g in gates if (not g.missing and not g.ok) or (g.missing and g.no_data == "fail")]
    waiting = [g for g in gates if g.missing and g.no_data == "hold"]
    verdict = cmp.verdict if cmp is not None else None
    for g in gates:
        if g.missing and g.no_data == "ignore":
            reasons.append(_gate_reason(g, observation.notes.get(g.name)) + " (ignored)")
    if failing or verdict is Verdict.REGRESSION:
        failures = state.failures + (1 if fresh else 0)
        reasons.extend(_gate_reason(g, observation.notes.get(g.name)) for g in failing)
        if verdict is Verdict.REGRESSION:
            assert cmp is not None
            reasons.append(cmp.reason)
        if failures >= policy.failure_limit and current > floor:
            reasons.append(f"{failures} consecutive failing observations (limit "
                           f"{policy.failure_limit}); rolling back to {floor:g}")
            return done(Action.ROLLBACK, floor, paused=state.paused or policy.pause_on_rollback)
        if current > floor:
            reasons.append(f"failing observation {failures} of {policy.failure_limit} before rollback")
        else:
            reasons.append(f"failing observation {failures} (at the rollback floor {floor:g})")
        return done(Action.HOLD, current, consecutive_successes=0, failures=failures)
    # at the top step every token is in the canary: no baseline is left to compare with
    unsure = verdict is Verdict.INCONCLUSIVE and policy.next_step(current) is not None
    if waiting or unsure:
        reasons.extend(_gate_reason(g, observation.notes.get(g.name)) for g in waiting)
        if unsure:
            assert cmp is not None
            reasons.append(cmp.reason)
        return done(Action.HOLD, current, consecutive_successes=0)

    successes = state.consecutive_successes + (1 if fresh else 0)
    # green gates are not repeated as reasons: their values are in ``Decision.gates`` (and a
    # passing comparison's statistics in ``Decision.comparison``)
    target = policy.next_step(current)
    if target is None:
        reasons.append(f"at {current:g}: rollout complete")
        return done(Action.COMPLETE, current, consecutive_successes=successes, failures=0)
    dwell = policy.dwell_at(current)
    waited = now - state.since
    if now <= state.since:
        reasons.append(f"no advance at or before the last change (t={state.since:.3f})")
        return done(Action.HOLD, current, consecutive_successes=successes, failures=0)
    if waited < dwell:
        reasons.append(f"dwell: {_secs(waited)} of {_secs(dwell)} at {current:g}")
        return done(Action.HOLD, current, consecutive_successes=successes, failures=0)
    if successes < policy.consecutive_successes:
        reasons.append(f"{successes} of {policy.consecutive_successes} consecutive green observations")
        return done(Action.HOLD, current, consecutive_successes=successes, failures=0)
    green = sum(1 for g in gates if g.ok)
    summary = f"all {green} gates green" if green == len(gates) else \
        f"{green} gates green, {len(gates) - green} ignored (no data)"
    if cmp is not None:
        summary += f", compare {cmp.policy.metric} {cmp.verdict.value}"
    reasons.append(f"{summary} for {successes} observations and {_secs(waited)}; "
                   f"advancing {current:g} -> {target:g}")
    return done(Action.ADVANCE, target)


def _secs(seconds: float) -> str:
    """Seconds for a reason text, to a tenth: ``6.1s``, ``600s`` (not ``6.10063s``)."""
    text = f"{seconds:.1f}".rstrip("0").rstrip(".")
    return f"{text or '0'}s"
