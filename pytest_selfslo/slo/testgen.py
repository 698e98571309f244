"""promtool-format unit tests for the rules :mod:`~pytest_selfslo.slo.burnrate` generates.

For every alert (page, ticket) and each of its window pairs ``(long, short,
factor)`` one test group feeds counters whose error ratio is the rules'
threshold literal ``t`` (``factor × budget``, Sloth's float or our decimal) a
hair (:data:`HAIR`, 1e-6 relative) above, then a hair below, for the last
``long`` of the history (good traffic before), and expects the alert to fire,
respectively not to fire. Two one-sided groups put one window a hair below
``t``, the other clearly above (the pair must not fire); for an alert with
``for`` both windows hold those values, bit for bit, over the ``for`` before
the checked evaluation (traffic repeating with the long window as period), so a
mutant whose condition holds at the checked evaluation also fires there. So a
threshold moved either way in either comparison, by however little the test
data allows, fails
a check: mutation testing's ``threshold-step`` moves it just past the nearest
value the rule's inputs take where the alert then behaves differently, and
those values are the checked ones, because (1) the boundary traffic is whole
numbers of events (:data:`VOLUME` per step), so every window over a stretch of
constant traffic is bit for bit the checked value, and (2) a history that would
pass within ``2·HAIR`` of a threshold before the checked evaluation, while the
pair's other window is up, is rebuilt with another volume before the errors
(:func:`_clean`). The long window's first step carries the window's own ratio:
Prometheus 3's left-open range drops it and 2.x counts it, and neither moves the
ratio. What the other pairs of the same alert do in that history is computed
(error ratio over a window ``W`` is ``ratio × min(long, W) / W``, diluted by the
volume before) and expected too; they must be clearly (:data:`STEP`) on one side.
With ``min_events`` set, a guard group shows that a burn far above every
threshold does not page when the long window saw fewer events than
``min_events``.

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

import math
import re
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import numpy as np
import promql_parser

from pytest_selfslo._core.durations import format_duration, parse_duration
from pytest_selfslo._core.errors import SLOSpecError
from pytest_selfslo.promql.astwalk import calls, selectors
from pytest_selfslo.slo.burnrate import (
    BUDGET_REMAINING_RECORD,
    _dump,
    absent_annotations,
    absent_selectors,
    alert_annotations,
    alert_name,
    burn_rates,
    error_ratio_record,
    pair_alert_labels,
    rule_groups,
    series_labels,
    threshold_expr,
)
from pytest_selfslo.slo.service import BurnRateWindow, ServiceLevel, ServiceSLOs, Sli, service_of
from pytest_selfslo.slo.slothplugins import (
    ALERT_RULES,
    DEFAULT_CHAIN,
    DENOMINATOR_CORRECTED,
    REMOVE_LABELS,
    SLI_RULES,
)
from pytest_selfslo.slo.thresholdtests import gauge_of, threshold_groups
from pytest_selfslo.template.parse import expand_template

__all__ = ["generate_tests", "native_layout", "raw_as_ratio", "test_groups"]

#: how far the boundary groups put the pair under test from its threshold, relative:
#: far below the step of mutation testing's ``threshold-step`` (one unit of the
#: threshold's third significant digit, 0.1 % to 1 %), far above float64 rounding in the
#: counters and rates (1e-12 at worst, for a latency SLI's ``count - bucket``)
HAIR = 1e-6
#: how clearly every other window must be on its side of its threshold, relative
#: (the engines' extrapolation at window edges differs by less)
STEP = 0.01
#: events per scrape interval in the generated traffic
TRAFFIC = 1000.0
#: events per scrape interval in the boundary groups, with whole numbers of errors: the
#: counters are exact integers, so a window over a stretch of constant traffic gives
#: the same float wherever it lies (the copies of the checked value that a boundary
#: group's history holds before the checked evaluation are bit for bit that value), and
#: the error ratio is within ``1/VOLUME`` (far below ``HAIR × threshold``) of the intended
VOLUME = 1e10
#: volume before a test's errors start, relative to the volume after: it dilutes the
#: windows longer than the pair under test, so a weaker pair (the ticket 3d/6h one under
#: the 1d/2h one) does not fire in its place and the pair's own thresholds are decisive
HEAVY = 10.0
#: volumes tried (in this order) when a history passes too close to a threshold on the way
#: (:func:`_clean`)
HEAVIES = (HEAVY, 11.0, 9.0, 12.0, 13.0, 7.0, 15.0, 20.0, 30.0)
#: rule evaluation interval of the generated file (a 1m interval over 3d is slow in promtool)
EVALUATION_MS = 300_000
#: the evaluation interval of a file with a native-histogram SLI whose long windows need
#: samples 10m apart (promtool's 10,000-sample query limit, see :data:`NATIVE_MAX_SAMPLES`)
NATIVE_EVALUATION_MS = 600_000
#: most native-histogram samples one range selector of a generated test may load: promtool
#: runs tests with a 10,000-sample query limit and counts a histogram sample as its size in
#: 16-byte units (11 to 14 for these 2- and 3-bucket histograms)
NATIVE_MAX_SAMPLES = 700
_EVAL_MS: ContextVar[int] = ContextVar("selfslo_testgen_eval_ms", default=EVALUATION_MS)
_NATIVE: ContextVar[bool] = ContextVar("selfslo_testgen_native", default=False)


def _eval_ms() -> int:
    """The evaluation interval of the test file being generated."""
    return _EVAL_MS.get()
FloatArray = np.ndarray[Any, np.dtype[np.float64]]
_CANDIDATES = ("200", "500", "503", "429", "error", "true", "fail", "201", "ok", "success",
               "false", "0", "1", "x")


@dataclass(frozen=True)
class _NativeLayout:
    """Buckets of the generated native histogram: the good (fast) requests in the bucket whose
    upper bound is the latency target, the errors (slow) in the next one, so that
    ``histogram_fraction(0, target, H)`` is ``fast / count`` exactly (no interpolation).

    A target that is a power of two is a bucket boundary of schema 0 (bucket ``i`` is
    ``(2^(i-1), 2^i]``); any other target is made a boundary with custom buckets (schema
    -53, ``custom_values: [0, target]``). promtool reads the series these tests need from
    3.0 on: 2.42 has no histogram notation, 2.53 none after a ``{{a}}+{{b}}xN`` expansion
    (a generated series is several of them), and custom buckets are new in 3.0.
    """

    target: float
    offset: int | None  #: schema 0: index of the fast bucket; None: custom buckets

    def token(self, count: float, fast: float, slow: float) -> str:
        """One histogram in promtool notation (``sum`` is the count: every rule here
        reads the count and the buckets, never the sum)."""
        if self.offset is not None:
            return (f"{{{{schema:0 sum:{count!r} count:{count!r} buckets:[{fast!r} {slow!r}] "
                    f"offset:{self.offset}}}}}")
        return (f"{{{{schema:-53 sum:{count!r} count:{count!r} custom_values:[0 "
                f"{_go_number(self.target)}] buckets:[0 {fast!r} {slow!r}]}}}}")


def native_layout(target: float) -> _NativeLayout:
    """The bucket layout that puts ``target`` (seconds, > 0) on a bucket boundary.

        >>> native_layout(1.0).offset, native_layout(0.25).offset, native_layout(0.3).offset
        (0, -2, None)
    """
    if not (math.isfinite(target) and target > 0):
        raise ValueError(f"latency target must be a positive number of seconds, got {target!r}")
    mantissa, exp = math.frexp(target)
    return _NativeLayout(target, exp - 1 if mantissa == 0.5 else None)


def _go_number(value: float) -> str:
    return str(int(value)) if value == int(value) else repr(value)


@dataclass(frozen=True)
class _Inputs:
    """How to write traffic with a given error ratio for one SLO."""

    error_series: str
    good_series: str
    total_series: str = ""  #: latency: the _count series (errors = count - good bucket)
    #: a native histogram (Pyrra ``latencyNative``): its layout, good events in ``fast``
    native: _NativeLayout | None = None


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
    if sli.kind == "raw":
        ratio = raw_as_ratio(sli.error_ratio)
        if ratio is None:
            raise SLOSpecError(f"slo {slo.name!r}: cannot generate tests for a raw SLI that is "
                               "not a division of two aggregations (errors / total): its "
                               "error-ratio query is arbitrary PromQL, so there is no input "
                               "series known to give it a chosen error ratio (use a ratio or "
                               "latency SLI, or write the tests by hand)")
        sli = Sli("ratio", errors=ratio[0], total=ratio[1])
    if "histogram_fraction(" in sli.errors:
        return _native_inputs(slo, sli)
    if sli.kind == "latency":
        name, matchers = _matchers(sli.error_query()[1], "total", slo)
        labels = _all_match(matchers, slo)
        bucket = f"{sli.metric}_bucket" + _label_text({**labels, "le": _le(sli.threshold)})
        return _Inputs("", bucket, name + _label_text(labels))
    total = sli.total
    good_query = sli.good_query()
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


def _native_inputs(slo: ServiceLevel, sli: Sli) -> _Inputs:
    """A native-histogram SLI (what Pyrra's ``latencyNative`` imports to): errors
    ``(1 - histogram_fraction(0, L, H)) * histogram_count(H)``, total ``histogram_count(H)``,
    ``H`` one aggregation of one native histogram."""
    where = f"slo {slo.name!r}: cannot generate tests for this native-histogram SLI"
    errors = promql_parser.parse(sli.errors.replace("{{.window}}", "5m"))
    fractions = [c for c in calls(errors) if c.func.name == "histogram_fraction"]
    if len(fractions) != 1 or not all(isinstance(a, promql_parser.NumberLiteral)
                                      for a in fractions[0].args[:2]):
        raise SLOSpecError(f"{where}: the errors query must call histogram_fraction once, with "
                           f"number bounds: {sli.errors}")
    lower, target = (float(a.val) for a in fractions[0].args[:2])
    if lower != 0 or not (math.isfinite(target) and target > 0):
        raise SLOSpecError(f"{where}: histogram_fraction must run from 0 to a positive latency "
                           f"target, got ({_go_number(lower)}, {_go_number(target)})")
    total = promql_parser.parse(sli.total.replace("{{.window}}", "5m"))
    if not (isinstance(total, promql_parser.Call) and total.func.name == "histogram_count"):
        raise SLOSpecError(f"{where}: the total query must be histogram_count(...): {sli.total}")
    name, matchers = _matchers(str(total.args[0]), "total", slo)
    series = name + _label_text(_all_match(matchers, slo))
    return _Inputs("", "", series, native=native_layout(target))


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


def _interval(pairs: list[BurnRateWindow], for_ms: int = 0) -> int:
    shortest = min(parse_duration(b.short) for b in pairs)
    # windows that are not whole 5m (Pyrra's 1h4m for 30d): 1m steps, so a window is a
    # whole number of samples
    odd = any(parse_duration(w) % 300_000 for b in pairs for w in (b.long, b.short))
    step = 60_000 if shortest < 3_600_000 or odd else 300_000
    if not _NATIVE.get():
        return step
    # native histograms: few enough samples in the history for promtool's query limit
    for candidate in (step, 300_000, 600_000):
        if candidate < step or _eval_ms() % candidate or for_ms % candidate or any(
                parse_duration(w) % candidate for b in pairs for w in (b.long, b.short)):
            continue
        if _history_steps(pairs, candidate) + for_ms // candidate <= NATIVE_MAX_SAMPLES:
            return candidate
    longest = max(pairs, key=lambda b: parse_duration(b.long))
    raise SLOSpecError(
        f"cannot generate tests for the native-histogram window pair {longest.long}/"
        f"{longest.short}: promtool loads at most 10,000 samples per query (a native-histogram "
        f"sample counts 11-14), so a window can hold {NATIVE_MAX_SAMPLES} samples, and no "
        f"sample interval up to {format_duration(_eval_ms())} that divides its windows and "
        f"`for` fits {longest.long}")


def _native_eval_ms(spec: ServiceSLOs) -> int:
    """The test file's evaluation interval: 10m when a native-histogram SLO has a window
    pair that 5m samples cannot fit into promtool's query limit, else 5m."""
    for slo in spec.slos:
        if slo.sli.kind == "raw" or "histogram_fraction(" not in slo.sli.errors:
            continue
        for b in burn_rates(slo):
            history = (parse_duration(b.long) + _for_ms(b)) // EVALUATION_MS + 10
            if history > NATIVE_MAX_SAMPLES:
                return NATIVE_EVALUATION_MS
    return EVALUATION_MS


def _history_steps(pairs: list[BurnRateWindow], step: int) -> int:
    """Samples of history: the longest window plus ten, ending on a 5m evaluation."""
    n = max(parse_duration(b.long) for b in pairs) // step + 10
    while (n * step) % _eval_ms():
        n += 1
    return n


def _ratio_over(window_ms: int, errors_ms: int, ratio: float, history_ms: int,
                heavy: float) -> float:
    """Error ratio over a window: errors during the last ``errors_ms`` at ``ratio``, and
    ``heavy`` times the volume (all good) before them."""
    seen = min(window_ms, history_ms)
    e = min(errors_ms, seen)
    return ratio * e / (e + heavy * (seen - e))


def _threshold(spec: ServiceSLOs, slo: ServiceLevel, b: BurnRateWindow) -> float:
    """The threshold of ``b`` exactly as the generated rules write it."""
    return float(threshold_expr(b, slo, spec))


def _fires(spec: ServiceSLOs, pairs: list[BurnRateWindow], slo: ServiceLevel, errors_ms: int,
           ratio: float, history_ms: int, exact: BurnRateWindow, heavy: float) -> bool | None:
    """Whether the alert fires; ``None`` when a window ratio is within half a
    :data:`STEP` of a threshold (except the pair ``exact`` under test, whose windows
    the traffic makes exact)."""
    fires = False
    for b in pairs:
        t = _threshold(spec, slo, b)
        states = []
        for w in (b.long, b.short):
            r = _ratio_over(parse_duration(w), errors_ms, ratio, history_ms, heavy)
            if b != exact and abs(r - t) < t * STEP / 2:
                return None
            states.append(r > t)
        fires = fires or all(states)
    return fires


def _regions(n: int, k: int, ratio: float, per_step: float, heavy: float
             ) -> list[tuple[int, float, float]]:
    """``n`` steps: ``heavy`` times the volume of good traffic, then ``k`` steps of
    ``per_step`` events at ``ratio``."""
    if k >= n:
        return [(n, per_step, ratio)]
    return [(n - k, heavy * per_step, 0.0), (k, per_step, ratio)]


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


def _histogram_counter(layout: _NativeLayout, regions: list[tuple[int, float, float]],
                       whole: bool) -> str:
    """A native-histogram counter from 0 in promtool notation: per region ``{{start}}+{{inc}}xN``
    (as :func:`_counter`: each start is what promtool's expansion reached plus one increment,
    added component by component the way Prometheus adds histograms)."""
    incs = [(n, v, e) for n, v, e in _whole(regions)] if whole else \
        [(n, v, v * r) for n, v, r in regions]
    parts: list[str] = []
    count = fast = slow = 0.0
    for steps, v, e in incs:
        inc = (float(v), float(v - e), float(e))
        if not parts:
            parts.append(f"{layout.token(0.0, 0.0, 0.0)}+{layout.token(*inc)}x{steps}")
        else:
            count, fast, slow = count + inc[0], fast + inc[1], slow + inc[2]
            parts.append(f"{layout.token(count, fast, slow)}+{layout.token(*inc)}x{steps - 1}")
            steps -= 1
        for _ in range(steps):
            count, fast, slow = count + inc[0], fast + inc[1], slow + inc[2]
    return " ".join(parts)


def _whole(regions: list[tuple[int, float, float]]) -> list[tuple[int, float, float]]:
    """Regions ``(steps, events, errors)`` per step with whole numbers of errors."""
    return [(n, v, float(round(v * r))) for n, v, r in regions]


def _profile(inputs: _Inputs, regions: list[tuple[int, float, float]], whole: bool = False
             ) -> list[dict[str, str]]:
    """Input series for regions of ``(steps, events per step, error ratio)``; with
    ``whole``, whole numbers of errors per step (see :data:`VOLUME`)."""
    if whole:
        errors = [(n, e) for n, _v, e in _whole(regions)]
        good = [(n, v - e) for n, v, e in _whole(regions)]
    else:
        errors = [(n, v * r) for n, v, r in regions]
        good = [(n, v * (1 - r)) for n, v, r in regions]
    if inputs.native is not None:  # one native histogram: count, fast and slow buckets
        return [{"series": inputs.total_series,
                 "values": _histogram_counter(inputs.native, regions, whole)}]
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
    while (n * step) % _eval_ms() or n < 122:
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


#: (severity, the pairs of one alert rule, its expected alert, its ``for`` rounded up to
#: the evaluation interval, in ms)
_Alerts = list[tuple[str, list[BurnRateWindow], dict[str, Any], int]]


def _for_ms(pair: BurnRateWindow) -> int:
    """A pair's ``for`` rounded up to the evaluation interval: an alert whose condition holds
    at every evaluation from that long ago until now fires; one that did not hold then
    has been pending for less than ``for`` (the condition is checked there)."""
    f = parse_duration(pair.for_) if pair.for_ else 0
    return -(-f // _eval_ms()) * _eval_ms()


def _clean(spec: ServiceSLOs, slo: ServiceLevel, alerts: _Alerts,
           regions: list[tuple[int, float, float]], step: int) -> bool:
    """Whether no window passes within ``2·HAIR`` of its threshold on the way to the
    checked (last) evaluation while its pair's other window is near or above its own.

    Mutation testing moves a threshold to the nearest value the rule's inputs take where
    the alert then behaves differently: only the checked evaluation may hold that value,
    or the mutant survives, except as a copy of the checked value (bit for bit, as over an
    alert's ``for`` before it). Every evaluation before the last is computed for both range
    semantics (Prometheus 2's closed range, 3's left-open one, with or without the
    errors counter extrapolated to the window start).
    """
    volume = np.concatenate([np.full(c, v) for c, v, _ in regions])
    errors = np.concatenate([np.full(c, e) for c, _v, e in _whole(regions)])
    total_at = np.concatenate([[0.0], np.cumsum(volume)])
    errors_at = np.concatenate([[0.0], np.cumsum(errors)])
    last = len(volume)
    uniform_from = last - regions[-1][0]  # windows inside the last region: the checked value
    ends = np.arange(_eval_ms() // step, last, _eval_ms() // step)
    if len(ends) == 0:
        return True
    ends = np.append(ends, last)  # the checked evaluation, last

    def ratios(window: str) -> list[tuple[FloatArray, FloatArray]]:
        """Per range semantics: the window's values before the checked evaluation, and the
        same with the checked window's copies left out (``nan``)."""
        k = parse_duration(window) // step
        out = []
        if k == 0:  # under one sample apart (a native histogram's 10m samples): no rate at all
            nothing = np.full(len(ends) - 1, np.nan)
            return [(nothing, nothing)] * 4
        for first in (np.maximum(ends - k, 0), np.maximum(ends - k + 1, 0)):
            spans = ends - first
            dt = total_at[ends] - total_at[first]
            with np.errstate(invalid="ignore", divide="ignore"):
                r = (errors_at[ends] - errors_at[first]) / dt
            r[first >= uniform_from] = np.nan  # bit for bit the checked window's value
            for variant in (r, r * spans / (spans + 1)):
                # a copy of the checked value (a window held over an alert's ``for``): a
                # threshold moved past it moves it at the checked evaluation too
                copies = np.where(variant == variant[-1], np.nan, variant)
                out.append((variant[:-1], copies[:-1]))
        return out

    for _sev, pairs, _exp, _for in alerts:
        for b in pairs:
            t = _threshold(spec, slo, b)
            long_r, short_r = ratios(b.long), ratios(b.short)
            for mine, other in ((long_r, short_r), (short_r, long_r)):
                other_up = np.any([o > t * (1 - STEP) for o, _ in other], axis=0)
                near = np.any([np.abs(r - t) <= 2 * HAIR * t for _, r in mine], axis=0)
                if np.any(near & other_up):
                    return False
    return True


def _expected(spec: ServiceSLOs, slo: ServiceLevel, alerts: _Alerts, errors_ms: int,
              ratio: float, history_ms: int, what: str, exact: BurnRateWindow, heavy: float
              ) -> list[dict[str, Any]]:
    """The alerts (of every severity sharing the name) that fire in this history: the error
    ratio only rises in it, so an alert with ``for`` fires when its condition held ``for``
    (rounded up to an evaluation) ago."""
    out = []
    for _sev, pairs, exp, for_ms in alerts:
        fires = _fires(spec, pairs, slo, max(0, errors_ms - for_ms), ratio, history_ms - for_ms,
                       exact, heavy)
        if fires is None:
            raise SLOSpecError(f"slo {slo.name!r}: cannot generate the {what} test: "
                               "another window pair is at its boundary")
        if fires:
            out.append(exp)
    return out


def _boundary_history(spec: ServiceSLOs, slo: ServiceLevel, alerts: _Alerts,
                      b: BurnRateWindow, n: int, k: int, ratio: float, per_step: float,
                      step: int, what: str) -> tuple[float, list[dict[str, Any]]]:
    """The pre-error volume of a boundary group and its expected alerts.

    The first volume of :data:`HEAVIES` whose history is :func:`_clean` and leaves every
    other pair clearly on one side of its threshold; failing a clean one, the first that
    only does the latter (a mutant may then survive, and mutation testing shows it).
    """
    found: tuple[float, list[dict[str, Any]]] | None = None
    error: SLOSpecError | None = None
    for heavy in HEAVIES:
        try:
            expected = _expected(spec, slo, alerts, k * step, ratio, n * step, what, b, heavy)
        except SLOSpecError as exc:
            error = error or exc
            continue
        if _clean(spec, slo, alerts, _regions(n, k, ratio, per_step, heavy), step):
            return heavy, expected
        found = found or (heavy, expected)
    if found is None:
        assert error is not None
        raise error
    return found


def _profile_alerts(spec: ServiceSLOs, slo: ServiceLevel, alerts: _Alerts,
                    regions_ms: list[tuple[int, int, float, float]], history_ms: int,
                    margin: float = STEP / 2, exact: BurnRateWindow | None = None
                    ) -> list[dict[str, Any]] | None:
    """Expected alerts for regions ``(from, to, error ratio, volume)`` in ms before the
    evaluation; ``None`` when a window is within ``margin`` of its threshold (the
    engines' extrapolation could decide either way), except the windows of the pair
    ``exact``, which the traffic makes exact. An alert with ``for`` fires when its
    condition holds at every evaluation of the last ``for`` (rounded up)."""
    out = []
    for _sev, pairs, exp, for_ms in alerts:
        states = []
        for ago in range(0, for_ms + 1, _eval_ms()):
            shifted = [(start - ago, max(0, end - ago), q, v)
                       for start, end, q, v in regions_ms if start - ago > 0]
            fires = _condition(spec, slo, pairs, shifted, history_ms - ago, margin, exact)
            if fires is None:
                return None
            states.append(fires)
        if all(states):
            out.append(exp)
    return out


def _condition(spec: ServiceSLOs, slo: ServiceLevel, pairs: list[BurnRateWindow],
               regions_ms: list[tuple[int, int, float, float]], history_ms: int,
               margin: float, exact: BurnRateWindow | None) -> bool | None:
    """Whether one alert rule's condition holds (``None``: a window other than those of
    ``exact`` is within ``margin`` of its threshold)."""
    fires = False
    for p in pairs:
        t = _threshold(spec, slo, p)
        states = []
        for w in (parse_duration(p.long), parse_duration(p.short)):
            seen = min(w, history_ms)
            errors = sum(q * v * max(0, min(start, seen) - end)
                         for start, end, q, v in regions_ms)
            total = sum(v * max(0, min(start, seen) - end) for start, end, _q, v in regions_ms)
            r = errors / total if total else 0.0
            if p != exact and abs(r - t) < t * margin:
                return None
            states.append(r > t)
        fires = fires or all(states)
    return fires


def _one_sided_groups(spec: ServiceSLOs, slo: ServiceLevel, alerts: _Alerts, b: BurnRateWindow,
                      severity: str, step: int, n: int, per_step: float, inputs: _Inputs,
                      for_ms: int = 0) -> list[dict[str, Any]]:
    """One window just (:data:`HAIR`) below its threshold, the other clearly above: the
    pair does not fire, so a threshold lowered in only one of the two comparisons, by
    however little, is caught.

    Errors start ``long`` before the evaluation (as in the boundary groups): the first
    step at the long window's ratio, the last ``short`` at the short window's, the steps
    between at the ratio that makes the long window's exact. The long window's first step
    is the one Prometheus 3's left-open range leaves out (and extrapolates over) and 2.x
    counts: having the window's own ratio, it cannot move the ratio either way.

    With ``for_ms`` (the alert's ``for``, rounded up to an evaluation) the condition of a
    mutant must hold over the whole ``for`` before the checked evaluation, so both windows
    hold their values over it, bit for bit: the errors start ``long + for`` before the
    evaluation and repeat with period ``long`` (the steps entering the long window are
    those leaving it), the short window's ratio over the last ``for + short`` and over
    the ``for`` one period earlier, and the step after that too (the one Prometheus 3
    leaves out at the checked evaluation, as it leaves out the same ratio before).

    Left out when another pair's window would sit on its threshold, or a ratio would
    exceed 0.9.
    """
    long_ms, short_ms = parse_duration(b.long), parse_duration(b.short)
    t = _threshold(spec, slo, b)
    out = []
    for below, long_r, short_r in (("short", 1.2 * t, (1 - HAIR) * t),
                                   ("long", (1 - HAIR) * t, 1.2 * t)):
        # steps at the short window's ratio inside the long window at the checked evaluation
        held_ms = for_ms + short_ms + step if for_ms else short_ms
        first_r = short_r if for_ms else long_r
        middle_ms = long_ms - step - (held_ms - step if for_ms else short_ms)
        if middle_ms <= 0 or long_ms % step or short_ms % step or for_ms % step:
            continue
        early = (long_r * long_ms - first_r * step - short_r * (long_ms - step - middle_ms)
                 ) / middle_ms
        if not 0 <= early <= 0.9 or short_r > 0.9 or long_r > 0.9:
            continue
        tail_ms = long_ms - step - middle_ms  # the last steps, at the short window's ratio
        for heavy in HEAVIES:
            regions_ms = [(n * step, long_ms + for_ms, 0.0, heavy),
                          *([(long_ms + for_ms, long_ms, short_r, 1.0)] if for_ms else []),
                          (long_ms, long_ms - step, first_r, 1.0),
                          (long_ms - step, tail_ms, early, 1.0), (tail_ms, 0, short_r, 1.0)]
            expected = _profile_alerts(spec, slo, alerts, regions_ms, n * step, exact=b)
            regions = [(n - (long_ms + for_ms) // step, heavy * per_step, 0.0),
                       *([(for_ms // step, per_step, short_r)] if for_ms else []),
                       (1, per_step, first_r), (middle_ms // step, per_step, early),
                       (tail_ms // step, per_step, short_r)]
            if expected is not None and _clean(spec, slo, alerts, regions, step):
                break
        else:
            continue
        out.append({
            "name": f"{severity} {b.long}/{b.short} ×{_num(b.factor)}: the {below} window just "
                    f"below the boundary, the other above"
                    + (f" for {format_duration(for_ms)}" if for_ms else "")
                    + ": this pair does not fire",
            "interval": format_duration(step),
            "input_series": _profile(inputs, regions, whole=True),
            "alert_rule_test": [{"eval_time": format_duration(n * step), "alertname": "",
                                 "exp_alerts": expected}],
        })
    return out


def _recovered_group(spec: ServiceSLOs, slo: ServiceLevel, alerts: _Alerts, b: BurnRateWindow,
                     severity: str, step: int, n: int, per_step: float, inputs: _Inputs
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
    threshold = _threshold(spec, slo, b)
    for excess in (1.5, 1.3, 1.7, 2.0, 1.2):
        q = excess * threshold * long_ms / (long_ms - quiet)
        if q > 0.9:
            continue
        regions_ms = [(n * step, long_ms, 0.0, HEAVY), (long_ms, quiet, q, 1.0),
                      (quiet, 0, 0.0, 1.0)]
        expected = _profile_alerts(spec, slo, alerts, regions_ms, n * step, margin=0.1)
        regions = [(n - long_ms // step, HEAVY * per_step, 0.0),
                   ((long_ms - quiet) // step, per_step, q), (quiet // step, per_step, 0.0)]
        if expected is None or not _clean(spec, slo, alerts, regions, step):
            continue
        return {
            "name": f"{severity} {b.long}/{b.short} ×{_num(b.factor)}: a burn that stopped "
                    f"{format_duration(quiet)} ago does not fire this pair",
            "interval": format_duration(step),
            "input_series": _profile(inputs, regions, whole=True),
            "alert_rule_test": [{"eval_time": format_duration(n * step), "alertname": "",
                                 "exp_alerts": expected}],
        }
    return None


def _native_slots(period: int) -> int:
    """Steps per compliance window for a native histogram: at most 600 (promtool's query
    limit), each a whole number of evaluation intervals (a recorded sample is then never
    older than the lookback when the checks read it)."""
    m = -(-period // (_eval_ms() * 600))
    while period % (_eval_ms() * m):
        m += 1
    return period // (_eval_ms() * m)


def _budget_group(spec: ServiceSLOs, slo: ServiceLevel, inputs: _Inputs) -> dict[str, Any]:
    """Constant error ratio after a window of good traffic: the budget is spent on time."""
    period = parse_duration(slo.window)
    # P in `slots` steps; a native histogram's window of P samples under promtool's limit
    slots = 720 if inputs.native is None else _native_slots(period)
    step = period // slots
    b = slo.error_budget
    # v1 events per step for a window, then v2 with errors at `ratio`: the window's error
    # ratio reaches b after k steps when ratio·v2·k = b·(v1·(slots - k) + v2·k)
    v1, v2 = TRAFFIC, 2 * TRAFFIC
    k = slots // 10
    while b + b * v1 * (slots / k - 1) / v2 > 0.5:
        k += slots // 10
    ratio = b + b * v1 * (slots / k - 1) / v2
    n = slots + k + 2
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
            {"expr": expr, "eval_time": format_duration((slots + k + side) * step),
             "exp_samples": [{"labels": exp, "value": value}]}
            for side, value in ((-1, 1), (1, 0))],
    }


def _absent_labels(query: str) -> dict[str, str]:
    """The labels ``absent(query)`` returns: its ``=`` matchers (not ``__name__``; a label
    matched twice with ``=`` is left out, as Prometheus does)."""
    (sel,) = selectors(promql_parser.parse(query))
    out: dict[str, str] = {}
    twice: set[str] = set()
    for m in sel.matchers.matchers:
        if m.name != "__name__" and str(m.op) == "MatchOp.Equal":
            if m.name in out:
                twice.add(m.name)
            out[m.name] = m.value
    return {k: v for k, v in out.items() if k not in twice}


def _rendered(annotations: dict[str, str], alert: str, labels: dict[str, str]) -> dict[str, str]:
    """The annotations as promtool compares them: templates rendered with the labels of
    the series the alert's expression returns (``$labels``; Sloth's default ``title`` and
    ``summary`` name the service and SLO labels). ``$value`` is not predicted: it renders
    as the value 0."""
    return {k: expand_template(v, f"__alert_{alert}", labels, 0.0)
            for k, v in annotations.items()}


def _absent_fired_ms(slo: ServiceLevel) -> int:
    """The first evaluation at which ``slo``'s absent alert fires once its metric is gone."""
    assert slo.absent is not None
    for_ms = parse_duration(slo.absent.for_) if slo.absent.for_ else 0
    return -(-for_ms // _eval_ms()) * _eval_ms() + _eval_ms()


def _absent_alerts(spec: ServiceSLOs, name: str, gone: set[str], at: int) -> list[dict[str, Any]]:
    """The expected alerts named ``name`` at ``at`` ms when the metrics ``gone`` have no
    samples: every SLO of the spec whose absent alert has that name (Pyrra names them all
    ``SLOMetricAbsent``) and watches one of them fires by then."""
    expected = []
    for slo in spec.slos:
        if slo.absent is None or slo.absent.name != name or _absent_fired_ms(slo) > at:
            continue
        base, annotations = series_labels(spec, slo), absent_annotations(spec, slo)
        for q in absent_selectors(slo):
            if q.partition("{")[0] in gone:
                expected.append({"exp_labels": {**_absent_labels(q), **base, **slo.absent.labels},
                                 **({"exp_annotations": _rendered(annotations, name,
                                                                  _absent_labels(q))}
                                    if annotations else {})})
    return expected


def _absent_inputs(slo: ServiceLevel) -> _Inputs:
    """The series an SLO's absent alert watches: a threshold SLI's gauge, else its inputs."""
    if slo.sli.kind == "threshold":
        return _Inputs("", "", gauge_of(slo, _label_text, lambda m: _all_match(m, slo)).series)
    return _inputs(slo)


def _absent_groups(spec: ServiceSLOs, slo: ServiceLevel, inputs: _Inputs) -> list[dict[str, Any]]:
    """The absent alert: with no samples of a metric the SLI reads, its alert is pending
    before ``for`` and fires after it; with samples of every metric, none fires.

    The traffic of the spec's other SLOs is there too, so their absent alerts stay quiet
    unless they watch a metric the group removes: then they are expected as well (an
    ``alert_rule_test`` compares every alert of the name)."""
    assert slo.absent is not None
    queries = absent_selectors(slo)
    series = [s for s in (inputs.error_series, inputs.good_series, inputs.total_series) if s]
    for other in spec.slos:
        if other is not slo and other.absent is not None:
            theirs = _absent_inputs(other)
            series += [s for s in (theirs.error_series, theirs.good_series,
                                   theirs.total_series) if s and s not in series]
    for_ms = parse_duration(slo.absent.for_) if slo.absent.for_ else 0
    fired = _absent_fired_ms(slo)
    pending = fired - 2 * _eval_ms()
    n = fired // 60_000 + 1
    unrelated = {"series": 'selfslo_unrelated{job="absent-test"}', "values": f"0+1x{n}"}
    prefix = f"{service_of(spec, slo)}/{slo.name}"
    groups = []
    for missing in [queries, *([[q] for q in queries] if len(queries) > 1 else []), []]:
        names = {q.partition("{")[0] for q in missing}
        present = [{"series": s, "values": f"0+1x{n}"} for s in series
                   if s.partition("{")[0] not in names]
        checks = [{"eval_time": format_duration(fired), "alertname": slo.absent.name,
                   "exp_alerts": _absent_alerts(spec, slo.absent.name, names, fired)}]
        if for_ms and pending >= 0:
            checks.insert(0, {"eval_time": format_duration(pending), "alertname": slo.absent.name,
                              "exp_alerts": _absent_alerts(spec, slo.absent.name, names, pending)})
        what = ("no samples of " + ", ".join(sorted(names))) if missing else \
            "samples of every metric: no absent alert"
        groups.append({"name": f"{prefix}: absent alert: {what}", "interval": "1m",
                       "input_series": [unrelated, *present], "alert_rule_test": checks})
    return groups


def _period_group(spec: ServiceSLOs, slo: ServiceLevel, inputs: _Inputs) -> dict[str, Any]:
    """The period's error ratio (sloth dialect: Sloth's average of the 5m ratios, or with
    ``disableOptimized`` the ratio of the queries) sees exactly the period.

    Two bursts of errors at ratio ``q``, each ``P/30`` long, at the start and at ``0.9·P``;
    constant volume. At ``2P/3`` the ratio is ``q/20`` (the first burst over all the
    history), at ``4P/3`` ``q/30`` (the second burst over ``P``); either way the average of
    the 5m ratios is the same up to the rate windows' edges, far inside the ±10 % checked.
    A period halved or doubled in the errors or the total moves it by at least 25 %.
    """
    period = parse_duration(slo.window)
    step = 120_000
    q = 0.1
    burst, second, end = period // 30, period * 9 // 10, period * 4 // 3
    regions = [(burst // step + 1, TRAFFIC, q), ((second - burst) // step, TRAFFIC, 0.0),
               (burst // step, TRAFFIC, q), ((end - second - burst) // step + 1, TRAFFIC, 0.0)]
    labels = _label_text({**series_labels(spec, slo), spec.scheme.window: slo.window})
    record = f"{error_ratio_record(slo.window)}{labels}"
    checks = []
    for at, value in ((period * 2 // 3, q / 20), (end, q / 30)):
        for op, bound in ((">", 0.9 * value), ("<", 1.1 * value)):
            checks.append({"expr": f"{record} {op} bool {_num(bound)}",
                           "eval_time": format_duration(at),
                           "exp_samples": [{"labels": labels, "value": 1}]})
    return {
        "name": f"{service_of(spec, slo)}/{slo.name}: the period's error ratio covers "
                f"{slo.window}: bursts at ratio {_num(q)} give {_num(q / 20)} at "
                f"{format_duration(period * 2 // 3)} and {_num(q / 30)} at {format_duration(end)}",
        "interval": format_duration(step),
        "input_series": _profile(inputs, regions),
        "promql_expr_test": checks,
    }


def _chain_ids(spec: ServiceSLOs, slo: ServiceLevel) -> set[str]:
    """The Sloth plugins of ``slo``'s chain; an error for those the tests cannot model."""
    ids = {p.id for p in slo.plugins or DEFAULT_CHAIN}
    for pid in (DENOMINATOR_CORRECTED, REMOVE_LABELS):
        if pid in ids:
            raise SLOSpecError(
                f"SLO {service_of(spec, slo)}/{slo.name}: generated tests do not model the "
                f"Sloth plugin {pid} (it changes the error ratios or the labels of the "
                "generated series); test these rules with hand-written tests")
    return ids


def test_groups(spec: ServiceSLOs) -> list[dict[str, Any]]:
    """Test groups (plain data, promtool test-file shape) for every alert of ``spec``.

    In the ``sloth`` dialect a period group replaces the budget group (the period's ratio
    is Sloth's average of 5m ratios), and the SLI and alert groups follow the SLO's chain.
    The file's evaluation interval is :func:`evaluation_ms`.
    """
    token = _EVAL_MS.set(evaluation_ms(spec))
    try:
        return _test_groups(spec)
    finally:
        _EVAL_MS.reset(token)


def evaluation_ms(spec: ServiceSLOs) -> int:
    """The evaluation interval of the generated test file: 5m, or 10m for a native-histogram
    SLO whose long windows need samples 10m apart (promtool's query limit)."""
    return _native_eval_ms(spec)


def _test_groups(spec: ServiceSLOs) -> list[dict[str, Any]]:
    groups: list[dict[str, Any]] = []
    for slo in spec.slos:
        ids = _chain_ids(spec, slo) if spec.dialect == "sloth" else {SLI_RULES, ALERT_RULES}
        inputs = _Inputs("", "") if slo.sli.kind == "threshold" else _inputs(slo)
        native = _NATIVE.set(inputs.native is not None)
        try:
            groups.extend(_slo_groups(spec, slo, ids, inputs))
        finally:
            _NATIVE.reset(native)
    return groups


def _slo_groups(spec: ServiceSLOs, slo: ServiceLevel, ids: set[str], inputs: _Inputs
                ) -> list[dict[str, Any]]:
    """The groups of one SLO."""
    groups: list[dict[str, Any]] = []
    name = alert_name(spec, slo)
    base = series_labels(spec, slo)
    prefix = f"{service_of(spec, slo)}/{slo.name}"
    alerts: _Alerts = []
    for severity, alert in (("page", slo.page), ("ticket", slo.ticket)):
        pairs = [b for b in burn_rates(slo) if b.severity == severity]
        if not (alert.enabled and pairs and ALERT_RULES in ids and SLI_RULES in ids):
            continue
        shared = [b for b in pairs if not b.own_rule]
        # one entry per generated alert rule (as burnrate.rule_groups splits them)
        for chunk in ([shared] if shared else []) + [[b] for b in pairs if b.own_rule]:
            exp: dict[str, Any] = {"exp_labels": {
                **base, **pair_alert_labels(spec, slo, chunk[0], alert.labels)}}
            annotations = alert_annotations(spec, slo, severity)
            if annotations:
                exp["exp_annotations"] = _rendered(annotations, name, base)
            alerts.append((severity, chunk, exp, _for_ms(chunk[0])))
    if slo.sli.kind == "threshold":
        gauge = gauge_of(slo, _label_text, lambda m: _all_match(m, slo))
        if slo.absent is not None:
            groups.extend(_absent_groups(spec, slo, _absent_inputs(slo)))
        windows = sorted({w for b in burn_rates(slo) for w in (b.long, b.short)},
                         key=parse_duration)
        return groups + threshold_groups(spec, slo, alerts, gauge, _eval_ms(), name, windows)
    if spec.dialect != "sloth":
        groups.append(_budget_group(spec, slo, inputs))
    elif SLI_RULES in ids:
        groups.append(_period_group(spec, slo, inputs))
    if slo.absent is not None:
        groups.extend(_absent_groups(spec, slo, inputs))
    for window in sorted({w for b in burn_rates(slo) for w in (b.long, b.short)},
                         key=parse_duration):
        if SLI_RULES in ids:
            groups.append(_shape_group(spec, slo, inputs, window))
    if not alerts:
        return groups
    every = [b for _, pairs, _, _ in alerts for b in pairs]
    shortest_long = min(parse_duration(b.long) for b in every)
    longest_for = max(f for _, _, _, f in alerts)

    for severity, pairs, _exp, for_ms in alerts:
        step = _interval(pairs, longest_for)
        n = _history_steps(pairs, step) + longest_for // step
        per_step = max(VOLUME, float(math.ceil(2 * slo.min_events * step / shortest_long)))
        for b in pairs:
            # errors for `long` when the condition is checked (`for` before the end)
            k = (parse_duration(b.long) + for_ms) // step
            for side, factor in (("above", 1 + HAIR), ("below", 1 - HAIR)):
                ratio = _threshold(spec, slo, b) * factor
                what = (f"{severity} {b.long}/{b.short} ×{_num(b.factor)} just {side} the "
                        "boundary" + (f" (for {b.for_})" if b.for_ else ""))
                heavy, expected = _boundary_history(spec, slo, alerts, b, n, k, ratio,
                                                    per_step, step, what)
                groups.append({
                    "name": f"{prefix}: {what}",
                    "interval": format_duration(step),
                    "input_series": _profile(inputs, _regions(n, k, ratio, per_step, heavy),
                                           whole=True),
                    "alert_rule_test": [{"eval_time": format_duration(n * step),
                                         "alertname": name, "exp_alerts": expected}],
                })
            for one_sided in _one_sided_groups(spec, slo, alerts, b, severity, step, n,
                                               per_step, inputs, for_ms):
                one_sided["name"] = f"{prefix}: {one_sided['name']}"
                one_sided["alert_rule_test"][0]["alertname"] = name
                groups.append(one_sided)
            recovered = _recovered_group(spec, slo, alerts, b, severity, step, n, per_step,
                                         inputs)
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
            "input_series": _profile(inputs, _regions(n, n, ratio, low, HEAVY)),
            "alert_rule_test": alert_rule_tests,
        })
    return groups


def generate_tests(spec: ServiceSLOs, rule_file: str) -> str:
    """The promtool test file text (``rule_files: [rule_file]``), deterministic.

    With more than one rule group per file (the ``sloth`` dialect writes three per SLO)
    the file names them all in ``group_eval_order``: without it promtool evaluates the
    groups of a step in a random order (Go map order, in 2.x and 3.x alike), so an alert
    could see the error ratios of the step before and fire one step late.
    """
    header = (f"# Generated by selfslo slo tests from the SLOs of {spec.service!r}.\n"
              "# Do not edit: change the SLO spec and regenerate.\n")
    doc: dict[str, Any] = {"rule_files": [rule_file],
                           "evaluation_interval": format_duration(evaluation_ms(spec))}
    names = [g["name"] for g in rule_groups(spec)]
    if len(names) > 1:
        doc["group_eval_order"] = names
    doc["tests"] = test_groups(spec)
    return header + _dump(doc)
