"""Canary-policy assertions, re-exported by :mod:`pytest_selfslo.plugin.assertions`.

They replay observations through the pure ``decide()`` (engineer D's
:func:`~pytest_selfslo.plugin.canary_properties.replay_observations`) and, on failure,
print the decision timeline: what was observed, what was decided and why::

    assert_canary_reaches(policy, [green] * 60, 1.0, within="1h")
    assert_canary_rolls_back(policy, [green, green, with_alert], by="3m")
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pytest_selfslo.canary.machine import Observation
    from pytest_selfslo.canary.policy import CanaryPolicy

__all__ = ["assert_canary_reaches", "assert_canary_rolls_back", "assert_canary_safe"]

_START_AT = 1_700_000_000.0


def _seconds(value: str | float | None) -> float | None:
    from pytest_selfslo.slo.spec import parse_duration

    if value is None:
        return None
    return parse_duration(value) if isinstance(value, str) else float(value)


def _replay(policy: CanaryPolicy, observations: Sequence[Observation], start: float | None,
            interval: float) -> tuple[Any, list[Any]]:
    from pytest_selfslo.canary.machine import CanaryState
    from pytest_selfslo.plugin.canary_properties import replay_observations

    sampling = policy.steps[0] if start is None else start
    state = CanaryState(sampling=sampling, since=_START_AT - 1e6,
                        step=policy.steps.index(sampling) if sampling in policy.steps else 0)
    return state, replay_observations(policy, state, list(observations), _START_AT, interval)


def _timeline(policy: CanaryPolicy, state: Any, steps: list[Any]) -> str:
    from pytest_selfslo.plugin.canary_properties import render_timeline

    return render_timeline(policy, state, steps) if steps else "  (no observations)"


def assert_canary_safe(policy: CanaryPolicy, *, max_examples: int = 100) -> None:
    """Assert ``policy`` has every safety property (see ``pytest_selfslo.plugin.canary_properties``).

    The message names the violated property and shows hypothesis' shrunk
    counterexample as a timeline.
    """
    __tracebackhide__ = True
    from pytest_selfslo.plugin.canary_properties import PolicyPropertyError, check_policy

    try:
        check_policy(policy, max_examples=max_examples)
    except PolicyPropertyError as exc:
        raise AssertionError(str(exc)) from None


def assert_canary_reaches(policy: CanaryPolicy, observations: Sequence[Observation],
                          sampling: float, within: str | float | None = None, *,
                          start: float | None = None, interval: float = 60.0) -> None:
    """Assert the canary reaches ``sampling`` (from ``start``, default the first step).

    Observations are decided ``interval`` s apart; ``within`` (``"30m"`` or
    seconds) bounds the time from the first decision to the one that reaches it.
    """
    __tracebackhide__ = True
    state, steps = _replay(policy, observations, start, interval)
    limit = _seconds(within)
    reached = next((d for _, d in steps if d.next == sampling), None)
    if reached is not None and (limit is None or reached.at - _START_AT <= limit):
        return
    final = steps[-1][1].next if steps else state.sampling
    if reached is None:
        what = f"it ended at {final:g} after {len(steps)} decisions"
    else:
        what = f"it got there only after {reached.at - _START_AT:g}s"
    bound = f" within {within}" if within is not None else ""
    raise AssertionError(f"expected the canary to reach {sampling:g}{bound}, but {what}\n"
                         + _timeline(policy, state, steps))


def assert_canary_rolls_back(policy: CanaryPolicy, observations: Sequence[Observation],
                             by: str | float | None = None, *, start: float | None = None,
                             interval: float = 60.0) -> None:
    """Assert some decision rolls back, no later than ``by`` after the first one.

    ``start`` defaults to the second-highest step, so a rollback has room to happen.
    """
    __tracebackhide__ = True
    if start is None and len(policy.steps) > 1:
        start = policy.steps[-2]
    state, steps = _replay(policy, observations, start, interval)
    limit = _seconds(by)
    from pytest_selfslo.canary.machine import Action

    first = next((d for _, d in steps if d.action is Action.ROLLBACK), None)
    if first is not None and (limit is None or first.at - _START_AT <= limit):
        return
    what = ("no decision rolled back" if first is None
            else f"the first rollback came {first.at - _START_AT:g}s after the first decision")
    bound = f" by {by}" if by is not None else ""
    raise AssertionError(f"expected the canary to roll back{bound} (from {state.sampling:g}), "
                         f"but {what}\n" + _timeline(policy, state, steps))
