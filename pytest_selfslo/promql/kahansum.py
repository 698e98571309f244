"""Prometheus' ``util/kahansum``: compensated (Kahan-Neumaier) summation, element-wise.

``sum``, ``avg``, the ``*_over_time`` functions, ``rate``'s regression and
native-histogram addition all add with a running compensation, as Prometheus
does, so long sums round as promtool's do.

    >>> import numpy as np
    >>> total, comp = kahan_inc(np.array([1e-16]), np.array([1.0]), np.array([0.0]))
    >>> float(total[0]), float(comp[0])
    (1.0, 1e-16)
"""

from __future__ import annotations

import numpy as np

from pytest_selfslo.promql.arrays import FloatArray

__all__ = ["kahan_inc"]


def kahan_inc(inc: FloatArray, total: FloatArray, comp: FloatArray) -> tuple[FloatArray, FloatArray]:
    """``kahansum.Inc``: ``total + inc`` and the new compensation ``comp`` (0 once infinite)."""
    with np.errstate(all="ignore"):
        t = total + inc
        big = np.abs(total) >= np.abs(inc)
        comp = comp + np.where(big, (total - t) + inc, (inc - t) + total)
        comp = np.where(np.isinf(t), 0.0, comp)
    return t, comp
