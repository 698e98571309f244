"""Value types of the embedded PromQL engine (the analogue of Prometheus' ``value.go``).

The engine is *vectorised over evaluation steps*: every expression is evaluated
once for a whole grid of step timestamps ``steps`` (an ``int64`` numpy array of
milliseconds; an instant query is a grid of length 1). That is what makes a
24-hour rule test at 1-minute resolution cheap: one numpy pass per rule instead
of 1,440 separate queries.

* :class:`InstantSeries` -- one output series of an instant-vector expression:
  ``values[i]`` is its value at ``steps[i]`` and ``present[i]`` says whether the
  series has a sample there at all. A separate mask (rather than NaN for
  "absent") is needed because NaN is a legitimate PromQL sample value.
* :class:`RangeSeries` -- one series of a range-vector expression (matrix
  selector or subquery): the raw samples ``t``/``v`` (stale markers already
  removed) and, per step, the half-open index window ``[lo[i], hi[i])`` of the
  samples that fall into that step's range. Range functions (``rate``,
  ``avg_over_time``...) reduce each window; prefix sums make most of them O(1)
  per step.
* :class:`ScalarValue` -- a scalar per step; :class:`StringValue` a string.

Labels are a sorted tuple of ``(name, value)`` pairs: hashable (for grouping and
matching), cheap to compare, and immutable.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

Labels = tuple[tuple[str, str], ...]

METRIC_NAME = "__name__"

#: Prometheus' staleness marker: a NaN with a specific bit pattern (value.StaleNaN).
STALE_NAN_BITS = 0x7FF0000000000002
STALE_NAN: float = struct.unpack("<d", struct.pack("<Q", STALE_NAN_BITS))[0]


def is_stale_marker(value: float) -> bool:
    """True only for the staleness-marker NaN, not for an ordinary NaN sample."""
    return math.isnan(value) and struct.unpack("<Q", struct.pack("<d", value))[0] == STALE_NAN_BITS


def stale_mask(values: FloatArray) -> BoolArray:
    """Vectorised :func:`is_stale_marker` over an array of sample values."""
    mask: BoolArray = np.asarray(values, dtype=np.float64).view(np.uint64) == np.uint64(STALE_NAN_BITS)
    return mask


def make_labels(mapping: Mapping[str, str] | Iterable[tuple[str, str]]) -> Labels:
    """Canonical labels: sorted by name, empty values dropped (Prometheus treats them as unset)."""
    items = mapping.items() if isinstance(mapping, Mapping) else mapping
    return tuple(sorted((k, v) for k, v in items if v != ""))


def labels_get(labels: Labels, name: str) -> str:
    """Value of label ``name`` or ``""`` when unset (Prometheus semantics)."""
    for key, value in labels:
        if key == name:
            return value
    return ""


def drop_metric_name(labels: Labels) -> Labels:
    """Labels without ``__name__`` (what most functions and arithmetic do)."""
    return tuple(kv for kv in labels if kv[0] != METRIC_NAME)


def format_labels(labels: Labels) -> str:
    """``name{a="b", c="d"}`` the way promtool prints series."""
    name = labels_get(labels, METRIC_NAME)
    rest = ", ".join(f'{k}="{_escape(v)}"' for k, v in labels if k != METRIC_NAME)
    return f"{name}{{{rest}}}" if rest or not name else name


def format_labels_go(labels: Labels) -> str:
    """``{__name__="x", a="b"}``: Go's ``labels.Labels.String()`` (used in Prometheus errors)."""
    return "{" + ", ".join(f'{k}="{_escape(v)}"' for k, v in labels) + "}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


@dataclass
class InstantSeries:
    """One series of an instant vector, evaluated on every step of the grid."""

    labels: Labels
    values: FloatArray
    present: BoolArray
    #: set when the expression producing it dropped ``__name__`` lazily (Prometheus 3 delays it)
    drop_name: bool = False
    #: per step, the timestamp (ms) of the sample that was selected (for ``timestamp()``);
    #: ``None`` means "the step time itself" (results of functions and operators)
    timestamps: IntArray | None = None


@dataclass
class RangeSeries:
    """One series of a range vector: raw samples plus each step's sample window."""

    labels: Labels
    t: IntArray
    v: FloatArray
    lo: IntArray
    hi: IntArray
    drop_name: bool = False

    def window(self, i: int) -> tuple[IntArray, FloatArray]:
        """Samples of step ``i`` (timestamps, values)."""
        a, b = int(self.lo[i]), int(self.hi[i])
        return self.t[a:b], self.v[a:b]


@dataclass
class ScalarValue:
    """A scalar, one value per step."""

    values: FloatArray


@dataclass
class StringValue:
    """A string literal (only valid as a function argument or a query result)."""

    value: str


@dataclass
class InstantVector:
    """Result of an instant-vector expression over the step grid."""

    series: list[InstantSeries] = field(default_factory=list)


@dataclass
class RangeVector:
    """Result of a range-vector expression over the step grid; ``range_ms`` is the selector range."""

    series: list[RangeSeries] = field(default_factory=list)
    range_ms: int = 0
    #: per step, the end of the window (evaluation time minus offset, or the ``@`` time)
    window_end: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))


Value = InstantVector | RangeVector | ScalarValue | StringValue


@dataclass(frozen=True)
class EvalContext:
    """What every function implementation may know about the evaluation (no clock, no I/O)."""

    steps: IntArray          # the step grid, ms
    semantics: str = "3"     # "3" (Prometheus 3.x) or "2" (Prometheus 2.x)
    start_ms: int = 0        # query start, for start() and @ start()
    end_ms: int = 0          # query end, for end() and @ end()
    lookback_ms: int = 300_000
    #: annotations raised by functions (``PromQL warning: ...``); shared with derived contexts
    annotations: list[str] = field(default_factory=list, compare=False)


@dataclass(frozen=True)
class Sample:
    """One output sample of a query at one timestamp: what rule evaluation and tests consume."""

    labels: Labels
    value: float
    timestamp_ms: int
