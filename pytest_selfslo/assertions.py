"""Assertions for rule, SLO, metric and canary tests (public import path).

The implementation lives in :mod:`pytest_selfslo.plugin.assertions`; this module is the stable import path.
"""

from __future__ import annotations

from pytest_selfslo.plugin.assertions import (
    assert_alert_fires,
    assert_alert_silent,
    assert_metric,
    assert_rules_valid,
    assert_slo_met,
)

__all__ = [
    "assert_alert_fires",
    "assert_alert_silent",
    "assert_metric",
    "assert_rules_valid",
    "assert_slo_met",
]
