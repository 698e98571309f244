"""Series notation: accept and reject cases (promtool / promqltest expanding notation)."""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from pytest_selfslo._core.errors import SeriesNotationError
from pytest_selfslo.promql.labels import STALE_NAN
from pytest_selfslo.promql.series import parse_series_line, parse_series_values, sample_arrays
from pytest_selfslo.promql.values import is_stale_marker


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1+2x3", [1.0, 3.0, 5.0, 7.0]),
        ("10-1x2", [10.0, 9.0, 8.0]),
        ("5x2", [5.0, 5.0, 5.0]),
        ("-1-2x1", [-1.0, -3.0]),
        ("_", [None]),
        ("_x3", [None, None, None]),
        ("1 _ 2", [1.0, None, 2.0]),
        ("1e3 1.5E-1 .5", [1000.0, 0.15, 0.5]),
        ("52+0x2", [52.0, 52.0, 52.0]),  # x is repetition, never hex
        ("Inf -Inf +inf", [math.inf, -math.inf, math.inf]),
        ("1e+2+1x1", [100.0, 101.0]),
        ("", []),
    ],
)
def test_accepts(text: str, expected: list[float | None]) -> None:
    assert parse_series_values(text) == expected


def test_repeated_addition_matches_promtool_rounding() -> None:
    # 0.1 added repeatedly differs from 0.1 * i in the last bit; promtool adds.
    values = parse_series_values("0+0.1x3")
    acc = 0.0
    expected = []
    for _ in range(4):
        expected.append(acc)
        acc += 0.1
    assert values == expected


def test_nan_and_stale() -> None:
    nan, stale = parse_series_values("NaN stale")
    assert nan is not None and math.isnan(nan) and not is_stale_marker(nan)
    assert stale is not None and is_stale_marker(stale)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("1 2 abc", "token 'abc' at column 5"),
        ("1+2", "needs a repetition count"),
        ("1+x3", "token '1+x3' at column 1"),
        ("stale+1x2", "'stale' cannot be incremented"),
        ("1 {{schema:0 sum:1}}", "a native histogram sample is not allowed here"),
        ("{{schema:0 sum:1", "unterminated histogram"),
        ("1x99999999999", "repetition"),
        # promtool: "bad number syntax" (a duration is not a sample value)
        ("5m 10m", "token '5m' at column 1: a duration is not a sample value"),
        ("0+1mx3", "token '0+1mx3' at column 1: a duration is not a sample value"),
        ("1 1h30m", "token '1h30m' at column 3: a duration"),
    ],
)
def test_rejects(text: str, fragment: str) -> None:
    with pytest.raises(SeriesNotationError) as info:
        parse_series_values(text)
    assert fragment in str(info.value)


def test_series_line() -> None:
    labels, values = parse_series_line('http_requests{job="api", path="/a b}"}  0+10x2 _')
    assert labels == (("__name__", "http_requests"), ("job", "api"), ("path", "/a b}"))
    assert values == [0.0, 10.0, 20.0, None]
    labels, values = parse_series_line('{__name__="up"} 1')
    assert labels == (("__name__", "up"),) and values == [1.0]
    assert parse_series_line("up")[1] == []


@pytest.mark.parametrize(
    ("line", "fragment"),
    [
        ('up{job=~"a"} 1', "must use '='"),
        ("up{job= 1", "unterminated"),
        ('up{job="a"} 1 x', "series up{job=\"a\"}: invalid series values"),
        ("1 + 2", "invalid series descriptor"),
    ],
)
def test_series_line_rejects(line: str, fragment: str) -> None:
    with pytest.raises(SeriesNotationError) as info:
        parse_series_line(line)
    assert fragment in str(info.value)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.none(), st.just("stale"),
                          st.floats(allow_nan=False, allow_infinity=True)), max_size=20))
def test_roundtrip_of_plain_values(items: list[float | str | None]) -> None:
    text = " ".join("_" if v is None else "stale" if v == "stale" else repr(v).replace("inf", "Inf")
                    for v in items)
    parsed = parse_series_values(text)
    assert len(parsed) == len(items)
    for got, want in zip(parsed, items, strict=True):
        if want == "stale":
            assert got is not None and is_stale_marker(got)
        else:
            assert got == want


@settings(max_examples=60, deadline=None)
@given(st.integers(-100, 100), st.integers(-20, 20), st.integers(0, 30))
def test_expansion_matches_definition(start: int, step: int, times: int) -> None:
    sign = "+" if step >= 0 else "-"
    values = parse_series_values(f"{start}{sign}{abs(step)}x{times}")
    assert values == [float(start + k * step) for k in range(times + 1)]
    assert parse_series_values(f"_x{times}") == [None] * times


def _bits(values: Sequence[float | None]) -> list[bytes | None]:
    return [None if v is None else struct.pack("<d", v) for v in values]


@settings(max_examples=100, deadline=None)
@given(st.floats(allow_nan=False, width=64), st.floats(min_value=0, allow_nan=False, width=64),
       st.sampled_from("+-"), st.integers(0, 50))
def test_expansion_is_repeated_addition_bit_for_bit(start: float, step: float, sign: str,
                                                    times: int) -> None:
    # promtool adds the step n times; the expansion must give the same bits (-0.0 included)
    text = f"{start!r}{sign}{step!r}x{times}".replace("inf", "Inf")
    value, delta, want = start, (-step if sign == "-" else step), []
    for _ in range(times + 1):
        want.append(value)
        value += delta
    assert _bits(parse_series_values(text)) == _bits(want)


def test_repeat_without_step_adds_zero_like_promtool() -> None:
    # -0 + 0 is +0: only the first of "-0x2" keeps its sign, as in promtool's loop
    assert _bits(parse_series_values("-0x2")) == _bits([-0.0, 0.0, 0.0])


@settings(max_examples=100, deadline=None)
@given(st.lists(st.one_of(st.none(), st.just(STALE_NAN), st.just(math.nan),
                          st.floats(allow_nan=False)), max_size=40),
       st.integers(-10**6, 10**6), st.integers(1, 10**6))
def test_sample_arrays_keep_every_sample_and_its_bits(values: list[float | None], start: int,
                                                      interval: int) -> None:
    ts, vs = sample_arrays(values, start, interval)
    want = [(start + i * interval, v) for i, v in enumerate(values) if v is not None]
    assert ts.dtype == np.int64 and vs.dtype == np.float64
    assert ts.tolist() == [t for t, _ in want]
    assert _bits(vs.tolist()) == _bits([v for _, v in want])


def test_sample_arrays_refuse_timestamps_beyond_64_bits() -> None:
    with pytest.raises(OverflowError, match="64 bits"):
        sample_arrays([1.0, 2.0], 2**62, 2**62)
