"""The SLO spec (the one home of the SLO numbers), ``replay`` of a heartbeat log against it,
and service SLOs: Sloth, OpenSLO and Pyrra specs in, tested burn-rate rules out.

    >>> from pytest_selfslo.slo import DEFAULT_SLO_SPEC
    >>> DEFAULT_SLO_SPEC.objectives[0].metric
    'self_coherence'

The SELF spec names are imported eagerly; the service-SLO names (``import_spec``,
``generate_rules``, ``generate_tests``...) load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pytest_selfslo._lazy import lazy_exports
from pytest_selfslo.slo.spec import *  # noqa: F403  (the SELF spec names, listed in spec.__all__)
from pytest_selfslo.slo.spec import __all__ as _SPEC_NAMES

if TYPE_CHECKING:  # real types for mypy; at run time names are resolved lazily
    from pytest_selfslo.slo.burnrate import (
        default_burn_rates as default_burn_rates,
        generate_rules as generate_rules,
    )
    from pytest_selfslo.slo.importers import (
        detect_format as detect_format,
        import_spec as import_spec,
        import_text as import_text,
    )
    from pytest_selfslo.slo.service import (
        AlertSpec as AlertSpec,
        BurnRateWindow as BurnRateWindow,
        ServiceLevel as ServiceLevel,
        ServiceSLOs as ServiceSLOs,
        Sli as Sli,
        dump_service_slos as dump_service_slos,
        load_service_slos as load_service_slos,
    )
    from pytest_selfslo.slo.testgen import generate_tests as generate_tests

_EXPORTS: dict[str, str] = {
    "AlertSpec": "pytest_selfslo.slo.service",
    "BurnRateWindow": "pytest_selfslo.slo.service",
    "ServiceLevel": "pytest_selfslo.slo.service",
    "ServiceSLOs": "pytest_selfslo.slo.service",
    "Sli": "pytest_selfslo.slo.service",
    "dump_service_slos": "pytest_selfslo.slo.service",
    "load_service_slos": "pytest_selfslo.slo.service",
    "detect_format": "pytest_selfslo.slo.importers",
    "import_spec": "pytest_selfslo.slo.importers",
    "import_text": "pytest_selfslo.slo.importers",
    "default_burn_rates": "pytest_selfslo.slo.burnrate",
    "generate_rules": "pytest_selfslo.slo.burnrate",
    "generate_tests": "pytest_selfslo.slo.testgen",
}

__all__, __getattr__, __dir__ = lazy_exports(__name__, globals(), _EXPORTS, extra=_SPEC_NAMES)
