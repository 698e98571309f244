"""Query-level differential test against every available ``promtool``, bit for bit.

Hypothesis (derandomised) generates series of ``x`` and ``y`` with gaps and
stale markers; our engine answers a fixed list of queries (selectors,
offsets, ``@``, operators with vector matching, set operators, aggregations,
``*_over_time``, subqueries, ``timestamp``) at a few times; promtool answers
the same queries in one unit-test file per case, many files per process, and
every sample it prints is compared with ours bit for bit (see
``tests/promtool_runs.py``). Values are multiples of 0.25 and every series
starts at time 0: promtool creates the series of one load step in a random
order, and such sums are exact in any order. ``topk``, ``avg`` and ``stddev``
are left out for that reason (the rule-file differential test in
``tests/ruletest`` covers them with staggered series).

``SELFSLO_DIFF_EXAMPLES`` (default 1000) scales the run: this test checks a
tenth of that many cases (at least 50). promtool only loads samples up to each
eval time, so no query looks into the future (no negative offsets, ``@`` only at 0).
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings, strategies as st
from promtool_runs import Promtool, Sample, params, parse_output, run, same_samples

from pytest_selfslo._core.durations import format_duration
from pytest_selfslo.promql.engine import Engine
from pytest_selfslo.promql.storage import Storage
from pytest_selfslo.promql.values import STALE_NAN, format_labels, is_stale_marker

CASES = max(int(os.environ.get("SELFSLO_DIFF_EXAMPLES", "1000")) // 10, 50)
SUMMARY_PROPERTY = "promtool_differential"  # printed by tests/conftest.py
MIN = 60_000
QUERIES = [
    "x", "x offset 2m", "-x", "x > 0.5", "x > bool 0.5", "x @ 0",
    "sum by (g) (x)", "max(x)", "min(x)", "count(x)", "quantile(0.5, x)",
    "count_values(\"v\", x)", "x * on(g) group_left y", "x and y", "x or y",
    "x unless y", "sum_over_time(x[3m])", "count_over_time(x[150s])", "max_over_time(x[3m:1m])",
    "last_over_time(x[2m])", "x + y", "x == bool y", "x / ignoring(i) group_left sum by (g) (y)",
    "(x > 0) or y", "max_over_time(x[3m:1m] offset 1m)", "-x * 2", "timestamp(x)",
    "timestamp(x and y)", "timestamp(label_replace(x, \"a\", \"b\", \"\", \"\"))",
    "x % 0.75", "x ^ 2", "stdvar_over_time(x[5m])", "quantile_over_time(0.75, x[4m])",
]

values = st.one_of(st.none(), st.just(STALE_NAN), st.integers(-8, 8).map(lambda n: n / 4))
Case = tuple[list[list[float | None]], list[list[float | None]], list[int]]


def _notation(vals: list[float | None]) -> str:
    return " ".join("_" if v is None else "stale" if is_stale_marker(v) else repr(v) for v in vals)


@functools.cache
def generated(count: int) -> tuple[Case, ...]:
    """``count`` cases, the same on every run (derandomised, no example database)."""
    out: list[Case] = []

    @settings(max_examples=count, derandomize=True, database=None, deadline=None,
              phases=[Phase.generate], suppress_health_check=list(HealthCheck))
    @given(xs=st.lists(st.lists(values, min_size=1, max_size=10), min_size=1, max_size=3),
           ys=st.lists(st.lists(values, min_size=1, max_size=10), max_size=2),
           times=st.lists(st.integers(0, 12), min_size=1, max_size=3, unique=True))
    def collect(xs: list[list[float | None]], ys: list[list[float | None]],
                times: list[int]) -> None:
        out.append((xs, ys, times))

    collect()
    return tuple(out[:count])


def prepare(number: int, case: Case, directory: Path, semantics: str,
            expected: dict[tuple[str, int], list[Sample] | str]) -> str:
    """Our answers into ``expected``; promtool's unit-test file (impossible expectations)."""
    xs, ys, times = case
    store = Storage()
    input_series = []
    for name, table in (("x", xs), ("y", ys)):
        for i, vals in enumerate(table):
            labels = {"__name__": name, "g": str(i % 2), "i": str(i)}
            store.add_samples(labels, [k * MIN for k, v in enumerate(vals) if v is not None],
                              [v for v in vals if v is not None])
            input_series.append({"series": format_labels(tuple(sorted(labels.items()))),
                                 "values": _notation(vals)})
    engine = Engine(store, semantics=semantics)
    tests = []
    for j, query in enumerate(QUERIES):
        tag = f"c{number}e{j}"
        for minute in times:
            try:
                expected[(tag, minute * MIN)] = sorted(
                    (s.labels, s.value) for s in engine.instant_samples(query, minute * MIN))
            except Exception as exc:  # an engine error is compared as such
                expected[(tag, minute * MIN)] = f"{type(exc).__name__}: {exc}"
            tests.append({"expr": f"{query} # {tag}", "eval_time": f"{minute}m",
                          "exp_samples": [{"labels": f'sentinel{{case="{number}"}}', "value": -1}]})
    doc = {"rule_files": [], "evaluation_interval": "1m",
           "tests": [{"interval": "1m", "input_series": input_series, "promql_expr_test": tests}]}
    path = directory / f"q{number}.yml"
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path.name


@pytest.mark.parametrize("binary", params())
def test_promtool_agrees(binary: Promtool, tmp_path: Path,
                         record_property: Callable[[str, object], None]) -> None:
    cases = generated(CASES)
    expected: dict[tuple[str, int], list[Sample] | str] = {}
    files = [prepare(n, case, tmp_path, binary.semantics, expected)
             for n, case in enumerate(cases)]
    theirs = parse_output(run(binary, files, tmp_path))
    problems: list[str] = []
    samples = 0
    for (tag, ms), ours in expected.items():
        number = int(tag[1:].split("e")[0])
        got = theirs.get(number)
        answer = None if got is None else got.exprs.get((tag, format_duration(ms)))
        where = f"{tmp_path / files[number]}: {QUERIES[int(tag.split('e')[1])]} at {ms // MIN}m"
        if answer is None:
            problems.append(f"{where}: promtool printed no result")
        elif isinstance(ours, str) or isinstance(answer, str):
            if isinstance(ours, str) != isinstance(answer, str):
                problems.append(f"{where}: ours {ours!r}, promtool {answer!r}")
        else:
            samples += len(ours)
            if not same_samples(ours, answer):
                problems.append(f"{where}: ours {ours}, promtool {answer}")
    record_property(SUMMARY_PROPERTY,
                    f"{binary.name} (go {binary.go}, semantics {binary.semantics}, queries): "
                    f"{len(cases)} cases, {len(expected)} query checks ({samples} samples): "
                    f"{len(problems)} disagreements")
    assert len(cases) == CASES and samples > 0
    assert not problems, "\n".join(problems[:20]) + (
        f"\n({len(problems)} in all; derandomised cases, files kept in {tmp_path})")
