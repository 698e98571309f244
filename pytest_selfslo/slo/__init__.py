"""The SLO spec (the one home of the SLO numbers) and ``replay`` of a heartbeat log against it.

    >>> from pytest_selfslo.slo import DEFAULT_SLO_SPEC
    >>> DEFAULT_SLO_SPEC.objectives[0].metric
    'self_coherence'
"""

from __future__ import annotations

from pytest_selfslo.slo.spec import *  # noqa: F403  (the public face re-exports exactly the names below)
from pytest_selfslo.slo.spec import __all__ as __all__
