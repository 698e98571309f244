"""pytest-selfslo: SELF health-score runtime kit and pytest SLO harness.

Public names are imported lazily (PEP 562) so that ``import pytest_selfslo``
and loading the pytest plugin stay cheap: nothing heavy (numpy, fastapi,
prometheus-client) is imported until a name that needs it is used.

    >>> from pytest_selfslo import update_self_metrics, read_heartbeats
"""

from __future__ import annotations

from typing import Any

from pytest_selfslo._lazy import resolve

__version__ = "0.1.0"

#: public name -> module that defines it
_EXPORTS: dict[str, str] = {
    # errors
    **{name: "pytest_selfslo._core.errors" for name in (
        "SelfSloError", "InputError", "HeartbeatFormatError", "SeriesNotationError",
        "TemplateError", "ConfigError", "SLOSpecError", "RuleFileError", "RuleTestFileError",
        "PolicyError", "PromQLError", "PromQLParseError", "PromQLEvalError", "CanaryError",
        "CanaryStateError", "AuditChainError", "ConcurrentModificationError",
        "CanaryRequestError", "PrometheusError", "PrometheusUnavailable",
    )},
    # heartbeats
    "Heartbeat": "pytest_selfslo.heartbeat",
    "HeartbeatLog": "pytest_selfslo.heartbeat",
    "read_heartbeats": "pytest_selfslo.heartbeat",
    "generate_heartbeats": "pytest_selfslo.heartbeat",
    # exporter and hook
    "SelfMetricsExporter": "pytest_selfslo.metrics.exporter",
    "update_self_metrics": "pytest_selfslo.metrics.exporter",
    "install_export_hook": "pytest_selfslo.metrics.hook",
    # SLO spec
    "SLOSpec": "pytest_selfslo.slo.spec",
    "DEFAULT_SLO_SPEC": "pytest_selfslo.slo.spec",
    "load_slo_spec": "pytest_selfslo.slo.spec",
    "evaluate": "pytest_selfslo.slo.spec",
    # embedded engine
    "Engine": "pytest_selfslo.promql.engine",
    "Storage": "pytest_selfslo.promql.storage",
    "run_rule_tests": "pytest_selfslo.ruletest.runner",
    "load_test_file": "pytest_selfslo.ruletest.runner",
    "run_test_group": "pytest_selfslo.ruletest.runner",
    "load_rule_files": "pytest_selfslo.rulefmt.rulefile",
    # rule linter and drift check
    "lint_paths": "pytest_selfslo.lint",
    "check_drift": "pytest_selfslo.lint",
    "render_rules": "pytest_selfslo.lint",
    # canary
    "CanaryPolicy": "pytest_selfslo.canary.policy",
    "DEFAULT_POLICY": "pytest_selfslo.canary.policy",
    "load_policy": "pytest_selfslo.canary.policy",
    "CanaryState": "pytest_selfslo.canary.machine",
    "Observation": "pytest_selfslo.canary.machine",
    "Decision": "pytest_selfslo.canary.machine",
    "PrometheusSource": "pytest_selfslo.canary.source",
    "EmbeddedSource": "pytest_selfslo.canary.source",
    "decide": "pytest_selfslo.canary.machine",
    "CanaryStore": "pytest_selfslo.canary.store",
    "CanaryAutoTuner": "pytest_selfslo.canary.tuner",
    "should_activate_self": "pytest_selfslo.canary.runtime",
    "current_sampling": "pytest_selfslo.canary.runtime",
    # pytest assertions
    **{name: "pytest_selfslo.plugin.assertions" for name in (
        "assert_alert_fires", "assert_alert_silent", "assert_slo_met", "assert_metric",
        "assert_rules_valid", "assert_canary_safe", "assert_canary_reaches",
        "assert_canary_rolls_back",
    )},
    "check_policy": "pytest_selfslo.plugin.canary_properties",
    # operator API
    "ApiConfig": "pytest_selfslo.api.app",
    "create_app": "pytest_selfslo.api.app",
    "create_router": "pytest_selfslo.api.app",
}

__all__ = [*sorted(_EXPORTS), "__version__"]


def __getattr__(name: str) -> Any:
    return resolve(__name__, globals(), _EXPORTS, name)


def __dir__() -> list[str]:
    return __all__
