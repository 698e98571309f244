"""The SELF exporter (prometheus-client gauges) and the fail-safe export hook.

    >>> from pytest_selfslo.metrics import update_self_metrics, install_export_hook

Names are imported lazily so importing the package does not import prometheus-client.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pytest_selfslo._lazy import resolve

if TYPE_CHECKING:  # real types for mypy; at run time names are resolved lazily
    from pytest_selfslo.metrics.exporter import (
        DISABLED_VALUES as DISABLED_VALUES,
    )
    from pytest_selfslo.metrics.exporter import (
        ENV_GATE as ENV_GATE,
    )
    from pytest_selfslo.metrics.exporter import (
        GAUGE_NAMES as GAUGE_NAMES,
    )
    from pytest_selfslo.metrics.exporter import (
        SelfMetricsExporter as SelfMetricsExporter,
    )
    from pytest_selfslo.metrics.exporter import (
        default_exporter as default_exporter,
    )
    from pytest_selfslo.metrics.exporter import (
        metrics_enabled as metrics_enabled,
    )
    from pytest_selfslo.metrics.exporter import (
        reset_default_exporter as reset_default_exporter,
    )
    from pytest_selfslo.metrics.exporter import (
        update_self_metrics as update_self_metrics,
    )
    from pytest_selfslo.metrics.hook import (
        ExportHook as ExportHook,
    )
    from pytest_selfslo.metrics.hook import (
        default_scores as default_scores,
    )
    from pytest_selfslo.metrics.hook import (
        install_export_hook as install_export_hook,
    )
    from pytest_selfslo.metrics.hook import (
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

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    return resolve(__name__, globals(), _EXPORTS, name)


def __dir__() -> list[str]:
    return __all__
