"""Native histograms: the value model, the series notation and the engine paths that use them.

Expected values are worked out by hand from Prometheus' definitions (bucket
``i`` of schema ``s`` covers ``(2**((i-1)/2**s), 2**(i/2**s)]``) or are
values Prometheus' own test scripts state.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from pytest_selfslo._core.errors import SeriesNotationError
from pytest_selfslo.promql.engine import Engine
from pytest_selfslo.promql.histnotation import parse_histogram
from pytest_selfslo.promql.histogram import (
    COUNTER_RESET,
    GAUGE_TYPE,
    NOT_COUNTER_RESET,
    UNKNOWN_COUNTER_RESET,
    FloatHistogram,
    IncompatibleBoundsError,
    IncompatibleSchemaError,
    avg_histograms,
    bucket_upper_bounds,
    chunk_hints,
    sum_histograms,
)
from pytest_selfslo.promql.nhcb import classic_to_nhcb
from pytest_selfslo.promql.series import parse_series_samples, parse_series_values
from pytest_selfslo.promql.storage import Storage
from pytest_selfslo.promql.values import InstantVector


def h(text: str) -> FloatHistogram:
    return parse_histogram(text)[0]


# --------------------------------------------------------------------------- notation
def test_notation_fields() -> None:
    x, hint_set = parse_histogram("{{schema:1 sum:-0.3 count:32.1 z_bucket:7.1 z_bucket_w:0.05 "
                                  "buckets:[5.1 10 7] offset:-3 n_buckets:[4.1 5] n_offset:-5 "
                                  "counter_reset_hint:gauge}}")
    assert (x.schema, x.sum, x.count, x.zero_count, x.zero_threshold) == (1, -0.3, 32.1, 7.1, 0.05)
    assert (x.pos_offset, x.pos.tolist(), x.neg_offset, x.neg.tolist()) == (-3, [5.1, 10, 7], -5,
                                                                           [4.1, 5])
    assert x.hint == GAUGE_TYPE and hint_set
    y = h("{{schema:-53 sum:1 count:2 custom_values:[0.5 1] buckets:[1 1]}}")
    assert y.uses_custom_buckets and y.custom_values is not None
    assert y.custom_values.tolist() == [0.5, 1.0]
    assert parse_histogram("{{}}")[0].count == 0 and not parse_histogram("{{}}")[1]


def test_expanding_forms() -> None:
    values = parse_series_samples("{{sum:1 count:1 buckets:[1]}}+{{sum:2 count:3 buckets:[1 2]}}x2 "
                                  "_ {{count:5}}x1 {{count:9}}-{{count:2}}x2 3")
    counts = [v.count if isinstance(v, FloatHistogram) else v for v in values]
    assert counts == [1, 4, 7, None, 5, 5, 9, 7, 5, 3.0]
    third = values[2]
    assert isinstance(third, FloatHistogram) and third.pos.tolist() == [3, 4]


def test_expansion_refuses_a_finer_increment() -> None:
    with pytest.raises(SeriesNotationError, match="cannot merge from schema 0 to 1"):
        parse_series_samples("{{schema:1 count:1}}+{{schema:0 count:1}}x2")


@pytest.mark.parametrize(("text", "fragment"), [
    ("1 {{count:1 count:2}}", 'duplicate key "count"'),
    ("{{bogus:1}}", "unknown key 'bogus'"),
    ("{{counter_reset_hint:maybe}}", "counter_reset_hint must be one of"),
    ("{{schema:1.5}}", "not an integer"),
    ("0 {{count:1", "unterminated histogram at column 3"),
    ("{{buckets:[]}}", "list is empty"),
])
def test_notation_errors_name_the_token(text: str, fragment: str) -> None:
    with pytest.raises(SeriesNotationError, match=fragment.replace("(", r"\(")):
        parse_series_samples(text)


def test_float_reader_refuses_histograms() -> None:
    with pytest.raises(SeriesNotationError, match="not allowed here"):
        parse_series_values("1 {{count:1}}")


def test_test_expression_round_trips() -> None:
    text = ("{{schema:1 count:32.1 sum:-0.3 z_bucket:7.1 z_bucket_w:0.05 counter_reset_hint:reset "
            "offset:-3 buckets:[5.1 10 7] n_offset:-5 n_buckets:[4.1 5]}}")
    assert h(text).test_expression() == text
    assert h(text).matches(h(h(text).test_expression()))


def test_go_string_is_prometheus_string() -> None:
    x = h("{{schema:0 sum:5 count:4 z_bucket:1 z_bucket_w:0.001 buckets:[1 2] n_buckets:[1]}}")
    assert x.go_string() == ("{count:4, sum:5, [-1,-0.5):1, [-0.001,0.001]:1, (0.5,1]:1, "
                             "(1,2]:2}")
    nhcb = h("{{schema:-53 sum:5 count:4 custom_values:[1 5] buckets:[1 2 1]}}")
    assert nhcb.go_string() == "{count:4, sum:5, [-Inf,1]:1, (1,5]:2, (5,+Inf]:1}"


# --------------------------------------------------------------------------- arithmetic
def test_bounds() -> None:
    assert bucket_upper_bounds(np.array([-1, 0, 1, 2]), 0).tolist() == [0.5, 1, 2, 4]
    assert bucket_upper_bounds(np.array([1, 2]), -1).tolist() == [4, 16]
    # Prometheus' table: 2**(1/2) / 2 is 0.7071067811865475, one ulp below sqrt(0.5)
    assert bucket_upper_bounds(np.array([1]), 1)[0] == 2 * 0.7071067811865475 != math.sqrt(2)
    # the last finite bucket ends at MaxFloat64, the next one (for +Inf observations) at +Inf
    assert bucket_upper_bounds(np.array([1024 << 1, (1024 << 1) + 1]), 1).tolist() == [
        np.finfo(np.float64).max, math.inf]


@pytest.mark.parametrize(("schema", "j", "bound"), [
    # literals of nativeHistogramBounds / exponentialBounds (model/histogram/generic.go), the
    # bound of bucket j - 2**schema (in [0.5, 1)); several are 1..4 ulp off 2**(j/2**schema)/2
    (2, 1, 0.5946035575013605), (3, 7, 0.9170040432046711), (4, 5, 0.620928906036742),
    (6, 1, 0.5054446430258502), (6, 63, 0.9892280131939752), (7, 11, 0.5306886136446309),
    (8, 1, 0.5013556375251013), (8, 19, 0.526395386502313), (8, 226, 0.9219832844793128),
    (8, 212, 0.8876882462632604), (8, 255, 0.9972960560854698),
])
def test_exponential_bounds_are_prometheus_table(schema: int, j: int, bound: float) -> None:
    ours = bucket_upper_bounds(np.array([j - (1 << schema), j]), schema)
    assert ours.tolist() == [bound, 2 * bound]  # bit for bit, not approx
    assert bucket_upper_bounds(np.array([0, 1, 2]), -53, np.array([1.0, 5.0])).tolist() == [
        1, 5, math.inf]


def test_add_reduces_to_the_coarser_schema() -> None:
    fine = h("{{schema:1 count:4 sum:4 buckets:[1 1 1 1]}}")     # (0.7,1] (1,1.4] (1.4,2] (2,2.8]
    coarse = h("{{schema:0 count:1 sum:1 offset:1 buckets:[1]}}")  # (1,2]
    total, collision, reconciled = fine.add(coarse)
    assert total.schema == 0 and (total.count, total.sum) == (5, 5)
    # schema 1 buckets 0..3 map to schema 0 buckets 0, 1, 1, 2
    assert (total.pos_offset, total.pos.tolist()) == (0, [1, 3, 1])
    assert not collision and not reconciled
    assert coarse.add(fine)[0].matches(total)


def test_add_widens_the_zero_bucket() -> None:
    a = h("{{schema:0 count:3 z_bucket:1 z_bucket_w:0.5 offset:1 buckets:[2]}}")
    b = h("{{schema:0 count:2 z_bucket:1 z_bucket_w:0.001 buckets:[1]}}")  # (0.5,1] stays out
    total = a.add(b)[0]
    assert total.zero_threshold == 0.5 and total.zero_count == 2
    assert (total.pos_offset, total.pos.tolist()) == (0, [1, 2])
    c = h("{{schema:0 count:2 z_bucket:1 z_bucket_w:0.7 buckets:[1]}}")  # threshold inside (0.5,1]
    wide = b.add(c)[0]
    assert wide.zero_threshold == 1 and wide.zero_count == 4 and len(wide.pos) == 0


def test_custom_buckets() -> None:
    a = h("{{schema:-53 count:3 custom_values:[1 2 5] buckets:[1 1 1]}}")
    b = h("{{schema:-53 count:2 custom_values:[1 5] buckets:[1 0 1]}}")
    total, _, reconciled = a.add(b)
    assert reconciled and total.custom_values is not None
    assert total.custom_values.tolist() == [1, 5] and total.pos.tolist() == [2, 2, 1]
    with pytest.raises(IncompatibleBoundsError):
        a.add(b, reconcile=False)
    with pytest.raises(IncompatibleSchemaError):
        a.add(h("{{count:1}}"))


def test_hints_of_sums_and_scaling() -> None:
    r, n = h("{{count:1 counter_reset_hint:reset}}"), h("{{count:1 counter_reset_hint:not_reset}}")
    total, collision, _ = r.add(n)
    assert collision and total.hint == UNKNOWN_COUNTER_RESET
    assert n.add(h("{{count:1 counter_reset_hint:gauge}}"))[0].hint == GAUGE_TYPE
    assert n.mul(-1).hint == GAUGE_TYPE and n.mul(-1, gauge=False).hint == NOT_COUNTER_RESET
    zero = n.div(0)
    assert math.isinf(zero.count) and len(zero.pos) == 0


def test_kahan_sum_keeps_small_counts() -> None:
    parts = [h("{{count:1e16 buckets:[1e16]}}"), h("{{count:1 buckets:[1]}}"),
             h("{{count:-1e16 buckets:[-1e16]}}")]
    assert sum_histograms(parts)[0].count == 1
    assert sum_histograms(parts, kahan=False)[0].count == 0


def _kahan(values: list[float]) -> tuple[float, float]:
    """Kahan-Neumaier sum of ``values`` in order (``kahansum.Inc``): (sum, compensation)."""
    total, comp = values[0], 0.0
    for v in values[1:]:
        t = total + v
        comp += (total - t) + v if abs(total) >= abs(v) else (v - t) + total
        total = t
    return total, comp


def test_avg_divides_sum_and_compensation_separately() -> None:
    """``avg`` of histograms (3.10+): ``sum.Div(n).Add(kahanC.Div(n))``, not ``(sum + c) / n``."""
    values = [3.0, 0.001, 1e16]
    parts = [h(f"{{{{count:{v} sum:{v} buckets:[{v}]}}}}") for v in values]
    total, comp = _kahan(values)
    separately, combined = total / 3 + comp / 3, (total + comp) / 3
    assert separately != combined  # the case tells the two apart
    mean = avg_histograms(parts)[0]
    assert mean.count == mean.sum == mean.pos[0] == separately
    # a NaN sum (no overflow): still the direct mean for the other fields
    nan = avg_histograms([*parts[:2], h("{{count:1e16 sum:NaN buckets:[1e16]}}")])[0]
    assert math.isnan(nan.sum) and nan.count == separately


def test_detect_reset() -> None:
    prev = h("{{count:5 z_bucket:1 buckets:[2 2]}}")
    assert not h("{{count:6 z_bucket:1 buckets:[2 3]}}").detect_reset(prev)
    assert h("{{count:6 z_bucket:1 buckets:[3 1 1]}}").detect_reset(prev)     # a bucket fell
    assert h("{{count:4 buckets:[2 2]}}").detect_reset(prev)                  # the count fell
    assert h("{{schema:1 count:9 buckets:[2 2]}}").detect_reset(prev)        # finer schema
    assert not h("{{schema:-1 count:9 z_bucket:1 buckets:[4 4]}}").detect_reset(prev)
    assert h("{{count:9 counter_reset_hint:reset}}").detect_reset(prev)
    assert not h("{{count:0 counter_reset_hint:not_reset}}").detect_reset(prev)


def test_chunk_hints() -> None:
    seq = [h("{{count:1}}"), h("{{count:2}}"), h("{{count:1}}"), h("{{count:3}}"),
           h("{{count:3 counter_reset_hint:gauge}}")]
    hints = [x.hint for x in chunk_hints(None, seq)]
    assert hints == [UNKNOWN_COUNTER_RESET, NOT_COUNTER_RESET, UNKNOWN_COUNTER_RESET,
                     NOT_COUNTER_RESET, GAUGE_TYPE]


# --------------------------------------------------------------------------- statistics
SINGLE = "{{schema:0 sum:5 count:4 buckets:[1 2 1]}}"   # (0.5,1]:1 (1,2]:2 (2,4]:1


def test_quantile_and_fraction_values_from_promqltest() -> None:
    x = h(SINGLE)
    assert x.quantile(0.5)[0] == pytest.approx(1.414213562373095, rel=1e-15)
    assert x.quantile(1)[0] == 4 and x.quantile(0)[0] == 0.5
    assert x.quantile(-1)[0] == -math.inf and x.quantile(2)[0] == math.inf
    assert x.fraction(1, 2)[0] == 0.5 and x.fraction(0, 8)[0] == 1
    assert math.isnan(h("{{}}").quantile(0.5)[0]) and math.isnan(h("{{}}").fraction(0, 1)[0])
    neg = h("{{schema:0 sum:-5 count:4 n_buckets:[1 2 1]}}")
    assert neg.quantile(0.5)[0] == pytest.approx(-1.414213562373095, rel=1e-15)


def test_quantile_in_custom_buckets_interpolates_linearly() -> None:
    x = h("{{schema:-53 sum:25 count:4 custom_values:[5 10] buckets:[1 2 1]}}")
    assert x.quantile(0.5)[0] == 7.5 and x.fraction(5, 10)[0] == 0.5
    assert x.quantile(0.99)[0] == 10  # the +Inf bucket answers its lower bound


def test_variance() -> None:
    x = h("{{schema:0 sum:6 count:4 buckets:[4]}}")  # all in (0.5,1]: midpoint sqrt(0.5)
    mid = math.sqrt(0.5)
    assert x.variance() == pytest.approx(4 * (mid - 1.5) ** 2 / 4)


# --------------------------------------------------------------------------- engine
@pytest.fixture
def engine() -> Engine:
    store = Storage()
    store.load("h{job=\"a\"} {{schema:0 sum:5 count:4 buckets:[1 2 1]}}+"
               "{{sum:2 count:1 buckets:[1]}}x10\n"
               "f{job=\"a\"} 1+1x10\n"
               "mixed 1 2 {{count:1}} {{count:2}} 5", interval_ms=60_000)
    return Engine(store)


def test_selector_and_samples(engine: Engine) -> None:
    (sample,) = engine.instant_samples("h", 120_000)
    assert isinstance(sample.histogram, FloatHistogram) and sample.histogram.count == 6
    assert sample.histogram.hint == NOT_COUNTER_RESET


def test_rate_of_a_counter_histogram(engine: Engine) -> None:
    out = engine.instant("rate(h[5m])", 600_000)
    assert isinstance(out, InstantVector)
    (s,) = out.series
    assert s.hist is not None
    rate = s.hist[0]
    # one observation per minute into (0.5,1], sum +2 per minute; no extrapolation needed
    assert rate.count == pytest.approx(1 / 60) and rate.sum == pytest.approx(2 / 60)
    assert rate.pos.tolist() == pytest.approx([1 / 60]) and rate.hint == GAUGE_TYPE


def test_operators_and_their_annotations(engine: Engine) -> None:
    assert not engine.instant_samples("h + f", 120_000)
    assert any("incompatible sample types" in a and '"+": histogram + float' in a
               for a in engine.annotations)
    (doubled,) = engine.instant_samples("h * 2", 120_000)
    assert doubled.histogram.count == 12
    assert engine.instant_samples("h == h", 120_000) and not engine.instant_samples("h != h",
                                                                                    120_000)


def test_mixed_floats_and_histograms(engine: Engine) -> None:
    assert not engine.instant_samples("rate(mixed[5m])", 240_000)
    assert any("mix of histograms and floats" in a for a in engine.annotations)
    (count,) = engine.instant_samples("count_over_time(mixed[5m])", 240_000)
    assert count.value == 5
    (flt,) = engine.instant_samples("max_over_time(mixed[5m])", 240_000)
    assert flt.value == 5
    assert any("ignored histograms in a range" in a for a in engine.annotations)
    assert not engine.instant_samples("sum({__name__=~\"h|f\"})", 120_000)
    assert any("mix of histograms and floats for sum aggregation" in a
               for a in engine.annotations)


def test_histogram_functions(engine: Engine) -> None:
    def one(q: str) -> float:
        (s,) = engine.instant_samples(q, 0)
        return s.value
    assert one("histogram_count(h)") == 4 and one("histogram_sum(h)") == 5
    assert one("histogram_avg(h)") == 1.25
    assert one("histogram_quantile(0.5, h)") == pytest.approx(math.sqrt(2))
    assert one("histogram_fraction(1, 2, h)") == 0.5
    assert one("histogram_stddev(h)") == pytest.approx(math.sqrt(one("histogram_stdvar(h)")))


def test_classic_to_nhcb() -> None:
    loaded = [((("__name__", "x_bucket"), ("le", "1")), [0], [1.0]),
              ((("__name__", "x_bucket"), ("le", "5")), [0], [3.0]),
              ((("__name__", "x_bucket"), ("le", "+Inf")), [0], [4.0]),
              ((("__name__", "x_sum"),), [0], [7.5])]
    ((labels, ts, (nhcb,)),) = classic_to_nhcb(loaded)
    assert labels == (("__name__", "x"),) and ts == [0]
    assert nhcb.custom_values is not None and nhcb.custom_values.tolist() == [1, 5]
    assert (nhcb.count, nhcb.sum, nhcb.pos.tolist()) == (4, 7.5, [1, 2, 1])


def test_recorded_reset_hint_survives_storage() -> None:
    store = Storage()
    store.add_histograms({"__name__": "r"}, [0, 60_000], [h("{{count:5}}"), h("{{count:1}}")])
    out = Engine(store).instant_samples("r", 60_000)
    assert out[0].histogram.hint == UNKNOWN_COUNTER_RESET  # a new chunk after the reset
    assert out[0].histogram.detect_reset(h("{{count:5}}"))
    assert COUNTER_RESET != UNKNOWN_COUNTER_RESET

