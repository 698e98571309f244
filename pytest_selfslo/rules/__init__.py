"""Rule linter, SLO drift check and rule rendering for Prometheus alert rules.

    >>> from pytest_selfslo.rules import lint_paths, check_drift, render_rules
    >>> findings = lint_paths(["rules/"], slo=DEFAULT_SLO_SPEC)   # list[Finding]

Modules: ``loader`` (YAML with positions, disable comments), ``checks_structure``
and ``checks_promql`` (the checks), ``drift`` (rules vs SLO spec vs canary
policy), ``render`` (rules generated from the spec, optionally time-scaled),
``cli`` (``selfslo lint``). Names are imported lazily so importing the
package stays cheap for the pytest plugin.
"""

from __future__ import annotations

from typing import Any

from .._lazy import resolve

_EXPORTS: dict[str, str] = {
    "CHECKS": "pytest_selfslo.rules.findings",
    "Finding": "pytest_selfslo.rules.findings",
    "Severity": "pytest_selfslo.rules.findings",
    "lint_paths": "pytest_selfslo.rules.lint",
    "has_errors": "pytest_selfslo.rules.lint",
    "check_drift": "pytest_selfslo.rules.drift",
    "render_rules": "pytest_selfslo.rules.render",
    "render_rules_yaml": "pytest_selfslo.rules.render",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    return resolve(__name__, globals(), _EXPORTS, name)


def __dir__() -> list[str]:
    return __all__
