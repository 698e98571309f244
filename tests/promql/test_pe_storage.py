"""In-memory storage: loading, ordering, matchers with RE2 semantics."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from pytest_selfslo._core.errors import PromQLEvalError
from pytest_selfslo.promql.histogram import FloatHistogram
from pytest_selfslo.promql.storage import LabelMatcher, Storage
from pytest_selfslo.promql.values import is_stale_marker


@pytest.fixture
def store() -> Storage:
    s = Storage()
    s.load(
        """
        up{job="api", instance="a"} 1 1 _ 0 stale
        up{job="db", instance="b"}  1x4
        up{job="a\\nb"}             1
        other{job="api"}            5
        """,
        interval_ms=60_000,
    )
    return s


def _jobs(store: Storage, *matchers: LabelMatcher) -> list[str]:
    return [dict(labels).get("job", "") for labels, _, _ in store.select(list(matchers))]


def test_load_skips_gaps_and_keeps_stale(store: Storage) -> None:
    [(_, t, v)] = store.select([LabelMatcher("__name__", "=", "up"),
                                LabelMatcher("instance", "=", "a")])
    assert t.tolist() == [0, 60_000, 180_000, 240_000]
    assert v[:3].tolist() == [1.0, 1.0, 0.0] and is_stale_marker(float(v[3]))


def test_select_time_range_is_inclusive(store: Storage) -> None:
    [(_, t, _)] = store.select([LabelMatcher("instance", "=", "b")], 60_000, 180_000)
    assert t.tolist() == [60_000, 120_000, 180_000]


@pytest.mark.parametrize(
    ("matcher", "jobs"),
    [
        (LabelMatcher("job", "=", "api"), ["api", "api"]),
        (LabelMatcher("job", "!=", "api"), ["a\nb", "db"]),
        (LabelMatcher("job", "=~", "ap"), []),            # fully anchored
        (LabelMatcher("job", "=~", "a.*"), ["a\nb", "api", "api"]),  # . matches newline
        (LabelMatcher("job", "!~", "a.*|d.*"), []),
        (LabelMatcher("instance", "=", ""), ["a\nb", "api"]),  # unset label equals ""
        (LabelMatcher("instance", "=~", ".+"), ["api", "db"]),
    ],
)
def test_matchers(store: Storage, matcher: LabelMatcher, jobs: list[str]) -> None:
    assert sorted(_jobs(store, matcher)) == jobs


def test_out_of_order_writes_sorted_and_last_write_wins() -> None:
    s = Storage()
    s.add_samples({"__name__": "x"}, [20, 10], [2.0, 1.0])
    s.add_samples((("__name__", "x"),), [10, 30], [9.0, 3.0])
    [(_, t, v)] = s.select([LabelMatcher("__name__", "=", "x")])
    assert t.tolist() == [10, 20, 30] and v.tolist() == [9.0, 2.0, 3.0]
    s.clear()
    assert len(s) == 0


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("(a)\\1", "error parsing regexp: invalid escape sequence: `\\1`"),
        ("(?=a)a", "error parsing regexp: invalid or unsupported Perl syntax: `(?=`"),
        ("(?<!a)b", "error parsing regexp: invalid or unsupported Perl syntax: `(?<!`"),
        ("(?>a)", "error parsing regexp: invalid or unsupported Perl syntax: `(?>`"),
        ("(", "error parsing regexp: missing closing ): `(`"),
    ],
)
def test_rejects_non_re2_regex_with_gos_message(pattern: str, message: str) -> None:
    with pytest.raises(PromQLEvalError) as info:
        LabelMatcher("job", "=~", pattern)
    assert str(info.value) == message


def test_escaped_backslash_is_not_a_backreference() -> None:
    assert LabelMatcher("job", "=~", "a\\\\1").matches("a\\1")


def test_bad_inputs() -> None:
    with pytest.raises(PromQLEvalError, match="invalid label matcher operator '=='"):
        LabelMatcher("job", "==", "a")
    with pytest.raises(ValueError, match="equal-length"):
        Storage().add_samples({"a": "b"}, [1, 2], [1.0])
    with pytest.raises(ValueError, match="interval must be positive"):
        Storage().load("x 1", 0)


_VALUES = ["", "a", "b", "ab", "a\nb"]


@settings(max_examples=80, deadline=None)
@given(series=st.lists(st.dictionaries(st.sampled_from(["job", "env"]), st.sampled_from(_VALUES[1:]),
                                       max_size=2), min_size=1, max_size=6),
       matchers=st.lists(st.tuples(st.sampled_from(["job", "env", "__name__"]),
                                   st.sampled_from(["=", "!=", "=~", "!~"]),
                                   st.sampled_from([*_VALUES, "a.*", ".+", "a|b", "(?i)A"])),
                         max_size=3))
def test_select_equals_brute_force(series: list[dict[str, str]],
                                   matchers: list[tuple[str, str, str]]) -> None:
    import re
    store = Storage()
    for i, labels in enumerate(series):
        store.add_samples({**labels, "__name__": "m", "i": str(i)}, [0], [1.0])
    got = {dict(labels)["i"] for labels, _, _ in store.select(
        [LabelMatcher(n, op, v) for n, op, v in matchers])}

    def ok(labels: dict[str, str], name: str, op: str, value: str) -> bool:
        actual = labels.get(name, "")
        if op in ("=", "!="):
            return (actual == value) == (op == "=")
        hit = re.fullmatch(value, actual, re.DOTALL) is not None
        return hit == (op == "=~")

    want = {str(i) for i, labels in enumerate(series)
            if all(ok({**labels, "__name__": "m"}, n, op, v) for n, op, v in matchers)}
    assert got == want


def test_load_start_offset_and_listing() -> None:
    s = Storage()
    s.load('b{x="1"} 1 _ 3\na 7', interval_ms=30_000, start_ms=1_000)
    assert s.series_labels() == [(("__name__", "a"),), (("__name__", "b"), ("x", "1"))]
    [(_, t, v)] = s.select([LabelMatcher("__name__", "=", "b")])
    assert t.tolist() == [1_000, 61_000] and v.tolist() == [1.0, 3.0]


def _order(store: Storage) -> list[str]:
    return [dict(labels)["i"] for labels, _, _ in store.select([LabelMatcher("__name__", "=", "m")])]


def test_select_returns_series_in_creation_order() -> None:
    # Prometheus' head block hands out series in the order they were created (series
    # references), which is the order aggregations add them up in
    s = Storage()
    for i in ("c", "a", "b"):
        s.add_samples({"__name__": "m", "i": i}, [0], [1.0])
    s.add_samples({"__name__": "m", "i": "a"}, [60_000], [2.0])  # not a new series
    assert _order(s) == ["c", "a", "b"]


def test_created_ms_and_phase_order_series_created_out_of_order() -> None:
    s = Storage()
    s.add_samples({"__name__": "m", "i": "late-input"}, [120_000], [1.0], created_ms=120_000)
    s.add_samples({"__name__": "m", "i": "early"}, [0], [1.0], created_ms=0)
    s.add_samples({"__name__": "m", "i": "rule-output"}, [60_000], [1.0], created_ms=60_000,
                  phase=1)
    s.add_samples({"__name__": "m", "i": "input"}, [60_000], [1.0], created_ms=60_000)
    s.add_samples({"__name__": "m", "i": "unknown"}, [0], [1.0])  # before every timed one
    assert _order(s) == ["unknown", "early", "input", "rule-output", "late-input"]


def test_snapshot_restore_keeps_creation_order_and_samples() -> None:
    s = Storage()
    s.add_samples({"__name__": "m", "i": "b"}, [0, 60_000], [1.0, 2.0], created_ms=0)
    s.add_samples({"__name__": "m", "i": "a"}, [0], [3.0], created_ms=0)
    snap = s.snapshot()
    s.add_samples({"__name__": "m", "i": "c"}, [0], [4.0])
    s.add_samples({"__name__": "m", "i": "a"}, [60_000], [5.0])
    s.restore(snap)
    assert _order(s) == ["b", "a"]
    assert [v.tolist() for _, _, v in s.select([LabelMatcher("__name__", "=", "m")])] == [
        [1.0, 2.0], [3.0]]
    s.add_samples({"__name__": "m", "i": "d"}, [0], [6.0], created_ms=0)  # after b and a
    assert _order(s) == ["b", "a", "d"]


def test_snapshot_carries_native_histograms_into_a_fresh_storage() -> None:
    """What mutation testing does: one snapshot of a group's input, restored into a new
    storage per mutant; the histogram samples come with it (and are copies: a write to one
    restored storage does not reach the snapshot)."""
    s = Storage()
    h = FloatHistogram(count=3.0, sum=3.0, pos=np.array([2.0, 1.0]))
    s.add_histograms({"__name__": "h"}, [0, 60_000], [h, h])
    snap = s.snapshot()
    for _ in range(2):
        fresh = Storage()
        fresh.restore(snap)
        ((labels, t, v),) = fresh.select([LabelMatcher("__name__", "=", "h")])
        got = fresh.histograms(labels, t, v)
        assert got is not None and [x.count for x in got] == [3.0, 3.0]
        fresh.add_histograms({"__name__": "h"}, [120_000], [h])
    assert [len(h) for h in getattr(snap, "hists").values()] == [2]  # noqa: B009
