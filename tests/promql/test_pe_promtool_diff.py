"""Query-level differential test against every available ``promtool``, bit for bit.

Hypothesis (derandomised) generates series of ``x`` and ``y`` with gaps and
stale markers; our engine answers a fixed list of queries (selectors,
offsets, ``@``, operators with vector matching, set operators, aggregations,
``*_over_time``, subqueries, ``timestamp``) at a few times; promtool answers
the same queries in one unit-test file per case, many files per process, and
every sample it prints is compared with ours bit for bit (see
``tests/promtool_runs.py``). Values are multiples of 0.25 and every series
starts at time 0: promtool creates the series of one load step in a random
order, and such sums are exact in any order. ``avg`` and ``stddev`` are left
out for that reason (the rule-file differential test in ``tests/ruletest``
covers them with staggered series). ``topk`` and ``bottomk`` are in: which of
several series tied at the k-th value they keep follows that random order, so
their answers are compared with the tie as a set (``same_up_to_ties``: the same
values per group, each kept series an input series with its value); values
of a quarter step tie often.

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
from promtool_runs import (
    Promtool,
    Sample,
    params,
    parse_output,
    run,
    same_samples,
    same_up_to_ties,
)

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
#: k-aggregations: query -> (its input vector, the grouping labels); ties compared as sets
K_QUERIES = {
    "topk(2, x)": ("x", ()), "bottomk(1, x)": ("x", ()), "topk by (g) (1, x)": ("x", ("g",)),
    "bottomk by (g) (2, x offset 1m)": ("x offset 1m", ("g",)), "topk(1, x or y)": ("x or y", ()),
}
QUERIES += list(K_QUERIES)

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
            expected: dict[tuple[str, int], list[Sample] | str],
            inputs: dict[tuple[str, int], list[Sample]] | None = None) -> str:
    """Our answers into ``expected`` (the input vectors of :data:`K_QUERIES` into
    ``inputs``); promtool's unit-test file (impossible expectations)."""
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
            if query in K_QUERIES and inputs is not None:
                inputs[(tag, minute * MIN)] = [
                    (s.labels, s.value)
                    for s in engine.instant_samples(K_QUERIES[query][0], minute * MIN)]
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
    inputs: dict[tuple[str, int], list[Sample]] = {}
    files = [prepare(n, case, tmp_path, binary.semantics, expected, inputs)
             for n, case in enumerate(cases)]
    theirs = parse_output(run(binary, files, tmp_path))
    problems: list[str] = []
    samples = ties = 0
    for (tag, ms), ours in expected.items():
        number = int(tag[1:].split("e")[0])
        got = theirs.get(number)
        answer = None if got is None else got.exprs.get((tag, format_duration(ms)))
        query = QUERIES[int(tag.split("e")[1])]
        where = f"{tmp_path / files[number]}: {query} at {ms // MIN}m"
        if answer is None:
            problems.append(f"{where}: promtool printed no result")
        elif isinstance(ours, str) or isinstance(answer, str):
            if isinstance(ours, str) != isinstance(answer, str):
                problems.append(f"{where}: ours {ours!r}, promtool {answer!r}")
        else:
            samples += len(ours)
            if query in K_QUERIES:
                agree = same_up_to_ties(ours, answer, inputs[(tag, ms)], K_QUERIES[query][1])
                ties += agree and not same_samples(ours, answer)
            else:
                agree = same_samples(ours, answer)
            if not agree:
                problems.append(f"{where}: ours {ours}, promtool {answer}")
    record_property(SUMMARY_PROPERTY,
                    f"{binary.name} (go {binary.go}, semantics {binary.semantics}, queries): "
                    f"{len(cases)} cases, {len(expected)} query checks ({samples} samples, "
                    f"{ties} k-aggregation ties kept other series): "
                    f"{len(problems)} disagreements")
    assert len(cases) == CASES and samples > 0
    assert not problems, "\n".join(problems[:20]) + (
        f"\n({len(problems)} in all; derandomised cases, files kept in {tmp_path})")


def _s(name: str, g: str, value: float) -> Sample:
    return ((("__name__", "x"), ("g", g), ("i", name)), value)


def test_k_aggregation_ties_compare_as_sets_and_nothing_else_does() -> None:
    a, b, c = _s("a", "0", 1.0), _s("b", "1", 1.0), _s("c", "0", 0.0)
    inputs = [a, b, c]
    assert same_up_to_ties([a], [b], inputs)  # topk(1): a and b tie at 1
    assert same_up_to_ties([a, c], [c, a], inputs)
    assert not same_up_to_ties([a], [c], inputs)  # 1 is not 0: not a tie
    assert not same_up_to_ties([a], [b], inputs, by=("g",))  # different groups: no tie
    assert not same_up_to_ties([a], [(b[0], 2.0)], inputs)  # b's value is 1, not 2
    assert not same_up_to_ties([a], [_s("z", "0", 1.0)], inputs)  # not an input series
    assert not same_up_to_ties([a], [a, b], inputs)  # kept more than k
    zero, minus = _s("p", "0", 0.0), _s("m", "0", -0.0)
    assert same_up_to_ties([zero], [minus], [zero, minus])  # 0 and -0 tie, as in Go
    assert not same_up_to_ties([zero], [(minus[0], 0.0)], [zero, minus])  # bits of m are -0
    nan1, nan2 = _s("n", "0", float("nan")), _s("o", "0", float("nan"))
    assert same_up_to_ties([nan1], [nan2], [nan1, nan2])
