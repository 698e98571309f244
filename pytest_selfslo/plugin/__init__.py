"""pytest entry point (``pytest11``): options, ini keys, markers, fixtures, collection.

Kept thin on purpose: each hook is a few lines that call into ordinary modules
(:mod:`.config` for options, :mod:`.fixtures`, :mod:`.collect` for the
``--self-slo`` items and summary), and heavy imports happen inside hooks so
that merely having the plugin installed costs (almost) nothing. The collection
machinery is registered as a plugin object only under ``--self-slo``
(xdist registers its ``DSession`` only when distributing).
"""

from __future__ import annotations

from typing import Any

import pytest

from pytest_selfslo.plugin.config import (
    ALERTMANAGER_OPTION,
    COVERAGE_FAIL_UNDER_OPTION,
    HEARTBEATS_OPTION,
    PROMETHEUS_OPTION,
    REPORT_OPTION,
    RULE_TESTS_OPTION,
    RULES_OPTION,
    SELF_SLO_OPTION,
    SEMANTICS_OPTION,
    SETTINGS_KEY,
    SLO_OPTION,
    add_options,
    get_settings,
    resolve_settings,
)

__all__ = [
    "ALERTMANAGER_OPTION",
    "COVERAGE_FAIL_UNDER_OPTION",
    "HEARTBEATS_OPTION",
    "PROMETHEUS_OPTION",
    "REPORT_OPTION",
    "RULES_OPTION",
    "RULE_TESTS_OPTION",
    "SELF_SLO_OPTION",
    "SEMANTICS_OPTION",
    "SETTINGS_KEY",
    "SLO_OPTION",
    "get_settings",
]

pytest.register_assert_rewrite("pytest_selfslo.plugin.assertions")

_AVAILABILITY_KEY = pytest.StashKey[dict[str, "str | None"]]()

MARKERS = (
    "selfslo_prometheus: needs a real Prometheus server; skipped with the reason when none is "
    "available (see --self-slo-prometheus)",
    "selfslo_slow: a slow SLO check (e.g. the real-promtool cross-check); "
    "deselect with -m 'not selfslo_slow'",
)


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    from pytest_selfslo.plugin import hookspecs

    pluginmanager.add_hookspecs(hookspecs)


def pytest_configure(config: pytest.Config) -> None:
    for marker in MARKERS:
        config.addinivalue_line("markers", marker)
    settings = resolve_settings(config)
    config.stash[SETTINGS_KEY] = settings
    from pytest_selfslo.plugin import fixtures

    config.pluginmanager.register(fixtures, "selfslo-fixtures")
    if settings.enabled and settings.enable_feature:
        from pytest_selfslo.plugin.config import ENABLE_FEATURE_OPTION, SelfSloConfigWarning
        from pytest_selfslo.promql.features import parse_features

        # what selfslo test-rules prints as ``WARNING:`` (promtool's words, its release's)
        for warning in parse_features(settings.enable_feature,
                                      settings.effective_semantics).warnings:
            config.issue_config_time_warning(
                SelfSloConfigWarning(f"{ENABLE_FEATURE_OPTION}: {warning}"), stacklevel=2)
    if settings.enabled:
        from pytest_selfslo.plugin.collect import SelfSloCollection

        config.pluginmanager.register(SelfSloCollection(config, settings), "selfslo-collection")


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("selfslo_prometheus") is not None:
        reason = _availability(item.config)
        if reason is not None:
            pytest.skip(f"selfslo_prometheus: no real Prometheus: {reason}")


def _availability(config: pytest.Config) -> str | None:
    """Cached per process: why no real server is available under the configured mode, or None."""
    cache: dict[str, Any] = config.stash.setdefault(_AVAILABILITY_KEY, {})
    mode = get_settings(config).prometheus
    if mode not in cache:
        from pytest_selfslo.prometheus.managed import availability

        cache[mode] = availability(mode)
    reason: str | None = cache[mode]
    return reason
