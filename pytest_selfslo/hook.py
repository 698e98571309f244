"""The fail-safe export hook (public import path; also in :mod:`pytest_selfslo.metrics`).

The implementation lives in :mod:`pytest_selfslo.metrics.hook`; this module is the stable import path.
"""

from __future__ import annotations

from pytest_selfslo.metrics.hook import (
    ExportHook,
    default_scores,
    install_export_hook,
    remove_export_hook,
)

__all__ = [
    "ExportHook",
    "default_scores",
    "install_export_hook",
    "remove_export_hook",
]
