"""The public surface, pinned: the documented modules and the names each exports.

A name added, removed or renamed here is an API change: update the pin, the
docs and ``CHANGELOG.md`` together. Every pinned name must resolve (lazy
exports included) to an object defined inside the package.
"""

from __future__ import annotations

import importlib

import pytest

PUBLIC: dict[str, list[str]] = {
    "pytest_selfslo": [
        "ApiConfig", "AuditChainError", "CanaryAutoTuner", "CanaryError", "CanaryPolicy",
        "CanaryRequestError", "CanaryState", "CanaryStateError", "CanaryStore",
        "ConcurrentModificationError", "ConfigError", "DEFAULT_POLICY", "DEFAULT_SLO_SPEC",
        "Decision", "EmbeddedSource", "Engine", "Heartbeat", "HeartbeatFormatError",
        "HeartbeatLog", "InputError", "Observation", "PolicyError", "PromQLError",
        "PromQLEvalError", "PromQLParseError", "PrometheusError", "PrometheusSource",
        "PrometheusUnavailable", "RuleFileError", "RuleTestFileError", "SLOSpec", "SLOSpecError",
        "SelfMetricsExporter", "SelfSloError", "SeriesNotationError", "Storage", "TemplateError",
        "__version__", "assert_alert_fires", "assert_alert_silent", "assert_canary_reaches",
        "assert_canary_rolls_back", "assert_canary_safe", "assert_metric", "assert_rules_valid",
        "assert_slo_met", "check_drift", "check_policy", "create_app", "create_router",
        "current_sampling", "decide", "evaluate", "generate_heartbeats", "install_export_hook",
        "lint_paths", "load_policy", "load_rule_files", "load_slo_spec", "load_test_file",
        "read_heartbeats", "render_rules", "run_rule_tests", "run_test_group",
        "should_activate_self", "update_self_metrics",
    ],
    "pytest_selfslo.api": [
        "ApiConfig", "DEFAULT_MAX_BODY_BYTES", "create_app", "create_router",
    ],
    "pytest_selfslo.assertions": [
        "AlertTimeline", "assert_alert_fires", "assert_alert_silent", "assert_canary_reaches",
        "assert_canary_rolls_back", "assert_canary_safe", "assert_metric", "assert_rules_valid",
        "assert_slo_met", "describe_objective_result",
    ],
    "pytest_selfslo.canary": [
        "Action", "AdaptiveActivation", "AdaptivePolicy", "AlertMatcher", "AuditLog",
        "AuditRecord", "CanaryAutoTuner", "CanaryPolicy", "CanaryState", "CanaryStore",
        "CohortStats", "ComparePolicy", "DEFAULT_POLICY", "Decision", "EmbeddedSource", "Gate",
        "GateResult", "HeartbeatCohorts", "MetricsSource", "Observation", "PrometheusSource",
        "SimulationResult", "StaticSource", "Verdict", "bucket", "compare_samples",
        "current_sampling", "current_state", "decide", "is_active", "judge", "load_policy",
        "policy_from_mapping", "rollback_on_alerts", "should_activate_self", "simulate",
        "simulate_files",
    ],
    "pytest_selfslo.errors": [
        "AuditChainError", "CanaryError", "CanaryRequestError", "CanaryStateError",
        "ConcurrentModificationError", "ConfigError", "HeartbeatFormatError", "InputError",
        "LimitError", "PolicyError", "PromQLError", "PromQLEvalError", "PromQLParseError",
        "PromQLUnsupportedError", "PrometheusError", "PrometheusUnavailable", "RuleFileError",
        "RuleTestFileError", "SLOSpecError", "SelfSloError", "SeriesNotationError",
        "TemplateError", "located",
    ],
    "pytest_selfslo.heartbeat": [
        "Heartbeat", "HeartbeatLog", "HeartbeatRead", "KINDS", "MAX_REPORTED_BAD_LINES",
        "MAX_TOKEN_ID_LEN", "SCENARIOS", "SCORES", "Scenario", "format_timestamp",
        "generate_heartbeats", "parse_timestamp", "read_heartbeats",
    ],
    "pytest_selfslo.hook": [
        "ExportHook", "default_scores", "install_export_hook", "remove_export_hook",
    ],
    "pytest_selfslo.lint": [
        "CHECKS", "Finding", "Severity", "check_drift", "has_errors", "lint_paths",
        "render_rules", "render_rules_yaml",
    ],
    "pytest_selfslo.metrics": [
        "DISABLED_VALUES", "ENV_GATE", "ExportHook", "GAUGE_NAMES", "SelfMetricsExporter",
        "default_exporter", "default_scores", "install_export_hook", "metrics_enabled",
        "remove_export_hook", "reset_default_exporter", "update_self_metrics",
    ],
    "pytest_selfslo.mutate": [
        "Mutant", "MutantResult", "MutationReport", "MutationSetupError", "MutationSuite",
        "OPERATORS", "Operator", "RuleResult", "generate_mutants", "resolve_operators",
    ],
    "pytest_selfslo.prometheus": [
        "AlertmanagerServer", "PrometheusServer", "availability", "binary_semantics",
        "binary_version", "start_alertmanager", "start_prometheus",
    ],
    "pytest_selfslo.promql": [
        "Engine", "LabelMatcher", "Sample", "Storage", "parse_series_line", "parse_series_values",
    ],
    "pytest_selfslo.replay": [
        "DEFAULT_FILE", "DEFAULT_SNAPSHOT", "ReplayResult", "format_text", "replay",
        "save_snapshot", "supports_emoji",
    ],
    "pytest_selfslo.rules": [
        "CHECKS", "Finding", "Severity", "check_drift", "has_errors", "lint_paths",
        "render_rules", "render_rules_yaml",
    ],
    "pytest_selfslo.slo": [
        "AlertSpec", "BurnRateWindow", "DEFAULT_SLO_SPEC", "Objective", "ObjectiveResult",
        "PERCENTILES", "SCORE_NAMES", "SLOReport", "SLOSpec", "ServiceLevel", "ServiceSLOs", "Sli",
        "default_burn_rates", "detect_format", "dump_service_slos", "dump_slo_spec", "evaluate",
        "evaluate_columns", "generate_rules", "generate_tests", "import_spec", "import_text",
        "load_service_slos", "load_slo_spec", "parse_duration",
    ],
    "pytest_selfslo.strategies": [
        "canary_observations", "canary_states", "comparison_stats", "firing_alerts",
        "green_observations",
        "heartbeat", "heartbeats", "observation_sequences", "score", "series", "series_values",
        "token_ids",
    ],
}


@pytest.mark.parametrize("module", sorted(PUBLIC))
def test_public_names_are_pinned(module: str) -> None:
    assert sorted(importlib.import_module(module).__all__) == PUBLIC[module]


@pytest.mark.parametrize(("module", "name"),
                         [(m, n) for m, names in sorted(PUBLIC.items()) for n in names])
def test_public_name_resolves_inside_the_package(module: str, name: str) -> None:
    value = getattr(importlib.import_module(module), name)
    origin = getattr(value, "__module__", None)
    if origin is not None and not isinstance(value, (str, int, float, tuple, frozenset, dict)):
        assert origin.startswith("pytest_selfslo"), (name, origin)


def test_the_plugin_entry_point_is_the_documented_module() -> None:
    from importlib.metadata import entry_points

    (entry,) = [e for e in entry_points(group="pytest11") if e.name == "selfslo"]
    assert entry.value == "pytest_selfslo.plugin"
