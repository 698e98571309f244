"""The SLO spec (the one home of the SLO numbers) and ``replay`` of a heartbeat log against it.

    >>> from pytest_selfslo.slo import DEFAULT_SLO_SPEC
    >>> DEFAULT_SLO_SPEC.objectives[0].metric
    'coherence'
"""

from __future__ import annotations

from pytest_selfslo.slo.spec import (
    DEFAULT_SLO_SPEC,
    PERCENTILES,
    SCORE_NAMES,
    Objective,
    ObjectiveResult,
    SLOReport,
    SLOSpec,
    dump_slo_spec,
    evaluate,
    evaluate_columns,
    load_slo_spec,
    parse_duration,
)

__all__ = [
    "DEFAULT_SLO_SPEC",
    "PERCENTILES",
    "SCORE_NAMES",
    "Objective",
    "ObjectiveResult",
    "SLOReport",
    "SLOSpec",
    "dump_slo_spec",
    "evaluate",
    "evaluate_columns",
    "load_slo_spec",
    "parse_duration",
]
