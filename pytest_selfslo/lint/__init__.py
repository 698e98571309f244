"""Rule linter, SLO drift check and rule rendering for Prometheus alert rules.

    >>> from pytest_selfslo.lint import lint_paths, check_drift, render_rules
    >>> from pytest_selfslo.slo import DEFAULT_SLO_SPEC
    >>> findings = lint_paths(["rules/"], slo=DEFAULT_SLO_SPEC)   # list[Finding]
    >>> sum(f.severity.value == "error" for f in findings)
    0

Modules: ``model`` (what a linted file holds), ``loader`` and ``fastload`` (YAML
with positions, disable comments), ``prepare`` (files, parsed expressions),
``checks/`` (one module per check family), ``runner`` (``lint_paths``), ``drift``
(rules vs SLO spec vs canary policy), ``render`` (rules generated from the spec,
optionally time-scaled), ``cache``; ``selfslo lint`` is :mod:`pytest_selfslo.cli.lint`.
Names are imported lazily so importing the package stays cheap for the pytest plugin.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pytest_selfslo._lazy import lazy_exports

if TYPE_CHECKING:  # real types for mypy; at run time names are resolved lazily
    from pytest_selfslo.lint.drift import (
        check_drift as check_drift,
    )
    from pytest_selfslo.lint.findings import (
        CHECKS as CHECKS,
        Finding as Finding,
        Severity as Severity,
    )
    from pytest_selfslo.lint.render import (
        render_rules as render_rules,
        render_rules_yaml as render_rules_yaml,
    )
    from pytest_selfslo.lint.runner import (
        has_errors as has_errors,
        lint_paths as lint_paths,
    )

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

__all__, __getattr__, __dir__ = lazy_exports(__name__, globals(), _EXPORTS)
