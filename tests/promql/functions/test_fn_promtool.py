"""Every float function against the real ``promtool test rules``, bit for bit (skipped without it).

promtool prints what an expression returned when a ``promql_expr_test``
fails, so each case is given an impossible expectation and promtool's "got"
line is compared with our engine's result at the same time, with the
semantics of promtool's major version. Values must be *identical* (not
approximately equal): alert thresholds decide on the last bit. Trigonometric
and hyperbolic functions are left out (Go's pure-Go math differs from the C
library in the last ulp; documented in ``promql/functions.py``).
"""

from __future__ import annotations

import math
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from pytest_selfslo._core.durations import parse_duration
from pytest_selfslo.promql.engine import Engine
from pytest_selfslo.promql.storage import Storage

PROMTOOL = shutil.which("promtool")
pytestmark = pytest.mark.skipif(PROMTOOL is None, reason="promtool is not on PATH")

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
       "year(vector(1700000000))"])
TIMES = ("1m", "4m30s", "7m", "10m17s", "15m")

_BLOCK = re.compile(r'expr: "((?:[^"\\]|\\.)*)", time: (\S+),\n\s*exp: .*\n\s*got: (.*)')
_ITEM = re.compile(r'([a-zA-Z_:][\w:]*)?\{((?:[^"}]|"(?:[^"\\]|\\.)*")*)\} (\S+?)(?:, |$)')


def _promtool_results(tmp_path: Path) -> dict[tuple[str, str], dict[tuple[tuple[str, str], ...], float]]:
    tests = [{"interval": "1m",
              "input_series": [{"series": k, "values": v} for k, v in SERIES.items()],
              "promql_expr_test": [
                  {"expr": e, "eval_time": t,
                   "exp_samples": [{"labels": 'impossible{x="1"}', "value": -12345}]}
                  for e in EXPRESSIONS for t in TIMES]}]
    path = tmp_path / "functions_test.yml"
    path.write_text(yaml.safe_dump({"tests": tests}))
    assert PROMTOOL is not None
    proc = subprocess.run([PROMTOOL, "test", "rules", str(path)], capture_output=True,
                          text=True, timeout=120, check=False)
    results = {}
    for expr, at, got in _BLOCK.findall(proc.stdout + proc.stderr):
        samples = {}
        for name, body, value in _ITEM.findall(got.strip()):
            labels = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', body))
            if name:
                labels["__name__"] = name
            samples[tuple(sorted(labels.items()))] = float(value.replace("E", "e"))
        results[(expr.encode().decode("unicode_escape"), at)] = samples
    return results


def _semantics() -> str:
    assert PROMTOOL is not None
    out = subprocess.run([PROMTOOL, "--version"], capture_output=True, text=True, check=False)
    return "2" if "version 2." in out.stdout + out.stderr else "3"


def test_functions_match_promtool_bit_for_bit(tmp_path: Path) -> None:
    expected = _promtool_results(tmp_path)
    assert len(expected) == len(EXPRESSIONS) * len(TIMES), "could not read promtool's output"
    store = Storage()
    store.load("\n".join(f"{k} {v}" for k, v in SERIES.items()), 60_000)
    engine = Engine(store, semantics=_semantics())
    mismatches = []
    for (expr, at), want in expected.items():
        got = {s.labels: s.value for s in engine.instant_samples(expr, parse_duration(at))}
        same = set(got) == set(want) and all(
            got[k] == want[k] or (math.isnan(got[k]) and math.isnan(want[k])) for k in want)
        if not same:
            mismatches.append(f"{expr} @ {at}: promtool {want}, ours {got}")
    assert mismatches == []
