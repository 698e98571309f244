"""``replay``: analyse the last N heartbeats against the SLOs (public import path).

The implementation lives in :mod:`pytest_selfslo.slo.replay`; this module is the stable import path.
"""

from __future__ import annotations

from pytest_selfslo.slo.replay import (
    DEFAULT_FILE,
    DEFAULT_SNAPSHOT,
    ReplayResult,
    configure,
    format_text,
    replay,
    run,
    save_snapshot,
    supports_emoji,
)

__all__ = [
    "DEFAULT_FILE",
    "DEFAULT_SNAPSHOT",
    "ReplayResult",
    "configure",
    "format_text",
    "replay",
    "run",
    "save_snapshot",
    "supports_emoji",
]
