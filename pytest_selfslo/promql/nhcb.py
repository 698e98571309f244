"""Classic histograms converted to native histograms with custom buckets (NHCB).

What promqltest's ``load_with_nhcb`` does (``util/convertnhcb``): the
``<name>_bucket{le=...}``, ``<name>_count`` and ``<name>_sum`` float series of
one label set become one ``<name>`` series of schema -53 whose
``custom_values`` are the finite ``le`` bounds; bucket counts are the
differences of the cumulative ``le`` counts; the count is ``_count`` (or the
``+Inf`` bucket when there is none). A timestamp whose buckets are not
cumulative or disagree with the count gets no histogram.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import numpy as np

from pytest_selfslo.promql.histogram import CUSTOM_BUCKETS_SCHEMA, FloatHistogram
from pytest_selfslo.promql.labels import METRIC_NAME, Labels, make_labels

__all__ = ["classic_to_nhcb"]

_SUFFIXES = ("_bucket", "_sum", "_count")


def _parse_le(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return None if math.isnan(value) else value


class _Temp:
    def __init__(self) -> None:
        self.buckets: dict[float, float] = {}
        self.count: float | None = None
        self.sum = 0.0
        self.bad = False

    def convert(self) -> FloatHistogram | None:
        if self.bad:
            return None
        les = sorted(self.buckets)
        counts = [self.buckets[le] for le in les]
        if any(c < 0 for c in counts) or any(b < a for a, b in itertools.pairwise(counts)):
            return None
        count = self.count
        if count is None:
            count = counts[-1] if counts else 0.0
        if not les or les[-1] != math.inf:
            les.append(math.inf)
            counts.append(count)
        if count != counts[-1]:
            return None
        cumulative = np.array(counts, dtype=np.float64)
        buckets = np.diff(cumulative, prepend=0.0)
        nz = np.flatnonzero(buckets != 0)
        offset = int(nz[0]) if len(nz) else 0
        end = int(nz[-1]) + 1 if len(nz) else 0
        return FloatHistogram(schema=CUSTOM_BUCKETS_SCHEMA, count=count, sum=self.sum,
                              pos_offset=offset, pos=buckets[offset:end],
                              custom_values=np.array(les[:-1], dtype=np.float64))


def classic_to_nhcb(series: Sequence[tuple[Labels, Sequence[int], Sequence[object]]]
                    ) -> list[tuple[Labels, list[int], list[FloatHistogram]]]:
    """NHCB series (labels, timestamps, histograms) for the classic histograms in ``series``."""
    temps: dict[Labels, dict[int, _Temp]] = {}
    for labels, ts, values in series:
        name = dict(labels).get(METRIC_NAME, "")
        suffix = next((s for s in _SUFFIXES if name.endswith(s)), None)
        if suffix is None:
            continue
        base = dict(labels)
        base[METRIC_NAME] = name[: -len(suffix)]
        le = base.pop("le", None)
        bound = 0.0
        if suffix == "_bucket":
            if le is None:
                continue
            parsed = _parse_le(le)
            if parsed is None:
                continue
            bound = parsed
        key = make_labels(base)
        by_t = temps.setdefault(key, {})
        for t, v in zip(ts, values, strict=True):
            if not isinstance(v, float):
                continue
            temp = by_t.setdefault(int(t), _Temp())
            if suffix == "_bucket":
                temp.buckets.setdefault(bound, v)
            elif suffix == "_count":
                temp.bad |= v < 0
                temp.count = v
            else:
                temp.sum = v
    out = []
    for key, by_t in temps.items():
        ts_out, hists = [], []
        for t in sorted(by_t):
            h = by_t[t].convert()
            if h is not None:
                ts_out.append(t)
                hists.append(h)
        if hists:
            out.append((key, ts_out, hists))
    return out
