"""Property: the embedded engine fires each SELF alert exactly when a plain-Python model says.

Hypothesis draws SELF series for a few tokens (values, gaps, staleness
markers); the reference model below reads the alert's definition from the
SLO spec (metric, window, operator, target, ``for``) and decides, step by
step, whether the alert must be firing. Steps whose window average is
within 1e-9 of the threshold are left undecided (the two engines may round
a mean differently there), as is any step whose ``for`` run contains one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from pytest_selfslo.alerting.ruleeval import evaluate_groups
from pytest_selfslo.promql.storage import Storage
from pytest_selfslo.promql.values import STALE_NAN
from pytest_selfslo.rulefmt.model import AlertingRule, AlertState
from pytest_selfslo.rulefmt.rulefile import load_rule_files
from pytest_selfslo.slo.spec import DEFAULT_SLO_SPEC, Objective, parse_duration

RULES = Path(__file__).resolve().parents[2] / "rules" / "phase_c_rules.yml"
STEP_MS = 60_000
GAP, STALE = "gap", "stale"

Point = float | str  # a value, GAP (no sample) or STALE (staleness marker)

points = st.one_of(
    st.floats(0.0, 1.0, allow_nan=False),
    st.sampled_from([0.0, 0.3, 0.8, 0.9, 1.0]),  # the SLO edges themselves
    st.just(GAP),
    st.just(STALE),
)
token_series = st.lists(points, min_size=1, max_size=25)
scenarios = st.dictionaries(st.sampled_from(["a", "b", "c"]), token_series, min_size=1,
                            max_size=3)


@dataclass(frozen=True)
class Verdict:
    """Per step: True/False must (not) fire, None undecided."""

    firing: list[bool | None]


def reference(obj: Objective, series: list[Point], n_steps: int, semantics: str) -> Verdict:
    """When must ``obj``'s alert fire for one token, judged directly from the samples."""
    window_ms = int(parse_duration(obj.window) * 1000)
    hold_steps = int(parse_duration(obj.for_) * 1000) // STEP_MS
    op = obj.violation_op
    samples = [(i * STEP_MS, float(p)) for i, p in enumerate(series) if not isinstance(p, str)]
    active: list[bool | None] = []
    for step in range(n_steps):
        t = step * STEP_MS
        # Prometheus 2.x ranges are closed [t - w, t]; 3.x left-open (t - w, t]
        start = t - window_ms if semantics == "2" else t - window_ms + 1
        vals = [v for ts, v in samples if start <= ts <= t]
        if not vals:
            active.append(False)
            continue
        avg = math.fsum(vals) / len(vals)
        if abs(avg - obj.target) < 1e-9:
            active.append(None)
        else:
            active.append(avg < obj.target if op == "<" else avg > obj.target)
    firing: list[bool | None] = []
    for step in range(n_steps):
        run = active[max(0, step - hold_steps):step + 1]
        if step < hold_steps:
            # less than `for` of history: silent (undecided only when the state is unknown)
            firing.append(False if all(a is not None for a in run) else None)
        elif any(a is None for a in run):
            firing.append(None)
        else:
            firing.append(all(run))
    return Verdict(firing)


def _storage(metric: str, scenario: dict[str, list[Point]]) -> Storage:
    storage = Storage()
    for token, series in scenario.items():
        ts = [i * STEP_MS for i, p in enumerate(series) if p != GAP]
        vs = [STALE_NAN if p == STALE else float(p) for p in series if p != GAP]
        storage.add_samples({"__name__": metric, "token_id": token}, ts, vs)
    return storage


_GROUPS = load_rule_files([RULES])
_SELF_GROUP = next(g for g in _GROUPS if g.name == DEFAULT_SLO_SPEC.alert_group)


def _rule(name: str) -> AlertingRule:
    rule = next(r for r in _SELF_GROUP.rules if r.name == name)
    assert isinstance(rule, AlertingRule)
    return rule


@pytest.mark.parametrize("semantics", ["2", "3"])
@pytest.mark.parametrize("objective", DEFAULT_SLO_SPEC.objectives, ids=lambda o: o.name)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario=scenarios)
def test_engine_fires_exactly_when_the_model_says(objective: Objective, semantics: str,
                                                  scenario: dict[str, list[Point]]) -> None:
    n_steps = max(len(s) for s in scenario.values()) + 8
    steps = np.arange(n_steps, dtype=np.int64) * STEP_MS
    rule = _rule(objective.alert)
    run = evaluate_groups([_SELF_GROUP], _storage(objective.metric, scenario), steps,
                          semantics=semantics)
    assert run.error is None, run.error
    verdicts = {tok: reference(objective, s, n_steps, semantics) for tok, s in scenario.items()}
    for step in range(n_steps):
        firing = {a.labels["token_id"] for a in run.alerts_at(rule, step)
                  if a.state is AlertState.FIRING}
        for token, verdict in verdicts.items():
            expected = verdict.firing[step]
            if expected is not None:
                assert (token in firing) == expected, (
                    f"{objective.alert} token {token} at {step}m: engine "
                    f"{'fires' if token in firing else 'silent'}, model says "
                    f"{'fire' if expected else 'silent'}; series {scenario[token]}")


def test_model_fires_at_the_for_boundary() -> None:
    """The model itself: constant 0.7 coherence fires at 5m, not 4m; 0.80 never."""
    obj = DEFAULT_SLO_SPEC.objective("coherence")
    low = reference(obj, [0.7] * 10, 10, "3").firing
    assert low[4] is False and low[5] is True
    edge = reference(obj, [0.8] * 10, 10, "3").firing
    assert edge == [None] * 10 or not any(edge)
