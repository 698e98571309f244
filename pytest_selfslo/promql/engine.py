"""The embedded PromQL evaluator: one type switch over ``promql_parser`` nodes.

Every node is evaluated once for a whole grid of step timestamps (see
:mod:`pytest_selfslo.promql.values`), so a range query or a 24-hour rule test
costs one numpy pass per node instead of one query per step. An instant query
is a grid of length one.

    >>> from pytest_selfslo.promql.storage import Storage
    >>> store = Storage()
    >>> store.load('up{job="api"} 1 1 0', interval_ms=60_000)
    >>> [s.value for s in Engine(store).instant_samples("up == 0", 120_000)]
    [0.0]

Semantics (``Engine(..., semantics="3.5")``): a Prometheus version, see
:class:`~.semantics.Semantics` -- ``"2"``/``"3"`` mean 2.53/3.5, ``"2.42"``,
``"2.53"``, ``"3.5"`` name a release. Every difference implemented, with the
release that introduced it:

* **Range-selector windows** (3.0) -- left-open ``(t - range, t]``; before:
  closed ``[t - range, t]`` (a sample exactly ``range`` old is included).
* **Lookback of instant selectors** (3.0) -- a sample counts if it is newer than
  ``t - lookback`` (left-open); before: ``t - lookback`` itself still counts.
* **Regex matchers** (3.0) -- ``.`` matches newlines (``^(?s:re)$``).
* **Subquery step alignment** (3.0) -- the first inner step is the first
  multiple of the subquery step strictly after ``t - range``; before: at or after it.
* **``__name__`` dropping** (``delayed_name_removal``, a feature flag that
  ``promqltest`` turns on and ``promtool``/the server leave off): functions and
  operators only *mark* series whose name must go (``drop_name``); the name is
  removed when the query finishes, which lets
  ``label_replace(rate(x[5m]), "n", "$1", "__name__", "(.+)")`` still see it.
  Off: the name is removed immediately by the function or operator. In both,
  duplicate label sets after dropping fail with "vector cannot contain
  metrics with the same labelset" at the steps where they collide.
* **``holt_winters``** (before 3.0; renamed ``double_exponential_smoothing``).
* **Aggregation numerics** -- ``sum``: plain left-to-right addition before
  2.54, Kahan-Neumaier since; ``avg``: incremental mean before 2.55, direct
  Kahan mean ``(sum + c) / n`` in 2.55-3.4, ``sum/n + c/n`` since 3.5 (both
  incremental after an overflow); ``stddev``/``stdvar`` of a lone Inf/NaN: 0
  before 3.0, NaN since. ``*_over_time``, ``rate``, ``histogram_quantile`` and
  ``histogram_fraction`` differences are listed in :mod:`.semantics`.
* **Series order** -- aggregations see their input in storage order, i.e. the
  order series were created (Prometheus' series references), which decides the
  last bit of a plain or incremental sum; :class:`Storage` keeps that order.
  ``promtool`` creates the series of one load step in Go map order, chosen at
  random on each run (for up to eight series a rotation of the file order);
  we use the file order, the likeliest one.

Native histograms (:mod:`.histogram`) flow through the same grid: a series'
histogram samples sit beside its float array (``InstantSeries.hist``,
``RangeSeries.h``); float functions see only floats (:func:`.functions.floats_only`),
operators and aggregations combine histograms (:mod:`.histops`), and the
releases where native-histogram behaviour changed (3.0-3.10) are properties of
:class:`~.semantics.Semantics`.

Float functions and ``^``, ``%``, ``atan2`` compute exactly what Go's ``math``
computes on amd64 (:mod:`.gomath`). Not emulated: ties in
``topk``/``bottomk``/``limitk`` are broken by label order.

Functions come from ``pytest_selfslo.promql.functions.FUNCTIONS`` (one table,
``name -> f(ctx, args, arg_exprs) -> Value``); binary operators live in
:mod:`.binops`, aggregations in :mod:`.aggregations`.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import promql_parser

from pytest_selfslo._core.errors import PromQLEvalError, PromQLParseError
from pytest_selfslo._core.goregex import go_parse_error
from pytest_selfslo._core.limits import DEFAULT_LIMITS, Limits
from pytest_selfslo.promql.aggregations import eval_aggregation
from pytest_selfslo.promql.astwalk import regex_matcher_error
from pytest_selfslo.promql.binops import eval_binary
from pytest_selfslo.promql.exprguard import check_expr, ensure_recursion
from pytest_selfslo.promql.functions import FUNCTIONS, HISTOGRAM_AWARE, floats_only
from pytest_selfslo.promql.histogram import (
    COUNTER_RESET,
    NOT_COUNTER_RESET,
    UNKNOWN_COUNTER_RESET,
)
from pytest_selfslo.promql.histops import ignored_in_mixed_range_info
from pytest_selfslo.promql.semantics import Semantics, SemanticsLike
from pytest_selfslo.promql.storage import LabelMatcher, Storage
from pytest_selfslo.promql.values import (
    HIST_NAN,
    METRIC_NAME,
    BoolArray,
    EvalContext,
    FloatArray,
    InstantSeries,
    InstantVector,
    IntArray,
    Labels,
    RangeSeries,
    RangeVector,
    Sample,
    ScalarValue,
    StringValue,
    Value,
    drop_metric_name,
    format_labels,
    hist_mask,
    labels_get,
    stale_mask,
    value_type_name,
)

__all__ = ["Engine", "FunctionImpl", "parse_expr", "settle_names", "value_type_name"]

FunctionImpl = Callable[[EvalContext, list[Value], list[Any]], Value]

_MS = _dt.timedelta(milliseconds=1)
_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)
#: guard against subqueries such as ``x[30d:1s]`` exhausting memory
_MAX_SUBQUERY_STEPS = 5_000_000
_SORT_FUNCS = frozenset({"sort", "sort_desc", "sort_by_label", "sort_by_label_desc"})
_COUNTER_SUFFIXES = ("_total", "_sum", "_count", "_bucket")
_STATS_FUNCS = frozenset({"histogram_count", "histogram_sum", "histogram_avg"})
_BUCKET_FUNCS = frozenset({"histogram_quantile", "histogram_quantiles", "histogram_fraction"})


def _register_legacy_functions() -> None:
    """Teach the parser ``holt_winters`` (Prometheus 2.x name of double_exponential_smoothing)."""
    template: Any = promql_parser.parse("double_exponential_smoothing(x[1m], 0.5, 0.5)")
    template = template.func
    promql_parser.register_extra_functions([promql_parser.Function(
        "holt_winters", template.arg_types, template.return_type, 0, False)])


_register_legacy_functions()
#: functions renamed in Prometheus 3: available under semantics "2" only
_LEGACY_ALIASES = {"holt_winters": "double_exponential_smoothing"}


def parse_expr(query: str) -> Any:
    """Parse PromQL with ``promql_parser``; syntax errors become :class:`PromQLParseError`.

    Text over the size and nesting limits of :mod:`.exprguard` raises
    :class:`~pytest_selfslo.errors.LimitError` before the parser sees it.
    """
    ensure_recursion(check_expr(query))
    try:
        node = promql_parser.parse(query)
    except ValueError as exc:
        raise PromQLParseError(f"invalid PromQL {query!r}: {go_parse_error(str(exc))}") from None
    except BaseException as exc:  # the Rust binding panics with pyo3 PanicException
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise
        raise PromQLParseError(f"invalid PromQL {query!r}: {exc}") from None
    if "~" in query:
        problem = regex_matcher_error(node)
        if problem is not None:
            raise PromQLParseError(f"invalid PromQL {query!r}: {problem}")
    return node


def _ms(delta: _dt.timedelta | None) -> int:
    return 0 if delta is None else delta // _MS


def _matchers(node: Any, dotall: bool = True) -> list[LabelMatcher]:
    ops = {"MatchOp.Equal": "=", "MatchOp.NotEqual": "!=", "MatchOp.Re": "=~",
           "MatchOp.NotRe": "!~"}
    out = [LabelMatcher(METRIC_NAME, "=", node.name)] if node.name else []
    for m in node.matchers.matchers:
        out.append(LabelMatcher(m.name, ops[str(m.op)], m.value, dotall))
    if node.matchers.or_matchers:
        raise PromQLEvalError("'or' inside label matchers is not supported by the embedded engine")
    return out


def settle_names(vec: InstantVector) -> InstantVector:
    """Drop ``__name__`` from series marked ``drop_name`` and merge series that now collide.

    Colliding series are merged when they are never present at the same step
    (Prometheus' ``mergeSeriesWithSameLabelset``); otherwise this is the
    "vector cannot contain metrics with the same labelset" error.
    """
    if not any(s.drop_name for s in vec.series):
        return _check_unique(vec)
    out = [InstantSeries(drop_metric_name(s.labels), s.values, s.present, False, s.timestamps,
                         s.hist)
           if s.drop_name else s for s in vec.series]
    return _check_unique(InstantVector(out))


def _check_unique(vec: InstantVector) -> InstantVector:
    groups: dict[Labels, list[InstantSeries]] = {}
    for s in vec.series:
        groups.setdefault(s.labels, []).append(s)
    if len(groups) == len(vec.series):
        return vec
    out: list[InstantSeries] = []
    for labels, members in groups.items():
        if len(members) == 1:
            out.append(members[0])
            continue
        counts = np.sum([m.present for m in members], axis=0)
        if np.any(counts > 1):
            raise PromQLEvalError("vector cannot contain metrics with the same labelset "
                                  f"({format_labels(labels)})")
        values = members[0].values.copy()
        present = members[0].present.copy()
        hist = None
        if any(m.hist is not None for m in members):
            hist = np.full(len(values), None, dtype=object)
        for m in members:
            values[m.present] = m.values[m.present]
            present |= m.present
            if hist is not None and m.hist is not None:
                hist[m.present] = m.hist[m.present]
        out.append(InstantSeries(labels, values, present, hist=hist))
    return InstantVector(out)


class Engine:
    """Evaluates PromQL over a :class:`Storage`, vectorised over step grids.

    ``instant(query, time_ms)`` and ``range(query, start_ms, end_ms, step_ms)``
    return :mod:`values <pytest_selfslo.promql.values>` objects;
    ``instant_samples``/``range_samples`` flatten them into :class:`Sample` lists.

        >>> from pytest_selfslo.promql.storage import Storage
        >>> Engine(Storage()).instant("1 + 2", 0).values.tolist()
        [3.0]
    """

    def __init__(self, storage: Storage, semantics: SemanticsLike = "3",
                 lookback_ms: int = 300_000, subquery_step_ms: int = 60_000,
                 limits: Limits = DEFAULT_LIMITS) -> None:
        if lookback_ms <= 0:
            raise ValueError(f"lookback must be positive, got {lookback_ms} ms")
        self.storage = storage
        #: the Prometheus version imitated (``ValueError`` for anything else)
        self.semantics = Semantics.parse(semantics)
        self.lookback_ms = lookback_ms
        #: step of subqueries written without one (``x[5m:]``): the rule/global evaluation interval
        self.subquery_step_ms = subquery_step_ms
        #: annotations (``PromQL warning: ...``/``PromQL info: ...``) of the last query
        self.annotations: list[str] = []
        #: ``max_steps`` bounds the step grid of one query
        self.limits = limits

    # ----------------------------------------------------------------- public API
    def parse(self, query: str) -> Any:
        """Parse ``query`` (raises :class:`PromQLParseError`)."""
        return parse_expr(query)

    def evaluate(self, expr: Any, steps: IntArray | Sequence[int], start_ms: int | None = None,
                 end_ms: int | None = None, *, pin_at_ms: int | None = None,
                 steps_are_instants: bool = False,
                 visible_until: Callable[[Labels], int | None] | None = None) -> Value:
        """Evaluate ``expr`` (string or parsed node) on the step grid ``steps`` (ms).

        ``start_ms``/``end_ms`` are what ``start()``/``end()`` and ``@ start()``
        refer to (default: first and last step). Names marked for dropping are
        dropped at the end (Prometheus 3 delayed name removal). ``pin_at_ms``
        acts as if ``@ pin_at_ms`` were written on every selector and subquery
        outside subqueries that lack one (promqltest's step-invariance re-runs).
        ``steps_are_instants=True`` treats every step as its own instant query,
        as rule evaluation does: ``@ start()``/``@ end()`` then mean the step's
        own time (inside a subquery that is refused with a clear error).
        ``visible_until(labels)`` may hide the newest samples of a series: with
        a shift ``d`` (ms), the series' samples newer than ``step + d`` do not
        exist at ``step`` (rule evaluation: a rule reading the output of a rule
        promtool evaluates after it sees that output only up to the previous
        evaluation). Selector windows keep their bounds (lookback, ranges and
        ``rate`` extrapolation are unchanged); a shift that would hide samples
        inside a subquery raises :class:`PromQLEvalError` (the hidden part
        depends on the outer step, not the inner one). ``None``: all visible.
        Annotations end up in :attr:`annotations`.
        """
        node = parse_expr(expr) if isinstance(expr, str) else expr
        grid = np.asarray(steps, dtype=np.int64)
        self.limits.check("max_steps", len(grid), "query steps")
        if grid.ndim != 1 or len(grid) == 0:
            raise ValueError("evaluate: steps must be a non-empty 1-d array of timestamps")
        ctx = EvalContext(
            steps=grid, semantics=self.semantics,
            start_ms=int(grid[0]) if start_ms is None else start_ms,
            end_ms=int(grid[-1]) if end_ms is None else end_ms,
            lookback_ms=self.lookback_ms,
        )
        self.annotations = ctx.annotations
        evaluator = _Evaluator(self, ctx)
        evaluator.pin_at = pin_at_ms
        evaluator.steps_are_instants = steps_are_instants
        evaluator.visible_until = visible_until
        result = evaluator.eval(node, grid)
        if isinstance(result, InstantVector):
            result = settle_names(result)
            result.series = [s for s in result.series if s.present.any()]
        elif isinstance(result, RangeVector):
            for rs in result.series:
                if rs.drop_name:
                    rs.labels, rs.drop_name = drop_metric_name(rs.labels), False
        return result

    def instant(self, query: str | Any, time_ms: int, *, pin_at_ms: int | None = None) -> Value:
        """Instant query at ``time_ms`` (``pin_at_ms``: see :meth:`evaluate`)."""
        return self.evaluate(query, np.array([time_ms], dtype=np.int64), time_ms, time_ms,
                             pin_at_ms=pin_at_ms)

    def range(self, query: str | Any, start_ms: int, end_ms: int, step_ms: int) -> Value:
        """Range query over ``start_ms..end_ms`` every ``step_ms`` (both ends inclusive)."""
        if step_ms <= 0:
            raise ValueError(f"range query step must be positive, got {step_ms} ms")
        if end_ms < start_ms:
            raise ValueError(f"range query end {end_ms} is before start {start_ms}")
        self.limits.check("max_steps", (end_ms - start_ms) // step_ms + 1, "range query steps")
        node = parse_expr(query) if isinstance(query, str) else query
        steps = np.arange(start_ms, end_ms + 1, step_ms, dtype=np.int64)
        result = self.evaluate(node, steps, start_ms, end_ms)
        if isinstance(result, (RangeVector, StringValue)):
            raise PromQLEvalError(
                f"invalid expression type {value_type_name(result)!r} for range query, "
                f"must be scalar or instant vector")
        return result

    def instant_samples(self, query: str | Any, time_ms: int) -> list[Sample]:
        """Instant query flattened to samples (a scalar is one sample with no labels)."""
        result = self.instant(query, time_ms)
        return _samples(result, np.array([time_ms], dtype=np.int64))

    def range_samples(self, query: str | Any, start_ms: int, end_ms: int,
                      step_ms: int) -> list[Sample]:
        """Range query flattened to samples, ordered by series labels then time."""
        result = self.range(query, start_ms, end_ms, step_ms)
        steps = np.arange(start_ms, end_ms + 1, step_ms, dtype=np.int64)
        return _samples(result, steps)


def _samples(result: Value, steps: IntArray) -> list[Sample]:
    if isinstance(result, ScalarValue):
        return [Sample((), float(v), int(t)) for t, v in zip(steps, result.values, strict=True)]
    if isinstance(result, InstantVector):
        out: list[Sample] = []
        for s in sorted(result.series, key=lambda s: s.labels):
            idx = np.flatnonzero(s.present)
            hist = s.hist if s.hist is not None else np.full(len(s.present), None, dtype=object)
            out.extend(Sample(s.labels, float(s.values[i]), int(steps[i]), hist[i]) for i in idx)
        return out
    if isinstance(result, RangeVector):
        out = []
        for rs in sorted(result.series, key=lambda s: s.labels):
            t, v = rs.window(len(steps) - 1)
            lo = int(rs.lo[len(steps) - 1])
            hs = rs.h[lo:lo + len(t)] if rs.h is not None else [None] * len(t)
            out.extend(Sample(rs.labels, float(b), int(a), h)
                       for a, b, h in zip(t, v, hs, strict=True))
        return out
    raise PromQLEvalError(f"a {value_type_name(result)} has no samples")


class _Evaluator:
    """Evaluation of one query; ``eval(node, steps)`` dispatches on the node type."""

    def __init__(self, engine: Engine, ctx: EvalContext) -> None:
        self.engine = engine
        self.ctx = ctx
        self.semantics = engine.semantics
        self.delayed = engine.semantics.delayed_name_removal
        self.left_open = engine.semantics.left_open
        self.dotall = engine.semantics.regex_dotall
        #: ``@`` time forced on selectors/subqueries without one (outside subqueries)
        self.pin_at: int | None = None
        #: each step is its own instant query (rule evaluation): @ start()/end() = the step
        self.steps_are_instants = False
        self.subquery_depth = 0
        #: selectors feed only histogram_count/sum/avg: Prometheus reads them with its
        #: HistogramStatsIterator, which detects counter resets on the fly
        self.stats_mode = False
        #: per series, how far past the (outer) step its samples are visible (None: all)
        self.visible_until: Callable[[Labels], int | None] | None = None

    def context(self, steps: IntArray) -> EvalContext:
        if steps is self.ctx.steps:
            return self.ctx
        return dataclasses.replace(self.ctx, steps=steps)

    # ------------------------------------------------------------------ dispatch
    def eval(self, node: Any, steps: IntArray) -> Value:
        if isinstance(node, promql_parser.NumberLiteral):
            return ScalarValue(np.full(len(steps), float(node.val)))
        if isinstance(node, promql_parser.StringLiteral):
            return StringValue(node.val)
        if isinstance(node, promql_parser.ParenExpr):
            # Prometheus unwraps parentheses around function arguments, so
            # timestamp((x)) still reports sample times: pass the value through
            return self.eval(node.expr, steps)
        if isinstance(node, promql_parser.VectorSelector):
            return self.vector_selector(node, steps)
        if isinstance(node, promql_parser.MatrixSelector):
            return self.matrix_selector(node, steps)
        if isinstance(node, promql_parser.SubqueryExpr):
            return self.subquery(node, steps)
        if isinstance(node, promql_parser.UnaryExpr):
            return self.unary(node, steps)
        if isinstance(node, promql_parser.BinaryExpr):
            return eval_binary(self, node, steps)
        if isinstance(node, promql_parser.AggregateExpr):
            return eval_aggregation(self, node, steps)
        if isinstance(node, promql_parser.Call):
            return self.call(node, steps)
        raise PromQLEvalError(f"unsupported PromQL node {type(node).__name__}: {node}")

    def eval_instant(self, node: Any, steps: IntArray, what: str) -> InstantVector:
        """Evaluate a node that must be an instant vector (type error otherwise)."""
        value = self.eval(node, steps)
        if not isinstance(value, InstantVector):
            raise PromQLEvalError(
                f"{what}: expected instant vector, got {value_type_name(value)} in {node}")
        return value

    def eval_scalar(self, node: Any, steps: IntArray, what: str) -> FloatArray:
        value = self.eval(node, steps)
        if not isinstance(value, ScalarValue):
            raise PromQLEvalError(f"{what}: expected scalar, got {value_type_name(value)} in {node}")
        return value.values

    def settle(self, vec: InstantVector) -> InstantVector:
        """Non-delayed (semantics 2) name dropping right after the producing node."""
        return vec if self.delayed else settle_names(vec)

    # ------------------------------------------------------------------ selectors
    def reference_times(self, node: Any, steps: IntArray) -> IntArray:
        """Per step, the time a selector/subquery looks at: ``@`` time (or step) minus offset."""
        at = node.at
        if at is None and self.pin_at is not None:
            ref = np.full(len(steps), self.pin_at, dtype=np.int64)
        elif at is None:
            ref = steps
        else:
            kind = str(at.type)
            bound = kind.endswith(("Start", "End"))
            if bound and self.steps_are_instants:
                if self.subquery_depth:
                    raise PromQLEvalError(
                        f"'@ start()'/'@ end()' inside a subquery ({node}) is not supported when "
                        f"every step is its own instant query; evaluate such rules one step at "
                        f"a time")
                ref = steps
            else:
                if kind.endswith("Start"):
                    at_ms = self.ctx.start_ms
                elif kind.endswith("End"):
                    at_ms = self.ctx.end_ms
                else:
                    at_ms = (at.at - _EPOCH) // _MS
                ref = np.full(len(steps), at_ms, dtype=np.int64)
        offset = _ms(node.offset)
        return ref - offset if offset else ref

    def visible_ref(self, labels: Labels, t: IntArray, ref: IntArray,
                    steps: IntArray) -> IntArray | None:
        """``ref`` capped where ``visible_until`` hides samples ``t`` of ``labels``; None: no cap."""
        if self.visible_until is None:
            return None
        shift = self.visible_until(labels)
        if shift is None or shift >= 0:
            return None
        if self.subquery_depth:
            # inner steps never pass the outer step T, so only samples in (T + shift, T]
            # could be hidden; which of them are depends on the outer step
            outer = self.ctx.steps
            hidden = (np.searchsorted(t, outer, side="right")
                      > np.searchsorted(t, outer + shift, side="right"))
            if bool(np.any(hidden)):
                raise PromQLEvalError(
                    f"series {format_labels(labels)} is only partly visible at each step and "
                    f"read inside a subquery; evaluate such rules one step at a time")
            return None
        cut = steps + shift
        if bool(np.all(cut >= ref)):
            return None
        return np.minimum(ref, cut)

    def vector_selector(self, node: Any, steps: IntArray) -> InstantVector:
        ref = self.reference_times(node, steps)
        lookback = self.ctx.lookback_ms
        mint = int(ref.min()) - lookback
        out: list[InstantSeries] = []
        cache = _SameTimestamps()
        storage = self.engine.storage
        for labels, t, v in storage.select(_matchers(node, self.dotall), mint, int(ref.max())):
            upto = self.visible_ref(labels, t, ref, steps)
            hit = cache.get(t) if upto is None else None
            if hit is None:
                idx = np.searchsorted(t, ref if upto is None else upto, side="right") - 1
                safe = np.maximum(idx, 0)
                ts = t[safe]
                fresh = ts > ref - lookback if self.left_open else ts >= ref - lookback
                hit = (safe, ts, (idx >= 0) & fresh)
                if upto is None:
                    cache.put(t, hit)
            safe, ts, found = hit
            vals = v[safe]
            present: BoolArray = found & ~stale_mask(vals)
            if present.any():
                hists = storage.histograms(labels, t, v)
                hv = None
                if hists is not None:
                    hv = hists[safe]
                    hv[~present] = None
                    if self.stats_mode:
                        hv = _stats_hints(hv, hists, t, safe, ref - lookback)
                out.append(InstantSeries(labels, vals, present, timestamps=ts, hist=hv))
        return InstantVector(out)

    def windows(self, t: IntArray, ref: IntArray, range_ms: int) -> tuple[IntArray, IntArray]:
        """Index windows ``[lo, hi)`` of samples ``t`` in each step's range ending at ``ref``."""
        lo = np.searchsorted(t, ref - range_ms, side="right" if self.left_open else "left")
        hi = np.searchsorted(t, ref, side="right")
        return lo.astype(np.int64), hi.astype(np.int64)

    def matrix_selector(self, node: Any, steps: IntArray) -> RangeVector:
        vs = node.vector_selector
        range_ms = _ms(node.range)
        ref = self.reference_times(vs, steps)
        out: list[RangeSeries] = []
        selected = self.engine.storage.select(_matchers(vs, self.dotall),
                                              int(ref.min()) - range_ms,
                                              int(ref.max()))
        cache = _SameTimestamps()
        storage = self.engine.storage
        for labels, t, v in selected:
            keep = ~stale_mask(v)
            if not keep.all():
                t, v = t[keep], v[keep]
            hists = storage.histograms(labels, t, v)
            if hists is not None and self.stats_mode:
                hists = _stats_hints(hists, hists, t, np.arange(len(t)),
                                     np.full(len(t), -(2**62), dtype=np.int64))
            upto = self.visible_ref(labels, t, ref, steps)
            hit = cache.get(t) if upto is None else None
            if hit is None:
                lo, hi = self.windows(t, ref, range_ms)
                if upto is not None:
                    hi = np.maximum(np.searchsorted(t, upto, side="right").astype(np.int64), lo)
                hit = (lo, hi, bool(np.any(hi > lo)))
                if upto is None:
                    cache.put(t, hit)
            lo, hi, nonempty = hit
            if nonempty:
                out.append(RangeSeries(labels, t, v, lo, hi, h=hists))
        return RangeVector(out, range_ms, ref)

    def subquery(self, node: Any, steps: IntArray) -> RangeVector:
        range_ms = _ms(node.range)
        step_ms = _ms(node.step) or self.engine.subquery_step_ms
        if step_ms <= 0:
            raise PromQLEvalError(f"subquery step must be positive in {node}")
        ref = self.reference_times(node, steps)
        # Inner steps: multiples of step_ms in each outer window, evaluated once on their union.
        if self.left_open:
            first = np.floor_divide(ref - range_ms, step_ms) + 1
        else:
            first = -np.floor_divide(range_ms - ref, step_ms)
        last = np.floor_divide(ref, step_ms)
        seg_first, seg_last = _merged_ranges(first, last)
        count = int(np.sum(seg_last - seg_first + 1))
        if count > _MAX_SUBQUERY_STEPS:
            raise PromQLEvalError(
                f"subquery {node} would evaluate {count} inner steps (limit "
                f"{_MAX_SUBQUERY_STEPS}); use a larger subquery step")
        inner = np.concatenate([np.arange(a, b + 1, dtype=np.int64) for a, b in
                                zip(seg_first, seg_last, strict=True)] or
                               [np.zeros(0, dtype=np.int64)]) * step_ms
        if len(inner) == 0:
            return RangeVector([], range_ms, ref)
        pinned, self.pin_at = self.pin_at, None
        stats, self.stats_mode = self.stats_mode, False
        self.subquery_depth += 1
        try:
            value = self.eval(node.expr, inner)
        finally:
            self.pin_at = pinned
            self.stats_mode = stats
            self.subquery_depth -= 1
        if isinstance(value, ScalarValue):
            value = InstantVector([InstantSeries((), value.values, np.ones(len(inner), bool))])
        if not isinstance(value, InstantVector):
            raise PromQLEvalError(
                f"subquery is only allowed on instant vector or scalar, got "
                f"{value_type_name(value)} in {node}")
        value = self.settle(value)
        out: list[RangeSeries] = []
        for s in value.series:
            t = inner[s.present]
            v = s.values[s.present]
            h = _unknown_hints(s.hist[s.present]) if s.hist is not None else None
            lo, hi = self.windows(t, ref, range_ms)
            if np.any(hi > lo):
                out.append(RangeSeries(s.labels, t, v, lo, hi, drop_name=s.drop_name, h=h))
        return RangeVector(out, range_ms, ref)

    # ------------------------------------------------------------------ operators
    def unary(self, node: Any, steps: IntArray) -> Value:
        value = self.eval(node.expr, steps)
        if isinstance(value, ScalarValue):
            return ScalarValue(-value.values)
        if isinstance(value, InstantVector):
            gauge = self.semantics.histogram_gauge_ops
            out = [InstantSeries(s.labels, _negated_values(s), s.present, True,
                                 hist=_negate(s, gauge)) for s in value.series]
            return self.settle(InstantVector(out))
        raise PromQLEvalError(
            f"unary expression only allowed on expressions of type scalar or instant vector, "
            f"got {value_type_name(value)}")

    def call(self, node: Any, steps: IntArray) -> Value:
        name = node.func.name
        if name in _LEGACY_ALIASES:
            if not self.engine.semantics.holt_winters:
                raise PromQLParseError(
                    f"unknown function with name '{name}' (renamed to "
                    f"{_LEGACY_ALIASES[name]} in Prometheus 3; use semantics='2' for 2.x)")
            impl = FUNCTIONS.get(name) or FUNCTIONS.get(_LEGACY_ALIASES[name])
        else:
            impl = FUNCTIONS.get(name)
        if impl is None:
            raise PromQLEvalError(f"unknown function {name}() (not supported by the embedded engine)")
        stats = self.stats_mode
        if name in _STATS_FUNCS:
            self.stats_mode = True
        elif name in _BUCKET_FUNCS:
            self.stats_mode = False
        try:
            args = [self.eval(arg, steps) for arg in node.args]
        finally:
            self.stats_mode = stats
        if name not in HISTOGRAM_AWARE:
            for a in args:
                if isinstance(a, RangeVector):
                    self._note_mixed_ranges(a)
            args = [floats_only(a) for a in args]
        result = impl(self.context(steps), args, list(node.args))
        self._annotate_call(name, args, result)
        if isinstance(result, InstantVector):
            if any(s.timestamps is not None for s in result.series):
                # a function's samples are at the step time; only a bare selector argument
                # shows sample times to timestamp() (timestamp(label_replace(x, ...)) = step)
                result = InstantVector([dataclasses.replace(s, timestamps=None)
                                        for s in result.series])
            return self.settle(result)
        return result

    def _note_mixed_ranges(self, rv: RangeVector) -> None:
        """Float range functions ignore histograms in ranges that also hold floats (an info)."""
        for rs in rv.series:
            if rs.h is None:
                continue
            is_h = np.concatenate([[0], np.cumsum(hist_mask(rs.v))])
            nh = is_h[rs.hi] - is_h[rs.lo]
            if np.any((nh > 0) & (rs.hi - rs.lo > nh)):
                self.annotate(ignored_in_mixed_range_info(labels_get(rs.labels, METRIC_NAME)))

    def annotate(self, message: str) -> None:
        """Record an annotation once (Prometheus keeps them in a set)."""
        if message not in self.engine.annotations:
            self.engine.annotations.append(message)

    def _annotate_call(self, name: str, args: list[Value], result: Value) -> None:
        """The annotations Prometheus' engine (not the function) attaches to a call."""
        if name in _SORT_FUNCS and self.ctx.start_ms != self.ctx.end_ms:
            self.annotate("PromQL warning: sort is ineffective for range queries since "
                          "results are always ordered by labels")
        if name in ("rate", "increase") and args and isinstance(args[0], RangeVector):
            for rs in args[0].series:
                metric = labels_get(rs.labels, METRIC_NAME)
                # like Prometheus: only for series that produced a value (>= 2 samples)
                if rs.h is not None:  # only windows of floats produce float output
                    floats = np.concatenate([[0], np.cumsum(~hist_mask(rs.v))])
                    produced = bool(np.any(floats[rs.hi] - floats[rs.lo] >= 2))
                else:
                    produced = bool(np.any(rs.hi - rs.lo >= 2))
                if produced and metric and not metric.endswith(_COUNTER_SUFFIXES):
                    self.annotate("PromQL info: metric might not be a counter, name does not "
                                  f'end in _total/_sum/_count/_bucket: "{metric}"')


def _stats_hints(selected: Any, stored: Any, t: IntArray, idx: IntArray, after: IntArray) -> Any:
    """``HistogramStatsIterator``: ``unknown`` hints become reset/not_reset against the sample
    read just before (``stored[idx - 1]``, when it is newer than ``after``)."""
    out = selected.copy()
    for k, h in enumerate(selected):
        if h is None or h.hint != UNKNOWN_COUNTER_RESET:
            continue
        j = int(idx[k]) - 1
        prev = stored[j] if j >= 0 else None
        if prev is None or int(t[j]) <= int(after[k]):
            continue
        out[k] = h.with_hint(COUNTER_RESET if h.detect_reset(prev) else NOT_COUNTER_RESET)
    return out


def _unknown_hints(hists: Any) -> Any:
    """Subquery results forget reset/not-reset hints (Prometheus: they may repeat or skip samples)."""
    out = hists.copy()
    for i, h in enumerate(hists):
        if h is not None and h.hint in (COUNTER_RESET, NOT_COUNTER_RESET):
            out[i] = h.with_hint(UNKNOWN_COUNTER_RESET)
    return out


def _negate(s: InstantSeries, gauge: bool) -> Any:
    """Unary minus on histogram samples: ``Mul(-1)`` (a gauge since 3.7)."""
    if s.hist is None:
        return None
    out = s.hist.copy()
    for i in np.flatnonzero(s.hist_present()).tolist():
        out[i] = s.hist[i].mul(-1.0, gauge)
    return out


def _negated_values(s: InstantSeries) -> FloatArray:
    values: FloatArray = -s.values
    if s.hist is not None:
        values[s.hist_present()] = HIST_NAN  # keep the placeholder (negation flips its sign)
    return values


class _SameTimestamps:
    """Remembers per-step lookups for the last timestamp array seen.

    Series scraped on the same grid have identical timestamps, so their
    ``searchsorted`` results are identical too: comparing arrays is cheaper
    than searching again.
    """

    def __init__(self) -> None:
        self._t: IntArray | None = None
        self._value: Any = None

    def get(self, t: IntArray) -> Any:
        if self._t is not None and (self._t is t or np.array_equal(self._t, t)):
            return self._value
        return None

    def put(self, t: IntArray, value: Any) -> Any:
        self._t, self._value = t, value
        return value


def _merged_ranges(first: IntArray, last: IntArray) -> tuple[IntArray, IntArray]:
    """The integer ranges ``[first[i], last[i]]`` merged into disjoint sorted segments."""
    ok = last >= first
    first, last = first[ok], last[ok]
    if len(first) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    order = np.argsort(first, kind="stable")
    first, last = first[order], last[order]
    run_last = np.maximum.accumulate(last)
    starts = np.ones(len(first), dtype=bool)
    starts[1:] = first[1:] > run_last[:-1] + 1
    seg_last = np.append(run_last[np.flatnonzero(starts)[1:] - 1], run_last[-1])
    return first[starts], seg_last
