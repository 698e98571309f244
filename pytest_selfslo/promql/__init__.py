"""Embedded PromQL engine: series notation, storage, evaluator, promqltest runner.

Public names are imported lazily (``from pytest_selfslo.promql import Engine``)
so that importing a submodule such as :mod:`.values` stays cheap and free of cycles.
"""

from __future__ import annotations

from typing import Any

from pytest_selfslo._lazy import resolve

_EXPORTS = {
    "Engine": "pytest_selfslo.promql.engine",
    "LabelMatcher": "pytest_selfslo.promql.storage",
    "PromQLTestFileResult": "pytest_selfslo.ruletest.promqltest",
    "Sample": "pytest_selfslo.promql.values",
    "Storage": "pytest_selfslo.promql.storage",
    "parse_series_line": "pytest_selfslo.promql.series",
    "parse_series_values": "pytest_selfslo.promql.series",
    "run_promqltest_file": "pytest_selfslo.ruletest.promqltest",
    "AlertingRule": "pytest_selfslo.rulefmt.model",
    "RecordingRule": "pytest_selfslo.rulefmt.model",
    "RuleCoverage": "pytest_selfslo.ruletest.coverage",
    "RuleGroup": "pytest_selfslo.rulefmt.model",
    "check_rule_file": "pytest_selfslo.rulefmt.rulefile",
    "expand_template": "pytest_selfslo.template.parse",
    "load_rule_files": "pytest_selfslo.rulefmt.rulefile",
    "load_test_file": "pytest_selfslo.ruletest.runner",
    "run_rule_tests": "pytest_selfslo.ruletest.runner",
    "run_test_group": "pytest_selfslo.ruletest.runner",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    return resolve(__name__, globals(), _EXPORTS, name)
