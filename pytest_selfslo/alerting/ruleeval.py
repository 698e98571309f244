"""Evaluating rule groups over a step grid, the way ``promtool test rules`` does.

promtool evaluates every group at every ``evaluation_interval`` step, rule by
rule, appending recording-rule results (and ``ALERTS``/``ALERTS_FOR_STATE``)
to storage as it goes, and only loads input samples up to the step being
evaluated. We get the same results much faster:

* **vectorised mode** (the normal case): each rule is evaluated once over the
  whole grid with :meth:`Engine.evaluate` and its output written back before
  the rules that read it run. Rules run in file order except that a rule reading
  a *later* rule runs after it (dependency order): promtool's step ``t`` has not
  evaluated that rule yet, so the reader sees its series only up to the
  previous step, which ``Engine.evaluate(visible_until=...)`` reproduces per
  series (instant selectors, range windows, ``offset`` and ``timestamp()``
  alike; the same covers a rule read from a group with a larger
  ``query_offset``). Series keep promtool's creation order (keyed on the rule's
  file position). No ``@`` or negative offset may appear (they could see
  samples promtool has not loaded yet);
* **step mode** when rules read each other in a cycle (a rule reading itself
  included), when a subquery reads a series the reader sees only up to an
  earlier step, or when a vectorised run hits an evaluation error (so the error
  is reported at the first failing step, as promtool does): one step at a time
  against storage capped at that step. ``evaluate_groups(mode="step")`` forces
  it (the reference the vectorised mode is tested against).

The alert state machine (inactive -> pending -> firing, ``for``,
``keep_firing_for``) runs over whole presence arrays per alert instance, one
Python iteration per *run* of consecutive steps rather than per step.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
import numpy.typing as npt
import promql_parser

from pytest_selfslo._core.durations import format_go_duration
from pytest_selfslo._core.errors import (
    LimitError,
    PromQLError,
    PromQLEvalError,
    TemplateError,
    located,
)
from pytest_selfslo._core.goregex import GoRegexError, matcher_regex
from pytest_selfslo._core.limits import DEFAULT_LIMITS, Limits
from pytest_selfslo.promql.arrays import BoolArray, FloatArray, IntArray
from pytest_selfslo.promql.engine import Engine, parse_expr
from pytest_selfslo.promql.labels import METRIC_NAME, STALE_NAN, Labels, make_labels
from pytest_selfslo.promql.semantics import SemanticsLike
from pytest_selfslo.promql.storage import Storage
from pytest_selfslo.promql.values import InstantSeries, InstantVector, ScalarValue
from pytest_selfslo.rulefmt.model import AlertingRule, AlertState, RecordingRule, Rule, RuleGroup
from pytest_selfslo.template.parse import expand_template

__all__ = ["Alert", "GroupRun", "RuleEvalError", "alert_timeline", "evaluate_groups"]

_INACTIVE, _PENDING, _FIRING = 0, 1, 2
Int8Array = npt.NDArray[np.int8]
_STATE_NAMES = {_PENDING: AlertState.PENDING, _FIRING: AlertState.FIRING}


class RuleEvalError(PromQLEvalError):
    """A rule failed to evaluate at a step (promtool stops the test group there)."""

    def __init__(self, rule: Rule, time_ms: int, message: str) -> None:
        super().__init__(f"rule: {rule.name}, time: {format_go_duration(time_ms)}, err: {message}")
        self.rule = rule
        self.time_ms = time_ms
        self.reason = message


@dataclass(frozen=True)
class Alert:
    """One alert instance at one evaluation step."""

    labels: dict[str, str]
    annotations: dict[str, str]
    state: AlertState
    active_at_ms: int
    value: float


def alert_timeline(ts: IntArray, present: BoolArray, hold_ms: int,
                   keep_firing_ms: int) -> tuple[Int8Array, IntArray, IntArray]:
    """States, ``ActiveAt`` and last-present step per step for one alert instance.

    Mirrors ``AlertingRule.Eval``: a run of present steps starts pending at its first
    step and fires once ``ts - activeAt >= for``; when the series disappears a
    firing alert keeps firing while ``ts - keepFiringSince < keep_firing_for`` and
    resumes (same ``ActiveAt``) if the series comes back in that time.
    """
    n = len(ts)
    state = np.zeros(n, dtype=np.int8)
    active_at = np.zeros(n, dtype=np.int64)
    last_present = np.full(n, -1, dtype=np.int64)
    padded = np.concatenate(([False], present, [False]))
    edges = np.flatnonzero(padded[1:] != padded[:-1])
    runs = list(zip(edges[0::2].tolist(), edges[1::2].tolist(), strict=True))
    j = 0
    while j < len(runs):
        start, end = runs[j]
        act = int(ts[start])
        while True:
            seg = ts[start:end]
            state[start:end] = np.where(seg - act >= hold_ms, _FIRING, _PENDING)
            active_at[start:end] = act
            last_present[start:end] = np.arange(start, end)
            if keep_firing_ms <= 0 or state[end - 1] != _FIRING or end >= n:
                break
            next_start = runs[j + 1][0] if j + 1 < len(runs) else n
            expiry = end + int(np.searchsorted(ts[end:], int(ts[end]) + keep_firing_ms, "left"))
            stop = min(expiry, next_start)
            state[end:stop] = _FIRING
            active_at[end:stop] = act
            last_present[end:stop] = end - 1
            if j + 1 < len(runs) and next_start <= expiry:
                j += 1
                start, end = runs[j]
                continue
            break
        j += 1
    return state, active_at, last_present



@dataclass
class _Instance:
    """One alert instance (an identity label set) of a rule across the grid."""

    labels: dict[str, str]
    present: BoolArray
    values: FloatArray
    series_labels: list[Labels | None]
    #: per step, the native histogram the alert's ``$value`` renders (None: the float)
    hists: list[Any] | None = None


@dataclass
class _AlertResult:
    rule: AlertingRule
    instances: list[_Instance]
    timelines: list[tuple[Int8Array, IntArray, IntArray]] = field(default_factory=list)


class _CappedStorage:
    """Storage view that hides samples after ``cap_ms`` (promtool's lazy loading)."""

    def __init__(self, inner: Storage) -> None:
        self.inner = inner
        self.cap_ms: int | None = None

    def select(self, matchers: Sequence[Any], mint_ms: int | None = None,
               maxt_ms: int | None = None) -> list[tuple[Labels, IntArray, FloatArray]]:
        if self.cap_ms is not None:
            maxt_ms = self.cap_ms if maxt_ms is None else min(maxt_ms, self.cap_ms)
            if mint_ms is not None and mint_ms > maxt_ms:
                return []
        return self.inner.select(matchers, mint_ms, maxt_ms)

    def histograms(self, labels: Labels, t: IntArray, v: FloatArray) -> Any:
        """Native-histogram samples of the selected arrays (see :meth:`Storage.histograms`)."""
        return self.inner.histograms(labels, t, v)


@dataclass
class GroupRun:
    """Results of evaluating rule groups over one grid: what unit tests inspect."""

    steps: IntArray
    groups: list[RuleGroup]
    storage: Storage
    engine: Engine
    external_labels: dict[str, str]
    external_url: str
    alerts: dict[int, _AlertResult] = field(default_factory=dict)
    #: first evaluation error (promtool stops evaluating the test group there)
    error: RuleEvalError | None = None
    #: number of steps evaluated before the error (all steps when ``error`` is None)
    steps_done: int = 0
    mode: str = "vectorised"
    #: budgets; ``max_template_bytes`` bounds every rendered label and annotation
    limits: Limits = DEFAULT_LIMITS

    def rules(self) -> Iterator[tuple[RuleGroup, Rule]]:
        """Every rule in evaluation order."""
        for group in self.groups:
            for rule in group.rules:
                yield group, rule

    def alerts_at(self, rule: AlertingRule, step: int, *, firing_only: bool = False,
                  annotations: bool = True) -> list[Alert]:
        """Active (pending or firing) alerts of ``rule`` after evaluating step ``step``.

        ``firing_only`` skips pending alerts; ``annotations=False`` leaves them
        unrendered (empty), which is much cheaper when only labels matter.
        """
        result = self.alerts.get(id(rule))
        if result is None:
            return []
        out: list[Alert] = []
        lowest = _FIRING if firing_only else _PENDING
        for inst, (state, active_at, last_present) in zip(result.instances, result.timelines, strict=True):
            s = int(state[step])
            if s < lowest:
                continue
            src = int(last_present[step])
            value = float(inst.values[src])
            series_labels = inst.series_labels[src] or ()
            shown: Any = value
            if inst.hists is not None and inst.hists[src] is not None:
                shown = inst.hists[src]  # $value of a histogram sample is the histogram
            rendered = {
                k: self._render(rule, text, series_labels, shown, int(self.steps[src]))
                for k, text in rule.annotations.items()} if annotations else {}
            out.append(Alert(dict(inst.labels), rendered, _STATE_NAMES[s],
                             int(active_at[step]), value))
        return out

    def firing_series(self, rule: AlertingRule) -> dict[Labels, tuple[BoolArray, FloatArray]]:
        """Per alert identity of ``rule``: at which steps it fires, and the value there.

        The value is the one its annotations render (``$value``: the last present
        sample, also while ``keep_firing_for`` holds it); NaN where it is not firing.
        Arrays cover the evaluated steps (``steps_done``).
        """
        result = self.alerts.get(id(rule))
        out: dict[Labels, tuple[BoolArray, FloatArray]] = {}
        if result is None:
            return out
        n = self.steps_done
        for inst, (state, _, last_present) in zip(result.instances, result.timelines, strict=True):
            firing = state[:n] == _FIRING
            src = np.clip(last_present[:n], 0, None)
            values = np.where(firing, inst.values[src], np.nan)
            out[make_labels(inst.labels)] = (firing, values)
        return out

    def _render(self, rule: AlertingRule, text: str, labels: Labels, value: Any,
                time_ms: int) -> str:
        try:
            return expand_template(text, f"__alert_{rule.name}", dict(labels), value,
                                   external_labels=self.external_labels,
                                   external_url=self.external_url, eval_time_s=time_ms / 1000,
                                   max_bytes=self.limits.max_template_bytes)
        except LimitError as exc:
            raise LimitError(located(str(exc), rule.file, rule.line)) from None


def evaluate_groups(groups: Sequence[RuleGroup], storage: Storage, steps: IntArray, *,
                    semantics: SemanticsLike = "3", subquery_step_ms: int = 60_000,
                    external_labels: dict[str, str] | None = None, external_url: str = "",
                    extra_exprs: Sequence[str] = (), mode: str | None = None,
                    limits: Limits = DEFAULT_LIMITS) -> GroupRun:
    """Evaluate ``groups`` at every step in ``steps`` (ms), writing results into ``storage``.

    ``extra_exprs`` are queries that will run afterwards (unit-test expressions):
    ``ALERTS`` series are only materialised when one of them or a rule reads them.
    ``mode`` forces ``"step"`` evaluation (the reference the vectorised mode is
    tested against); ``None`` picks vectorised whenever that is exact. More steps
    than ``limits.max_steps`` raise :class:`~pytest_selfslo.errors.LimitError`.
    """
    if mode not in (None, "step", "vectorised"):
        raise ValueError(f"mode must be None, 'step' or 'vectorised', got {mode!r}")
    limits.check("max_steps", len(steps), "evaluation steps")
    capped = _CappedStorage(storage)
    engine = Engine(cast(Storage, capped), semantics=semantics, subquery_step_ms=subquery_step_ms)
    run = GroupRun(np.asarray(steps, dtype=np.int64), list(groups), storage, engine,
                   dict(external_labels or {}), external_url, limits=limits)
    rules = [rule for _, rule in run.rules()]
    exprs = {id(rule): parse_expr(rule.expr) for rule in rules}
    needs_alerts = any(_reads_alerts(parse_expr(e)) for e in extra_exprs) or any(
        _reads_alerts(node) for node in exprs.values())
    order = _schedule(rules, exprs)
    if mode == "vectorised" and order is None:
        order = list(range(len(rules)))
    if mode != "step" and order is not None:
        snapshot = storage.snapshot()  # to undo a vectorised attempt that hits an error
        try:
            _run_vectorised(run, exprs, needs_alerts, order)
            return run
        except (PromQLError, _NeedsStepMode):
            storage.restore(snapshot)
            run.alerts.clear()
    run.mode = "step"
    _run_steps(run, exprs, needs_alerts, capped)
    return run


class _NeedsStepMode(Exception):
    """A per-step error (duplicate alert labels, limit) must be located by step mode."""


# ---- dependency analysis --------------------------------------------------
def _selectors(node: Any) -> Iterator[Any]:
    if isinstance(node, promql_parser.VectorSelector):
        yield node
        return
    if isinstance(node, promql_parser.MatrixSelector):
        yield node.vector_selector
        return
    for attr in ("lhs", "rhs", "expr", "param"):
        child = getattr(node, attr, None)
        if child is not None and not isinstance(child, (str, int, float)):
            yield from _selectors(child)
    for arg in getattr(node, "args", None) or ():
        yield from _selectors(arg)


def _names(node: Any) -> set[str] | None:
    """Metric names the expression selects; None when a selector has no fixed name."""
    names: set[str] = set()
    for sel in _selectors(node):
        name = _selector_name(sel)
        if not name or sel.matchers.or_matchers:
            return None
        names.add(name)
    return names


def _selector_name(sel: Any) -> str | None:
    if sel.name:
        return str(sel.name)
    for m in sel.matchers.matchers:
        if m.name == METRIC_NAME and str(m.op) == "MatchOp.Equal":
            return str(m.value)
    return None


def _matcher_accepts(op: str, pattern: str, value: str) -> bool:
    if op == "MatchOp.Equal":
        return value == pattern
    if op == "MatchOp.NotEqual":
        return value != pattern
    try:
        hit = matcher_regex(pattern).fullmatch(value)
    except GoRegexError:
        return True
    return hit if op == "MatchOp.Re" else not hit


def _may_read(sel: Any, produced: dict[str, str]) -> bool:
    """Could selector ``sel`` match a series whose fixed labels include ``produced``?"""
    if sel.matchers.or_matchers:
        return True
    name = sel.name
    if name and name != produced[METRIC_NAME]:
        return False
    for m in sel.matchers.matchers:
        if m.name in produced and not _matcher_accepts(str(m.op), str(m.value), produced[m.name]):
            return False
    return True


def _produced(rule: Rule) -> list[dict[str, str]]:
    """Fixed labels of the series a rule writes (templated values are not fixed)."""
    fixed = {k: v for k, v in rule.labels.items() if "{{" not in v}
    if isinstance(rule, RecordingRule):
        return [{**fixed, METRIC_NAME: rule.name}]
    base = {**fixed, "alertname": rule.name}
    return [{**base, METRIC_NAME: "ALERTS"}, {**base, METRIC_NAME: "ALERTS_FOR_STATE"}]


def _time_shifted(node: Any) -> bool:
    """True when an ``@`` modifier or a negative offset appears anywhere."""
    stack = [node]
    while stack:
        cur = stack.pop()
        if getattr(cur, "at", None) is not None:
            return True
        offset = getattr(cur, "offset", None)
        if offset is not None and offset.total_seconds() < 0:
            return True
        for attr in ("lhs", "rhs", "expr", "param", "vector_selector"):
            child = getattr(cur, attr, None)
            if child is not None and not isinstance(child, (str, int, float)):
                stack.append(child)
        stack.extend(getattr(cur, "args", None) or ())
    return False


def _reads_alerts(node: Any) -> bool:
    names = _names(node)
    return names is None or bool(names & {"ALERTS", "ALERTS_FOR_STATE"})


def _schedule(rules: list[Rule], exprs: dict[int, Any]) -> list[int] | None:
    """The order vectorised mode evaluates the rules in (indices into ``rules``); None: step mode.

    Every rule runs after the rules whose output it may read. A rule reading an
    earlier rule sees it as promtool does; one reading a *later* rule (promtool
    has not evaluated it yet at that step) sees that rule's series only up to the
    previous step (``visible_until`` of :meth:`Engine.evaluate`). Step mode when
    the reads form a cycle (a rule reading itself included), when a later rule's
    output is read inside a subquery (its visible part would depend on the outer
    step) and when an ``@`` or a negative offset could look ahead in time.
    Ready rules run in file order, so without forward reads this is the file order.
    """
    produced = [_produced(rule) for rule in rules]
    needs: list[set[int]] = []
    for i, rule in enumerate(rules):
        node = exprs[id(rule)]
        if _time_shifted(node):
            return None
        deps: set[int] = set()
        for sel, in_subquery in _selectors_in(node, False):
            for j, outputs in enumerate(produced):
                if any(_may_read(sel, out) for out in outputs):
                    if j == i or (j > i and in_subquery):
                        return None
                    deps.add(j)
        needs.append(deps)
    order: list[int] = []
    done: set[int] = set()
    ready = [i for i, deps in enumerate(needs) if not deps]
    waiting = {i for i, deps in enumerate(needs) if deps}
    while ready:
        ready.sort(reverse=True)
        i = ready.pop()
        order.append(i)
        done.add(i)
        for j in sorted(waiting):
            if needs[j] <= done:
                waiting.discard(j)
                ready.append(j)
    return order if not waiting else None


def _selectors_in(node: Any, in_subquery: bool) -> Iterator[tuple[Any, bool]]:
    """Every selector of ``node``, with whether it sits inside a subquery."""
    if isinstance(node, promql_parser.SubqueryExpr):
        in_subquery = True
    if isinstance(node, promql_parser.VectorSelector):
        yield node, in_subquery
        return
    if isinstance(node, promql_parser.MatrixSelector):
        yield node.vector_selector, in_subquery
        return
    for attr in ("lhs", "rhs", "expr", "param"):
        child = getattr(node, attr, None)
        if child is not None and not isinstance(child, (str, int, float)):
            yield from _selectors_in(child, in_subquery)
    for arg in getattr(node, "args", None) or ():
        yield from _selectors_in(arg, in_subquery)


# ---- evaluation -------------------------------------------------------------------
def _result_series(value: Any, n: int) -> list[InstantSeries]:
    if isinstance(value, ScalarValue):
        return [InstantSeries((), value.values, np.ones(n, dtype=bool))]
    if isinstance(value, InstantVector):
        return value.series
    raise PromQLEvalError("rule result is not a vector or scalar")


def _write(storage: Storage, labels: Labels, ts: IntArray, present: BoolArray,
           values: FloatArray, offset_ms: int, hist: Any = None, *, phase: int = 1) -> None:
    """Append samples where present plus a stale marker where the series disappears.

    ``ts`` are sample times (evaluation times minus the group's ``query_offset``):
    a new series counts as created at the evaluation that first produced it,
    after the input series loaded for that evaluation (storage creation order),
    and ``phase`` (1 + the rule's index in evaluation order) after the series that
    rules before it created at that evaluation.
    """
    stale = np.zeros(len(present), dtype=bool)
    stale[1:] = present[:-1] & ~present[1:]
    mask = present | stale
    if not mask.any():
        return
    vals = np.where(present, values, STALE_NAN)
    created = int(ts[int(np.argmax(mask))]) + offset_ms
    if hist is not None:
        is_h = np.array([h is not None for h in hist], dtype=bool) & present
        if is_h.any():
            mask = mask & ~is_h
            storage.add_histograms(labels, ts[is_h], list(hist[is_h]), created_ms=created,
                                   phase=phase)
    storage.add_samples(labels, ts[mask], vals[mask], created_ms=created, phase=phase)


def _recording_output(rule: RecordingRule, series: list[InstantSeries],
                      limit: int) -> list[tuple[Labels, BoolArray, FloatArray, Any]]:
    out: dict[Labels, tuple[BoolArray, FloatArray]] = {}
    hists: dict[Labels, Any] = {}
    for s in series:
        lab = dict(s.labels)
        lab.update(rule.labels)
        lab[METRIC_NAME] = rule.name
        key = make_labels(lab)
        if key in out:
            prev_present, prev_values = out[key]
            if np.any(prev_present & s.present):
                raise _DuplicateSeries(int(np.argmax(prev_present & s.present)),
                                       "vector contains metrics with the same labelset after "
                                       "applying rule labels")
            out[key] = (prev_present | s.present, np.where(s.present, s.values, prev_values))
            if s.hist is not None:
                merged = hists.get(key)
                merged = (np.full(len(s.present), None, dtype=object) if merged is None
                          else merged.copy())
                merged[s.present] = s.hist[s.present]
                hists[key] = merged
        else:
            out[key] = (s.present.copy(), s.values)
            if s.hist is not None:
                hists[key] = s.hist
    if limit > 0 and out:
        counts = np.sum([p for p, _ in out.values()], axis=0)
        if np.any(counts > limit):
            i = int(np.argmax(counts > limit))
            raise _DuplicateSeries(i, f"exceeded limit of {limit} with {int(counts[i])} series")
    return [(k, p, v, hists.get(k)) for k, (p, v) in out.items()]


class _DuplicateSeries(Exception):
    def __init__(self, step: int, message: str) -> None:
        super().__init__(message)
        self.step = step
        self.message = message


def _alert_instances(run: GroupRun, rule: AlertingRule, series: list[InstantSeries],
                     n: int) -> list[_Instance]:
    by_identity: dict[Labels, _Instance] = {}
    static = not any("{{" in v and ("value" in v.lower() or "now" in v)
                     for v in rule.labels.values())
    for full in series:
        s = InstantSeries(full.labels, full.values[:n], full.present[:n],
                          hist=None if full.hist is None else full.hist[:n])
        idx = [0] if static else np.flatnonzero(s.present).tolist()
        for i in idx:
            lab = {k: v for k, v in s.labels if k != METRIC_NAME}
            shown: Any = float(s.values[i])
            if s.hist is not None and s.hist[i] is not None:
                shown = s.hist[i]
            for key, text in rule.labels.items():
                lab[key] = run._render(rule, text, s.labels, shown, int(run.steps[i]))
            lab["alertname"] = rule.name
            key_labels = make_labels(lab)
            mask = s.present if static else _one_hot(n, i)
            inst = by_identity.get(key_labels)
            if inst is None:
                inst = by_identity[key_labels] = _Instance(
                    {k: v for k, v in key_labels}, np.zeros(n, dtype=bool),
                    np.zeros(n, dtype=np.float64), [None] * n)
            if np.any(inst.present & mask):
                raise _DuplicateSeries(int(np.argmax(inst.present & mask)),
                                       "vector contains metrics with the same labelset after "
                                       "applying alert labels")
            inst.present |= mask
            inst.values[mask] = s.values[mask]
            if s.hist is not None:
                if inst.hists is None:
                    inst.hists = [None] * n
                for j in np.flatnonzero(mask).tolist():
                    inst.hists[j] = s.hist[j]
            for j in np.flatnonzero(mask).tolist():
                inst.series_labels[j] = s.labels
    return list(by_identity.values())


def _one_hot(n: int, i: int) -> BoolArray:
    mask = np.zeros(n, dtype=bool)
    mask[i] = True
    return mask


def _alert_result(run: GroupRun, group: RuleGroup, rule: AlertingRule, series: list[InstantSeries],
                  n: int) -> _AlertResult:
    instances = _alert_instances(run, rule, series, n)
    result = _AlertResult(rule, instances)
    steps = run.steps[:n]
    for inst in instances:
        result.timelines.append(alert_timeline(steps, inst.present, rule.for_ms,
                                               rule.keep_firing_for_ms))
    if group.limit > 0 and result.timelines:
        active = np.sum([st != _INACTIVE for st, _, _ in result.timelines], axis=0)
        if np.any(active > group.limit):
            i = int(np.argmax(active > group.limit))
            raise _DuplicateSeries(i, f"exceeded limit of {group.limit} with {int(active[i])} alerts")
    return result


def _write_alert_series(run: GroupRun, group: RuleGroup, result: _AlertResult, n: int,
                        lo: int = 0, *, phase: int = 1) -> list[Labels]:
    """Write ``ALERTS``/``ALERTS_FOR_STATE`` of ``result``; returns the labels of the series."""
    written: list[Labels] = []
    ts = run.steps[:n] - group.query_offset_ms
    for inst, (state, active_at, _) in zip(result.instances, result.timelines, strict=True):
        for code, name in ((_PENDING, "pending"), (_FIRING, "firing")):
            mask = state == code
            if mask.any():
                lab = make_labels({**inst.labels, METRIC_NAME: "ALERTS", "alertstate": name})
                _write(run.storage, lab, ts[lo:], mask[lo:], np.ones(n, dtype=np.float64)[lo:],
                       group.query_offset_ms, phase=phase)
                written.append(lab)
        alive = state != _INACTIVE
        if alive.any():
            lab = make_labels({**inst.labels, METRIC_NAME: "ALERTS_FOR_STATE"})
            _write(run.storage, lab, ts[lo:], alive[lo:], (active_at // 1000).astype(np.float64)[lo:],
                   group.query_offset_ms, phase=phase)
            written.append(lab)
    return written


def _run_vectorised(run: GroupRun, exprs: dict[int, Any], needs_alerts: bool,
                    order: list[int]) -> None:
    n = len(run.steps)
    placed = list(run.rules())
    #: series labels -> indices of the rules that wrote them
    writers: dict[Labels, list[int]] = {}
    for index in order:
        group, rule = placed[index]
        grid = run.steps - group.query_offset_ms
        written: list[Labels] = []
        try:
            value = run.engine.evaluate(exprs[id(rule)], grid,
                                        visible_until=_visibility(placed, writers, index))
            series = _result_series(value, n)
            if isinstance(rule, RecordingRule):
                for lab, present, values, hist in _recording_output(rule, series, group.limit):
                    _write(run.storage, lab, grid, present, values, group.query_offset_ms, hist,
                           phase=1 + index)
                    written.append(lab)
            else:
                result = _alert_result(run, group, rule, _alert_values(series), n)
                run.alerts[id(rule)] = result
                if needs_alerts:
                    written += _write_alert_series(run, group, result, n, phase=1 + index)
        except (_DuplicateSeries, TemplateError) as exc:
            raise _NeedsStepMode(str(exc)) from None
        for lab in written:
            writers.setdefault(lab, []).append(index)
    run.steps_done = n


def _visibility(placed: list[tuple[RuleGroup, Rule]], writers: dict[Labels, list[int]],
                reader: int) -> Callable[[Labels], int | None]:
    """``visible_until`` for rule ``reader``: how far past its evaluation time it sees a series.

    promtool's step ``k`` evaluates the rules in file order, so ``reader`` sees a rule
    before it up to step ``k`` and a rule after it up to step ``k - 1``: samples written
    at ``steps[j] - offset_writer`` for ``j <= k`` (resp. ``< k``), i.e. up to the
    reader's evaluation time ``steps[k] - offset_reader`` plus the returned shift.
    """
    offset = placed[reader][0].query_offset_ms

    def shift(labels: Labels) -> int | None:
        written_by = writers.get(labels)
        if written_by is None:
            return None  # input series: loaded up to the step, never past the evaluation time
        deltas = {offset - placed[w][0].query_offset_ms - (1 if w > reader else 0)
                  for w in written_by}
        if len(deltas) > 1:  # several rules write it, seen up to different steps
            raise _NeedsStepMode(f"rules seen up to different steps write {dict(labels)}")
        delta = deltas.pop()
        return delta if delta < 0 else None

    return shift


def _run_steps(run: GroupRun, exprs: dict[int, Any], needs_alerts: bool,
               capped: _CappedStorage) -> None:
    n = len(run.steps)
    history: dict[int, list[InstantSeries]] = {}
    previous: dict[int, dict[Labels, float]] = {}
    for i in range(n):
        ts = int(run.steps[i])
        capped.cap_ms = ts
        errors: list[RuleEvalError] = []
        for index, (group, rule) in enumerate(run.rules()):
            at = ts - group.query_offset_ms
            try:
                value = run.engine.evaluate(exprs[id(rule)], np.array([at], dtype=np.int64))
                series = _result_series(value, 1)
                if isinstance(rule, RecordingRule):
                    out = _recording_output(rule, series, group.limit)
                    _write_step(run.storage, previous.setdefault(id(rule), {}), out, at, ts,
                                1 + index)
                else:
                    series = _alert_values(series)
                    past = history.setdefault(id(rule), [])
                    _extend_history(past, series, i, n)
                    # duplicates are checked on this step alone; the (quadratic) full state
                    # machine only runs per step when its output is observable mid-run
                    _alert_instances(run, rule, series, 1)
                    if needs_alerts or group.limit > 0:
                        result = _alert_result(run, group, rule, past, i + 1)
                        run.alerts[id(rule)] = result
                        if needs_alerts:
                            _write_alert_series(run, group, result, i + 1, lo=max(i - 1, 0),
                                                phase=1 + index)
            except _DuplicateSeries as exc:
                errors.append(RuleEvalError(rule, ts, exc.message))
            except PromQLError as exc:
                errors.append(RuleEvalError(rule, ts, str(exc)))
        if errors:
            run.error = errors[0]
            break
    else:
        i = n
    capped.cap_ms = None
    run.steps_done = i
    if i == 0:
        return
    for group, rule in run.rules():
        if isinstance(rule, AlertingRule) and id(rule) in history:
            run.alerts[id(rule)] = _alert_result(run, group, rule, history[id(rule)], i)


def _alert_values(series: list[InstantSeries]) -> list[InstantSeries]:
    """An alert's value is the sample's float: 0 for a native histogram (Prometheus' ``smpl.F``)."""
    out = []
    for s in series:
        if s.hist is not None and s.hist_present().any():
            s = InstantSeries(s.labels, np.where(s.hist_present(), 0.0, s.values), s.present,
                              s.drop_name, s.timestamps, s.hist)
        out.append(s)
    return out


def _extend_history(past: list[InstantSeries], series: list[InstantSeries], i: int, n: int) -> None:
    index = {s.labels: s for s in past}
    for s in series:
        if not s.present[0]:
            continue
        target = index.get(s.labels)
        if target is None:
            target = InstantSeries(s.labels, np.zeros(n), np.zeros(n, dtype=bool))
            past.append(target)
            index[s.labels] = target
        target.values[i] = s.values[0]
        target.present[i] = True


def _write_step(storage: Storage, previous: dict[Labels, float],
                out: list[tuple[Labels, BoolArray, FloatArray, Any]], at: int,
                eval_ms: int, phase: int) -> None:
    now: dict[Labels, float] = {}
    for lab, present, values, hist in out:
        if present[0]:
            now[lab] = float(values[0])
            if hist is not None and hist[0] is not None:
                storage.add_histograms(lab, [at], [hist[0]], created_ms=eval_ms, phase=phase)
            else:
                storage.add_samples(lab, [at], [float(values[0])], created_ms=eval_ms, phase=phase)
    for lab in previous:
        if lab not in now:
            storage.add_samples(lab, [at], [STALE_NAN])
    previous.clear()
    previous.update(now)
