"""``replay``: analyse the last N heartbeats against the SLOs (public import path).

The implementation lives in :mod:`pytest_selfslo.slo.replay`; this module is the stable import path.
"""

from __future__ import annotations

from pytest_selfslo.slo.replay import *  # noqa: F403  (the public face re-exports exactly the names below)
from pytest_selfslo.slo.replay import __all__ as __all__
