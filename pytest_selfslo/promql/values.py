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

from dataclasses import dataclass, field
from typing import Any

import numpy as np

# re-exported: the numpy array aliases every engine module uses
from pytest_selfslo.promql.arrays import (
    BoolArray as BoolArray,
    FloatArray as FloatArray,
    IntArray as IntArray,
)

# re-exported: the numpy-free label helpers are part of the value model
from pytest_selfslo.promql.labels import (
    HIST_NAN as HIST_NAN,
    HIST_NAN_BITS as HIST_NAN_BITS,
    METRIC_NAME as METRIC_NAME,
    STALE_NAN as STALE_NAN,
    STALE_NAN_BITS as STALE_NAN_BITS,
    Labels as Labels,
    drop_metric_name as drop_metric_name,
    format_labels as format_labels,
    format_labels_go as format_labels_go,
    is_stale_marker as is_stale_marker,
    labels_get as labels_get,
    make_labels as make_labels,
)
from pytest_selfslo.promql.semantics import DEFAULT_SEMANTICS, Semantics


def stale_mask(values: FloatArray) -> BoolArray:
    """Vectorised :func:`is_stale_marker` over an array of sample values."""
    mask: BoolArray = np.asarray(values, dtype=np.float64).view(np.uint64) == np.uint64(STALE_NAN_BITS)
    return mask


def hist_mask(values: FloatArray) -> BoolArray:
    """Where an array of sample values holds native-histogram placeholders (:data:`HIST_NAN`)."""
    mask: BoolArray = np.asarray(values, dtype=np.float64).view(np.uint64) == np.uint64(HIST_NAN_BITS)
    return mask


#: an object array of :class:`~.histogram.FloatHistogram` (or ``None`` where a float sample is)
ObjArray = np.ndarray


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
    #: per step, the native-histogram sample (``values`` holds HIST_NAN there); ``None``: floats only
    hist: ObjArray | None = None

    def hist_present(self) -> BoolArray:
        """Steps where the series has a histogram sample."""
        if self.hist is None:
            return np.zeros(len(self.present), dtype=bool)
        mask: BoolArray = self.present & hist_mask(self.values)
        return mask

    def float_present(self) -> BoolArray:
        """Steps where the series has a float sample."""
        if self.hist is None:
            return self.present
        mask: BoolArray = self.present & ~hist_mask(self.values)
        return mask


@dataclass
class RangeSeries:
    """One series of a range vector: raw samples plus each step's sample window."""

    labels: Labels
    t: IntArray
    v: FloatArray
    lo: IntArray
    hi: IntArray
    drop_name: bool = False
    #: per sample, the native histogram (``v`` holds HIST_NAN there); ``None``: floats only
    h: ObjArray | None = None

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
    semantics: Semantics = DEFAULT_SEMANTICS  # the Prometheus version imitated
    start_ms: int = 0        # query start, for start() and @ start()
    end_ms: int = 0          # query end, for end() and @ end()
    lookback_ms: int = 300_000
    #: annotations raised by functions (``PromQL warning: ...``); shared with derived contexts
    annotations: list[str] = field(default_factory=list, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.semantics, Semantics):  # a version string such as "2.42"
            object.__setattr__(self, "semantics", Semantics.parse(self.semantics))


@dataclass(frozen=True)
class Sample:
    """One output sample of a query at one timestamp: what rule evaluation and tests consume."""

    labels: Labels
    value: float
    timestamp_ms: int
    #: the native histogram when the sample is one (``value`` is then meaningless)
    histogram: Any = None


def value_type_name(value: Value) -> str:
    """Prometheus' name of a value type, for error messages."""
    if isinstance(value, InstantVector):
        return "instant vector"
    if isinstance(value, RangeVector):
        return "range vector"
    if isinstance(value, ScalarValue):
        return "scalar"
    return "string"
