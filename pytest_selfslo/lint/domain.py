"""What the linter knows about the SELF metrics that a generic linter cannot.

pint and ``promtool check rules`` see ``self_stress > 1`` as a fine
expression; we know every SELF score lives in [0, 1], so that alert can never
fire. This table is the one place the linter (impossible comparisons, rate on
a gauge) and the dashboard test (only known metrics) take those facts from.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "GENERIC_METRICS",
    "KNOWN_METRICS",
    "SELF_GAUGES",
    "SELF_METRICS",
    "MetricInfo",
    "counter_part",
    "is_counter_name",
    "metric_info",
    "text_uses_self_metrics",
]

MetricType = Literal["gauge", "counter", "histogram", "summary", "unknown"]


@dataclass(frozen=True)
class MetricInfo:
    """Type and value domain of one metric (``low``/``high`` inclusive bounds)."""

    name: str
    type: MetricType
    low: float = -math.inf
    high: float = math.inf


#: The four SELF scores, label ``token_id``, values in [0, 1] (stress: lower is better).
SELF_GAUGES: tuple[str, ...] = ("self_coherence", "self_continuity", "self_presence", "self_stress")

#: Every metric this project exports or records, with its type and domain.
KNOWN_METRICS: dict[str, MetricInfo] = {
    **{m: MetricInfo(m, "gauge", 0.0, 1.0) for m in SELF_GAUGES},
    "stability_score_ema": MetricInfo("stability_score_ema", "gauge", 0.0, 1.0),
    "oscillation_rate": MetricInfo("oscillation_rate", "gauge", 0.0),
    "selfslo_canary_sampling": MetricInfo("selfslo_canary_sampling", "gauge", 0.0, 1.0),
    "selfslo_canary_decisions_total": MetricInfo("selfslo_canary_decisions_total", "counter", 0.0),
    "selfslo_canary_observation_errors_total": MetricInfo(
        "selfslo_canary_observation_errors_total", "counter", 0.0),
    "selfslo:sli_error:bool": MetricInfo("selfslo:sli_error:bool", "gauge", 0.0, 1.0),
    **{f"selfslo:sli_error:ratio_rate{w}": MetricInfo(f"selfslo:sli_error:ratio_rate{w}",
                                                      "gauge", 0.0, 1.0)
       for w in ("5m", "30m", "1h", "6h")},
    # alert series Prometheus writes itself; no domain bound so ALERTS > 0 is not flagged
    "ALERTS": MetricInfo("ALERTS", "gauge"),
    "ALERTS_FOR_STATE": MetricInfo("ALERTS_FOR_STATE", "gauge"),
    "up": MetricInfo("up", "gauge", 0.0, 1.0),
}

#: What holds for every Prometheus, SELF project or not (the rest of the table is SELF's).
GENERIC_METRICS: dict[str, MetricInfo] = {
    name: KNOWN_METRICS[name] for name in ("ALERTS", "ALERTS_FOR_STATE", "up")}
#: Metric names only a SELF project has: their use in a rule opts a project in.
SELF_METRICS: frozenset[str] = frozenset(KNOWN_METRICS) - frozenset(GENERIC_METRICS)

_COUNTER_SUFFIXES = ("_total", "_count", "_sum", "_bucket")
_SELF_NAME = re.compile(
    r"(?<![A-Za-z0-9_:])(?:" + "|".join(sorted((re.escape(n) for n in SELF_METRICS),
                                                key=len, reverse=True))
    + r"|selfslo:[A-Za-z0-9_:]+)(?![A-Za-z0-9_:])")


def metric_info(name: str, self_domain: bool = True) -> MetricInfo | None:
    """What we know about ``name``, or None; without ``self_domain`` only generic facts."""
    return (KNOWN_METRICS if self_domain else GENERIC_METRICS).get(name)


def text_uses_self_metrics(text: str) -> bool:
    """Whether a rule or rule-test file's text names a SELF metric (the SELF opt-in)."""
    return _SELF_NAME.search(text) is not None


def counter_part(name: str) -> str | None:
    """The counter-convention suffix of ``name`` (``_total``...), or None."""
    return next((s for s in _COUNTER_SUFFIXES if name.endswith(s)), None)


def is_counter_name(name: str) -> bool:
    """True when the name follows the counter conventions (``_total``, histogram parts)."""
    return name.endswith(_COUNTER_SUFFIXES)
