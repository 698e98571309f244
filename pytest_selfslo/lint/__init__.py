"""Rule linter, SLO drift check and rule rendering for Prometheus alert rules.

    >>> from pytest_selfslo.lint import lint_paths, check_drift, render_rules
    >>> findings = lint_paths(["rules/"], slo=DEFAULT_SLO_SPEC)   # list[Finding]

Modules: ``loader`` (YAML with positions, disable comments), ``checks_structure``
and ``checks_promql`` (the checks), ``drift`` (rules vs SLO spec vs canary
policy), ``render`` (rules generated from the spec, optionally time-scaled),
``cli`` (``selfslo lint``). Names are imported lazily so importing the
package stays cheap for the pytest plugin.
"""

from __future__ import annotations

from typing import Any

from pytest_selfslo._lazy import resolve

_EXPORTS: dict[str, str] = {
    "CHECKS": "pytest_selfslo.lint.findings",
    "Finding": "pytest_selfslo.lint.findings",
    "Severity": "pytest_selfslo.lint.findings",
    "lint_paths": "pytest_selfslo.lint.runner",
    "has_errors": "pytest_selfslo.lint.runner",
    "check_drift": "pytest_selfslo.lint.drift",
    "render_rules": "pytest_selfslo.lint.render",
    "render_rules_yaml": "pytest_selfslo.lint.render",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    return resolve(__name__, globals(), _EXPORTS, name)


def __dir__() -> list[str]:
    return __all__
