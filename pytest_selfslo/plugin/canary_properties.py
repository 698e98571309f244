"""Prove a canary policy safe: hypothesis checks of a policy's behaviour under :func:`decide`.

A team that writes its own policy YAML gets, from :func:`check_policy`, the
same guarantees our unit tests give the default policy -- checked against
*their* steps, gates, dwell and hysteresis:

``never_advances_on_missing_data``
    no data at all (every gate missing, or a source error) never advances, and
    neither does a missing gate whose ``no_data`` is ``hold`` or ``fail``;
``never_advances_on_failing_gate``
    a present value that fails any gate never advances;
``rollback_alert_rolls_back``
    a firing rollback alert above ``rollback_to`` rolls back in that same
    decision (and the policy has rollback alerts at all);
``green_run_reaches_100``
    from any running state, green observations every ``interval`` reach 100%
    in exactly ``len(steps) - index - 1`` advances, each no sooner than the
    step's ``min_dwell`` after the previous change;
``no_flapping``
    under any observation sequence, the controller advances again no sooner
    than ``min_flip_interval`` after a rollback, so advance/rollback cycles
    are bounded: at most ``2 * T / min_flip_interval + 1`` flips in a time ``T``
    (an advance quickly followed by a rollback is safety, not flapping);
``gates_agree_with_slo``
    a gate on a SELF metric uses the SLO spec's comparison and target.

Policies with an ``adaptive:`` block (stress-driven throttling of the
effective sampling) also get:

``adaptive_no_flapping``
    stress hovering within ``adaptive_noise`` (default 0.01) of either
    threshold switches throttling at most once: the hysteresis band
    ``stress_high - stress_low`` must be wider than measurement noise;
``adaptive_monotone_bucketing``
    throttling only ever removes tokens (a token active at the effective
    sampling is active at the nominal one), and at a fixed effective sampling
    activation is sticky and monotone in the sampling.

Policies with a ``compare:`` block (the baseline comparison gate) also get:

``compare_never_advances_on_inconclusive``
    with every gate green, an inconclusive comparison (too few samples in a
    cohort, missing/NaN statistics, a source note, a big but insignificant
    drop) never advances;
``compare_identical_cohorts_pass``
    cohorts drawn from one distribution pass at a rate >= 1 - alpha;
``compare_detects_shift``
    a canary whose distribution is shifted ``compare_shift`` times (default
    1.5) ``max_relative_drop`` the worse way is judged a regression with power
    >= 0.9 when each cohort has ``min_samples`` samples;
``compare_ignores_fleet_dip``
    a dip that moves both cohorts alike (5%, 10%, 20% the worse way) does not
    roll back through this gate: from a state above the floor,
    ``failure_limit`` observations with green gates and such comparisons roll
    back at a rate <= alpha.

The three rate properties simulate ``compare_trials`` (default 300) trials
with a fixed seed, drawing samples from a normal distribution with the mean
and spread of the ``steady`` heartbeat scenario for the compared SELF score
(coherence's for other metrics) and running the real test
(:func:`~pytest_selfslo.canary.cohorts.compare_samples`, scipy's
``mannwhitneyu``); each rate is checked with a one-sided binomial test
(``scipy.stats.binomtest``, violation when p < 0.001), so a rate that only
falls short by chance does not fail and the verdict is the same on every run.

On a violation :class:`PolicyPropertyError` names the property and shows
hypothesis' *shrunk* counterexample as a timeline of observations and
decisions.

    >>> check_policy(DEFAULT_POLICY)        # doctest: +SKIP
    [PropertyResult(name='never_advances_on_missing_data', ok=True, ...), ...]
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from hypothesis import HealthCheck, Phase, Verbosity, given, settings, strategies as st
from scipy.stats import binomtest

from pytest_selfslo._core.errors import CanaryError
from pytest_selfslo.canary.cohorts import compare_samples
from pytest_selfslo.canary.comparison import CohortStats, Verdict, judge
from pytest_selfslo.canary.machine import Action, CanaryState, Decision, Observation, decide
from pytest_selfslo.canary.policy import CanaryPolicy, ComparePolicy
from pytest_selfslo.heartbeat import generate_heartbeats
from pytest_selfslo.plugin.canary_strategies import (
    canary_observations,
    canary_states,
    comparison_stats,
    green_observation,
    observation_sequences,
)

if TYPE_CHECKING:
    from pytest_selfslo.slo.spec import SLOSpec

__all__ = ["ADAPTIVE_PROPERTIES", "COMPARE_PROPERTIES", "PROPERTIES", "PolicyPropertyError",
           "PropertyResult",
           "applicable_properties", "check_policy", "render_timeline", "replay_observations"]


class PolicyPropertyError(CanaryError, AssertionError):
    """A canary policy violates a safety property; the message shows the counterexample."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"canary policy property {name!r} violated:\n{message}")
        self.property = name


@dataclasses.dataclass(frozen=True)
class PropertyResult:
    """The verdict of one property: ``message`` holds the counterexample timeline when not ``ok``."""

    name: str
    ok: bool
    message: str = ""


@dataclasses.dataclass(frozen=True)
class _Config:
    max_examples: int
    interval: float
    min_flip_interval: float
    seed: int
    max_steps: int
    adaptive_noise: float = 0.01
    spec: SLOSpec | None = None  # the SLO spec gates must agree with (None: the built-in default)
    compare_trials: int = 300
    compare_shift: float = 1.5


class _Violation(AssertionError):
    pass


# --------------------------------------------------------------------------- rendering

def _obs_summary(policy: CanaryPolicy, obs: Observation) -> str:
    if obs.error is not None:
        return f"source error ({obs.error})"
    parts = []
    for gate in policy.gates:
        value = obs.gates.get(gate.name)
        if value is None or (isinstance(value, float) and not math.isfinite(value)):
            parts.append(f"{gate.name}=<no data>")
        else:
            parts.append(f"{gate.name}={value:.4g}{'' if gate.passes(value) else ' FAIL'}")
    alerts = [a.get("alertname", "?") for a in obs.firing_alerts]
    if policy.compare is not None:
        parts.append(f"compare {judge(policy.compare, obs.comparison).summary()}")
    return ", ".join(parts) + (f"; firing: {', '.join(alerts)}" if alerts else "")


def render_timeline(policy: CanaryPolicy, start: CanaryState,
                    steps: Sequence[tuple[Observation, Decision]]) -> str:
    """One line per decision: time offset, what was observed, what was decided and why."""
    t0 = steps[0][1].at if steps else start.since
    lines = [f"  before: sampling {start.sampling:g}, last change {t0 - start.since:.0f}s earlier, "
             f"paused={start.paused}, successes={start.consecutive_successes}, "
             f"failures={start.failures}"]
    for obs, d in steps:
        change = f"{d.current:g} -> {d.next:g}" if d.next != d.current else f"{d.current:g}"
        lines.append(f"  t{d.at - t0:+7g}s  {d.action.value.upper():<8} {change:<12} "
                     f"observed: {_obs_summary(policy, obs)}")
        if d.reasons:
            lines.append(f"  {'':>10}  because: {d.reasons[-1]}")
    return "\n".join(lines)


def replay_observations(policy: CanaryPolicy, state: CanaryState,
                        observations: Sequence[Observation], start_at: float,
                        interval: float) -> list[tuple[Observation, Decision]]:
    """Decide on each observation in turn (re-stamped ``interval`` s apart from ``start_at``).

    The building block of timeline assertions: pair it with :func:`render_timeline`.
    """
    out = []
    for i, raw in enumerate(observations):
        at = start_at + i * interval
        obs = dataclasses.replace(raw, at=at)
        decision = decide(policy, state, obs, at)
        out.append((obs, decision))
        state = decision.state
    return out


# --------------------------------------------------------------------------- properties

def _single_step_property(name: str, predicate: Callable[[CanaryPolicy, CanaryState, Observation,
                                                          Decision], str | None],
                          observations: Callable[[CanaryPolicy], st.SearchStrategy[Observation]]
                          ) -> Callable[[CanaryPolicy, _Config], None]:
    def check(policy: CanaryPolicy, cfg: _Config) -> None:
        states = canary_states(policy, paused=False, now=1e6)

        @given(states, observations(policy))
        def prop(state: CanaryState, obs: Observation) -> None:
            obs = dataclasses.replace(obs, at=1e6)
            d = decide(policy, state, obs, 1e6)
            problem = predicate(policy, state, obs, d)
            if problem is not None:
                raise _Violation(f"{problem}\n{render_timeline(policy, state, [(obs, d)])}")

        _execute(prop, cfg)
    check.__name__ = name
    return check


def _no_data(policy: CanaryPolicy, state: CanaryState, obs: Observation, d: Decision) -> str | None:
    if d.action is not Action.ADVANCE:
        return None
    if obs.error is not None or all(g.missing for g in d.gates):
        return "advanced although there was no data at all"
    held = [g.name for g in d.gates if g.missing and g.no_data != "ignore"]
    if held:
        return f"advanced with no data for {held}"
    if d.comparison is not None and d.comparison.verdict is Verdict.INCONCLUSIVE:
        return f"advanced on an inconclusive comparison ({d.comparison.reason})"
    return None


def _failing(policy: CanaryPolicy, state: CanaryState, obs: Observation, d: Decision) -> str | None:
    bad = [g.name for g in d.gates if not g.missing and not g.ok]
    if d.action is Action.ADVANCE and bad:
        return f"advanced although {bad} failed"
    if d.action is Action.ADVANCE and d.comparison is not None \
            and d.comparison.verdict is Verdict.REGRESSION:
        return f"advanced although the comparison found a regression ({d.comparison.reason})"
    return None


def _alert(policy: CanaryPolicy, state: CanaryState, obs: Observation, d: Decision) -> str | None:
    if state.sampling > policy.floor and d.action is not Action.ROLLBACK:
        return f"a rollback alert fired at {state.sampling:g} but the decision was {d.action.value}"
    return None


def _check_has_rollback_alerts(policy: CanaryPolicy, cfg: _Config) -> None:
    if not policy.rollback_alerts:
        raise _Violation("the policy has no rollback_alerts: no alert can ever roll the canary back")


def _missing_observations(policy: CanaryPolicy) -> st.SearchStrategy[Observation]:
    base = canary_observations(policy, at=0.0, alerts=False)

    def blank(obs: Observation, which: list[bool]) -> Observation:
        gates = {g.name: (None if drop else obs.gates.get(g.name))
                 for g, drop in zip(policy.gates, which, strict=False)}
        return dataclasses.replace(obs, gates=gates)

    return st.builds(blank, base, st.lists(st.booleans(), min_size=len(policy.gates),
                                           max_size=len(policy.gates)))


def _green_run(policy: CanaryPolicy, cfg: _Config) -> None:
    states = canary_states(policy, paused=False, now=1e6)

    @given(states)
    def prop(state: CanaryState) -> None:
        state = dataclasses.replace(state, last_observed=None)
        index = policy.steps.index(state.sampling)
        t = max(state.since, 1e6)
        run: list[tuple[Observation, Decision]] = []
        since = state.since
        current = state
        for _ in range(cfg.max_steps):
            t += cfg.interval
            obs = green_observation(policy, t)
            d = decide(policy, current, obs, t)
            run.append((obs, d))
            if d.action is Action.ADVANCE:
                if d.at - since < policy.dwell_at(d.current):
                    raise _Violation(f"advanced from {d.current:g} after {d.at - since:g}s, sooner "
                                     f"than its min_dwell {policy.dwell_at(d.current):g}s\n"
                                     + render_timeline(policy, state, run[-12:]))
                since = d.at
            elif d.action is not Action.HOLD and d.action is not Action.COMPLETE:
                raise _Violation(f"a green run produced {d.action.value}\n"
                                 + render_timeline(policy, state, run[-12:]))
            current = d.state
            if d.action is Action.COMPLETE:
                break
        advances = sum(d.action is Action.ADVANCE for _, d in run)
        expected = len(policy.steps) - index - 1
        if current.sampling != 1.0 or advances != expected:
            raise _Violation(f"green observations every {cfg.interval:g}s reached {current.sampling:g} "
                             f"with {advances} advances in {len(run)} decisions (expected 100% "
                             f"after exactly {expected})\n" + render_timeline(policy, state, run[-12:]))

    _execute(prop, cfg)


def _no_flapping(policy: CanaryPolicy, cfg: _Config) -> None:
    observations = observation_sequences(policy)
    states = canary_states(policy, paused=False, now=1e6)

    @given(states, observations)
    def prop(state: CanaryState, seq: list[Observation]) -> None:
        run = replay_observations(policy, state, seq, max(state.since, 1e6) + cfg.interval, cfg.interval)
        rollback: int | None = None  # index of the last rollback
        for i, (_, d) in enumerate(run):
            if d.action is Action.ROLLBACK:
                rollback = i
            elif d.action is Action.ADVANCE and rollback is not None:
                back = run[rollback][1]
                if d.at - back.at < cfg.min_flip_interval:
                    raise _Violation(
                        f"rolled back to {back.next:g}, then advanced again {d.at - back.at:g}s later "
                        f"(less than min_flip_interval {cfg.min_flip_interval:g}s): the canary flaps; "
                        "add min_dwell, consecutive_successes or pause_on_rollback\n"
                        + render_timeline(policy, run[rollback - 1][1].state if rollback else state,
                                          run[rollback:i + 1]))
                rollback = None

    _execute(prop, cfg)


def _gates_agree_with_slo(policy: CanaryPolicy, cfg: _Config) -> None:
    from pytest_selfslo.slo.spec import DEFAULT_SLO_SPEC

    spec = DEFAULT_SLO_SPEC if cfg.spec is None else cfg.spec
    problems = []
    for gate in policy.gates:
        for objective in spec.objectives:
            same_metric = objective.metric in gate.expr and objective.metric in gate.name
            if same_metric and (gate.comparison != objective.comparison
                                or gate.threshold != objective.target):
                problems.append(f"gate {gate.name!r} is {gate.comparison} {gate.threshold:g} but the "
                                    f"SLO spec says {objective.metric} {objective.comparison} "
                                    f"{objective.target:g}")
    if problems:
        raise _Violation("; ".join(problems))


def _adaptive_of(policy: CanaryPolicy) -> Any:
    if policy.adaptive is None:
        raise ValueError("the policy has no adaptive: block; adaptive properties do not apply")
    return policy.adaptive


def _adaptive_no_flapping(policy: CanaryPolicy, cfg: _Config) -> None:
    from pytest_selfslo.canary.runtime import AdaptiveActivation

    adaptive = _adaptive_of(policy)
    noise = cfg.adaptive_noise

    @given(st.sampled_from([adaptive.stress_high, adaptive.stress_low]),
           st.lists(st.floats(-noise, noise), min_size=2, max_size=60))
    def prop(threshold: float, jitter: list[float]) -> None:
        gate = AdaptiveActivation(adaptive)
        stresses = [min(1.0, max(0.0, threshold + j)) for j in jitter]
        modes = [gate.observe(stress) for stress in stresses]
        if gate.flips > 1:
            lines = "\n".join(f"  stress {x:.4f} -> {'throttled' if m else 'full'}"
                              for x, m in zip(stresses, modes, strict=True))
            raise _Violation(
                f"stress hovering within +-{noise:g} of {threshold:g} switched throttling "
                f"{gate.flips} times (stress_low {adaptive.stress_low:g}, stress_high "
                f"{adaptive.stress_high:g}: widen the hysteresis band beyond the noise)\n" + lines)

    _execute(prop, cfg)


def _adaptive_monotone_bucketing(policy: CanaryPolicy, cfg: _Config) -> None:
    from pytest_selfslo.canary.bucketing import is_active
    from pytest_selfslo.canary.runtime import AdaptiveActivation

    adaptive = _adaptive_of(policy)

    @given(st.text(min_size=1, max_size=24), st.sampled_from(policy.steps),
           st.floats(0.0, 1.0), st.floats(0.0, 1.0))
    def prop(token: str, sampling: float, stress: float, higher: float) -> None:
        effective = AdaptiveActivation(adaptive).effective_sampling(sampling, stress)
        if effective > sampling:
            raise _Violation(f"stress {stress:g} raised the effective sampling {sampling:g} -> "
                             f"{effective:g}")
        if is_active(token, effective) and not is_active(token, sampling):
            raise _Violation(f"token {token!r} is active at the throttled sampling {effective:g} "
                             f"but not at the nominal {sampling:g}")
        if is_active(token, effective) != is_active(token, effective):
            raise _Violation(f"token {token!r} is not sticky at sampling {effective:g}")
        larger = effective + (1.0 - effective) * higher
        if is_active(token, effective) and not is_active(token, larger):
            raise _Violation(f"token {token!r} is active at {effective:g} but not at {larger:g}")

    _execute(prop, cfg)


ADAPTIVE_PROPERTIES = ("adaptive_no_flapping", "adaptive_monotone_bucketing")


# --------------------------------------------------------------------------- compare: block

def _compare_of(policy: CanaryPolicy) -> ComparePolicy:
    if policy.compare is None:
        raise ValueError("the policy has no compare: block; compare properties do not apply")
    return policy.compare


def _inconclusive_holds(policy: CanaryPolicy, cfg: _Config) -> None:
    compare = _compare_of(policy)
    states = canary_states(policy, paused=False, now=1e6)

    @given(states, comparison_stats(compare, Verdict.INCONCLUSIVE))
    def prop(state: CanaryState, stats: CohortStats | None) -> None:
        obs = dataclasses.replace(green_observation(policy, 1e6), comparison=stats)
        d = decide(policy, state, obs, 1e6)
        if d.action is Action.ADVANCE:
            raise _Violation("advanced on an inconclusive comparison\n"
                             + render_timeline(policy, state, [(obs, d)]))

    _execute(prop, cfg)


@functools.lru_cache(maxsize=8)
def noise_model(score: str | None) -> tuple[float, float]:
    """(mean, standard deviation) of a SELF score in the ``steady`` scenario (coherence's for
    metrics that are not SELF scores): the distribution the rate properties sample from."""
    values = [getattr(hb, score or "coherence") for hb in generate_heartbeats("steady", 4000, 0)]
    return float(np.mean(values)), float(np.std(values))


def _draw(rng: np.random.Generator, mean: float, sd: float, n: int) -> np.ndarray:
    return np.asarray(np.clip(rng.normal(mean, sd, n), 0.0, 1.0))


def _worse(compare: ComparePolicy, mean: float, relative: float) -> float:
    """``mean`` moved ``relative`` (a fraction of itself) the worse way for this direction."""
    return mean * (1.0 - relative) if compare.higher_is_better else mean * (1.0 + relative)


def _rate_violation(what: str, hits: int, trials: int, target: float, at_least: bool) -> str | None:
    """A message when ``hits / trials`` is significantly below (``at_least``) or above ``target``."""
    test = binomtest(hits, trials, target, alternative="less" if at_least else "greater")
    if test.pvalue >= 0.001:
        return None
    sign = ">=" if at_least else "<="
    return (f"{what}: {hits} of {trials} trials ({hits / trials:.1%}), expected {sign} "
            f"{target:.1%} (one-sided binomial test p={test.pvalue:.2g})")


def _identical_pass(policy: CanaryPolicy, cfg: _Config) -> None:
    compare = _compare_of(policy)
    mean, sd = noise_model(compare.score)
    rng = np.random.default_rng(cfg.seed)
    n = compare.min_samples
    passed = 0
    for _ in range(cfg.compare_trials):
        stats = compare_samples(compare, _draw(rng, mean, sd, n), _draw(rng, mean, sd, n))
        passed += judge(compare, stats).verdict is Verdict.PASS
    problem = _rate_violation(
        f"cohorts drawn from one distribution (mean {mean:.3g}, sd {sd:.3g}, n={n} each) passed",
        passed, cfg.compare_trials, 1 - compare.alpha, at_least=True)
    if problem:
        raise _Violation(problem + "; raise min_samples or max_relative_drop")


def _detects_shift(policy: CanaryPolicy, cfg: _Config) -> None:
    compare = _compare_of(policy)
    mean, sd = noise_model(compare.score)
    rng = np.random.default_rng(cfg.seed + 1)
    n = compare.min_samples
    shifted = _worse(compare, mean, cfg.compare_shift * compare.max_relative_drop)
    caught = 0
    for _ in range(cfg.compare_trials):
        stats = compare_samples(compare, _draw(rng, shifted, sd, n), _draw(rng, mean, sd, n))
        caught += judge(compare, stats).verdict is Verdict.REGRESSION
    problem = _rate_violation(
        f"a canary {cfg.compare_shift:g} x max_relative_drop ({compare.max_relative_drop:g}) "
        f"worse (mean {shifted:.4g} vs {mean:.4g}, sd {sd:.3g}, n={n} each) was caught",
        caught, cfg.compare_trials, 0.9, at_least=True)
    if problem:
        raise _Violation(problem + "; the test lacks power at min_samples: raise min_samples")


def _ignores_fleet_dip(policy: CanaryPolicy, cfg: _Config) -> None:
    compare = _compare_of(policy)
    mean, sd = noise_model(compare.score)
    rng = np.random.default_rng(cfg.seed + 2)
    n = compare.min_samples
    start = policy.steps[min(1, len(policy.steps) - 1)]
    if start <= policy.floor:
        return  # a single-step policy cannot roll back at all
    rollbacks = 0
    example: list[tuple[Observation, Decision]] = []
    dips = (0.05, 0.10, 0.20)
    for trial in range(cfg.compare_trials):
        level = _worse(compare, mean, dips[trial % len(dips)])
        state = CanaryState(sampling=start, since=0.0, step=policy.step_index(start))
        run = []
        for i in range(policy.failure_limit):
            at = 1e6 + i * cfg.interval
            stats = compare_samples(compare, _draw(rng, level, sd, n), _draw(rng, level, sd, n))
            obs = dataclasses.replace(green_observation(policy, at), comparison=stats)
            d = decide(policy, state, obs, at)
            run.append((obs, d))
            state = d.state
            if d.action is Action.ROLLBACK:
                rollbacks += 1
                example = example or run
                break
    problem = _rate_violation("a fleet-wide dip moving both cohorts alike rolled the canary back",
                              rollbacks, cfg.compare_trials, compare.alpha, at_least=False)
    if problem:
        start_state = CanaryState(sampling=start, since=0.0, step=policy.step_index(start))
        raise _Violation(problem + "\n" + render_timeline(policy, start_state, example))


COMPARE_PROPERTIES = ("compare_never_advances_on_inconclusive", "compare_identical_cohorts_pass",
                      "compare_detects_shift", "compare_ignores_fleet_dip")


def applicable_properties(policy: CanaryPolicy) -> list[str]:
    """The property names that apply to ``policy`` (adaptive ones only with an adaptive block,
    compare ones only with a compare block)."""
    return [name for name in PROPERTIES
            if (policy.adaptive is not None or name not in ADAPTIVE_PROPERTIES)
            and (policy.compare is not None or name not in COMPARE_PROPERTIES)]


PROPERTIES: dict[str, Callable[[CanaryPolicy, _Config], None]] = {
    "never_advances_on_missing_data": _single_step_property(
        "never_advances_on_missing_data", _no_data, _missing_observations),
    "never_advances_on_failing_gate": _single_step_property(
        "never_advances_on_failing_gate", _failing,
        lambda p: canary_observations(p, at=0.0)),
    "has_rollback_alerts": _check_has_rollback_alerts,
    "rollback_alert_rolls_back": _single_step_property(
        "rollback_alert_rolls_back", _alert, lambda p: canary_observations(p, at=0.0, alerts=True)),
    "green_run_reaches_100": _green_run,
    "no_flapping": _no_flapping,
    "gates_agree_with_slo": _gates_agree_with_slo,
    "adaptive_no_flapping": _adaptive_no_flapping,
    "adaptive_monotone_bucketing": _adaptive_monotone_bucketing,
    "compare_never_advances_on_inconclusive": _inconclusive_holds,
    "compare_identical_cohorts_pass": _identical_pass,
    "compare_detects_shift": _detects_shift,
    "compare_ignores_fleet_dip": _ignores_fleet_dip,
}


def _execute(prop: Any, cfg: _Config) -> None:
    wrapped = settings(max_examples=cfg.max_examples, deadline=None, database=None,
                       derandomize=True, verbosity=Verbosity.quiet, report_multiple_bugs=False,
                       phases=(Phase.explicit, Phase.generate, Phase.shrink),
                       suppress_health_check=list(HealthCheck))(prop)
    wrapped()


def check_policy(policy: CanaryPolicy, *, max_examples: int = 100, interval: float = 60.0,
                 min_flip_interval: float = 300.0, seed: int = 0, adaptive_noise: float = 0.01,
                 spec: SLOSpec | None = None, compare_trials: int = 300,
                 compare_shift: float = 1.5,
                 properties: Sequence[str] | None = None,
                 raise_on_failure: bool = True) -> list[PropertyResult]:
    """Check ``policy`` against every property (or the named ones).

    ``interval`` is how often the controller decides; ``min_flip_interval``
    the shortest acceptable time between a rollback and the next advance;
    ``spec`` the SLO spec gate thresholds must agree with (default: the built-in
    one); ``compare_trials`` and ``compare_shift`` tune the ``compare:`` rate
    properties (trials per property, and the shift in units of
    ``max_relative_drop`` that must be caught). Raises :class:`PolicyPropertyError` on the first violation unless
    ``raise_on_failure=False``, in which case every result is returned.
    """
    unknown = [p for p in properties or () if p not in PROPERTIES]
    if unknown:
        raise ValueError(f"unknown canary properties {unknown} (known: {list(PROPERTIES)})")
    dwell_steps = int(sum(policy.min_dwell) / interval) + 1
    cfg = _Config(max_examples=max_examples, interval=interval, min_flip_interval=min_flip_interval,
                  seed=seed, max_steps=dwell_steps + (policy.consecutive_successes + 2) * len(policy.steps),
                  adaptive_noise=adaptive_noise, spec=spec, compare_trials=compare_trials,
                  compare_shift=compare_shift)
    results = []
    for name in properties or applicable_properties(policy):
        try:
            PROPERTIES[name](policy, cfg)
        except _Violation as exc:
            if raise_on_failure:
                raise PolicyPropertyError(name, str(exc)) from None
            results.append(PropertyResult(name, False, str(exc)))
        else:
            results.append(PropertyResult(name, True))
    return results
