"""Property: a vectorised range query equals one instant query per step (both semantics)."""

from __future__ import annotations

import math

from hypothesis import given, settings, strategies as st

from pytest_selfslo.promql.engine import Engine
from pytest_selfslo.promql.storage import Storage
from pytest_selfslo.promql.values import STALE_NAN, InstantVector, ScalarValue

MIN = 60_000
QUERIES = [
    "x", "x offset 2m", "x offset -1m", "x @ 300", "-x", "x > 0.5", "x > bool 0.5",
    "x * on(g) group_left y", "x and y", "x or y", "x unless y",
    "sum by (g) (x)", "avg without (g) (x)", "max(x)", "min(x)", "count(x)", "stddev(x)",
    "quantile(0.3, x)", "topk(1, x)", "bottomk(2, x)", "count_values(\"v\", x)",
    "max_over_time(x[3m:1m])", "count_over_time(x[4m])", "sum_over_time(x[150s])",
]

values = st.one_of(
    st.none(), st.just(STALE_NAN),
    st.floats(min_value=-2, max_value=2, allow_nan=False).map(lambda f: round(f, 2)),
)
series = st.lists(values, min_size=1, max_size=14)


def _store(xs: list[list[float | None]], ys: list[list[float | None]]) -> Storage:
    store = Storage()
    for name, table in (("x", xs), ("y", ys)):
        for i, vals in enumerate(table):
            labels = {"__name__": name, "g": str(i % 2), "i": str(i)}
            ts = [k * 40_000 for k, v in enumerate(vals) if v is not None]
            store.add_samples(labels, ts, [v for v in vals if v is not None])
    return store


def _same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b or abs(a - b) <= 1e-9 * max(abs(a), abs(b))


@settings(max_examples=40, deadline=None)
@given(xs=st.lists(series, min_size=1, max_size=4), ys=st.lists(series, max_size=2),
       query=st.sampled_from(QUERIES), semantics=st.sampled_from(["2", "3"]),
       start=st.integers(0, 6), step=st.sampled_from([MIN, 30_000, 90_000]))
def test_range_equals_instant_per_step(xs: list[list[float | None]], ys: list[list[float | None]],
                                       query: str, semantics: str, start: int, step: int) -> None:
    engine = Engine(_store(xs, ys), semantics=semantics)
    start_ms, end_ms = start * MIN, start * MIN + 6 * step
    ranged = engine.range(query, start_ms, end_ms, step)
    for k in range(7):
        t = start_ms + k * step
        # start()/end() differ between the two modes; none of QUERIES uses them
        instant = engine.instant(query, t)
        if isinstance(ranged, ScalarValue):
            assert isinstance(instant, ScalarValue)
            assert _same(float(ranged.values[k]), float(instant.values[0]))
            continue
        assert isinstance(ranged, InstantVector) and isinstance(instant, InstantVector)
        want = {s.labels: float(s.values[0]) for s in instant.series if s.present[0]}
        got = {s.labels: float(s.values[k]) for s in ranged.series if s.present[k]}
        assert want.keys() == got.keys(), (query, t)
        for labels, value in want.items():
            assert _same(value, got[labels]), (query, t, labels)
