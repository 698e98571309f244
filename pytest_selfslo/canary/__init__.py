"""The canary controller: policy, pure decision machine, durable store, tuner, runtime, simulation.

    >>> from pytest_selfslo.canary import DEFAULT_POLICY, CanaryState, Observation, decide
    >>> decide(DEFAULT_POLICY, CanaryState(sampling=0.05, since=0.0),
    ...        Observation(gates={}, error="down", at=60.0), now=60.0).action.value
    'hold'

Names are imported lazily (PEP 562): ``should_activate_self`` in a service's
hot path does not pull in httpx, numpy or the PromQL engine.
"""

from __future__ import annotations

from typing import Any

from pytest_selfslo._lazy import resolve

#: public name -> submodule that defines it
_EXPORTS: dict[str, str] = {
    **{name: "policy" for name in (
        "AdaptivePolicy", "AlertMatcher", "CanaryPolicy", "DEFAULT_POLICY", "Gate", "load_policy",
        "policy_from_mapping")},
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

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    return resolve(__name__, globals(), _EXPORTS, name)


def __dir__() -> list[str]:
    return __all__
