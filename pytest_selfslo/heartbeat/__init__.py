"""Heartbeats: the record, the JSON Lines store and the seeded scenario generators.

This is the module to import; the implementation is split by concern into
:mod:`.heartbeat_model` (the validated record), :mod:`.heartbeat_io` (reader
with an O(N) tail, cross-process appender) and :mod:`.scenarios` (the seeded scenario
generators; ``selfslo generate`` lives in :mod:`pytest_selfslo.cli.generate`).

    >>> from pytest_selfslo.heartbeat import HeartbeatLog, generate_heartbeats, read_heartbeats
    >>> with HeartbeatLog("data/identity.jsonl") as log:           # doctest: +SKIP
    ...     log.extend(generate_heartbeats("steady", 100))
    >>> tail = read_heartbeats("data/identity.jsonl", last=50)     # doctest: +SKIP
    >>> len(tail), tail.total, tail.skipped                        # doctest: +SKIP
    (50, 100, 0)
"""

from __future__ import annotations

from pytest_selfslo.heartbeat.logio import (
    MAX_REPORTED_BAD_LINES,
    HeartbeatLog,
    HeartbeatRead,
    read_heartbeats,
)
from pytest_selfslo.heartbeat.model import (
    KINDS,
    MAX_TOKEN_ID_LEN,
    SCORES,
    Heartbeat,
    format_timestamp,
    parse_timestamp,
)
from pytest_selfslo.heartbeat.scenarios import (
    SCENARIOS,
    Scenario,
    generate_heartbeats,
)

__all__ = [
    "KINDS",
    "MAX_REPORTED_BAD_LINES",
    "MAX_TOKEN_ID_LEN",
    "SCENARIOS",
    "SCORES",
    "Heartbeat",
    "HeartbeatLog",
    "HeartbeatRead",
    "Scenario",
    "format_timestamp",
    "generate_heartbeats",
    "parse_timestamp",
    "read_heartbeats",
]
