"""Every float function against every available ``promtool test rules``, bit for bit.

promtool prints what an expression returned when a ``promql_expr_test``
fails, so each case is given an impossible expectation and promtool's "got"
line is compared with our engine's result at the same time, with the
semantics of promtool's version (``tests/promtool_runs.py``; skipped without
promtool). Values must be *identical* (not approximately equal): alert
thresholds decide on the last bit. That includes the trigonometric and
hyperbolic functions, which compute what Go's ``math`` computes
(``promql/gomath.py``).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from promtool_runs import Promtool, params, parse_output, run, same_samples

from pytest_selfslo._core.durations import format_duration, parse_duration
from pytest_selfslo.promql.engine import Engine
from pytest_selfslo.promql.storage import Storage

SERIES = {
    'c_total{i="a"}': "0 5 11 18 2 9 15 30 31 40 1 3 8 8 8 20",
    'c_total{i="b"}': "100 110 _ 130 140 150 0 10 20 _ _ 50 60 70 80 90",
    'g{i="x"}': "1 3 2 5 4 4 4 NaN 2 1 0 -1 -3 7 7 2",
    'g{i="y"}': "0.5 0.7 0.9 1.1 0.3 0.2 0.9 0.1 0.5 0.6 0.7 0.8 0.9 1 0.4 0.2",
    'h_bucket{le="0.1"}': "0 1 2 3 3 4 5 6 6 7 8 9 9 10 11 12",
    'h_bucket{le="0.5"}': "0 2 4 6 7 9 11 13 14 15 17 19 20 22 24 26",
    'h_bucket{le="+Inf"}': "0 3 6 9 10 13 15 18 19 22 24 26 28 30 31 34",
}
RANGE_FUNCTIONS = ("rate", "increase", "delta", "irate", "idelta", "deriv", "changes",
                   "resets", "avg_over_time", "sum_over_time", "min_over_time", "max_over_time",
                   "count_over_time", "last_over_time", "stddev_over_time", "stdvar_over_time",
                   "present_over_time")
EXPRESSIONS = (
    [f"{f}({m}[{w}])" for f in RANGE_FUNCTIONS for m in ("c_total", "g") for w in ("3m", "5m")]
    + [f"{f}(g[5m:1m])" for f in ("avg_over_time", "deriv", "changes")]
    + ["quantile_over_time(0.3, g[5m])", "predict_linear(g[5m], 120)",
       "predict_linear(c_total[5m] @ 300, 600)", "rate(c_total[5m] offset 2m)",
       "max_over_time(rate(c_total[2m])[5m:30s])",
       "histogram_quantile(0.9, rate(h_bucket[5m]))", "histogram_quantile(0.5, h_bucket)",
       "abs(g)", "ceil(g)", "floor(g)", "round(g, 0.5)", "clamp(g, 0, 2)", "clamp_max(g, 1)",
       "sqrt(g)", "ln(g)", "log2(g)", "log10(g)", "exp(g)", "sgn(g)", "timestamp(g)",
       "hour(g)", "minute()", 'label_replace(g, "foo", "$1-x", "i", "(.*)")',
       'label_join(g, "foo", "-", "i", "__name__")', 'absent(nope{a="b"})',
       'absent_over_time(nope{a="b"}[5m])', 'scalar(g{i="x"})', "vector(time())", "deg(g)",
       "year(vector(1700000000))", "sin(g)", "cos(g)", "tan(g)", "asin(g)", "acos(g)", "atan(g)",
       "sinh(g)", "cosh(g)", "tanh(g)", "asinh(g)", "acosh(g)", "atanh(g)", "g ^ 1.5",
       "g % 0.3", "g atan2 0.5", "exp(g - 0.5)"])
TIMES = ("1m", "4m30s", "7m", "10m17s", "15m")


@pytest.mark.parametrize("binary", params())
def test_functions_match_promtool_bit_for_bit(binary: Promtool, tmp_path: Path) -> None:
    tests = [{"expr": f"{e} # c0e{j}", "eval_time": t,
              "exp_samples": [{"labels": 'impossible{x="1"}', "value": -12345}]}
             for j, e in enumerate(EXPRESSIONS) for t in TIMES]
    doc = {"tests": [{"interval": "1m", "promql_expr_test": tests,
                      "input_series": [{"series": k, "values": v} for k, v in SERIES.items()]}]}
    (tmp_path / "functions_test.yml").write_text(json.dumps(doc))
    theirs = parse_output(run(binary, ["functions_test.yml"], tmp_path))[0].exprs
    assert len(theirs) == len(EXPRESSIONS) * len(TIMES), "could not read promtool's output"
    store = Storage()
    store.load("\n".join(f"{k} {v}" for k, v in SERIES.items()), 60_000)
    engine = Engine(store, semantics=binary.semantics)
    mismatches = []
    for j, expr in enumerate(EXPRESSIONS):
        for at in TIMES:
            want = theirs[(f"c0e{j}", format_duration(parse_duration(at)))]
            got = sorted((s.labels, s.value)
                         for s in engine.instant_samples(expr, parse_duration(at)))
            if isinstance(want, str) or not same_samples(got, want):
                mismatches.append(f"{expr} @ {at}: promtool {want}, ours {got}")
    assert mismatches == []
