"""The canary auto-tuner: observe, :func:`decide`, persist -- the shell around the pure machine.

>>> tuner = CanaryAutoTuner(prometheus_url="http://127.0.0.1:9090")   # doctest: +SKIP
>>> tuner.check_and_tune()["action"]                                  # doctest: +SKIP
'hold'

:meth:`CanaryAutoTuner.check_and_tune` returns the decision dict (``action``,
``current_canary``, ``next_canary``, ``reasons``, ``gates``, plus ``applied``)
and changes the sampling only with ``auto_apply=True`` (never with
``dry_run=True``, which persists nothing at all). Non-changing decisions still
persist their counters (success streak, failures) without an audit record.
Metrics ``selfslo_canary_sampling`` and ``selfslo_canary_decisions_total{action}``
live on an injectable registry.

With a ``compare:`` block in the policy the tuner also reads both cohorts
(``cohorts``: a :class:`~pytest_selfslo.canary.cohorts.HeartbeatCohorts` or any
:class:`~pytest_selfslo.canary.cohorts.CohortSource`; default: the metrics
source itself when it can, e.g. :class:`PrometheusSource`), runs the test and
hands the statistics to :func:`decide` on the observation.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge

from pytest_selfslo._core.errors import ConcurrentModificationError
from pytest_selfslo.canary.cohorts import CohortSource, observe_comparison
from pytest_selfslo.canary.machine import Action, Decision, decide
from pytest_selfslo.canary.policy import DEFAULT_POLICY, CanaryPolicy
from pytest_selfslo.canary.source import MetricsSource, PrometheusSource
from pytest_selfslo.canary.store import MAX_REASON, CanaryStore

__all__ = ["CanaryAutoTuner"]


class _Metrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.sampling = Gauge("selfslo_canary_sampling", "Canary sampling fraction in force",
                              registry=registry)
        self.decisions = Counter("selfslo_canary_decisions", "Canary decisions by action",
                                 ["action"], registry=registry)
        self.errors = Counter("selfslo_canary_observation_errors",
                              "Observations whose metrics source failed", registry=registry)
        for action in Action:
            self.decisions.labels(action=action.value)


class CanaryAutoTuner:
    """Observes the policy's gates and alerts, decides, and (optionally) applies the decision.

    Give either ``prometheus_url`` or a ``source``. ``clock`` returns unix
    seconds (tests pass a fake). ``registry`` defaults to the global
    prometheus_client registry; pass a fresh ``CollectorRegistry()`` when
    several tuners live in one process.
    """

    def __init__(self, prometheus_url: str | None = None, source: MetricsSource | None = None,
                 policy: CanaryPolicy | None = None, store: CanaryStore | None = None,
                 clock: Callable[[], float] | None = None, dry_run: bool = False,
                 auto_apply: bool = False, *, registry: CollectorRegistry | None = None,
                 state_dir: str | Path | None = None, actor: str = "tuner",
                 cohorts: CohortSource | None = None) -> None:
        if source is None:
            if not prometheus_url:
                raise ValueError("CanaryAutoTuner needs prometheus_url or source (got neither)")
            source = PrometheusSource(prometheus_url)
        self.source = source
        self.policy = policy or (store.policy if store is not None else DEFAULT_POLICY)
        self.clock = clock or time.time
        self.store = store or CanaryStore(state_dir, policy=self.policy, clock=self.clock)
        self.dry_run = dry_run
        self.auto_apply = auto_apply
        self.actor = actor
        self.registry = REGISTRY if registry is None else registry
        self.metrics = _Metrics(self.registry)
        self.last_decision: Decision | None = None
        if cohorts is None and hasattr(source, "cohort_samples"):
            cohorts = source  # type: ignore[assignment]
        self.cohorts = cohorts

    def check_and_tune(self) -> dict[str, Any]:
        """One control-loop iteration; returns the decision dict with ``applied`` and ``note``."""
        state = self.store.load()
        now = self.clock()
        observation = self.source.observe(self.policy, now)
        if self.policy.compare is not None and observation.comparison is None:
            stats = observe_comparison(self.cohorts, self.policy.compare, state.sampling, now)
            observation = dataclasses.replace(observation, comparison=stats)
        decision = decide(self.policy, state, observation, now)
        self.last_decision = decision
        self.metrics.decisions.labels(action=decision.action.value).inc()
        if observation.error is not None:
            self.metrics.errors.inc()
        out = decision.to_dict()
        out.update(applied=False, dry_run=self.dry_run, note="")
        sampling = state.sampling
        try:
            if self.dry_run:
                out["note"] = "dry run: nothing persisted"
            elif decision.changes_sampling and not self.auto_apply:
                out["note"] = (f"{decision.action.value} to {decision.next:g} recommended; not applied "
                               "(auto_apply is off)")
            elif decision.changes_sampling:
                reason = "; ".join(decision.reasons)[:MAX_REASON]
                self.store.apply(decision.next, reason=reason, actor=self.actor,
                                 action=decision.action.value, decision=out | {"applied": True},
                                 expected_version=state.version, paused=decision.state.paused, at=now)
                out.update(applied=True, note=f"applied: {decision.current:g} -> {decision.next:g}")
                sampling = decision.next
            else:
                self.store.record_decision(dataclasses.replace(decision.state, last_decision=out),
                                           expected_version=state.version)
        except ConcurrentModificationError as exc:
            out["note"] = f"not applied: {exc}"
        self.metrics.sampling.set(sampling)
        return out

    def apply_canary_change(self, value: float, reason: str, actor: str = "operator",
                            expected_old_sampling: float | None = None) -> dict[str, Any]:
        """A manual, audited change (refused without a reason or off-step); hot, no restart."""
        record = self.store.apply(value, reason=reason, actor=actor, action="manual",
                                  expected_old_sampling=expected_old_sampling)
        self.metrics.sampling.set(record.new)
        return {"success": True, "old_sampling": record.old, "new_sampling": record.new,
                "reason": record.reason, "note": "applied without restart: services pick it up "
                "on their next current_sampling() call"}

    def run(self, every: float, stop: threading.Event,
            on_decision: Callable[[dict[str, Any]], None] | None = None) -> int:
        """Call :meth:`check_and_tune` every ``every`` seconds until ``stop`` is set; returns the count."""
        count = 0
        while not stop.is_set():
            result = self.check_and_tune()
            count += 1
            if on_decision is not None:
                on_decision(result)
            stop.wait(every)
        return count
