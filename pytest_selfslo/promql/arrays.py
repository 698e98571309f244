"""The numpy array types of the vectorised engine: sample values, timestamps, presence masks."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["BoolArray", "FloatArray", "IntArray"]

#: sample values per step (float64, NaN is a legitimate value)
FloatArray = npt.NDArray[np.float64]
#: timestamps or indexes (int64 milliseconds)
IntArray = npt.NDArray[np.int64]
#: presence masks (does the series have a sample at this step?)
BoolArray = npt.NDArray[np.bool_]
