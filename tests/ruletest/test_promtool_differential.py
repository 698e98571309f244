"""Differential test: generated rule unit tests through every available ``promtool``, bit for bit.

Hypothesis (derandomised: the same cases on every run) generates cases --
input series with gaps, stale markers, NaN/±Inf and decimals whose sums round
(0.1, 0.47, 1.07...), a recording rule, an alerting rule with ``for``,
``keep_firing_for``, a value-dependent label and a ``$value`` annotation, and
``promql_expr_test`` expressions over plain series, math functions and
operators, ``*_over_time``, ``rate``/``increase``/``deriv``..., aggregations
(``sum``, ``avg``, ``stddev``, ``stdvar``, ``quantile``...), classic histograms
and the recorded series. Our runner evaluates each case with the semantics of
the promtool's version; the files then go to promtool in batches
(:data:`BATCH` per process) and every value promtool prints is compared with
ours bit for bit, every alert with ours (written as the expectation), every
rule evaluation error with ours.

``SELFSLO_DIFF_EXAMPLES`` sets the number of cases per promtool (default
1000); the counts are printed in the terminal summary. A disagreement names
the case, keeps its files and prints them.

Series are created in promtool in the order their first samples are loaded,
and series loaded in the same step in Go map order (random on each run),
which decides the last bit of a sum. The cases therefore start
their ``m`` series at different steps, so promtool's order is the file order
on every run (the engine uses the file order in general; see ``promql/engine.py``).
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings, strategies as st
from promtool_runs import (
    CaseOutput,
    Promtool,
    Sample,
    params,
    parse_output,
    run,
    same_samples,
)

from pytest_selfslo._core.durations import format_duration, parse_duration
from pytest_selfslo.rulefmt.testfile import parse_test_text
from pytest_selfslo.ruletest.runner import observe_group

EXAMPLES_ENV = "SELFSLO_DIFF_EXAMPLES"
EXAMPLES = int(os.environ.get(EXAMPLES_ENV, "1000"))
BATCH = 250
#: cases drawn per hypothesis example (its per-example overhead dominates otherwise)
PER_EXAMPLE = 10
SUMMARY_PROPERTY = "promtool_differential"  # printed by tests/conftest.py
MIN = 60_000

NUMBERS = ["0", "1", "2", "3", "5", "0.1", "0.2", "0.3", "0.47", "0.5", "0.7", "1.07", "1.1",
           "1.8", "-0.3", "-1.5", "10", "33.3", "0.01", "0.001", "1e6", "0.05", "2.5", "7"]
VALUES = NUMBERS * 4 + ["_", "_", "stale", "NaN", "Inf", "-Inf", "-0"]
WINDOWS = ["1m", "2m", "3m", "5m"]

SERIES_EXPRS = [
    "m", "m offset 1m", "-m", "m * 1.1", "m / 3", "m - 0.1", "0.3 - m", "m % 0.3", "m % -2",
    "m ^ 1.5", "m ^ 0.5", "m ^ -2", "1.7 ^ m", "m atan2 0.5", "m > 0.4", "m > bool 0.47",
    "m == bool 0.3", "m + m", "m * on(i) m", "timestamp(m)", "m unless m > 1",
    # errors at the steps where two series share g ("many-to-many", "same labelset")
    "m + on(g) m", 'label_replace(m, "i", "x", "i", ".*")',
]
MATH_EXPRS = [
    "exp(m)", "exp(m - 0.5)", "ln(m)", "log2(m)", "log10(m)", "sqrt(m)", "sin(m)", "cos(m)",
    "tan(m)", "asin(m)", "acos(m)", "atan(m)", "sinh(m)", "cosh(m)", "tanh(m)", "asinh(m)",
    "acosh(m + 1)", "atanh(m / 3)", "abs(m)", "ceil(m)", "floor(m)", "round(m, 0.1)", "round(m)",
    "clamp(m, 0.2, 0.8)", "clamp_min(m, 0.5)", "clamp_max(m, 0.5)", "deg(m)", "rad(m)", "sgn(m)",
    "exp(ln(m))", "sqrt(abs(m)) ^ 3",
]
OVER_TIME_EXPRS = [
    "avg_over_time(m[{w}])", "sum_over_time(m[{w}])", "min_over_time(m[{w}])",
    "max_over_time(m[{w}])", "count_over_time(m[{w}])", "stddev_over_time(m[{w}])",
    "stdvar_over_time(m[{w}])", "quantile_over_time(0.3, m[{w}])",
    "quantile_over_time(0.9, m[{w}])", "last_over_time(m[{w}])", "present_over_time(m[{w}])",
    "changes(m[{w}])", "resets(m[{w}])", "delta(m[{w}])", "deriv(m[{w}])", "idelta(m[{w}])",
    "predict_linear(m[{w}], 60)", "avg_over_time(m[{w}:1m])", "max_over_time(m[{w}:30s])",
]
RATE_EXPRS = [
    "rate(m[{w}])", "increase(m[{w}])", "irate(m[{w}])", "rate(m[{w}]) * 60",
    "increase(m[{w}] offset 1m)",
]
AGGREGATION_EXPRS = [
    "sum(m)", "sum by (g) (m)", "avg(m)", "avg by (g) (m)", "min(m)", "max by (g) (m)",
    "count(m)", "stddev(m)", "stdvar(m)", "stddev by (g) (m)", "stdvar by (g) (m * 1.1)",
    "quantile(0.25, m)", "quantile(0.5, m)", "quantile by (g) (0.9, m)", "group by (g) (m)",
    'count_values("v", m)', "sum without (i) (m)", "avg(m * 1.1)", "stddev(m * 1.1)",
    "sum(m) / count(m)", "avg(avg_over_time(m[{w}]))", "sum(rate(m[{w}]))",
    "sum by (g) (sum_over_time(m[{w}]))", "quantile(0.5, exp(m))", "avg(exp(m - 0.5))",
    "stddev(avg_over_time(m[{w}]))", "sum(m - 0.1) * 3",
]
HISTOGRAM_EXPRS = [
    "histogram_quantile(0.9, h_bucket)", "histogram_quantile(0.5, h_bucket)",
    "histogram_quantile(0.5, rate(h_bucket[{w}]))",
    "histogram_quantile(0.99, sum by (le) (increase(h_bucket[{w}])))",
]
RECORDED = ["sum by (g) (m)", "avg by (g) (m)", "stddev by (g) (m)", "quantile by (g) (0.5, m)",
            "sum(m * 1.1)", "avg(avg_over_time(m[{w}]))", "sum by (g) (rate(m[{w}]))",
            "exp(m - 0.5)", "stdvar(m)"]
ON_RECORDED = ["rec{n}", "sum(rec{n})", "avg(rec{n})", "avg_over_time(rec{n}[{w}])",
               "stddev(rec{n})", "rec{n} * 1.1", "max_over_time(rec{n}[{w}])"]
THRESHOLDS = ["0", "0.3", "0.47", "0.5", "1", "1.07", "2"]
LABELS = [{"severity": "page"},
          {"sev": "{{ if gt $value 0.5 }}high{{ else }}low{{ end }}"}]


@dataclass
class Case:
    """One generated rule unit test (one file)."""

    number: int
    series: list[dict[str, str]]
    record: str
    alert: str
    alert_for: str
    keep_firing: str
    labels: dict[str, str]
    exprs: list[str]
    times: list[int]
    alert_times: list[int]
    #: filled in after our run
    expected: dict[str, Any] = field(default_factory=dict)


def _template(pool: list[str], draw: st.DrawFn) -> str:
    return draw(st.sampled_from(pool)).format(w=draw(st.sampled_from(WINDOWS)), n="{n}")


def _picks(draw: st.DrawFn, choices: list[Any], size: int) -> list[Any]:
    """``size`` elements of ``choices`` from one draw of bytes (many small draws are slow)."""
    return [choices[b % len(choices)] for b in draw(st.binary(min_size=size, max_size=size))]


@st.composite
def cases(draw: st.DrawFn) -> dict[str, Any]:
    """One case as plain data (numbered later)."""
    count = draw(st.integers(1, 4))
    length = draw(st.integers(3, 12))
    series = []
    for k in range(count):
        # series k starts at step k: promtool then creates the series in file order
        first = draw(st.sampled_from([*NUMBERS, "NaN", "Inf", "-0"]))
        values = ["_"] * k + [first] + _picks(draw, VALUES, length - 1)
        series.append({"series": f'm{{g="{"ab"[draw(st.integers(0, 1))]}",i="{k}"}}',
                       "values": " ".join(values)})
    if draw(st.booleans()):
        steps = count + length
        bounds = ["0.1", "0.5", "1", "+Inf"]
        totals = [0.0] * len(bounds)
        rows: list[list[str]] = [[] for _ in bounds]
        increments = _picks(draw, [0, 0, 1, 2, 3, 0.5], steps * len(bounds))
        for s in range(steps):
            add = increments[s * len(bounds):(s + 1) * len(bounds)]
            running = 0.0
            for b in range(len(bounds)):
                running += add[b]
                totals[b] += running
                rows[b].append(repr(totals[b]))
        if draw(st.booleans()):  # float noise and a non-monotonic bucket
            rows[1][-1] = repr(float(rows[1][-1]) + 1e-13)
            rows[2][-2] = repr(max(float(rows[2][-2]) - 1, 0.0))
        series += [{"series": f'h_bucket{{le="{b}"}}', "values": " ".join(r)}
                   for b, r in zip(bounds, rows, strict=True)]
    pools = [SERIES_EXPRS, MATH_EXPRS, OVER_TIME_EXPRS, RATE_EXPRS, AGGREGATION_EXPRS,
             AGGREGATION_EXPRS, ON_RECORDED]
    if len(series) > count:
        pools.append(HISTOGRAM_EXPRS)
    exprs = [_template(pool, draw) for pool in
             draw(st.lists(st.sampled_from(pools), min_size=3, max_size=6))]
    horizon = (count + length + 1) * MIN
    times = sorted(set(draw(st.lists(st.sampled_from([t * 30_000 for t in range(horizon // 30_000)]),
                                     min_size=1, max_size=3))))
    alert_times = sorted(set(draw(st.lists(st.integers(0, horizon // MIN), min_size=1,
                                           max_size=3))))
    alert_expr = _template(draw(st.sampled_from(
        [SERIES_EXPRS, MATH_EXPRS, OVER_TIME_EXPRS, AGGREGATION_EXPRS, RATE_EXPRS, ON_RECORDED])),
        draw)
    return {
        "series": series, "record": _template(RECORDED, draw),
        "alert": f"{alert_expr} > {draw(st.sampled_from(THRESHOLDS))}",
        "alert_for": draw(st.sampled_from(["0s", "1m", "2m"])),
        "keep_firing": draw(st.sampled_from(["0s", "0s", "2m"])),
        "labels": draw(st.sampled_from(LABELS)), "exprs": exprs,
        "times": times, "alert_times": [t * MIN for t in alert_times],
    }


@functools.cache
def generated(count: int) -> tuple[Case, ...]:
    """``count`` cases, the same on every run (hypothesis derandomised, no database)."""
    out: list[Case] = []

    @settings(max_examples=-(-count // PER_EXAMPLE), derandomize=True, database=None,
              deadline=None, phases=[Phase.generate], suppress_health_check=list(HealthCheck))
    @given(batch=st.lists(cases(), min_size=PER_EXAMPLE, max_size=PER_EXAMPLE))
    def collect(batch: list[dict[str, Any]]) -> None:
        base = len(out)
        out.extend([Case(base + i, **data) for i, data in enumerate(batch)])

    collect()
    return tuple(out[:count])


def _rules(case: Case) -> str:
    n = case.number
    doc = {"groups": [{"name": f"g{n}", "rules": [
        {"record": f"rec{n}", "expr": case.record},
        {"alert": f"A{n}", "expr": case.alert.format(n=n), "for": case.alert_for,
         "keep_firing_for": case.keep_firing, "labels": case.labels,
         "annotations": {"summary": "{{ $labels.g }} is {{ $value }}"}},
    ]}]}
    return json.dumps(doc)


def _expr_tag(case: Case, j: int) -> str:
    return f"c{case.number}e{j}"


def _test_doc(case: Case, alerts: dict[int, list[dict[str, Any]]]) -> dict[str, Any]:
    n = case.number
    exprs = [{"expr": f"{e.format(n=n)} # {_expr_tag(case, j)}", "eval_time": format_duration(t),
              "exp_samples": [{"labels": f'sentinel{{case="{n}"}}', "value": -1}]}
             for j, e in enumerate(case.exprs) for t in case.times]
    return {"rule_files": [f"c{n}_rules.yml"], "evaluation_interval": "1m", "tests": [{
        "interval": "1m", "input_series": case.series,
        "alert_rule_test": [{"eval_time": format_duration(t), "alertname": f"A{n}",
                             "exp_alerts": alerts.get(t, [])} for t in case.alert_times],
        "promql_expr_test": exprs}]}


def prepare(case: Case, directory: Path, semantics: str) -> str:
    """Write the case's files with our alerts as expectations; keep our results in ``expected``."""
    n = case.number
    (directory / f"c{n}_rules.yml").write_text(_rules(case), encoding="utf-8")  # JSON is YAML
    path = directory / f"c{n}.yml"
    text = json.dumps(_test_doc(case, {}))
    test_file = parse_test_text(text, str(path))
    obs = observe_group(test_file, test_file.groups[0], semantics=semantics)
    alerts = {ms: [{"exp_labels": {k: v for k, v in labels.items() if k != "alertname"},
                    "exp_annotations": notes} for labels, notes in found]
              for (_, ms), found in obs.alerts.items()}
    case.expected = {"error": obs.error, "alerts": alerts, "samples": {
        (expr.rsplit("# ", 1)[1], ms): got for (expr, ms), got in obs.samples.items()}}
    path.write_text(json.dumps(_test_doc(case, alerts)), encoding="utf-8")
    return path.name


@dataclass
class Tally:
    """Counts for the summary line."""

    cases: int = 0
    expr_checks: int = 0
    samples: int = 0
    expr_errors: int = 0
    alert_checks: int = 0
    firing: int = 0
    rule_errors: int = 0
    disagreements: list[str] = field(default_factory=list)


def compare(case: Case, theirs: CaseOutput, tally: Tally) -> list[str]:
    """Every way promtool's output for ``case`` differs from ours."""
    problems: list[str] = []
    error = case.expected["error"]
    tally.cases += 1
    if error is not None or theirs.rule_errors:
        tally.rule_errors += 1
        mine = error.split(", err:")[0] if error else "no rule error"
        printed = (f"rule: {theirs.rule_errors[0][0]}, time: {theirs.rule_errors[0][1]}"
                   if theirs.rule_errors else "no rule error")
        if mine != printed:
            problems.append(f"rule evaluation: ours {error or 'no error'!r}, promtool "
                            f"{theirs.rule_errors[0] if theirs.rule_errors else 'no error'}")
    for t in case.alert_times:
        tally.alert_checks += 1
        tally.firing += len(case.expected["alerts"].get(t, []))
    for name, at in theirs.alerts:
        problems.append(f"alert {name} at {at}: promtool disagrees with our firing alerts "
                        f"{case.expected['alerts'].get(parse_duration(at), [])}")
    if error is not None:
        return problems
    ours_exprs: dict[tuple[str, int], list[Sample] | str] = case.expected["samples"]
    for (tag, ms), ours in ours_exprs.items():
        tally.expr_checks += 1
        got = theirs.exprs.get((tag, format_duration(ms)))
        if got is None:
            problems.append(f"{tag} at {format_duration(ms)}: promtool printed no result")
            continue
        if isinstance(ours, str) or isinstance(got, str):
            tally.expr_errors += isinstance(ours, str)
            if isinstance(ours, str) != isinstance(got, str):
                problems.append(f"{tag} at {format_duration(ms)}: ours {ours!r}, promtool {got!r}")
            continue
        tally.samples += len(ours)
        mine = [(tuple(sorted(labels)), value) for labels, value in ours]
        if not same_samples(mine, got):
            problems.append(f"{tag} at {format_duration(ms)}: ours {sorted(mine)}, "
                            f"promtool {got}")
    return problems


def run_cases(binary: Promtool, directory: Path, cases_: tuple[Case, ...],
              env: dict[str, str] | None = None) -> Tally:
    """Prepare, run in batches and compare every case; disagreements go into the tally."""
    tally = Tally()
    for start in range(0, len(cases_), BATCH):
        batch = cases_[start:start + BATCH]
        files = [prepare(case, directory, binary.semantics) for case in batch]
        outputs = parse_output(run(binary, files, directory, env=env))
        for case, name in zip(batch, files, strict=True):
            for problem in compare(case, outputs.get(case.number, CaseOutput()), tally):
                tally.disagreements.append(f"{directory / name}: {problem}")
    return tally


def summary(binary: Promtool, tally: Tally, what: str = "") -> str:
    return (f"{binary.name} (go {binary.go}, semantics {binary.semantics}{what}): "
            f"{tally.cases} cases, {tally.expr_checks} expression checks "
            f"({tally.samples} samples, {tally.expr_errors} errors), {tally.alert_checks} "
            f"alert checks ({tally.firing} firing), {tally.rule_errors} rule errors: "
            f"{len(tally.disagreements)} disagreements")


def _fail_with_files(tally: Tally) -> str:
    shown = tally.disagreements[:15]
    files = sorted({line.split(":", 1)[0] for line in shown})[:3]
    listing = "".join(f"\n--- {f} ---\n{Path(f).read_text()}" for f in files)
    return ("\n".join(shown) + f"\n({len(tally.disagreements)} in all; cases from the "
            f"derandomised generator, reproduce with {EXAMPLES_ENV}={EXAMPLES})" + listing)


@pytest.mark.parametrize("binary", params())
def test_promtool_agrees_bit_for_bit(binary: Promtool, tmp_path: Path,
                                     record_property: Callable[[str, object], None]) -> None:
    tally = run_cases(binary, tmp_path, generated(EXAMPLES))
    record_property(SUMMARY_PROPERTY, summary(binary, tally))
    assert tally.cases == EXAMPLES
    assert tally.samples > EXAMPLES and tally.firing > 0, summary(binary, tally)
    assert not tally.disagreements, _fail_with_files(tally)
