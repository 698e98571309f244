"""The canary controller: policy, pure decision machine, durable store, tuner, runtime, simulation.

    >>> from pytest_selfslo.canary import DEFAULT_POLICY, CanaryState, Observation, decide
    >>> decide(DEFAULT_POLICY, CanaryState(sampling=0.05, since=0.0),
    ...        Observation(gates={}, error="down", at=60.0), now=60.0).action.value
    'hold'

Names are imported lazily (PEP 562): ``should_activate_self`` in a service's
hot path does not pull in httpx, numpy or the PromQL engine.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pytest_selfslo._lazy import lazy_exports

if TYPE_CHECKING:  # real types for mypy; at run time names are resolved lazily
    from pytest_selfslo.canary.audit import (
        AuditLog as AuditLog,
        AuditRecord as AuditRecord,
    )
    from pytest_selfslo.canary.bucketing import (
        bucket as bucket,
        is_active as is_active,
    )
    from pytest_selfslo.canary.cohorts import (
        HeartbeatCohorts as HeartbeatCohorts,
        compare_samples as compare_samples,
    )
    from pytest_selfslo.canary.comparison import (
        CohortStats as CohortStats,
        Verdict as Verdict,
        judge as judge,
    )
    from pytest_selfslo.canary.machine import (
        Action as Action,
        CanaryState as CanaryState,
        Decision as Decision,
        GateResult as GateResult,
        Observation as Observation,
        decide as decide,
    )
    from pytest_selfslo.canary.policy import (
        DEFAULT_POLICY as DEFAULT_POLICY,
        AdaptivePolicy as AdaptivePolicy,
        AlertMatcher as AlertMatcher,
        CanaryPolicy as CanaryPolicy,
        ComparePolicy as ComparePolicy,
        Gate as Gate,
        load_policy as load_policy,
        policy_from_mapping as policy_from_mapping,
    )
    from pytest_selfslo.canary.push import (
        rollback_on_alerts as rollback_on_alerts,
    )
    from pytest_selfslo.canary.runtime import (
        AdaptiveActivation as AdaptiveActivation,
        current_sampling as current_sampling,
        current_state as current_state,
        should_activate_self as should_activate_self,
    )
    from pytest_selfslo.canary.simulate import (
        SimulationResult as SimulationResult,
        simulate as simulate,
        simulate_files as simulate_files,
    )
    from pytest_selfslo.canary.source import (
        EmbeddedSource as EmbeddedSource,
        MetricsSource as MetricsSource,
        PrometheusSource as PrometheusSource,
        StaticSource as StaticSource,
    )
    from pytest_selfslo.canary.store import (
        CanaryStore as CanaryStore,
    )
    from pytest_selfslo.canary.tuner import (
        CanaryAutoTuner as CanaryAutoTuner,
    )

#: public name -> submodule that defines it
_EXPORTS: dict[str, str] = {
    **{name: "policy" for name in (
        "AdaptivePolicy", "AlertMatcher", "CanaryPolicy", "ComparePolicy", "DEFAULT_POLICY", "Gate",
        "load_policy", "policy_from_mapping")},
    **{name: "comparison" for name in ("CohortStats", "Verdict", "judge")},
    **{name: "cohorts" for name in ("HeartbeatCohorts", "compare_samples")},
    **{name: "push" for name in ("rollback_on_alerts",)},
    **{name: "machine" for name in (
        "Action", "CanaryState", "Decision", "GateResult", "Observation", "decide")},
    **{name: "source" for name in (
        "EmbeddedSource", "MetricsSource", "PrometheusSource", "StaticSource")},
    **{name: "store" for name in ("CanaryStore",)},
    **{name: "audit" for name in ("AuditLog", "AuditRecord")},
    **{name: "tuner" for name in ("CanaryAutoTuner",)},
    **{name: "runtime" for name in (
        "AdaptiveActivation", "current_sampling", "current_state", "should_activate_self")},
    **{name: "bucketing" for name in ("bucket", "is_active")},
    **{name: "simulate" for name in ("SimulationResult", "simulate", "simulate_files")},
}

__all__, __getattr__, __dir__ = lazy_exports(__name__, globals(), _EXPORTS)
