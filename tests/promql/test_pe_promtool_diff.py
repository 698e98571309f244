"""Differential test against the real ``promtool test rules`` (skipped when it is not on PATH).

Our engine computes every expected sample; promtool must then pass the generated
unit-test file. Values are multiples of 0.25 so that sums are exact in any
summation order (older Prometheus versions do not use Kahan summation). promtool
only loads samples up to each eval time, so no query looks into the future
(no negative offsets, ``@`` only at 0). ``topk``, ``avg`` and ``stddev`` are left out:
Prometheus feeds aggregations in storage order (series creation order; promtool
2.42 creates series in Go map order, so it differs from run to run), and that
order decides ``topk`` ties and the last bit of incremental ``avg``/``stddev``;
we use label order.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, Phase, given, settings, strategies as st

from pytest_selfslo.promql.engine import Engine
from pytest_selfslo.promql.storage import Storage
from pytest_selfslo.promql.values import STALE_NAN, format_labels, is_stale_marker

PROMTOOL = shutil.which("promtool")
MIN = 60_000
QUERIES = [
    "x", "x offset 2m", "-x", "x > 0.5", "x > bool 0.5", "x @ 0",
    "sum by (g) (x)", "max(x)", "min(x)", "count(x)", "quantile(0.5, x)",
    "count_values(\"v\", x)", "x * on(g) group_left y", "x and y", "x or y",
    "x unless y", "sum_over_time(x[3m])", "count_over_time(x[150s])", "max_over_time(x[3m:1m])",
    "last_over_time(x[2m])", "x + y", "x == bool y", "x / ignoring(i) group_left sum by (g) (y)",
    "(x > 0) or y", "max_over_time(x[3m:1m] offset 1m)", "-x * 2", "timestamp(x)",
    "timestamp(x and y)", "timestamp(label_replace(x, \"a\", \"b\", \"\", \"\"))",
]


def _semantics() -> str:
    assert PROMTOOL is not None
    out = subprocess.run([PROMTOOL, "--version"], capture_output=True, text=True, check=False)
    match = re.search(r"version (\d+)\.", out.stdout + out.stderr)
    return "3" if match and int(match.group(1)) >= 3 else "2"


values = st.one_of(st.none(), st.just(STALE_NAN), st.integers(-8, 8).map(lambda n: n / 4))


def _notation(vals: list[float | None]) -> str:
    return " ".join("_" if v is None else "stale" if is_stale_marker(v) else repr(v) for v in vals)


@pytest.mark.skipif(PROMTOOL is None, reason="promtool is not on PATH")
@settings(max_examples=8, deadline=None, phases=[Phase.explicit, Phase.generate],
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(xs=st.lists(st.lists(values, min_size=1, max_size=10), min_size=1, max_size=3),
       ys=st.lists(st.lists(values, min_size=1, max_size=10), max_size=2),
       times=st.lists(st.integers(0, 12), min_size=1, max_size=3, unique=True))
def test_promtool_agrees(tmp_path: Path, xs: list[list[float | None]],
                         ys: list[list[float | None]], times: list[int]) -> None:
    store = Storage()
    input_series = []
    for name, table in (("x", xs), ("y", ys)):
        for i, vals in enumerate(table):
            labels = {"__name__": name, "g": str(i % 2), "i": str(i)}
            store.add_samples(labels, [k * MIN for k, v in enumerate(vals) if v is not None],
                              [v for v in vals if v is not None])
            input_series.append({"series": f'{name}{{g="{i % 2}",i="{i}"}}',
                                 "values": _notation(vals)})
    engine = Engine(store, semantics=_semantics())
    tests = []
    for query in QUERIES:
        for minute in times:
            samples = engine.instant_samples(query, minute * MIN)
            tests.append({"expr": query, "eval_time": f"{minute}m", "exp_samples": [
                {"labels": format_labels(s.labels) or "{}", "value": s.value} for s in samples]})
    doc = {"rule_files": [], "evaluation_interval": "1m",
           "tests": [{"interval": "1m", "input_series": input_series, "promql_expr_test": tests}]}
    path = tmp_path / "diff_test.yml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    assert PROMTOOL is not None
    run = subprocess.run([PROMTOOL, "test", "rules", str(path)], capture_output=True, text=True,
                         check=False, timeout=60)
    assert run.returncode == 0, run.stdout + run.stderr
