"""Push: roll the canary back the moment an alert notification names a rollback alert.

The tuner notices a firing alert only when it next polls Prometheus. Alertmanager
can *push* instead (its webhook receiver, ``POST /self/alerts`` on the operator
API); :func:`rollback_on_alerts` is what that endpoint runs, and it takes the
same road as every other decision:

1. keep the alerts whose ``status`` is ``firing`` and whose labels match the
   policy's ``rollback_alerts``; with none, nothing is decided or written
   (a *resolved* notification never advances the canary -- it never even
   reaches :func:`~pytest_selfslo.canary.machine.decide`);
2. build an :class:`~pytest_selfslo.canary.machine.Observation` carrying only
   those alerts and no gate values (``error`` says why), so ``decide()`` can
   roll back (a firing rollback alert wins over everything, even a pause) or
   hold, but never advance;
3. a ``rollback`` is applied through :meth:`CanaryStore.apply` with the
   decision in the audit record (``source: alertmanager`` and the
   notification's receiver, group key and alerts) and the alert names in the
   reason; a lost compare-and-set (the tuner or an operator changed the
   state meanwhile) is retried on the new state.

Idempotence: a rollback goes to the rollback floor, so a repeated notification
of the same alert group finds the canary already there; ``decide()`` answers
``hold`` ("already at 0.05") and *nothing is written* -- no audit record, no
state change. (If someone raises the canary by hand while the alert is still
firing, the next notification rolls it back again, as the tuner would.)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from pytest_selfslo._core.errors import ConcurrentModificationError
from pytest_selfslo.canary.machine import Action, Observation, decide
from pytest_selfslo.canary.policy import CanaryPolicy
from pytest_selfslo.canary.store import MAX_REASON, CanaryStore

__all__ = ["NO_GATE_DATA", "PushOutcome", "rollback_on_alerts"]

#: the observation's ``error``: a notification carries alerts, never gate values
NO_GATE_DATA = "alert notification: no gate values (only a rollback can follow from it)"
_ATTEMPTS = 5


@dataclasses.dataclass(frozen=True)
class PushOutcome:
    """What a notification did: ``action`` is ``rollback``, ``hold`` or ``ignored``."""

    action: str
    applied: bool
    current: float
    next: float
    reasons: tuple[str, ...]
    matched: tuple[Mapping[str, str], ...]
    audit_seq: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """The webhook's JSON answer."""
        return {"action": self.action, "applied": self.applied, "current_canary": self.current,
                "next_canary": self.next, "reasons": list(self.reasons),
                "rollback_alerts": [dict(a) for a in self.matched], "audit_seq": self.audit_seq}


def rollback_on_alerts(store: CanaryStore, policy: CanaryPolicy,
                       alerts: Sequence[tuple[str, Mapping[str, str]]], *, actor: str, now: float,
                       context: Mapping[str, Any] | None = None) -> PushOutcome:
    """Roll back if a firing alert is a rollback alert of ``policy``; see the module docstring.

    ``alerts`` are ``(status, labels)`` pairs; ``context`` (receiver, group
    key, ...) goes into the audit record's decision; ``now`` is the decision
    and change time.
    """
    matched = tuple({str(k): str(v) for k, v in labels.items()} for status, labels in alerts
                    if status == "firing" and any(m.matches(labels) for m in policy.rollback_alerts))
    for _ in range(_ATTEMPTS):
        state = store.load()
        if not matched:
            firing = sum(1 for status, _ in alerts if status == "firing")
            why = (f"{firing} firing alert(s), none matches the policy's rollback_alerts"
                   if firing else "no firing alert (resolved notifications never advance)")
            return PushOutcome("ignored", False, state.sampling, state.sampling, (why,), ())
        observation = Observation(gates={}, firing_alerts=matched, error=NO_GATE_DATA, at=now)
        decision = decide(policy, state, observation, now)
        if decision.action is not Action.ROLLBACK:  # at the floor already: idempotent, no write
            return PushOutcome(decision.action.value, False, state.sampling, state.sampling,
                               decision.reasons, matched)
        source = "Alertmanager notification" + (
            f" (receiver {context['receiver']})" if context and context.get("receiver") else "")
        reason = f"{'; '.join(decision.reasons)}; via {source}"[:MAX_REASON]
        record_decision = decision.to_dict() | {"applied": True, "source": "alertmanager",
                                                "notification": dict(context or {})}
        try:
            record = store.apply(decision.next, reason=reason, actor=actor,
                                 action=decision.action.value, decision=record_decision,
                                 expected_version=state.version, paused=decision.state.paused,
                                 at=now)
        except ConcurrentModificationError:
            continue  # someone changed the state meanwhile: decide again on the new one
        return PushOutcome(decision.action.value, True, decision.current, decision.next,
                           decision.reasons, matched, record.seq)
    raise ConcurrentModificationError(
        f"the canary state changed {_ATTEMPTS} times while applying an alert rollback -- retry")
