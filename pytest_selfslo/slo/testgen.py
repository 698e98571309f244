"""promtool-format unit tests for the rules :mod:`~pytest_selfslo.slo.burnrate` generates.

For every alert (page, ticket) and each of its window pairs ``(long, short,
factor)`` one test group feeds counters whose error ratio is ``factor ×
budget`` one step (1 %) above, then one step below the boundary, for the
last ``long`` of the history (good traffic before), and expects the alert to
fire, respectively not to fire. What the other pairs of the same alert do in
that history is computed (error ratio over a window ``W`` is
``ratio × min(long, W) / W``) and expected too. With ``min_events`` set, a
guard group shows that a burn far above every threshold does not page when
the long window saw fewer events than ``min_events``.

Budget exhaustion: after a whole compliance window ``P`` of good traffic
(``v1`` events per step), errors at a constant ratio ``r`` (``v2 = 2·v1``
events per step) spend the budget ``b`` after ``x`` with ``r·v2·x = b·(v1·(P -
x) + v2·x)``; a group checks the ``slo:error_budget_remaining:ratio`` series
is above 0 one step (``P/720``) before that time and below 0 one step after.

Window shape: for every window ``W`` of a burn-rate pair, traffic whose
volume and error ratio change at ``W`` and ``W/2`` before the evaluation
time; the ``W`` error-ratio record must be within 5 % of the exact ratio. A
range halved or doubled in the errors or the total query moves it by 27 % or
more, so these groups kill every window mutant of the recording rules.

Input series come from the SLI queries (a ``raw`` SLI when its query is ``E / T``
of two aggregations, :func:`raw_as_ratio`; any other raw query is arbitrary
PromQL: an error): each ratio query must select one
metric (the errors selector narrower than the total one) and aggregate to a
single series; otherwise a :class:`~pytest_selfslo._core.errors.SLOSpecError`
says why (no test is silently left out).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import promql_parser

from pytest_selfslo._core.durations import format_duration, parse_duration
from pytest_selfslo._core.errors import SLOSpecError
from pytest_selfslo.promql.astwalk import selectors
from pytest_selfslo.slo.burnrate import (
    BUDGET_REMAINING_RECORD,
    _dump,
    alert_name,
    burn_rates,
    error_ratio_record,
    series_labels,
)
from pytest_selfslo.slo.service import BurnRateWindow, ServiceLevel, ServiceSLOs, Sli, service_of

__all__ = ["generate_tests", "raw_as_ratio", "test_groups"]

#: one step either side of a boundary, relative to the threshold
STEP = 0.01
#: events per scrape interval in the generated traffic
TRAFFIC = 1000.0
#: volume before a test's errors start, relative to the volume after: it dilutes the
#: windows longer than the pair under test, so a weaker pair (the ticket 3d/6h one under
#: the 1d/2h one) does not fire in its place and the pair's own thresholds are decisive
HEAVY = 10.0
#: rule evaluation interval of the generated file (a 1m interval over 3d is slow in promtool)
EVALUATION_MS = 300_000
_CANDIDATES = ("200", "500", "503", "429", "error", "true", "fail", "201", "ok", "success",
               "false", "0", "1", "x")


@dataclass(frozen=True)
class _Inputs:
    """How to write traffic with a given error ratio for one SLO."""

    error_series: str
    good_series: str
    total_series: str = ""  #: latency: the _count series (errors = count - good bucket)


def _matches(op: str, value: str, candidate: str) -> bool:
    if op == "=":
        return candidate == value
    if op == "!=":
        return candidate != value
    if op == "=~":
        return re.fullmatch(value, candidate) is not None
    return re.fullmatch(value, candidate) is None


def _matchers(query: str, what: str, slo: ServiceLevel) -> tuple[str, list[tuple[str, str, str]]]:
    ast = promql_parser.parse(query.replace("{{.window}}", "5m"))
    if isinstance(ast, promql_parser.ParenExpr):
        ast = ast.expr
    if not isinstance(ast, promql_parser.AggregateExpr) or (
            ast.modifier is not None and str(ast.modifier.type) != "AggModifierType.By"):
        raise SLOSpecError(f"slo {slo.name!r}: cannot generate tests: the {what} query must "
                           f"aggregate to one series (sum(...) or sum by (...)): {query}")
    sels = selectors(ast)
    if len(sels) != 1:
        raise SLOSpecError(f"slo {slo.name!r}: cannot generate tests: the {what} query must "
                           f"select exactly one metric, found {len(sels)}: {query}")
    ops = {"MatchOp.Equal": "=", "MatchOp.NotEqual": "!=", "MatchOp.Re": "=~",
           "MatchOp.NotRe": "!~"}
    sel = sels[0]
    out = [(m.name, ops[str(m.op)], m.value) for m in sel.matchers.matchers if m.name != "__name__"]
    return str(sel.name or ""), out


def _pick(name: str, constraints: list[tuple[str, str]], avoid: list[tuple[str, str]]
          ) -> str | None:
    equal = [v for op, v in constraints if op == "="]
    alternatives = [p for _, v in constraints for p in v.strip("()").split("|")]
    for cand in [*equal, *_CANDIDATES, *alternatives]:
        if all(_matches(op, v, cand) for op, v in constraints) and \
                (not avoid or not all(_matches(op, v, cand) for op, v in avoid)):
            return cand
    return None


def _label_text(labels: dict[str, str]) -> str:
    return "{" + ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"


def _inputs(slo: ServiceLevel) -> _Inputs:
    sli = slo.sli
    if sli.kind == "threshold":
        raise SLOSpecError(f"slo {slo.name!r}: test generation for threshold SLIs is not "
                           "supported yet")
    if sli.kind == "raw":
        ratio = raw_as_ratio(sli.error_ratio)
        if ratio is None:
            raise SLOSpecError(f"slo {slo.name!r}: cannot generate tests for a raw SLI that is "
                               "not a division of two aggregations (errors / total): its "
                               "error-ratio query is arbitrary PromQL, so there is no input "
                               "series known to give it a chosen error ratio (use a ratio or "
                               "latency SLI, or write the tests by hand)")
        sli = Sli("ratio", errors=ratio[0], total=ratio[1])
    if sli.kind == "latency":
        name, matchers = _matchers(sli.error_query()[1], "total", slo)
        labels = _all_match(matchers, slo)
        bucket = f"{sli.metric}_bucket" + _label_text({**labels, "le": _le(sli.threshold)})
        return _Inputs("", bucket, name + _label_text(labels))
    total = sli.total
    good_query = _good_part(sli.errors, total)
    sub_query, sub_what = (good_query, "good") if good_query else (sli.errors, "errors")
    s_name, s_match = _matchers(sub_query, sub_what, slo)
    t_name, t_match = _matchers(total, "total", slo)
    if s_name != t_name:
        if good_query:  # e.g. a histogram bucket (good) under its _count (total)
            return _Inputs("", s_name + _label_text(_all_match(s_match, slo)),
                           t_name + _label_text(_all_match(t_match, slo)))
        raise SLOSpecError(f"slo {slo.name!r}: cannot generate tests: {sub_what} and total "
                           f"select different metrics ({s_name} vs {t_name})")
    names = sorted({n for n, _, _ in s_match + t_match})
    inside: dict[str, str] = {}
    outside: dict[str, str] = {}
    for n in names:
        both = [(op, v) for k, op, v in s_match + t_match if k == n]
        total_only = [(op, v) for k, op, v in t_match if k == n]
        sub_only = [(op, v) for k, op, v in s_match if k == n]
        in_val = _pick(n, both, [])
        out_val = _pick(n, total_only, sub_only) if sub_only else in_val
        if in_val is None:
            raise SLOSpecError(f"slo {slo.name!r}: cannot generate tests: no value of label "
                               f"{n!r} matches the {sub_what} query's matchers")
        inside[n] = in_val
        outside[n] = out_val if out_val is not None else in_val
    if inside == outside:
        raise SLOSpecError(f"slo {slo.name!r}: cannot generate tests: found no series that the "
                           f"total query selects but the {sub_what} query does not")
    if good_query:
        return _Inputs(s_name + _label_text(outside), s_name + _label_text(inside))
    return _Inputs(s_name + _label_text(inside), s_name + _label_text(outside))


#: a range no SLI writes, standing for ``{{.window}}`` while the query is parsed
_SENTINEL = "3h17m13s"


def raw_as_ratio(query: str) -> tuple[str, str] | None:
    """``(errors, total)`` templates when a raw error-ratio query is ``E / T`` with ``E`` and
    ``T`` aggregations (what Sloth's event SLIs and most SLI plugins write), else ``None``.

    The recording rule of such a raw SLI evaluates exactly what the ratio SLI's would, so the
    tests derived for that ratio test it.

        >>> raw_as_ratio("sum(rate(x{c=~'5..'}[{{.window}}])) / sum(rate(x[{{.window}}]))")
        ('sum(rate(x{c=~"5.."}[{{.window}}]))', 'sum(rate(x{}[{{.window}}]))')
        >>> raw_as_ratio("1 - avg_over_time(up[{{.window}}])") is None
        True
    """
    if _SENTINEL in query:
        return None
    ast = promql_parser.parse(query.replace("{{.window}}", _SENTINEL))
    while isinstance(ast, promql_parser.ParenExpr):
        ast = ast.expr
    if not isinstance(ast, promql_parser.BinaryExpr) or str(ast.op) != "/" \
            or ast.modifier is not None:
        return None
    sides = []
    for side in (ast.lhs, ast.rhs):
        while isinstance(side, promql_parser.ParenExpr):
            side = side.expr
        if not isinstance(side, promql_parser.AggregateExpr):
            return None
        text = str(side)
        if _SENTINEL not in text:
            return None
        sides.append(text.replace(_SENTINEL, "{{.window}}"))
    return sides[0], sides[1]


def _good_part(errors: str, total: str) -> str:
    """``G`` when the errors query is ``(total) - (G)`` (an SLI given by its good events)."""
    head = f"({total}) - ("
    if errors.startswith(head) and errors.endswith(")"):
        return errors[len(head):-1]
    return ""


def _all_match(matchers: list[tuple[str, str, str]], slo: ServiceLevel) -> dict[str, str]:
    out = {}
    for n in sorted({k for k, _, _ in matchers}):
        value = _pick(n, [(op, v) for k, op, v in matchers if k == n], [])
        if value is None:
            raise SLOSpecError(f"slo {slo.name!r}: cannot generate tests: no value of label "
                               f"{n!r} matches the query's matchers")
        out[n] = value
    return out


def _le(value: float) -> str:
    return str(int(value)) if value == int(value) else repr(value)


def _interval(pairs: list[BurnRateWindow]) -> int:
    shortest = min(parse_duration(b.short) for b in pairs)
    return 60_000 if shortest < 3_600_000 else 300_000


def _history_steps(pairs: list[BurnRateWindow], step: int) -> int:
    """Samples of history: the longest window plus ten, ending on a 5m evaluation."""
    n = max(parse_duration(b.long) for b in pairs) // step + 10
    while (n * step) % EVALUATION_MS:
        n += 1
    return n


def _ratio_over(window_ms: int, errors_ms: int, ratio: float, history_ms: int) -> float:
    """Error ratio over a window: errors during the last ``errors_ms`` at ``ratio``, and
    :data:`HEAVY` times the volume (all good) before them."""
    seen = min(window_ms, history_ms)
    e = min(errors_ms, seen)
    return ratio * e / (e + HEAVY * (seen - e))


def _fires(pairs: list[BurnRateWindow], slo: ServiceLevel, errors_ms: int, ratio: float,
           history_ms: int) -> bool | None:
    """Whether the alert fires; ``None`` when a window ratio is within a step of a threshold."""
    fires = False
    for b in pairs:
        t = b.factor * slo.error_budget
        states = []
        for w in (b.long, b.short):
            r = _ratio_over(parse_duration(w), errors_ms, ratio, history_ms)
            if abs(r - t) < t * STEP / 2:
                return None
            states.append(r > t)
        fires = fires or all(states)
    return fires


def _series(inputs: _Inputs, n: int, k: int, ratio: float, per_step: float) -> list[dict[str, str]]:
    bad = per_step * ratio
    good_after = per_step - bad

    def counter(before: float, after: float) -> str:
        if k >= n:
            return f"0+{_num(after)}x{n}"
        head = f"0+{_num(before)}x{n - k - 1}"
        return head + f" {_num(before * (n - k))}+{_num(after)}x{k}"

    heavy = HEAVY * per_step
    if inputs.total_series:  # latency: count and the good bucket
        return [{"series": inputs.total_series, "values": counter(heavy, per_step)},
                {"series": inputs.good_series, "values": counter(heavy, good_after)}]
    return [{"series": inputs.error_series, "values": counter(0, bad)},
            {"series": inputs.good_series, "values": counter(heavy, good_after)}]


def _num(value: float) -> str:
    return str(int(value)) if value == int(value) else repr(round(value, 9))


def _counter(increments: list[tuple[int, float]]) -> str:
    """promtool series values of a counter from 0: ``count`` steps of ``inc`` per region.

    promtool expands ``a+bxN`` by adding ``b`` N times; each region starts at the value
    that expansion reaches plus one increment, computed the same way and printed exactly
    (``repr``), so the counter never steps back by a rounding error (a counter reset).
    """
    parts: list[str] = []
    value = 0.0
    for count, inc in increments:
        if not parts:
            parts.append(f"0+{float(inc)!r}x{count}")
        else:
            value += inc
            parts.append(f"{value!r}+{float(inc)!r}x{count - 1}")
            count -= 1
        for _ in range(count):
            value += inc
    return " ".join(parts)


def _profile(inputs: _Inputs, regions: list[tuple[int, float, float]]) -> list[dict[str, str]]:
    """Input series for regions of ``(steps, events per step, error ratio)``."""
    errors = [(n, v * r) for n, v, r in regions]
    good = [(n, v * (1 - r)) for n, v, r in regions]
    if inputs.total_series:  # a histogram: the _count and the good bucket
        return [{"series": inputs.total_series, "values": _counter([(n, v) for n, v, _ in regions])},
                {"series": inputs.good_series, "values": _counter(good)}]
    return [{"series": inputs.error_series, "values": _counter(errors)},
            {"series": inputs.good_series, "values": _counter(good)}]


#: window-shape traffic: (share of the window, events per step, error ratio), oldest first,
#: so that halving or doubling the range of either the errors or the total query moves the
#: recorded ratio by far more than the tolerance
_SHAPE = ((1.0, 1000.0, 0.05), (0.5, 3000.0, 0.02), (0.5, 500.0, 0.01))
_SHAPE_TOLERANCE = 0.05


def _shape_group(spec: ServiceSLOs, slo: ServiceLevel, inputs: _Inputs,
                 window: str) -> dict[str, Any]:
    """The error-ratio record of ``window`` over traffic that changes inside the window."""
    w = parse_duration(window)
    step = w // 60
    n = 120
    while (n * step) % EVALUATION_MS or n < 122:
        n += 1
    regions = [(n - 60, *_SHAPE[0][1:]), (30, *_SHAPE[1][1:]), (30, *_SHAPE[2][1:])]
    errors = sum(v * r for _, v, r in _SHAPE[1:])
    total = sum(v for _, v, _ in _SHAPE[1:])
    expected = errors / total
    labels = {**series_labels(spec, slo), spec.scheme.window: window}
    sel = _label_text(labels)
    record = f"{error_ratio_record(window)}{sel}"
    lo, hi = expected * (1 - _SHAPE_TOLERANCE), expected * (1 + _SHAPE_TOLERANCE)
    return {
        "name": f"{service_of(spec, slo)}/{slo.name}: error ratio over {window} of traffic "
                f"that changes inside the window is {_num(round(expected, 6))} (±5 %)",
        "interval": format_duration(step),
        "input_series": _profile(inputs, regions),
        "promql_expr_test": [
            {"expr": f"{record} > bool {_num(round(lo, 9))}",
             "eval_time": format_duration(n * step),
             "exp_samples": [{"labels": sel, "value": 1}]},
            {"expr": f"{record} < bool {_num(round(hi, 9))}",
             "eval_time": format_duration(n * step),
             "exp_samples": [{"labels": sel, "value": 1}]},
        ],
    }


_Alerts = list[tuple[str, list[BurnRateWindow], dict[str, Any]]]


def _expected(slo: ServiceLevel, alerts: _Alerts, errors_ms: int, ratio: float,
              history_ms: int, what: str) -> list[dict[str, Any]]:
    """The alerts (of every severity sharing the name) that fire in this history."""
    out = []
    for _sev, pairs, exp in alerts:
        fires = _fires(pairs, slo, errors_ms, ratio, history_ms)
        if fires is None:
            raise SLOSpecError(f"slo {slo.name!r}: cannot generate the {what} test: "
                               "another window pair is at its boundary")
        if fires:
            out.append(exp)
    return out


def _profile_alerts(slo: ServiceLevel, alerts: _Alerts,
                    regions_ms: list[tuple[int, int, float, float]], history_ms: int,
                    margin: float = STEP / 2) -> list[dict[str, Any]] | None:
    """Expected alerts for regions ``(from, to, error ratio, volume)`` in ms before the
    evaluation; ``None`` when a window is within ``margin`` of its threshold (the
    engines' extrapolation could decide either way)."""
    out = []
    for _sev, pairs, exp in alerts:
        fires = False
        for p in pairs:
            t = p.factor * slo.error_budget
            states = []
            for w in (parse_duration(p.long), parse_duration(p.short)):
                seen = min(w, history_ms)
                errors = sum(q * v * max(0, min(start, seen) - end)
                             for start, end, q, v in regions_ms)
                total = sum(v * max(0, min(start, seen) - end) for start, end, _q, v in regions_ms)
                r = errors / total
                if abs(r - t) < t * margin:
                    return None
                states.append(r > t)
            fires = fires or all(states)
        if fires:
            out.append(exp)
    return out


def _one_sided_groups(slo: ServiceLevel, alerts: _Alerts, b: BurnRateWindow, severity: str,
                      step: int, n: int, per_step: float, inputs: _Inputs
                      ) -> list[dict[str, Any]]:
    """One window a step below its threshold, the other clearly above: the pair does not
    fire, so a threshold lowered in only one of the two comparisons is caught.

    Errors start ``long`` before the evaluation (as in the boundary groups); the last
    ``short`` has its own ratio. Left out when another pair's window would sit on its
    threshold, or a ratio would exceed 0.9.
    """
    long_ms, short_ms = parse_duration(b.long), parse_duration(b.short)
    t = b.factor * slo.error_budget
    out = []
    for below, long_r, short_r in (("short", 1.2 * t, (1 - STEP) * t),
                                   ("long", (1 - STEP) * t, 1.2 * t)):
        early = (long_r * long_ms - short_r * short_ms) / (long_ms - short_ms)
        if not 0 <= early <= 0.9 or short_r > 0.9 or long_ms % step or short_ms % step:
            continue
        regions_ms = [(n * step, long_ms, 0.0, HEAVY), (long_ms, short_ms, early, 1.0),
                      (short_ms, 0, short_r, 1.0)]
        expected = _profile_alerts(slo, alerts, regions_ms, n * step)
        if expected is None:
            continue
        regions = [(n - long_ms // step, HEAVY * per_step, 0.0),
                   ((long_ms - short_ms) // step, per_step, early),
                   (short_ms // step, per_step, short_r)]
        out.append({
            "name": f"{severity} {b.long}/{b.short} ×{_num(b.factor)}: the {below} window one "
                    f"step below the boundary, the other above: this pair does not fire",
            "interval": format_duration(step),
            "input_series": _profile(inputs, regions),
            "alert_rule_test": [{"eval_time": format_duration(n * step), "alertname": "",
                                 "exp_alerts": expected}],
        })
    return out


def _recovered_group(slo: ServiceLevel, alerts: _Alerts, b: BurnRateWindow, severity: str,
                     step: int, n: int, per_step: float, inputs: _Inputs
                     ) -> dict[str, Any] | None:
    """A burn that stopped ``2·short`` ago: the long window is still above the threshold,
    the short one is 0, so this pair must not fire (the short window confirms the burn).

    ``None`` when no error ratio makes every window of every pair clearly decide (then the
    boundary groups are all there is for this pair).
    """
    long_ms, short_ms = parse_duration(b.long), parse_duration(b.short)
    quiet = 2 * short_ms
    if quiet >= long_ms or quiet % step or long_ms % step:
        return None
    threshold = b.factor * slo.error_budget
    for excess in (1.5, 1.3, 1.7, 2.0, 1.2):
        q = excess * threshold * long_ms / (long_ms - quiet)
        if q > 0.9:
            continue
        regions_ms = [(n * step, long_ms, 0.0, HEAVY), (long_ms, quiet, q, 1.0),
                      (quiet, 0, 0.0, 1.0)]
        expected = _profile_alerts(slo, alerts, regions_ms, n * step, margin=0.1)
        if expected is None:
            continue
        regions = [(n - long_ms // step, HEAVY * per_step, 0.0),
                   ((long_ms - quiet) // step, per_step, q), (quiet // step, per_step, 0.0)]
        return {
            "name": f"{severity} {b.long}/{b.short} ×{_num(b.factor)}: a burn that stopped "
                    f"{format_duration(quiet)} ago does not fire this pair",
            "interval": format_duration(step),
            "input_series": _profile(inputs, regions),
            "alert_rule_test": [{"eval_time": format_duration(n * step), "alertname": "",
                                 "exp_alerts": expected}],
        }
    return None


def _budget_group(spec: ServiceSLOs, slo: ServiceLevel, inputs: _Inputs) -> dict[str, Any]:
    """Constant error ratio after a window of good traffic: the budget is spent on time."""
    period = parse_duration(slo.window)
    step = period // 720
    b = slo.error_budget
    # v1 events per step for a window, then v2 with errors at `ratio`: the window's error
    # ratio reaches b after k steps when ratio·v2·k = b·(v1·(720 - k) + v2·k)
    v1, v2 = TRAFFIC, 2 * TRAFFIC
    k = 72
    while b + b * v1 * (720 / k - 1) / v2 > 0.5:
        k += 72
    ratio = b + b * v1 * (720 / k - 1) / v2
    n = 720 + k + 2
    sel = _label_text(series_labels(spec, slo))
    expr = f"{BUDGET_REMAINING_RECORD}{sel} > bool 0"
    exp = _label_text(series_labels(spec, slo))
    return {
        "name": f"{service_of(spec, slo)}/{slo.name}: budget exhaustion: error ratio "
                f"{_num(ratio)} after {slo.window} of good traffic spends the budget "
                f"{_num(b)} in {format_duration(k * step)}",
        "interval": format_duration(step),
        "input_series": _profile(inputs, [(n - k - 2, v1, 0.0), (k + 2, v2, ratio)]),
        "promql_expr_test": [
            {"expr": expr, "eval_time": format_duration((720 + k + side) * step),
             "exp_samples": [{"labels": exp, "value": value}]}
            for side, value in ((-1, 1), (1, 0))],
    }


def test_groups(spec: ServiceSLOs) -> list[dict[str, Any]]:
    """Test groups (plain data, promtool test-file shape) for every alert of ``spec``."""
    groups: list[dict[str, Any]] = []
    for slo in spec.slos:
        inputs = _inputs(slo)
        name = alert_name(spec, slo)
        base = series_labels(spec, slo)
        prefix = f"{service_of(spec, slo)}/{slo.name}"
        alerts: _Alerts = []
        for severity, alert in (("page", slo.page), ("ticket", slo.ticket)):
            pairs = [b for b in burn_rates(slo) if b.severity == severity]
            if alert.enabled and pairs:
                exp: dict[str, Any] = {"exp_labels": {**base, **slo.alert_labels, **alert.labels,
                                                      spec.scheme.severity: severity}}
                annotations = {**slo.alert_annotations, **alert.annotations}
                if annotations:
                    exp["exp_annotations"] = annotations
                alerts.append((severity, pairs, exp))
        groups.append(_budget_group(spec, slo, inputs))
        for window in sorted({w for b in burn_rates(slo) for w in (b.long, b.short)},
                             key=parse_duration):
            groups.append(_shape_group(spec, slo, inputs, window))
        if not alerts:
            continue
        every = [b for _, pairs, _ in alerts for b in pairs]
        shortest_long = min(parse_duration(b.long) for b in every)

        for severity, pairs, _exp in alerts:
            step = _interval(pairs)
            n = _history_steps(pairs, step)
            per_step = TRAFFIC if not slo.min_events else max(
                TRAFFIC, 2 * slo.min_events * step / shortest_long)
            for b in pairs:
                k = parse_duration(b.long) // step
                for side, factor in (("above", 1 + STEP), ("below", 1 - STEP)):
                    ratio = b.factor * slo.error_budget * factor
                    what = f"{severity} {b.long}/{b.short} ×{_num(b.factor)} one step {side} the boundary"
                    groups.append({
                        "name": f"{prefix}: {what}",
                        "interval": format_duration(step),
                        "input_series": _series(inputs, n, k, ratio, per_step),
                        "alert_rule_test": [{"eval_time": format_duration(n * step),
                                             "alertname": name,
                                             "exp_alerts": _expected(slo, alerts, k * step, ratio,
                                                                     n * step, what)}],
                    })
                for one_sided in _one_sided_groups(slo, alerts, b, severity, step, n, per_step,
                                                   inputs):
                    one_sided["name"] = f"{prefix}: {one_sided['name']}"
                    one_sided["alert_rule_test"][0]["alertname"] = name
                    groups.append(one_sided)
                recovered = _recovered_group(slo, alerts, b, severity, step, n, per_step, inputs)
                if recovered is not None:
                    recovered["name"] = f"{prefix}: {recovered['name']}"
                    recovered["alert_rule_test"][0]["alertname"] = name
                    groups.append(recovered)
        if slo.min_events:
            step = _interval(every)
            n = _history_steps(every, step)
            low = slo.min_events * step / (2 * max(parse_duration(b.long) for b in every))
            ratio = min(0.5, 10 * max(b.factor for b in every) * slo.error_budget)
            alert_rule_tests = [{"eval_time": format_duration(n * step), "alertname": name,
                                 "exp_alerts": []}]
            groups.append({
                "name": f"{prefix}: low-traffic guard (fewer than "
                        f"{_num(slo.min_events)} events in every long window)",
                "interval": format_duration(step),
                "input_series": _series(inputs, n, n, ratio, low),
                "alert_rule_test": alert_rule_tests,
            })
    return groups


def generate_tests(spec: ServiceSLOs, rule_file: str) -> str:
    """The promtool test file text (``rule_files: [rule_file]``), deterministic."""
    header = (f"# Generated by selfslo slo tests from the SLOs of {spec.service!r}.\n"
              "# Do not edit: change the SLO spec and regenerate.\n")
    return header + _dump({"rule_files": [rule_file], "evaluation_interval": format_duration(EVALUATION_MS),
                           "tests": test_groups(spec)})
