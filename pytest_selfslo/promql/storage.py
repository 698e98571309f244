"""In-memory series storage for the embedded engine (the analogue of a TSDB head block).

Series are keyed by their canonical :data:`~pytest_selfslo.promql.values.Labels`
and hold sorted numpy arrays of timestamps (ms) and values; staleness markers are
stored as :data:`~pytest_selfslo.promql.values.STALE_NAN` like Prometheus stores
them. Samples may arrive in any order: arrays are sorted (and de-duplicated,
the last write for a timestamp wins) lazily on the first read after a write.

``select`` returns series in *creation order*, as Prometheus' head block does
(series references grow as series are created, and postings are ordered by
them). Aggregations add up their input in that order, so it decides the last
bit of a sum. A series is created by its first ``add_samples``; a caller that
replays a timeline out of order (rule evaluation over a whole grid at once)
passes ``created_ms``/``phase`` to say when, and whether before or after the
other series created at that time, Prometheus would have created it.

Label matchers follow Prometheus: ``=``, ``!=``, ``=~``, ``!~``; regexes are
Go regexps run by RE2 (:mod:`~pytest_selfslo._core.goregex`): linear time, fully
anchored, and ``.`` matches newlines (Prometheus 3 wraps them as
``^(?s:...)$``; ``LabelMatcher(..., dotall=False)`` gives the 2.x behaviour).
A pattern Go rejects raises :class:`~pytest_selfslo._core.errors.PromQLEvalError`
with Go's message (``error parsing regexp: ...``).

    >>> store = Storage()
    >>> store.load('up{job="api"} 1 1 0', interval_ms=60_000)
    >>> [labels for labels, _, _ in store.select([LabelMatcher("job", "=", "api")], 0, 120_000)]
    [(('__name__', 'up'), ('job', 'api'))]
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import cast

import numpy as np

from pytest_selfslo._core.errors import PromQLEvalError
from pytest_selfslo._core.goregex import GoRegexError, Regexp, matcher_regex
from pytest_selfslo._core.limits import DEFAULT_LIMITS, Limits
from pytest_selfslo.promql.histogram import FloatHistogram, chunk_hints
from pytest_selfslo.promql.series import (
    count_series_values,
    parse_series_line,
    sample_arrays,
    split_series_line,
)
from pytest_selfslo.promql.values import (
    HIST_NAN,
    METRIC_NAME,
    FloatArray,
    IntArray,
    Labels,
    ObjArray,
    hist_mask,
    labels_get,
    make_labels,
)

__all__ = ["LabelMatcher", "Storage", "compile_matcher_regex"]

_MATCH_OPS = ("=", "!=", "=~", "!~")
_BEFORE_ALL = -(2**63)


def compile_matcher_regex(pattern: str, dotall: bool = True) -> Regexp:
    """Compile a label-matcher regex the way Prometheus anchors it (cached).

    Prometheus 3 uses ``^(?s:pattern)$`` (``.`` matches newlines); 2.x used
    ``^(?:pattern)$`` -- pass ``dotall=False`` for that. Patterns Go rejects raise
    :class:`PromQLEvalError` with Go's message.
    """
    try:
        return matcher_regex(pattern, dotall)
    except GoRegexError as exc:
        raise PromQLEvalError(str(exc)) from None


@dataclass(frozen=True)
class LabelMatcher:
    """One label matcher ``name op value`` (``op`` is ``=``, ``!=``, ``=~`` or ``!~``)."""

    name: str
    op: str
    value: str
    #: ``.`` matches newlines (Prometheus 3); ``False`` for Prometheus 2.x semantics
    dotall: bool = True
    _regex: Regexp | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.op not in _MATCH_OPS:
            raise PromQLEvalError(
                f"invalid label matcher operator {self.op!r} for label {self.name!r}: "
                f"expected one of {', '.join(_MATCH_OPS)}")
        if self.op in ("=~", "!~"):
            object.__setattr__(self, "_regex", compile_matcher_regex(self.value, self.dotall))

    def matches(self, value: str) -> bool:
        """Whether a label value (``""`` when the label is unset) satisfies the matcher."""
        if self.op == "=":
            return value == self.value
        if self.op == "!=":
            return value != self.value
        assert self._regex is not None
        hit = self._regex.fullmatch(value)
        return hit if self.op == "=~" else not hit

    def matches_empty(self) -> bool:
        """Whether the matcher matches an unset label (needed to validate selectors)."""
        return self.matches("")


class _Snapshot(list[tuple[Labels, IntArray, FloatArray, tuple[int, int, int]]]):
    """What :meth:`Storage.snapshot` returns: the series, and their histogram samples."""

    def __init__(self) -> None:
        super().__init__()
        self.hists: dict[Labels, dict[int, FloatHistogram]] = {}


@dataclass
class _Series:
    """Samples of one series; ``_pending`` collects unsorted writes until the next read."""

    t: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    v: FloatArray = field(default_factory=lambda: np.zeros(0, dtype=np.float64))
    _pending: list[tuple[IntArray, FloatArray]] = field(default_factory=list)
    #: native-histogram samples by timestamp (``v`` holds HIST_NAN at those timestamps)
    hist: dict[int, FloatHistogram] = field(default_factory=dict)

    def add(self, t: IntArray, v: FloatArray) -> None:
        self._pending.append((t, v))

    def arrays(self) -> tuple[IntArray, FloatArray]:
        if self._pending:
            ts = np.concatenate([self.t, *(p[0] for p in self._pending)])
            vs = np.concatenate([self.v, *(p[1] for p in self._pending)])
            self._pending.clear()
            order = np.argsort(ts, kind="stable")
            ts, vs = ts[order], vs[order]
            if len(ts) > 1:
                # keep the last write for each timestamp
                keep = np.ones(len(ts), dtype=bool)
                keep[:-1] = ts[1:] != ts[:-1]
                ts, vs = ts[keep], vs[keep]
            self.t, self.v = ts, vs
        return self.t, self.v


class Storage:
    """In-memory series store queried by the engine.

    ``add_samples(labels, timestamps_ms, values)`` appends samples (any order);
    ``load(text, interval_ms)`` reads several series lines in series notation;
    ``select(matchers, mint_ms, maxt_ms)`` returns ``(labels, t, v)`` triples of
    the matching series restricted to ``mint_ms <= t <= maxt_ms``, in creation order.
    """

    def __init__(self, limits: Limits = DEFAULT_LIMITS) -> None:
        self._series: dict[Labels, _Series] = {}
        self._by_name: dict[str, set[Labels]] = {}
        #: creation order key per series: (created_ms, phase, sequence number)
        self._order: dict[Labels, tuple[int, int, int]] = {}
        self._created = 0
        #: ``max_samples`` bounds what :meth:`load` may expand
        self.limits = limits
        self._loaded = 0

    def __len__(self) -> int:
        return len(self._series)

    def clear(self) -> None:
        """Drop every series."""
        self._series.clear()
        self._by_name.clear()
        self._order.clear()
        self._loaded = 0

    def snapshot(self) -> list[tuple[Labels, IntArray, FloatArray, tuple[int, int, int]]]:
        """Copies of every series with its creation key, for :meth:`restore`.

        The list also carries each series' native-histogram samples (``hists``), so that
        :meth:`restore` brings them back into any storage, a fresh one included (it used to
        look them up in the live series only, and a fresh storage has none).
        """
        out = _Snapshot()
        for key, series in self._series.items():
            t, v = series.arrays()
            out.append((key, t.copy(), v.copy(), self._order[key]))
            if series.hist:
                out.hists[key] = dict(series.hist)
        return out

    def restore(self, snapshot: list[tuple[Labels, IntArray, FloatArray,
                                           tuple[int, int, int]]]) -> None:
        """Put the storage back exactly as :meth:`snapshot` saw it (creation order included)."""
        hists = {key: series.hist for key, series in self._series.items()}
        hists.update(getattr(snapshot, "hists", {}))
        self.clear()
        for key, t, v, order in snapshot:
            self._series[key] = _Series(t, v, hist=dict(hists.get(key, {})))
            self._by_name.setdefault(labels_get(key, METRIC_NAME), set()).add(key)
            self._order[key] = order
            self._created = max(self._created, order[2] + 1)

    def series_labels(self) -> list[Labels]:
        """Labels of every stored series, sorted."""
        return sorted(self._series)

    def add_samples(self, labels: Labels | dict[str, str], timestamps_ms: Sequence[int] | IntArray,
                    values: Sequence[float] | FloatArray, *, created_ms: int | None = None,
                    phase: int = 0) -> None:
        """Append samples to the series ``labels`` (created on first use).

        A new series is ordered after every existing one, unless ``created_ms``
        says when Prometheus would have created it: series then order by
        ``(created_ms, phase, first use)`` (``phase`` orders series created at
        the same time, e.g. 0 for loaded input and 1 for rule output). Series
        created without ``created_ms`` order before those with one.
        """
        key = make_labels(labels)
        t = np.asarray(timestamps_ms, dtype=np.int64)
        v = np.asarray(values, dtype=np.float64)
        if t.shape != v.shape or t.ndim != 1:
            raise ValueError(
                f"add_samples: expected equal-length 1-d timestamps and values, got shapes "
                f"{t.shape} and {v.shape}")
        series = self._series.get(key)
        if series is None:
            series = self._series[key] = _Series()
            self._by_name.setdefault(labels_get(key, METRIC_NAME), set()).add(key)
            when = _BEFORE_ALL if created_ms is None else created_ms
            self._order[key] = (when, phase, self._created)
            self._created += 1
        if len(t):
            series.add(t, v)

    def add_histograms(self, labels: Labels | dict[str, str], timestamps_ms: Sequence[int] | IntArray,
                       histograms: Sequence[FloatHistogram], *, created_ms: int | None = None,
                       phase: int = 0) -> None:
        """Append native-histogram samples (``created_ms``/``phase``: see :meth:`add_samples`)."""
        t = np.asarray(timestamps_ms, dtype=np.int64)
        if len(t) != len(histograms):
            raise ValueError(f"add_histograms: {len(t)} timestamps for {len(histograms)} histograms")
        key = make_labels(labels)
        prev = None
        existing = self._series.get(key)
        if existing is not None and existing.hist and len(t):
            et, ev = existing.arrays()
            k = int(np.searchsorted(et, t[0], side="left")) - 1
            if k >= 0 and hist_mask(ev[k:k + 1])[0]:
                prev = existing.hist.get(int(et[k]))
        order = np.argsort(t, kind="stable")
        hinted = chunk_hints(prev, [histograms[i] for i in order.tolist()])
        self.add_samples(labels, t, np.full(len(t), HIST_NAN), created_ms=created_ms, phase=phase)
        series = self._series[key]
        for ts, h in zip(t[order].tolist(), hinted, strict=True):
            series.hist[ts] = h

    def add_mixed(self, labels: Labels | dict[str, str], timestamps_ms: Sequence[int] | IntArray,
                  values: Sequence[float | FloatHistogram], *, created_ms: int | None = None,
                  phase: int = 0) -> None:
        """Append samples that may be floats or native histograms."""
        t = np.asarray(timestamps_ms, dtype=np.int64)
        order = np.argsort(t, kind="stable")
        floats = [int(i) for i in order if not isinstance(values[i], FloatHistogram)]
        if not any(isinstance(v, FloatHistogram) for v in values) or floats:
            self.add_samples(labels, t[floats], [float(values[i]) for i in floats],  # type: ignore[arg-type]
                             created_ms=created_ms, phase=phase)
        # runs of histograms between float samples (a float, stale markers included, ends a
        # TSDB chunk: the next histogram starts a new one)
        run: list[int] = []
        for i in [*order.tolist(), None]:
            if i is not None and isinstance(values[i], FloatHistogram):
                run.append(i)
                continue
            if run:
                self.add_histograms(labels, t[run], [values[k] for k in run],  # type: ignore[misc]
                                    created_ms=created_ms, phase=phase)
                run = []

    def histograms(self, labels: Labels, t: IntArray, v: FloatArray) -> ObjArray | None:
        """The histogram samples of series ``labels`` at ``t`` where ``v`` is HIST_NAN (else None).

        ``None`` when none of the samples is a histogram.
        """
        series = self._series.get(labels)
        if series is None or not series.hist:
            return None
        mask = hist_mask(v)
        if not mask.any():
            return None
        out = np.full(len(t), None, dtype=object)
        get = series.hist.get
        for i in np.flatnonzero(mask).tolist():
            out[i] = get(int(t[i]))
        return out

    def load(self, text: str, interval_ms: int, start_ms: int = 0) -> None:
        """Load series lines (``metric{a="b"} 1+2x3``) with samples every ``interval_ms``.

        ``None`` entries (``_``) leave gaps; stale markers are stored as STALE_NAN.
        More samples in total than ``limits.max_samples`` raise
        :class:`~pytest_selfslo.errors.LimitError` before they are expanded.
        """
        if interval_ms <= 0:
            raise ValueError(f"load: interval must be positive, got {interval_ms} ms")
        for line in text.splitlines():
            if not line.strip():
                continue
            self._loaded += count_series_values(split_series_line(line)[1])
            self.limits.check("max_samples", self._loaded, "loaded samples")
            labels, values = parse_series_line(line)
            if any(isinstance(v, FloatHistogram) for v in values):
                ts = [start_ms + i * interval_ms for i, v in enumerate(values) if v is not None]
                vs = [v for v in values if v is not None]
                self.add_mixed(labels, ts, vs)
            else:  # floats only: numpy arrays, no per-sample Python objects
                floats = cast("list[float | None]", values)
                self.add_samples(labels, *sample_arrays(floats, start_ms, interval_ms))

    def _candidates(self, matchers: Iterable[LabelMatcher]) -> Iterable[Labels]:
        for m in matchers:
            if m.name == METRIC_NAME and m.op == "=":
                return self._by_name.get(m.value, ())
        return self._series.keys()

    def select(self, matchers: Sequence[LabelMatcher], mint_ms: int | None = None,
               maxt_ms: int | None = None) -> list[tuple[Labels, IntArray, FloatArray]]:
        """Series matching every matcher, with samples in ``[mint_ms, maxt_ms]`` (inclusive).

        Series without samples in the interval are still returned (with empty
        arrays) only when no interval is given.
        """
        out: list[tuple[Labels, IntArray, FloatArray]] = []
        for key in self._candidates(matchers):
            if not all(m.matches(labels_get(key, m.name)) for m in matchers):
                continue
            t, v = self._series[key].arrays()
            if mint_ms is not None or maxt_ms is not None:
                a = 0 if mint_ms is None else int(np.searchsorted(t, mint_ms, side="left"))
                b = len(t) if maxt_ms is None else int(np.searchsorted(t, maxt_ms, side="right"))
                if a >= b:
                    continue
                t, v = t[a:b], v[a:b]
            out.append((key, t, v))
        order = self._order
        out.sort(key=lambda item: order[item[0]])
        return out
