"""Series labels and the staleness marker: the numpy-free part of the engine's value model.

The rule-file and test-file readers and the linter need these (series notation,
label sets) without paying for numpy; :mod:`.values` re-exports them.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterable, Mapping

__all__ = ["HIST_NAN", "HIST_NAN_BITS", "METRIC_NAME", "STALE_NAN", "STALE_NAN_BITS", "Labels", "drop_metric_name",
           "format_labels", "format_labels_go", "is_stale_marker", "labels_get", "make_labels"]

Labels = tuple[tuple[str, str], ...]

METRIC_NAME = "__name__"

#: Prometheus' staleness marker: a NaN with a specific bit pattern (value.StaleNaN).
STALE_NAN_BITS = 0x7FF0000000000002
STALE_NAN: float = struct.unpack("<d", struct.pack("<Q", STALE_NAN_BITS))[0]
#: placeholder stored in float arrays where a sample is a native histogram (a quiet NaN
#: no arithmetic produces); the histogram itself lives beside the array
HIST_NAN_BITS = 0x7FF8_0000_4849_5354
HIST_NAN: float = struct.unpack("<d", struct.pack("<Q", HIST_NAN_BITS))[0]


def is_stale_marker(value: float) -> bool:
    """True only for the staleness-marker NaN, not for an ordinary NaN sample."""
    return math.isnan(value) and struct.unpack("<Q", struct.pack("<d", value))[0] == STALE_NAN_BITS


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
