"""Hypothesis strategies for heartbeats, series and canary observations (public import path).

The implementation lives in :mod:`pytest_selfslo.plugin.strategies`; this module is the stable import path.
"""

from __future__ import annotations

from pytest_selfslo.plugin.strategies import (
    canary_observations,
    canary_states,
    firing_alerts,
    heartbeat,
    heartbeats,
    score,
    series,
    series_values,
    token_ids,
)

__all__ = [
    "canary_observations",
    "canary_states",
    "firing_alerts",
    "heartbeat",
    "heartbeats",
    "score",
    "series",
    "series_values",
    "token_ids",
]
