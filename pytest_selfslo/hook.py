"""The fail-safe export hook (public import path; also in :mod:`pytest_selfslo.metrics`).

The implementation lives in :mod:`pytest_selfslo.metrics.hook`; this module is the stable import path.
"""

from __future__ import annotations

from pytest_selfslo.metrics.hook import *  # noqa: F403  (the public face re-exports exactly the names below)
from pytest_selfslo.metrics.hook import __all__ as __all__
