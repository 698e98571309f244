"""Property: the burn-rate alerts fire exactly when a plain-Python model says.

The model follows the recording chain: at every evaluation step the error
indicator is ``metric <violation op> target`` on the latest sample within the
5m lookback (absent after a staleness marker); each ratio is the mean of the
indicator samples in its window; an alert is active while both its long and
short ratios exceed factor x budget, and fires after ``for`` (2m) of activity.
Steps within 1e-9 of a threshold are left undecided.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from pytest_selfslo.alerting.ruleeval import evaluate_groups
from pytest_selfslo.lint.render import BURN_WINDOWS, DEFAULT_ERROR_BUDGET, STABILITY_GROUP
from pytest_selfslo.promql.storage import Storage
from pytest_selfslo.promql.values import STALE_NAN
from pytest_selfslo.rulefmt.model import AlertingRule, AlertState
from pytest_selfslo.rulefmt.rulefile import load_rule_files
from pytest_selfslo.slo.spec import DEFAULT_SLO_SPEC, Objective

RULES = Path(__file__).resolve().parents[2] / "rules" / "phase_c_rules.yml"
STEP = 60_000
LOOKBACK = 300_000
HOLD_STEPS = 2  # `for: 2m` of the burn-rate alerts
GAP, STALE = "gap", "stale"
Point = float | str

_GROUP = next(g for g in load_rule_files([RULES]) if g.name == STABILITY_GROUP)

# mostly-bad / mostly-good runs so both burn rates are crossed in both directions
runs = st.tuples(st.sampled_from([0.1, 0.5, 0.85, 0.95, 0.2, 0.35, GAP, STALE]),
                 st.integers(1, 15))
series_strategy = st.lists(runs, min_size=1, max_size=8).map(
    lambda rs: [p for p, n in rs for _ in range(n)][:70])


def _window_start(t: int, width: int, semantics: str) -> int:
    return t - width if semantics == "2" else t - width + 1


def indicator(obj: Objective, series: list[Point], n: int, semantics: str) -> list[float | None]:
    """The recorded selfslo:sli_error:bool value per step (None: no sample recorded)."""
    out: list[float | None] = []
    for step in range(n):
        t = step * STEP
        latest: Point | None = None
        for i, p in enumerate(series):
            if p != GAP and _window_start(t, LOOKBACK, semantics) <= i * STEP <= t:
                latest = p
        if latest is None or latest == STALE:
            out.append(None)
            continue
        v = float(latest)
        bad = v < obj.target if obj.violation_op == "<" else v > obj.target
        out.append(1.0 if bad else 0.0)
    return out


def ratio(ind: list[float | None], step: int, width_ms: int, semantics: str) -> float | None:
    start = _window_start(step * STEP, width_ms, semantics)
    vals = [v for i, v in enumerate(ind[:step + 1]) if v is not None and i * STEP >= start]
    return math.fsum(vals) / len(vals) if vals else None


def expected_firing(obj: Objective, series: list[Point], n: int, semantics: str,
                    long_ms: int, short_ms: int, limit: float) -> list[bool | None]:
    ind = indicator(obj, series, n, semantics)
    active: list[bool | None] = []
    for step in range(n):
        rl, rs = ratio(ind, step, long_ms, semantics), ratio(ind, step, short_ms, semantics)
        if rl is None or rs is None:
            active.append(False)
        elif abs(rl - limit) < 1e-9 or abs(rs - limit) < 1e-9:
            active.append(None)
        else:
            active.append(rl > limit and rs > limit)
    out: list[bool | None] = []
    for step in range(n):
        run = active[max(0, step - HOLD_STEPS):step + 1]
        if any(a is None for a in run):
            out.append(None)
        else:
            out.append(step >= HOLD_STEPS and all(run))
    return out


@pytest.mark.parametrize("semantics", ["2", "3"])
@pytest.mark.parametrize("objective", DEFAULT_SLO_SPEC.objectives, ids=lambda o: o.name)
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(series=series_strategy)
def test_burn_rate_alerts_match_the_model(objective: Objective, semantics: str,
                                          series: list[Point]) -> None:
    n = len(series) + 5
    storage = Storage()
    ts = [i * STEP for i, p in enumerate(series) if p != GAP]
    vs = [STALE_NAN if p == STALE else float(p) for p in series if p != GAP]
    storage.add_samples({"__name__": objective.metric, "token_id": "t"}, ts, vs)
    run = evaluate_groups([_GROUP], storage, np.arange(n, dtype=np.int64) * STEP,
                          semantics=semantics)
    assert run.error is None, run.error
    stem = objective.alert.rsplit("_", 1)[0]
    for bw in BURN_WINDOWS:
        rule = next(r for r in _GROUP.rules if r.name == f"{stem}_BurnRate_{bw.suffix}")
        assert isinstance(rule, AlertingRule)
        want = expected_firing(objective, series, n, semantics,
                               int(bw.long.total_seconds() * 1000),
                               int(bw.short.total_seconds() * 1000),
                               bw.factor * DEFAULT_ERROR_BUDGET)
        for step in range(n):
            got = any(a.state is AlertState.FIRING for a in run.alerts_at(rule, step))
            if want[step] is not None:
                assert got == want[step], (
                    f"{rule.name} at {step}m: engine {'fires' if got else 'silent'}, model "
                    f"{'fire' if want[step] else 'silent'}; series {series}")
