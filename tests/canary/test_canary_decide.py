"""Properties of the pure decision function ``decide`` (issue 6, acceptance 1)."""

from __future__ import annotations

import dataclasses

from hypothesis import given, settings, strategies as st

from pytest_selfslo.canary.machine import (
    ACTION_RANK,
    Action,
    CanaryState,
    Observation,
    decide,
)
from pytest_selfslo.canary.policy import DEFAULT_POLICY, CanaryPolicy, Gate
from pytest_selfslo.plugin.canary_strategies import (
    canary_observations,
    canary_states,
    green_observation,
    passing_value,
)

NOW = 1e6
P = DEFAULT_POLICY
FAST = CanaryPolicy(steps=(0.1, 0.5, 1.0), gates=P.gates, rollback_alerts=P.rollback_alerts,
                    min_dwell=(0.0,), consecutive_successes=1, failure_limit=1,
                    pause_on_rollback=False)
POLICIES = st.sampled_from([P, FAST])
SETTINGS = settings(max_examples=60, deadline=None)


_STRATEGIES = {
    (id(policy), alerts): (canary_states(policy, now=NOW), canary_observations(policy, at=0.0, alerts=alerts))
    for policy in (P, FAST) for alerts in (None, True)
}


@st.composite
def cases(draw: st.DrawFn, alerts: bool | None = None
          ) -> tuple[CanaryPolicy, CanaryState, Observation, float]:
    policy = draw(POLICIES)
    states, observations = _STRATEGIES[(id(policy), alerts)]
    obs = dataclasses.replace(draw(observations), at=draw(st.floats(0, NOW)))
    return policy, draw(states), obs, NOW


@SETTINGS
@given(cases())
def test_sampling_stays_on_steps_and_advance_moves_exactly_one(case: tuple) -> None:
    policy, state, obs, now = case
    d = decide(policy, state, obs, now)
    assert d.next in policy.steps or d.next == policy.floor
    assert d.current == state.sampling
    i = policy.steps.index(state.sampling)
    if d.action is Action.ADVANCE:
        assert d.next == policy.steps[i + 1]
    elif d.action is Action.ROLLBACK:
        assert d.next == policy.floor < d.current
    else:
        assert d.next == d.current
    assert d.state.sampling == d.next


@SETTINGS
@given(cases())
def test_never_advances_with_a_failing_or_missing_gate_error_or_alert(case: tuple) -> None:
    policy, state, obs, now = case
    d = decide(policy, state, obs, now)
    if d.action is Action.ADVANCE:
        assert obs.error is None
        assert all(g.ok and not g.missing for g in d.gates)
        assert not any(m.matches(a) for a in obs.firing_alerts for m in policy.rollback_alerts)
        assert not state.paused


@SETTINGS
@given(cases(alerts=True))
def test_a_firing_rollback_alert_always_rolls_back(case: tuple) -> None:
    policy, state, obs, now = case
    obs = dataclasses.replace(obs, error=None)
    d = decide(policy, state, obs, now)
    if state.sampling > policy.floor:
        assert d.action is Action.ROLLBACK
        assert d.next == policy.floor
        assert any("rollback alert firing" in r for r in d.reasons)
    else:
        assert d.action is Action.HOLD


_PASSING = {gate: passing_value(gate) for policy in (P, FAST) for gate in policy.gates}


@st.composite
def improvements(draw: st.DrawFn) -> tuple[CanaryPolicy, CanaryState, Observation, Observation]:
    """A worse observation and a better one: some gates made to pass, some alerts cleared."""
    policy, state, worse, _ = draw(cases())
    gates = dict(worse.gates)
    for gate in policy.gates:
        if draw(st.booleans()):
            gates[gate.name] = draw(_PASSING[gate])
    alerts = [a for a in worse.firing_alerts if draw(st.booleans())]
    # the source error stays: an outage hides evidence, it is neither better nor worse
    better = dataclasses.replace(worse, gates=gates, firing_alerts=alerts)
    return policy, state, worse, better


def _improves(policy: CanaryPolicy, worse: Observation, better: Observation) -> bool:
    """Better evidence: no gate that passed in ``worse`` stops passing."""
    for gate in policy.gates:
        w, b = worse.gates.get(gate.name), better.gates.get(gate.name)
        was_ok = worse.error is None and w is not None and gate.passes(w)
        if was_ok and (better.error is not None or b is None or not gate.passes(b)):
            return False
    return True


@settings(max_examples=120, deadline=None)
@given(improvements())
def test_better_evidence_never_produces_a_worse_action(case: tuple) -> None:
    policy, state, worse, better = case
    assert _improves(policy, worse, better)
    a = decide(policy, state, worse, NOW).action
    b = decide(policy, state, better, NOW).action
    assert ACTION_RANK[b] >= ACTION_RANK[a], (a, b)


@SETTINGS
@given(cases())
def test_deterministic(case: tuple) -> None:
    policy, state, obs, now = case
    assert decide(policy, state, obs, now) == decide(policy, state, obs, now)


@SETTINGS
@given(cases())
def test_calling_twice_at_the_same_now_never_advances_twice(case: tuple) -> None:
    policy, state, obs, now = case
    first = decide(policy, state, obs, now)
    second = decide(policy, first.state, obs, now)
    assert not (first.action is Action.ADVANCE and second.action is Action.ADVANCE)
    if first.action is Action.ADVANCE:
        assert second.next == first.next


@SETTINGS
@given(cases())
def test_complete_only_at_100_percent(case: tuple) -> None:
    policy, state, obs, now = case
    d = decide(policy, state, obs, now)
    if d.action is Action.COMPLETE:
        assert state.sampling == 1.0 == d.next


def test_green_run_walks_every_step_respecting_dwell() -> None:
    state = CanaryState(sampling=0.05, since=0.0)
    t, advances = 0.0, []
    while state.sampling < 1.0 and t < 10 * 3600:
        t += 60.0
        d = decide(P, state, green_observation(P, t), t)
        if d.action is Action.ADVANCE:
            assert t - state.since >= P.dwell_at(state.sampling)
            advances.append((t, d.next))
        state = d.state
    assert [s for _, s in advances] == [0.10, 0.25, 0.50, 1.00]
    assert decide(P, state, green_observation(P, t + 60), t + 60).action is Action.COMPLETE


def test_missing_data_holds_with_the_reason() -> None:
    state = CanaryState(sampling=0.25, since=0.0, consecutive_successes=9)
    obs = Observation(gates={"self_coherence": 0.9}, at=5000.0,
                      notes={"self_stress": "no series"})
    d = decide(P, state, obs, 5000.0)
    assert d.action is Action.HOLD
    assert any("no data for gate self_stress <= 0.3 (no series)" in r for r in d.reasons)
    assert d.state.consecutive_successes == 0


def test_source_error_holds_and_names_the_error() -> None:
    state = CanaryState(sampling=0.25, since=0.0)
    d = decide(P, state, Observation(gates={}, error="timed out after 5s", at=1.0), 5000.0)
    assert d.action is Action.HOLD
    assert d.reasons == ("metrics source error: timed out after 5s",)


def test_failures_roll_back_after_the_limit_and_pause() -> None:
    state = CanaryState(sampling=0.5, since=0.0)
    bad = {g.name: g.threshold for g in P.gates} | {"self_stress": 0.9}
    actions = []
    for t in (100.0, 200.0, 300.0):
        d = decide(P, state, Observation(gates=bad, at=t), t)
        actions.append(d.action)
        state = d.state
    assert actions == [Action.HOLD, Action.HOLD, Action.ROLLBACK]
    assert state.sampling == 0.05 and state.paused
    assert decide(P, state, green_observation(P, 400.0), 400.0).action is Action.PAUSED


def test_repeated_observation_does_not_count_twice() -> None:
    state = CanaryState(sampling=0.05, since=0.0)
    obs = green_observation(P, 1000.0)
    for now in (1000.0, 2000.0, 3000.0):
        state = decide(P, state, obs, now).state
    assert state.consecutive_successes == 1


def test_decision_dict_has_the_design_keys() -> None:
    d = decide(P, CanaryState(sampling=0.05, since=0.0), green_observation(P, 1.0), 1.0)
    out = d.to_dict()
    assert {"action", "current_canary", "next_canary", "reasons", "gates"} <= set(out)
    assert out["action"] == "hold"
    assert out["gates"]["self_stress"] == {"value": 0.3, "comparison": "<=", "threshold": 0.3,
                                           "ok": True, "missing": False, "no_data": "hold"}


def test_ignore_gate_does_not_block() -> None:
    policy = dataclasses.replace(FAST, gates=(Gate("x", "vector(1)", ">=", 1.0, no_data="ignore"),))
    d = decide(policy, CanaryState(sampling=0.1, since=0.0), Observation(gates={}, at=5.0), 5.0)
    assert d.action is Action.ADVANCE
    assert "no data for gate x >= 1 (ignored)" in d.reasons


@SETTINGS
@given(st.sampled_from(["<", "<=", ">", ">=", "=="]), st.floats(0, 1), st.floats(0, 1),
       st.sampled_from(["hold", "fail", "ignore"]))
def test_gate_results_follow_each_policy(comparison: str, threshold: float, value: float,
                                         no_data: str) -> None:
    # the gates are read from tuples kept per policy object: a policy derived with other
    # gates must be judged by its own, and the kept tuples never show in its fields
    gate = Gate(name="self_coherence", expr="self_coherence", comparison=comparison,
                threshold=threshold, no_data=no_data)
    policy = dataclasses.replace(P, gates=(gate,))
    before = dataclasses.asdict(policy)
    decide(P, CanaryState(sampling=P.steps[0], since=0.0), green_observation(P, 0.0), NOW)
    got = decide(policy, CanaryState(sampling=P.steps[0], since=0.0),
                 Observation(gates={"self_coherence": value}), NOW).gates
    ok = {"<": value < threshold, "<=": value <= threshold, ">": value > threshold,
          ">=": value >= threshold, "==": value == threshold}[comparison]
    assert [tuple(g) for g in got] == [("self_coherence", value, comparison, threshold, ok, False,
                                        no_data)]
    assert type(got[0]).__name__ == "GateResult" and got[0].ok is ok
    missing = decide(policy, CanaryState(sampling=P.steps[0], since=0.0),
                     Observation(gates={}), NOW).gates[0]
    assert missing.missing and missing.value is None and missing.no_data == no_data
    assert dataclasses.asdict(policy) == before and policy == dataclasses.replace(P, gates=(gate,))
