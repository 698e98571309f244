"""pytest-selfslo: SELF health-score runtime kit and pytest SLO harness.

Public names are imported lazily (PEP 562) so that ``import pytest_selfslo``
and loading the pytest plugin stay cheap: nothing heavy (numpy, fastapi,
prometheus-client) is imported until a name that needs it is used.

    >>> from pytest_selfslo import update_self_metrics, read_heartbeats
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pytest_selfslo._core.version import __version__ as __version__
from pytest_selfslo._lazy import lazy_exports

if TYPE_CHECKING:  # real types for mypy; at run time names are resolved lazily
    from pytest_selfslo._core.errors import (
        AuditChainError as AuditChainError,
        CanaryError as CanaryError,
        CanaryRequestError as CanaryRequestError,
        CanaryStateError as CanaryStateError,
        ConcurrentModificationError as ConcurrentModificationError,
        ConfigError as ConfigError,
        HeartbeatFormatError as HeartbeatFormatError,
        InputError as InputError,
        PolicyError as PolicyError,
        PrometheusError as PrometheusError,
        PrometheusUnavailable as PrometheusUnavailable,
        PromQLError as PromQLError,
        PromQLEvalError as PromQLEvalError,
        PromQLParseError as PromQLParseError,
        RuleFileError as RuleFileError,
        RuleTestFileError as RuleTestFileError,
        SelfSloError as SelfSloError,
        SeriesNotationError as SeriesNotationError,
        SLOSpecError as SLOSpecError,
        TemplateError as TemplateError,
    )
    from pytest_selfslo.api.app import (
        ApiConfig as ApiConfig,
        create_app as create_app,
        create_router as create_router,
    )
    from pytest_selfslo.canary.machine import (
        CanaryState as CanaryState,
        Decision as Decision,
        Observation as Observation,
        decide as decide,
    )
    from pytest_selfslo.canary.policy import (
        DEFAULT_POLICY as DEFAULT_POLICY,
        CanaryPolicy as CanaryPolicy,
        load_policy as load_policy,
    )
    from pytest_selfslo.canary.runtime import (
        current_sampling as current_sampling,
        should_activate_self as should_activate_self,
    )
    from pytest_selfslo.canary.source import (
        EmbeddedSource as EmbeddedSource,
        PrometheusSource as PrometheusSource,
    )
    from pytest_selfslo.canary.store import (
        CanaryStore as CanaryStore,
    )
    from pytest_selfslo.canary.tuner import (
        CanaryAutoTuner as CanaryAutoTuner,
    )
    from pytest_selfslo.heartbeat import (
        Heartbeat as Heartbeat,
        HeartbeatLog as HeartbeatLog,
        generate_heartbeats as generate_heartbeats,
        read_heartbeats as read_heartbeats,
    )
    from pytest_selfslo.lint import (
        check_drift as check_drift,
        lint_paths as lint_paths,
        render_rules as render_rules,
    )
    from pytest_selfslo.metrics.exporter import (
        SelfMetricsExporter as SelfMetricsExporter,
        update_self_metrics as update_self_metrics,
    )
    from pytest_selfslo.metrics.hook import (
        install_export_hook as install_export_hook,
    )
    from pytest_selfslo.plugin.assertions import (
        assert_alert_fires as assert_alert_fires,
        assert_alert_silent as assert_alert_silent,
        assert_canary_reaches as assert_canary_reaches,
        assert_canary_rolls_back as assert_canary_rolls_back,
        assert_canary_safe as assert_canary_safe,
        assert_metric as assert_metric,
        assert_rules_valid as assert_rules_valid,
        assert_slo_met as assert_slo_met,
    )
    from pytest_selfslo.plugin.canary_properties import (
        check_policy as check_policy,
    )
    from pytest_selfslo.promql.engine import (
        Engine as Engine,
    )
    from pytest_selfslo.promql.storage import (
        Storage as Storage,
    )
    from pytest_selfslo.rulefmt.rulefile import (
        load_rule_files as load_rule_files,
    )
    from pytest_selfslo.ruletest.runner import (
        load_test_file as load_test_file,
        run_rule_tests as run_rule_tests,
        run_test_group as run_test_group,
    )
    from pytest_selfslo.slo.spec import (
        DEFAULT_SLO_SPEC as DEFAULT_SLO_SPEC,
        SLOSpec as SLOSpec,
        evaluate as evaluate,
        load_slo_spec as load_slo_spec,
    )

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

__all__, __getattr__, __dir__ = lazy_exports(__name__, globals(), _EXPORTS, extra=("__version__",))
