"""Assertions for rule, SLO, metric and canary tests (public import path).

The implementation lives in :mod:`pytest_selfslo.plugin.assertions`; this module is the stable import path.
"""

from __future__ import annotations

from pytest_selfslo.plugin.assertions import *  # noqa: F403  (the public face re-exports exactly the names below)
from pytest_selfslo.plugin.assertions import __all__ as __all__
