"""Hypothesis strategies for heartbeats, series and canary observations (public import path).

The implementation lives in :mod:`pytest_selfslo.plugin.strategies`; this module is the stable import path.
"""

from __future__ import annotations

from pytest_selfslo.plugin.strategies import *  # noqa: F403  (the public face re-exports exactly the names below)
from pytest_selfslo.plugin.strategies import __all__ as __all__
