"""Embedded PromQL engine: series notation, storage, the vectorised evaluator, the function table.

Public names are imported lazily (``from pytest_selfslo.promql import Engine``)
so that importing a submodule such as :mod:`.labels` stays cheap (no numpy).
The engine is pure: it reads no files, clock or environment. Rule files live in
:mod:`pytest_selfslo.rulefmt`, their evaluation over time in
:mod:`pytest_selfslo.alerting`, the test runners in :mod:`pytest_selfslo.ruletest`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pytest_selfslo._lazy import lazy_exports

if TYPE_CHECKING:  # real types for mypy; at run time names are resolved lazily
    from pytest_selfslo.promql.engine import Engine as Engine
    from pytest_selfslo.promql.series import (
        parse_series_line as parse_series_line,
        parse_series_values as parse_series_values,
    )
    from pytest_selfslo.promql.storage import LabelMatcher as LabelMatcher, Storage as Storage
    from pytest_selfslo.promql.values import Sample as Sample

_EXPORTS = {
    "Engine": "pytest_selfslo.promql.engine",
    "LabelMatcher": "pytest_selfslo.promql.storage",
    "Sample": "pytest_selfslo.promql.values",
    "Storage": "pytest_selfslo.promql.storage",
    "parse_series_line": "pytest_selfslo.promql.series",
    "parse_series_values": "pytest_selfslo.promql.series",
}

__all__, __getattr__, __dir__ = lazy_exports(__name__, globals(), _EXPORTS)
