"""The error tree: every error the package raises derives from ``SelfSloError`` (public import path).

The implementation lives in :mod:`pytest_selfslo._core.errors`; this module is the stable import path.
"""

from __future__ import annotations

from pytest_selfslo._core.errors import *  # noqa: F403  (the public face re-exports exactly the names below)
from pytest_selfslo._core.errors import __all__ as __all__
