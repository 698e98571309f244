"""Generated tests for ``threshold`` SLIs: a gauge compared with a bound, counted per evaluation.

The rules of a threshold SLI count points: the error ratio over a window ``W``
is ``count_over_time((gauge <bad> bound)[W:]) / count_over_time((gauge)[W:])``,
a subquery whose step is the evaluation interval ``E`` of the test file (5m).
So a window holds ``N = W/E`` points under Prometheus 3 (left-open range) and
``N + 1`` under 2.x (closed), and its ratio is ``j/m``: ``j`` bad points of the
``m <= N`` present ones (a point is absent when the gauge has no sample for it:
a ``stale`` marker). A window without a bad point has no ratio at all (the
filtered vector is empty): the record is absent, the comparison false.

The gauge takes two values: *good* exactly at the SLI's bound (``<=``/``>=``)
or a hair inside it (``<``/``>``), *bad* a hair beyond (or at) it, so moving
the bound in the recording rules either way, by a step or 10 %, turns good
points bad or bad points good.

Per window pair ``(long, short, t)`` of every alert, three groups put the
windows at the values nearest to ``t`` that any gauge history can give them
(:func:`nearest`: over ``j/m`` with ``m <= N``): both just above (the pair
fires), the long one just at or below and the short one above, the reverse
(the pair does not fire). No history gives a value strictly between ``t`` and
those, so mutation testing's ``threshold-step`` (which moves ``t`` just past
the nearest value the tests give the window) and ``threshold-10pct`` (when an
achievable value lies within 10 %) change the alert at the checked
evaluation. Where a side has no achievable value (every ratio with a bad point
exceeds ``t``: ``t < 1/N``), the threshold can move anywhere down to 0 without
changing the comparison for any history: there is no group, and the mutants
that only move it there are equivalent (:func:`equivalent_move`). The points
that only 2.x's closed range sees (``long`` and ``short`` before the checked
evaluation) are bad when the window should be above ``t`` and good otherwise,
so both range rules give the same answer; every expected alert is computed
from the points under both rules (:func:`alert_states`) and must agree.

Window shape: per window ``N``, the newest ``N//2`` points good, the rest of
the window and the ``N - 1`` points before it bad: halving the range drops the
bad ones (no ratio), doubling it raises the ratio from ``1/2`` to ``3/4`` (as
``N`` grows). For ``N = 1`` (a 5m window) both range mutants select, under
Prometheus 3, the points Prometheus 3 (halved: the same single step) or 2.x
(doubled: the step before too) selects for the original, so no test that
passes under both can tell them apart.

Budget: a compliance window of good points (diluted by good points before it,
so a doubled range sees fewer errors), then ``c`` bad points: the budget
remaining is above 0 (or absent: no bad point yet) one evaluation before the
``c``-th and below 0 at it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import promql_parser

from pytest_selfslo._core.durations import format_duration, parse_duration
from pytest_selfslo._core.errors import SLOSpecError
from pytest_selfslo.promql.astwalk import selectors
from pytest_selfslo.slo.burnrate import (
    BUDGET_REMAINING_RECORD,
    error_ratio_record,
    series_labels,
    threshold_expr,
)
from pytest_selfslo.slo.service import BurnRateWindow, ServiceLevel, ServiceSLOs, service_of

__all__ = ["Gauge", "alert_states", "equivalent_move", "gauge_of", "nearest", "threshold_groups"]

GOOD, BAD, STALE = 0, 1, 2
#: how far past the bound a bad gauge value lies, relative (1 for a bound of 0): far inside
#: the 10 % of ``threshold-10pct`` and the one unit of the third digit of ``threshold-step``
HAIR = 1e-6
BoolArray = np.ndarray[Any, np.dtype[np.bool_]]
FloatArray = np.ndarray[Any, np.dtype[np.float64]]
#: (severity, the pairs of one alert rule, its expected alert, its ``for`` in ms)
Alerts = list[tuple[str, list[BurnRateWindow], dict[str, Any], int]]


@dataclass(frozen=True)
class Gauge:
    """The gauge series of a threshold SLI and its good and bad values."""

    series: str
    good: float
    bad: float

    def values(self, points: list[int]) -> str:
        """promtool series notation, runs of one value compressed (``v x k``)."""
        tokens: list[str] = []
        i = 0
        while i < len(points):
            j = i
            while j + 1 < len(points) and points[j + 1] == points[i]:
                j += 1
            if points[i] == STALE:
                tokens.extend(["stale"] * (j - i + 1))
            else:
                value = repr(self.good if points[i] == GOOD else self.bad)
                tokens.append(value if j == i else f"{value}x{j - i}")
            i = j + 1
        return " ".join(tokens)

    def group(self, name: str, eval_ms: int, points: np.ndarray[Any, np.dtype[np.int8]],
              **checks: list[dict[str, Any]]) -> dict[str, Any]:
        """A test group with this gauge at ``points``, one per evaluation, and ``checks``
        (``alert_rule_test``, ``promql_expr_test``)."""
        return {"name": name, "interval": format_duration(eval_ms),
                "input_series": [{"series": self.series, "values": self.values(points.tolist())}],
                **checks}


def gauge_of(slo: ServiceLevel, label_text: Callable[[dict[str, str]], str],
             pick: Callable[[list[tuple[str, str, str]]], dict[str, str]]) -> Gauge:
    """The input series for ``slo``'s threshold SLI: its gauge must be one selector."""
    sli = slo.sli
    ast = promql_parser.parse(sli.metric)
    while isinstance(ast, promql_parser.ParenExpr):
        ast = ast.expr
    if not isinstance(ast, promql_parser.VectorSelector) or ast.offset is not None:
        raise SLOSpecError(f"slo {slo.name!r}: cannot generate tests for this threshold SLI: "
                           f"its metric must be one series selector, got {sli.metric!r}")
    (sel,) = selectors(ast)
    ops = {"MatchOp.Equal": "=", "MatchOp.NotEqual": "!=", "MatchOp.Re": "=~",
           "MatchOp.NotRe": "!~"}
    matchers = [(m.name, ops[str(m.op)], m.value) for m in sel.matchers.matchers
                if m.name != "__name__"]
    bound = sli.threshold
    step = max(abs(bound), 1.0) * HAIR
    # good when `gauge <comparison> bound`: good at the bound itself where that is good
    good, bad = {"<=": (bound, bound + step), "<": (bound - step, bound),
                 ">=": (bound, bound - step), ">": (bound + step, bound)}[sli.comparison]
    return Gauge(str(sel.name or "") + label_text(pick(matchers)), good, bad)


# ------------------------------------------------------------------ the points, simulated
def _counts(points: np.ndarray[Any, np.dtype[np.int8]], n_w: int, closed: bool
            ) -> tuple[FloatArray, FloatArray]:
    """Per evaluation ``i``: bad and present points in the window of ``n_w`` points ending
    at ``i`` (``closed``: Prometheus 2.x, one point more)."""
    bad = np.concatenate([[0], np.cumsum(points == BAD)]).astype(np.float64)
    present = np.concatenate([[0], np.cumsum(points != STALE)]).astype(np.float64)
    ends = np.arange(1, len(points) + 1)
    first = np.maximum(ends - n_w - (1 if closed else 0), 0)
    return bad[ends] - bad[first], present[ends] - present[first]


def window_ratio(points: np.ndarray[Any, np.dtype[np.int8]], n_w: int, closed: bool
                 ) -> FloatArray:
    """The recorded error ratio per evaluation (``nan``: absent, no bad point)."""
    bad, present = _counts(points, n_w, closed)
    with np.errstate(invalid="ignore", divide="ignore"):
        out: FloatArray = np.where(bad > 0, bad / np.where(present > 0, present, 1), np.nan)
    return out


def alert_states(spec: ServiceSLOs, slo: ServiceLevel, alerts: Alerts,
                 points: np.ndarray[Any, np.dtype[np.int8]], eval_ms: int, closed: bool
                 ) -> list[BoolArray]:
    """Per alert rule: firing at each evaluation (``for`` counted in evaluations)."""
    out = []
    for _sev, pairs, _exp, for_ms in alerts:
        cond = np.zeros(len(points), dtype=bool)
        for b in pairs:
            t = float(threshold_expr(b, slo, spec))
            long_r = window_ratio(points, parse_duration(b.long) // eval_ms, closed)
            short_r = window_ratio(points, parse_duration(b.short) // eval_ms, closed)
            cond |= (long_r > t) & (short_r > t)
        need = -(-for_ms // eval_ms)
        held = cond.copy()
        for k in range(1, need + 1):
            held[k:] &= cond[:-k]
            held[:k] = False
        out.append(held)
    return out


# ------------------------------------------------------------------ nearest achievable values
def nearest(n_w: int, t: float, above: bool) -> tuple[float, list[tuple[int, int]]] | None:
    """The achievable ratio nearest to ``t`` above it (or at/below it): ``j/m`` with
    ``1 <= j <= m <= n_w``, and every ``(j, m)`` giving exactly that float; ``None`` when no
    ratio lies on that side (below: every ratio with a bad point exceeds ``t``)."""
    best: float | None = None
    reps: list[tuple[int, int]] = []
    for m in range(1, n_w + 1):
        j = math.floor(t * m)
        for cand in (j - 1, j, j + 1, j + 2):
            if not 1 <= cand <= m:
                continue
            v = cand / m
            if (v > t) != above:
                continue
            if best is None or (v < best if above else v > best):
                best, reps = v, [(cand, m)]
            elif v == best:
                reps.append((cand, m))
    return None if best is None else (best, reps)


def equivalent_move(n_w: int, old: float, new: float) -> bool:
    """Whether moving a window's threshold from ``old`` to ``new`` changes ``ratio > t`` for
    no achievable ratio (``j/m``, ``1 <= j <= m <= n_w``): then no history tells the two
    comparisons apart (the window's record is absent without a bad point)."""
    lo, hi = min(old, new), max(old, new)
    for m in range(1, n_w + 1):
        j = math.floor(lo * m)
        for cand in (j - 1, j, j + 1, j + 2):
            if 1 <= cand <= m and lo < cand / m <= hi:
                return False
    return True


# ------------------------------------------------------------------ boundary groups
@dataclass(frozen=True)
class _Target:
    """The checked window values of one boundary group: (j, m) per window, above or not."""

    long: tuple[int, int]
    short: tuple[int, int]
    long_up: bool
    short_up: bool


def _layouts(target: _Target, n_long: int, n_short: int, t: float
             ) -> Iterator[dict[int, int]]:
    """Point states (by age: 0 is the checked evaluation) realising ``target``, several
    arrangements: the bad points newest or oldest first in each part of the windows."""
    j_s, m_s = target.short
    j_l, m_l = target.long
    outer_bad, outer_present = j_l - j_s, m_l - m_s
    outer_slots = n_long - n_short  # ages n_short .. n_long - 1
    if outer_bad < 0 or outer_present < outer_bad or m_s > n_short or m_l > n_long:
        return
    if (m_l - j_l) < (m_s - j_s) or outer_present > outer_slots:
        return
    outer_good = outer_present - outer_bad
    for bad_first in (False, True):
        for stale_old in (True, False):
            ages: dict[int, int] = {}
            short = [BAD] * j_s + [GOOD] * (m_s - j_s)
            if not bad_first:
                short = short[::-1]
            short = short + [STALE] * (n_short - m_s) if stale_old else \
                [STALE] * (n_short - m_s) + short
            for age, state in enumerate(short):
                ages[age] = state
            # the short window's 2.x-only point (age n_short) heads the outer part: good,
            # bad or stale, where 2.x's short ratio then stays on the target's side
            for edge in _edges(j_s, m_s, t, target.short_up,
                               outer_good if n_short < n_long else 0,
                               outer_bad if n_short < n_long else 0, n_short < n_long):
                yield from _arranged(ages, edge, outer_bad, outer_good, outer_slots, n_short,
                                     n_long, target, t, bad_first, stale_old)


def _edges(j: int, m: int, t: float, up: bool, good_left: int, bad_left: int, exists: bool
           ) -> Iterator[int | None]:
    """States of a window's 2.x-only point keeping 2.x's ratio on the side ``up``."""
    if not exists:
        yield None
        return
    for edge, (j2, m2), left in ((GOOD, (j, m + 1), good_left), (BAD, (j + 1, m + 1), bad_left),
                                 (STALE, (j, m), 1)):
        if left and (j2 / m2 > t) == up:
            yield edge


def _arranged(short_ages: dict[int, int], edge: int | None, outer_bad: int, outer_good: int,
              outer_slots: int, n_short: int, n_long: int, target: _Target, t: float,
              bad_first: bool, stale_old: bool) -> Iterator[dict[int, int]]:
    outer: list[int] = [] if edge is None else [edge]
    bad_left = outer_bad - (edge == BAD)
    good_left = outer_good - (edge == GOOD)
    rest = [BAD] * bad_left + [GOOD] * good_left
    if not bad_first:
        rest = rest[::-1]
    free = outer_slots - len(outer) - len(rest)
    if free < 0:
        return
    outer += rest + [STALE] * free if stale_old else [STALE] * free + rest
    j_l, m_l = target.long
    for last in _edges(j_l, m_l, t, target.long_up, 1, 1, True):
        ages = dict(short_ages)
        for k, state in enumerate(outer):
            ages[n_short + k] = state
        assert last is not None
        ages[n_long] = last  # the long window's 2.x-only point
        yield ages


def _points(ages: dict[int, int], n: int) -> np.ndarray[Any, np.dtype[np.int8]]:
    """``n + 1`` points (times 0 .. n·E): good but where ``ages`` says otherwise."""
    points = np.full(n + 1, GOOD, dtype=np.int8)
    for age, state in ages.items():
        if age <= n:
            points[n - age] = state
    return points


def _targets(n_long: int, n_short: int, t: float) -> list[tuple[str, _Target]]:
    """The boundary groups of one pair: (what, target)."""
    out: list[tuple[str, _Target]] = []
    l_up, l_dn = nearest(n_long, t, True), nearest(n_long, t, False)
    s_up, s_dn = nearest(n_short, t, True), nearest(n_short, t, False)
    combos = (("both windows just above the threshold: this pair fires", l_up, s_up, True, True),
              ("the long window just below the threshold, the short one just above: this "
               "pair does not fire", l_dn, s_up, False, True),
              ("the short window just below the threshold, the long one just above: this "
               "pair does not fire", l_up, s_dn, True, False))
    for what, lv, sv, lu, su in combos:
        if lv is None or sv is None:
            continue
        for rl in sorted(lv[1], key=lambda r: -r[1]):
            for rs in sorted(sv[1], key=lambda r: -r[1]):
                out.append((what, _Target(rl, rs, lu, su)))
    return out


def _firing(spec: ServiceSLOs, slo: ServiceLevel, alerts: Alerts,
            points: np.ndarray[Any, np.dtype[np.int8]], eval_ms: int
            ) -> list[dict[str, Any]] | None:
    """The alerts firing at the last evaluation; ``None`` when 2.x and 3 disagree."""
    closed = alert_states(spec, slo, alerts, points, eval_ms, True)
    left_open = alert_states(spec, slo, alerts, points, eval_ms, False)
    if [bool(s[-1]) for s in closed] != [bool(s[-1]) for s in left_open]:
        return None
    return [exp for (_s, _p, exp, _f), s in zip(alerts, left_open, strict=True) if s[-1]]


def _boundary_groups(spec: ServiceSLOs, slo: ServiceLevel, alerts: Alerts, gauge: Gauge,
                     eval_ms: int, prefix: str, name: str) -> list[dict[str, Any]]:
    groups = []
    for severity, pairs, _exp, _for in alerts:
        history = max(parse_duration(b.long) for b in pairs) // eval_ms + 2
        for b in pairs:
            t = float(threshold_expr(b, slo, spec))
            n_long, n_short = parse_duration(b.long) // eval_ms, parse_duration(b.short) // eval_ms
            done: set[str] = set()
            for what, target in _targets(n_long, n_short, t):
                if what in done:
                    continue
                found = None
                for ages in _layouts(target, n_long, n_short, t):
                    points = _points(ages, history)
                    # the pair under test alone decides its alert rule
                    others = [p for p in pairs if p != b]
                    if others and any(alert_states(spec, slo, [(severity, [p], {}, 0)], points,
                                                   eval_ms, closed)[0][-1]
                                      for p in others for closed in (False, True)):
                        continue
                    mine = alert_states(spec, slo, [(severity, [b], {}, 0)], points, eval_ms,
                                        False)[0][-1]
                    if bool(mine) != (target.long_up and target.short_up):
                        continue
                    expected = _firing(spec, slo, alerts, points, eval_ms)
                    if expected is not None:
                        found = (points, expected)
                        break
                if found is None:
                    continue
                done.add(what)
                points, expected = found
                (jl, ml), (js, ms) = target.long, target.short
                groups.append(gauge.group(
                    f"{prefix}: {severity} {b.long}/{b.short} ×{_num(b.factor)}: {what} "
                    f"({jl}/{ml} and {js}/{ms} evaluations bad)", eval_ms, points,
                    alert_rule_test=[{"eval_time": format_duration(history * eval_ms),
                                      "alertname": name, "exp_alerts": expected}]))
            if not any("this pair fires" in w for w in done):
                raise SLOSpecError(f"slo {slo.name!r}: cannot generate the boundary test of "
                                   f"the {severity} pair {b.long}/{b.short}: no gauge history "
                                   "makes it the only pair of its alert rule that fires")
    return groups


# ------------------------------------------------------------------ window shape, budget
def _shape_group(spec: ServiceSLOs, slo: ServiceLevel, gauge: Gauge, window: str, eval_ms: int,
                 prefix: str) -> dict[str, Any]:
    n_w = parse_duration(window) // eval_ms
    h = n_w // 2
    ages = {age: GOOD for age in range(h)}
    ages.update({age: BAD for age in range(h, n_w)})
    ages[n_w] = STALE  # the 2.x-only point: both range rules see the same points
    ages.update({age: BAD for age in range(n_w + 1, 2 * n_w)})
    n = 2 * n_w + 1
    points = _points(ages, n)
    value = (n_w - h) / n_w
    for closed in (False, True):
        assert window_ratio(points, n_w, closed)[-1] == value
    labels = {**series_labels(spec, slo), spec.scheme.window: window}
    sel = _label_text(labels)
    record = f"{error_ratio_record(window)}{sel}"
    return gauge.group(
        f"{prefix}: error ratio over {window} of points whose state changes inside the window "
        f"is {_num(round(value, 6))} (threshold SLI, ±5 %)", eval_ms, points,
        promql_expr_test=[{"expr": f"{record} {op} bool {_num(round(bound, 9))}",
                           "eval_time": format_duration(n * eval_ms),
                           "exp_samples": [{"labels": sel, "value": 1}]}
                          for op, bound in ((">", value * 0.95), ("<", value * 1.05))])


def _budget_group(spec: ServiceSLOs, slo: ServiceLevel, gauge: Gauge, eval_ms: int,
                  prefix: str) -> dict[str, Any]:
    """Bad points that spend the budget at the last evaluation, not at the one before.

    Half of them (rounded down) sit at the oldest end of the compliance window, the others
    at the newest, and two more just before the window: a range of either query halved sees
    too few of them or too few points, doubled too many of them or too many good points
    (the window is preceded by good points that dilute a doubled total).
    """
    n_p = parse_duration(slo.window) // eval_ms
    b = float(slo.error_budget)
    for c in range(max(1, math.floor(b * n_p)), n_p):
        old = c // 2
        before = min(n_p, max(10, math.ceil(c / b) - n_p + 4))
        n = before + n_p
        ages = {age: BAD for age in range(c - old)}
        ages.update({n_p - 2 - k: BAD for k in range(old)})
        ages.update({n_p + 2: BAD, n_p + 3: BAD})  # outside the window at both checks
        points = _points(ages, n)
        rem = [1 - window_ratio(points, n_p, closed) / b for closed in (False, True)]
        after_ok = all(r[-1] < 0 for r in rem)
        before_ok = all(np.isnan(r[-2]) or r[-2] > 0 for r in rem)
        if not (after_ok and before_ok):
            continue
        bad, present = _counts(points, n_p, False)
        bad2, present2 = _counts(points, 2 * n_p, False)
        half_bad, half_present = _counts(points, n_p // 2, False)
        # each mutant range (of the errors or the total query) changes a check
        mutants = ((half_bad / present)[-1] <= b, (bad / half_present)[-2] > b,
                   (bad2 / present)[-2] > b, (bad / present2)[-1] <= b)
        if all(mutants):
            break
    else:
        raise SLOSpecError(f"slo {slo.name!r}: cannot generate the budget test of this "
                           "threshold SLI")
    sel = _label_text(series_labels(spec, slo))
    expr = f"{BUDGET_REMAINING_RECORD}{sel} > bool 0"
    first = [] if np.isnan(rem[0][-2]) else [{"labels": sel, "value": 1}]
    return gauge.group(
        f"{prefix}: budget exhaustion: {c} of {n_p} evaluations bad over {slo.window} spend "
        f"the budget {_num(b)} (threshold SLI)", eval_ms, points,
        promql_expr_test=[
            {"expr": expr, "eval_time": format_duration((n - 1) * eval_ms), "exp_samples": first},
            {"expr": expr, "eval_time": format_duration(n * eval_ms),
             "exp_samples": [{"labels": sel, "value": 0}]}])


def threshold_groups(spec: ServiceSLOs, slo: ServiceLevel, alerts: Alerts, gauge: Gauge,
                     eval_ms: int, name: str, windows: list[str]) -> list[dict[str, Any]]:
    """Every generated group of a threshold SLO (the absent alert's aside)."""
    prefix = f"{service_of(spec, slo)}/{slo.name}"
    if slo.min_events:
        raise SLOSpecError(
            f"slo {slo.name!r}: generated tests do not model the low-traffic guard of a "
            "threshold SLI (its events are evaluations times window seconds); drop min_events "
            "or write the guard's test by hand")
    for w in [*windows, slo.window]:
        if parse_duration(w) % eval_ms:
            raise SLOSpecError(
                f"slo {slo.name!r}: cannot generate tests for a threshold SLI with window {w}: "
                f"its subquery counts points {format_duration(eval_ms)} apart, and {w} is not a "
                "whole number of them")
    groups = [_budget_group(spec, slo, gauge, eval_ms, prefix)]
    groups += [_shape_group(spec, slo, gauge, w, eval_ms, prefix) for w in windows]
    groups += _boundary_groups(spec, slo, alerts, gauge, eval_ms, prefix, name)
    return groups


def _label_text(labels: dict[str, str]) -> str:
    return "{" + ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"


def _num(value: float) -> str:
    return str(int(value)) if value == int(value) else repr(round(value, 9))
