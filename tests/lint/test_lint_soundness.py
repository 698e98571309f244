"""The static reasoning behind SL031 and SL032 agrees with real evaluation.

* SL032 (template label aggregated away) must never claim a label is gone when
  the embedded engine's result still carries it: random expressions over
  random series, every result label checked against the inferred LabelSet.
* SL031 (impossible comparison) must say "never"/"always" only when no/every
  value of the metric's domain satisfies the comparison.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from pytest_selfslo._core.errors import PromQLError
from pytest_selfslo.lint.checks.promql import comparison_verdict
from pytest_selfslo.lint.promql_walk import output_labels, parse_promql
from pytest_selfslo.promql.engine import Engine
from pytest_selfslo.promql.storage import Storage

LABELS = ["token_id", "job", "instance"]
label_lists = st.lists(st.sampled_from(LABELS), max_size=2, unique=True).map(", ".join)
selectors = st.sampled_from(["self_stress", "self_coherence", 'self_stress{job="a"}'])


def _expr(depth: int) -> st.SearchStrategy[str]:
    if depth == 0:
        return selectors
    sub = _expr(depth - 1)
    return st.one_of(
        selectors,
        st.tuples(st.sampled_from(["sum", "avg", "max", "count"]),
                  st.sampled_from(["by", "without"]), label_lists, sub)
        .map(lambda t: f"{t[0]} {t[1]} ({t[2]}) ({t[3]})"),
        st.tuples(st.sampled_from(["sum", "min"]), sub).map(lambda t: f"{t[0]}({t[1]})"),
        st.tuples(sub, st.sampled_from([">", "<", "+", "*"]), st.floats(0, 1).map(str))
        .map(lambda t: f"{t[0]} {t[1]} {t[2]}"),
        st.tuples(sub, st.sampled_from(["and", "or", "unless"]), sub)
        .map(lambda t: f"({t[0]}) {t[1]} ({t[2]})"),
        st.tuples(sub, st.sampled_from(["on", "ignoring"]), label_lists, sub)
        .map(lambda t: f"({t[0]}) > {t[1]} ({t[2]}) ({t[3]})"),
        st.tuples(sub, st.sampled_from(LABELS)).map(
            lambda t: f'label_replace({t[0]}, "{t[1]}", "x", "", "")'),
        selectors.map(lambda s: f"absent({s})"),
        selectors.map(lambda s: f"avg_over_time({s}[5m])"),
    )


series_sets = st.lists(st.tuples(st.sampled_from(["self_stress", "self_coherence"]),
                                 st.sampled_from(["a", "b"]), st.sampled_from(["t1", "t2"]),
                                 st.sampled_from(["", "i1"]), st.floats(0, 1)),
                       min_size=1, max_size=6, unique_by=lambda t: t[:4])


@settings(max_examples=150, deadline=None)
@given(expr=_expr(2), series=series_sets)
def test_inferred_labels_never_drop_a_label_the_engine_returns(
        expr: str, series: list[tuple[str, str, str, str, float]]) -> None:
    storage = Storage()
    for name, job, token, instance, value in series:
        labels = {"__name__": name, "job": job, "token_id": token, "instance": instance}
        storage.add_samples(labels, [0], [value])
    try:
        samples = Engine(storage).instant_samples(expr, 60_000)
    except PromQLError:
        return  # e.g. many-to-many matching: no result to compare with
    inferred = output_labels(parse_promql(expr))
    for sample in samples:
        for name, _value in sample.labels:
            if name != "__name__":
                assert not inferred.lacks(name), (
                    f"{expr!r}: result {sample.labels} carries {name!r}, lint says it is gone "
                    f"({inferred})")


OPS = [">", ">=", "<", "<=", "==", "!="]
GRID = [i / 100 for i in range(101)]


def _holds(x: float, op: str, c: float) -> bool:
    return {">": x > c, ">=": x >= c, "<": x < c, "<=": x <= c, "==": x == c,
            "!=": x != c}[op]


@pytest.mark.parametrize("op", OPS)
@settings(max_examples=80, deadline=None)
@given(c=st.one_of(st.sampled_from([-1.0, 0.0, 0.5, 1.0, 2.0]), st.floats(-2, 3)))
def test_comparison_verdict_matches_the_domain(op: str, c: float) -> None:
    verdict = comparison_verdict(op, 0.0, 1.0, c)
    outcomes = {_holds(x, op, c) for x in [*GRID, c] if 0.0 <= x <= 1.0}
    if verdict == "never":
        assert outcomes == {False}
    elif verdict == "always":
        assert outcomes == {True}
    else:
        assert outcomes == {True, False}
