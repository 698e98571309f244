"""Hypothesis strategies for canary observations, alerts and states under a given policy.

Users who write their own properties of a policy draw evidence from here::

    from hypothesis import given
    from pytest_selfslo.plugin.canary_strategies import canary_observations

    @given(canary_observations(my_policy))
    def test_never_advances_on_missing_data(obs): ...

Values are drawn *relative to each gate's threshold* (passing, failing, missing
or garbage), so a handful of examples already exercise every branch of
:func:`~pytest_selfslo.canary.machine.decide`. For a policy with a ``compare:``
block, observations also carry baseline-comparison statistics drawn relative to
its thresholds (:func:`comparison_stats`: passing, regression or inconclusive).
"""

from __future__ import annotations

from collections.abc import Mapping

from hypothesis import strategies as st

from pytest_selfslo.canary.comparison import CohortStats, Verdict
from pytest_selfslo.canary.machine import CanaryState, Observation
from pytest_selfslo.canary.policy import AlertMatcher, CanaryPolicy, ComparePolicy, Gate

__all__ = [
    "canary_observations",
    "canary_states",
    "comparison_stats",
    "failing_value",
    "firing_alerts",
    "green_observation",
    "green_observations",
    "observation_sequences",
    "passing_value",
]

_SPAN = 1.0


def passing_value(gate: Gate) -> st.SearchStrategy[float]:
    """Finite values that satisfy ``gate``."""
    t = gate.threshold
    return {
        ">=": st.floats(t, t + _SPAN),
        ">": st.floats(t, t + _SPAN, exclude_min=True),
        "<=": st.floats(t - _SPAN, t),
        "<": st.floats(t - _SPAN, t, exclude_max=True),
        "==": st.just(t),
    }[gate.comparison]


def failing_value(gate: Gate) -> st.SearchStrategy[float]:
    """Finite values that violate ``gate``."""
    t = gate.threshold
    return {
        ">=": st.floats(t - _SPAN, t, exclude_max=True),
        ">": st.floats(t - _SPAN, t),
        "<=": st.floats(t, t + _SPAN, exclude_min=True),
        "<": st.floats(t, t + _SPAN),
        "==": st.floats(t - _SPAN, t + _SPAN).filter(lambda v: v != t),
    }[gate.comparison]


def _gate_value(gate: Gate) -> st.SearchStrategy[float | None]:
    return st.one_of(passing_value(gate), failing_value(gate), st.none(),
                     st.sampled_from([float("nan"), float("inf")]))


def _matching_alert(matcher: AlertMatcher) -> st.SearchStrategy[dict[str, str]]:
    parts = {name: st.from_regex(pattern, fullmatch=True).filter(lambda s: "\n" not in s)
             for name, pattern in matcher.labels}
    return st.fixed_dictionaries(parts)


_OTHER_ALERT = st.fixed_dictionaries({
    "alertname": st.sampled_from(["Watchdog", "HighLatency", "DiskFull"]),
    "severity": st.sampled_from(["info", "none"]),
})


def firing_alerts(policy: CanaryPolicy, *, rollback: bool | None = None
                  ) -> st.SearchStrategy[list[dict[str, str]]]:
    """Lists of firing alerts' labels; ``rollback=True`` forces at least one rollback alert,
    ``False`` forbids them, ``None`` allows either."""
    matching = [_matching_alert(m) for m in policy.rollback_alerts]
    others = st.lists(_OTHER_ALERT.filter(lambda a: not any(m.matches(a) for m in policy.rollback_alerts)),
                      max_size=2)
    if rollback is False or not matching:
        return others
    some = st.lists(st.one_of(*matching), min_size=1, max_size=2)
    if rollback is True:
        return st.builds(lambda a, b: a + b, some, others)
    return st.one_of(others, st.builds(lambda a, b: a + b, some, others))


def comparison_stats(compare: ComparePolicy, verdict: Verdict | None = None
                     ) -> st.SearchStrategy[CohortStats | None]:
    """Comparison statistics that :func:`~pytest_selfslo.canary.comparison.judge` calls
    ``verdict`` under ``compare`` (``None``: any of the three, or no statistics at all)."""
    need, alpha, drop = compare.min_samples, compare.alpha, compare.max_relative_drop
    enough = st.integers(need, need * 20)
    p_any = st.floats(0.0, 1.0)

    def stats(n_c: int, n_b: int, p: float | None, effect: float | None,
              note: str | None = None) -> CohortStats:
        return CohortStats(n_canary=n_c, n_baseline=n_b, u=None if p is None else 0.5 * n_c * n_b,
                           p=p, effect=effect, note=note)

    passing = st.builds(stats, enough, enough, p_any, st.floats(-1.0, drop))
    regression = st.builds(stats, enough, enough, st.floats(0.0, alpha, exclude_max=True),
                           st.floats(drop, 1.0, exclude_min=True))
    inconclusive = st.one_of(
        st.none(),
        st.builds(stats, st.integers(0, need - 1), enough, p_any, st.floats(-1.0, 1.0)),
        st.builds(stats, enough, st.integers(0, need - 1), p_any, st.floats(-1.0, 1.0)),
        st.builds(stats, enough, enough, st.sampled_from([None, float("nan")]),
                  st.floats(-1.0, 1.0)),
        st.builds(stats, enough, enough, p_any, st.just(float("nan"))),
        st.builds(stats, enough, enough, st.floats(alpha, 1.0), st.floats(drop, 1.0,
                                                                          exclude_min=True)),
        st.builds(stats, st.integers(0, need * 2), st.integers(0, need * 2), st.none(), st.none(),
                  st.sampled_from(["no samples in the canary cohort",
                                   "3 missing/NaN sample(s) in the baseline cohort",
                                   "/api/v1/query: timed out after 5s"])),
    )
    by_verdict = {Verdict.PASS: passing, Verdict.REGRESSION: regression,
                  Verdict.INCONCLUSIVE: inconclusive}
    if verdict is not None:
        return by_verdict[verdict]
    return st.one_of(passing, regression, inconclusive)


def _passing_stats(policy: CanaryPolicy) -> CohortStats | None:
    """Statistics that pass the policy's comparison (``None`` without a ``compare:`` block)."""
    c = policy.compare
    if c is None:
        return None
    return CohortStats(n_canary=c.min_samples, n_baseline=c.min_samples,
                       u=0.5 * c.min_samples ** 2, p=0.5, effect=0.0)


def _comparisons(policy: CanaryPolicy, verdict: Verdict | None = None
                 ) -> st.SearchStrategy[CohortStats | None]:
    return st.none() if policy.compare is None else comparison_stats(policy.compare, verdict)


def green_observation(policy: CanaryPolicy, at: float) -> Observation:
    """An observation where every gate sits exactly at its threshold (passes), the baseline
    comparison (if any) passes and nothing fires."""
    return Observation(gates={g.name: g.threshold for g in policy.gates}, at=at,
                       comparison=_passing_stats(policy))


def canary_observations(policy: CanaryPolicy, *, at: float | None = None,
                        alerts: bool | None = None, errors: bool = True
                        ) -> st.SearchStrategy[Observation]:
    """Observations for ``policy``: each gate passing, failing, missing or non-finite;
    firing alerts (rollback ones when ``alerts`` allows); sometimes a source error.

    Build it once and reuse it (strategies are validated when first drawn from).
    """
    gates = st.fixed_dictionaries({g.name: _gate_value(g) for g in policy.gates})
    error = st.one_of(st.none(), st.just("connection refused")) if errors else st.none()
    when = st.just(at) if at is not None else st.floats(0, 1e6)
    return st.builds(_observation, gates, firing_alerts(policy, rollback=alerts), error, when,
                     _comparisons(policy))


def green_observations(policy: CanaryPolicy, *, at: float = 0.0) -> st.SearchStrategy[Observation]:
    """Observations where every gate passes (any passing value), the baseline comparison (if
    any) passes, nothing fires, no error."""
    gates = st.fixed_dictionaries({g.name: passing_value(g) for g in policy.gates})
    return st.builds(_observation, gates, st.just([]), st.none(), st.just(at),
                     _comparisons(policy, Verdict.PASS))


def observation_sequences(policy: CanaryPolicy, *, max_size: int = 40
                          ) -> st.SearchStrategy[list[Observation]]:
    """Sequences mixing green stretches with arbitrary evidence (half of the draws are green,
    so advances happen and flapping can show up)."""
    item = st.one_of(green_observations(policy), canary_observations(policy, at=0.0))
    return st.lists(item, min_size=2, max_size=max_size)


def _observation(gates: Mapping[str, float | None], alerts: list[dict[str, str]], error: str | None,
                 at: float, comparison: CohortStats | None = None) -> Observation:
    return Observation(gates=gates, firing_alerts=alerts, error=error, at=at,
                       comparison=comparison)


def canary_states(policy: CanaryPolicy, *, paused: bool | None = None,
                  now: float = 1e6) -> st.SearchStrategy[CanaryState]:
    """States on the policy's steps with any counters, dwell progress and pause flag."""
    def build(sampling: float, since: float, observed: float | None, is_paused: bool, version: int,
              successes: int, failures: int) -> CanaryState:
        return CanaryState(sampling=sampling, since=since, step=policy.step_index(sampling),
                           paused=is_paused, version=version, consecutive_successes=successes,
                           failures=failures, last_observed=observed)

    return st.builds(
        build, st.sampled_from(policy.steps), st.floats(0, now), st.one_of(st.none(), st.floats(0, now)),
        st.booleans() if paused is None else st.just(paused), st.integers(0, 100),
        st.integers(0, policy.consecutive_successes + 2), st.integers(0, policy.failure_limit + 1))
