"""The SELF exporter (prometheus-client gauges) and the fail-safe export hook.

    >>> from pytest_selfslo.metrics import update_self_metrics, install_export_hook

Names are imported lazily so importing the package does not import prometheus-client.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pytest_selfslo._lazy import lazy_exports

if TYPE_CHECKING:  # real types for mypy; at run time names are resolved lazily
    from pytest_selfslo.metrics.exporter import (
        DISABLED_VALUES as DISABLED_VALUES,
        ENV_GATE as ENV_GATE,
        GAUGE_NAMES as GAUGE_NAMES,
        SelfMetricsExporter as SelfMetricsExporter,
        default_exporter as default_exporter,
        metrics_enabled as metrics_enabled,
        reset_default_exporter as reset_default_exporter,
        update_self_metrics as update_self_metrics,
    )
    from pytest_selfslo.metrics.hook import (
        ExportHook as ExportHook,
        default_scores as default_scores,
        install_export_hook as install_export_hook,
        remove_export_hook as remove_export_hook,
    )

#: public name -> module that defines it
_EXPORTS: dict[str, str] = {
    "DISABLED_VALUES": "pytest_selfslo.metrics.exporter",
    "ENV_GATE": "pytest_selfslo.metrics.exporter",
    "GAUGE_NAMES": "pytest_selfslo.metrics.exporter",
    "SelfMetricsExporter": "pytest_selfslo.metrics.exporter",
    "default_exporter": "pytest_selfslo.metrics.exporter",
    "metrics_enabled": "pytest_selfslo.metrics.exporter",
    "reset_default_exporter": "pytest_selfslo.metrics.exporter",
    "update_self_metrics": "pytest_selfslo.metrics.exporter",
    "ExportHook": "pytest_selfslo.metrics.hook",
    "default_scores": "pytest_selfslo.metrics.hook",
    "install_export_hook": "pytest_selfslo.metrics.hook",
    "remove_export_hook": "pytest_selfslo.metrics.hook",
}

__all__, __getattr__, __dir__ = lazy_exports(__name__, globals(), _EXPORTS)
