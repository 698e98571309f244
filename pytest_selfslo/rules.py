"""Rule linter, SLO drift check and rule rendering (public import path).

    >>> from pytest_selfslo.rules import lint_paths, check_drift, render_rules

The implementation lives in :mod:`pytest_selfslo.lint`; names are resolved
lazily so importing this module stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pytest_selfslo._lazy import lazy_exports

if TYPE_CHECKING:  # real types for mypy; at run time names are resolved lazily
    from pytest_selfslo.lint import (
        CHECKS as CHECKS,
        Finding as Finding,
        Severity as Severity,
        check_drift as check_drift,
        has_errors as has_errors,
        lint_paths as lint_paths,
        render_rules as render_rules,
        render_rules_yaml as render_rules_yaml,
    )

_EXPORTS: dict[str, str] = {
    name: "pytest_selfslo.lint" for name in (
        "CHECKS", "Finding", "Severity", "check_drift", "has_errors", "lint_paths",
        "render_rules", "render_rules_yaml")
}

__all__, __getattr__, __dir__ = lazy_exports(__name__, globals(), _EXPORTS)
