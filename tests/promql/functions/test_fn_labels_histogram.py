"""label_replace/label_join/sort*/absent and classic histogram_quantile/fraction."""

from __future__ import annotations

import math

import promql_parser
import pytest
from fnhelpers import call, ctx, iseries, ivec, scalar, single, string

from pytest_selfslo._core.errors import PromQLEvalError
from pytest_selfslo._core.goregex import compile_go
from pytest_selfslo.promql.functions.histograms import bucket_quantile, parse_le
from pytest_selfslo.promql.functions.labels import natural_less
from pytest_selfslo.promql.values import InstantVector


def labels_of(out: object) -> list[dict[str, str]]:
    assert isinstance(out, InstantVector)
    return [dict(s.labels) for s in out.series]


@pytest.mark.parametrize(("template", "expected"), [
    ("$1-$2", "a-b"), ("${1}x", "ax"), ("$1x", ""), ("$name", "b"), ("${name}!", "b!"),
    ("$$1", "$1"), ("cost $", "cost $"), ("$9", ""), ("$01", ""), ("${", "${"),
])
def test_expand_template_follows_go_regexp_expand(template: str, expected: str) -> None:
    regex = compile_go(r"(a)-(?P<name>b)")
    groups = regex.groups("a-b")
    assert groups is not None
    assert regex.expand(template, groups) == expected


def test_label_replace_full_match_only_and_empty_value_deletes() -> None:
    vec = ivec(iseries([1], {"__name__": "m", "src": "source-value-10", "dst": "x"}))
    out = call("label_replace", ctx(0), vec, string("dst"), string("v-$1"), string("src"),
               string("source-value-(.*)"))
    assert labels_of(out) == [{"__name__": "m", "src": "source-value-10", "dst": "v-10"}]
    out = call("label_replace", ctx(0), vec, string("dst"), string("v-$1"), string("src"),
               string("value-(.*)"))
    assert labels_of(out)[0]["dst"] == "x"
    out = call("label_replace", ctx(0), vec, string("dst"), string(""), string("dst"),
               string(".*"))
    assert "dst" not in labels_of(out)[0]


def test_label_replace_errors() -> None:
    vec = ivec(iseries([1], {"__name__": "m", "src": "a"}), iseries([2], {"__name__": "m",
                                                                         "src": "b"}))
    with pytest.raises(PromQLEvalError, match=r"^invalid regular expression in label_replace\(\): \(\.\*$"):
        call("label_replace", ctx(0), vec, string("dst"), string("x"), string("src"),
             string("(.*"))
    with pytest.raises(PromQLEvalError, match="same labelset"):
        call("label_replace", ctx(0), vec, string("src"), string(""), string(""), string(""))
    with pytest.raises(PromQLEvalError, match="invalid destination label name"):
        call("label_replace", ctx(0), vec, string(""), string("x"), string("src"), string(".*"))


def test_label_replace_merges_collisions_at_different_steps() -> None:
    vec = ivec(iseries([2, 0], {"idx": "1"}, [True, False]),
               iseries([0, 4], {"idx": "2"}, [False, True]))
    out = call("label_replace", ctx(0, 1), vec, string("idx"), string("r"), string("idx"),
               string(".*"))
    values, present = single(out)
    assert values == [2.0, 4.0] and present == [True, True]


def test_label_replace_on_name_revives_it() -> None:
    s = iseries([1], {"__name__": "m", "a": "b"})
    s.drop_name = True
    out = call("label_replace", ctx(0), ivec(s), string("__name__"), string("n_$1"),
               string("a"), string("(.*)"))
    assert isinstance(out, InstantVector) and not out.series[0].drop_name
    assert dict(out.series[0].labels)["__name__"] == "n_b"


def test_label_join() -> None:
    vec = ivec(iseries([1], {"src": "a", "src1": "b", "src2": "c"}))
    out = call("label_join", ctx(0), vec, string("dst"), string("-"), string("src"),
               string("src1"), string("src2"), string("missing"))
    assert labels_of(out)[0]["dst"] == "a-b-c-"


def test_sort_orders_instant_queries_with_nan_last_and_warns_in_range_queries() -> None:
    vec = ivec(iseries([3], {"a": "3"}), iseries([math.nan], {"a": "n"}), iseries([1], {"a": "1"}))
    assert [d["a"] for d in labels_of(call("sort", ctx(0), vec))] == ["1", "3", "n"]
    assert [d["a"] for d in labels_of(call("sort_desc", ctx(0), vec))] == ["3", "1", "n"]
    c = ctx(0, 60_000)
    call("sort", c, ivec(iseries([1, 2])))
    assert c.annotations == ["PromQL warning: sort is ineffective for range queries since "
                             "results are always ordered by labels"]


def test_sort_by_label_is_natural_and_falls_back_to_all_labels() -> None:
    vec = ivec(iseries([1], {"i": "10", "z": "b"}), iseries([1], {"i": "9", "z": "a"}),
               iseries([1], {"i": "10", "z": "a"}))
    out = call("sort_by_label", ctx(0), vec, string("i"))
    assert [(d["i"], d["z"]) for d in labels_of(out)] == [("9", "a"), ("10", "a"), ("10", "b")]
    out = call("sort_by_label_desc", ctx(0), vec, string("i"))
    assert [(d["i"], d["z"]) for d in labels_of(out)] == [("10", "b"), ("10", "a"), ("9", "a")]
    assert natural_less("host2", "host10") and not natural_less("host10", "host2")


@pytest.mark.parametrize(("query", "expected"), [
    ("absent(nonexistent)", {}),
    ('absent(nonexistent{job="a", instance="b", method=~".x"})', {"job": "a", "instance": "b"}),
    ('absent(nonexistent{job="a",job="b",foo="bar"})', {"foo": "bar"}),
    ('absent(nonexistent{job="a",job=~"b",foo="bar"})', {"foo": "bar"}),
    ('absent(sum(nonexistent{job="a"}))', {}),
])
def test_absent_labels_come_from_equality_matchers(query: str, expected: dict[str, str]) -> None:
    expr = promql_parser.parse(query).args[0]
    out = call("absent", ctx(0), ivec(), exprs=[expr])
    assert labels_of(out) == [expected]
    assert call("absent", ctx(0), ivec(iseries([1])), exprs=[expr]).series == []  # type: ignore[union-attr]


def buckets(*pairs: tuple[str, float], present: list[bool] | None = None) -> InstantVector:
    return ivec(*(iseries([c], {"__name__": "h_bucket", "le": le}, present)
                  for le, c in pairs))


def test_histogram_quantile_interpolates_within_bucket() -> None:
    vec = buckets(("0.1", 10), ("0.5", 30), ("1", 40), ("+Inf", 40))
    got, _ = single(call("histogram_quantile", ctx(0), scalar(0.5), vec))
    assert got == [pytest.approx(0.1 + 0.4 * (20 - 10) / 20)]
    got, _ = single(call("histogram_quantile", ctx(0), scalar(1), vec))
    assert got == [pytest.approx(1.0)]


@pytest.mark.parametrize(("q", "expected"), [(-0.1, -math.inf), (1.1, math.inf), (math.nan, math.nan)])
def test_histogram_quantile_out_of_range_q(q: float, expected: float) -> None:
    c = ctx(0)
    got, _ = single(call("histogram_quantile", c, scalar(q), buckets(("1", 1), ("+Inf", 2))))
    assert got[0] == expected or (math.isnan(expected) and math.isnan(got[0]))
    assert c.annotations and c.annotations[0].startswith("PromQL warning: quantile value")


def test_histogram_quantile_needs_inf_bucket_and_observations() -> None:
    got, _ = single(call("histogram_quantile", ctx(0), scalar(0.5), buckets(("1", 1), ("2", 2))))
    assert math.isnan(got[0])
    got, _ = single(call("histogram_quantile", ctx(0), scalar(0.5), buckets(("1", 0), ("+Inf", 0))))
    assert math.isnan(got[0])


def test_histogram_quantile_forces_monotonicity_and_reports_it() -> None:
    c = ctx(0)
    vec = buckets(("1", 10), ("2", 5), ("+Inf", 10))
    got, _ = single(call("histogram_quantile", c, scalar(0.5), vec))
    assert got == [pytest.approx(0.5)]
    assert any("monotonicity" in a for a in c.annotations)


def test_histogram_quantile_steps_with_different_bucket_sets() -> None:
    vec = ivec(iseries([10, 10], {"le": "1"}), iseries([20, 20], {"le": "+Inf"}),
               iseries([15, 0], {"le": "2"}, [True, False]))
    got, _ = single(call("histogram_quantile", ctx(0, 1), scalar(0.5, 0.5), vec))
    assert got == [pytest.approx(1.0), pytest.approx(1.0)]


def test_histogram_quantile_skips_malformed_le_with_warning() -> None:
    c = ctx(0)
    out = call("histogram_quantile", c, scalar(0.5), buckets(("abc", 1)))
    assert isinstance(out, InstantVector) and out.series == []
    assert c.annotations == ['PromQL warning: bucket label "le" is missing or has a malformed '
                             'value of "abc" for metric name "h_bucket"']


def test_bucket_quantile_coalesces_equal_bounds() -> None:
    import numpy as np
    bounds = np.array([1.0, 1.0, math.inf])
    counts = np.array([[2.0], [3.0], [10.0]])
    result, forced = bucket_quantile(np.array([0.25]), bounds, counts)
    assert result.tolist() == [pytest.approx(0.5)] and not forced


@pytest.mark.parametrize(("text", "expected"), [
    ("1", 1.0), ("+Inf", math.inf), ("1e3", 1000.0), ("0x10", 16.0), (" 1", None), ("1_0", None),
    ("", None), ("abc", None),
])
def test_parse_le(text: str, expected: float | None) -> None:
    assert parse_le(text) == expected


def test_histogram_fraction_on_classic_buckets() -> None:
    vec = buckets(("1", 10), ("2", 30), ("+Inf", 40))
    got, _ = single(call("histogram_fraction", ctx(0), scalar(0), scalar(2), vec))
    assert got == [pytest.approx(0.75)]
    got, _ = single(call("histogram_fraction", ctx(0), scalar(1), scalar(1.5), vec))
    assert got == [pytest.approx(10 / 40)]
    got, _ = single(call("histogram_fraction", ctx(0), scalar(2), scalar(1), vec))
    assert got == [0.0]


def test_label_replace_regex_uses_re2_rules_and_semantics() -> None:
    vec = ivec(iseries([1], {"src": "A\nb"}))
    out = call("label_replace", ctx(0), vec, string("dst"), string("$1"), string("src"),
               string("(?i)a.(B)"))
    assert labels_of(out)[0]["dst"] == "b"  # 3.x: '.' matches a newline
    out = call("label_replace", ctx(0, semantics="2"), vec, string("dst"), string("$1"),
               string("src"), string("(?i)a.(B)"))
    assert "dst" not in labels_of(out)[0]  # 2.x: it does not
    with pytest.raises(PromQLEvalError, match=r"^invalid regular expression in label_replace\(\): \(a\)\\1$"):
        call("label_replace", ctx(0), vec, string("dst"), string("x"), string("src"),
             string(r"(a)\1"))


def test_label_names_follow_the_semantics() -> None:
    vec = ivec(iseries([1], {"src": "a"}))
    out = call("label_replace", ctx(0), vec, string("dst-name"), string("x"), string("src"),
               string(".*"))
    assert labels_of(out)[0]["dst-name"] == "x"  # Prometheus 3: any UTF-8 name
    with pytest.raises(PromQLEvalError,
                       match=r"invalid destination label name in label_replace\(\): dst-name"):
        call("label_replace", ctx(0, semantics="2"), vec, string("dst-name"), string("x"),
             string("src"), string(".*"))
    with pytest.raises(PromQLEvalError, match=r"invalid source label name in label_join\(\): 1a"):
        call("label_join", ctx(0, semantics="2"), vec, string("dst"), string("-"), string("1a"))


def test_histogram_fraction_ignores_classic_buckets_in_semantics_2() -> None:
    vec = buckets(("1", 10), ("+Inf", 40))
    out = call("histogram_fraction", ctx(0, semantics="2"), scalar(0), scalar(1), vec)
    assert isinstance(out, InstantVector) and out.series == []


def test_histogram_quantile_small_deltas_are_ironed_out_since_2_49() -> None:
    # bucket le=3 exceeds le=2 by float noise (1e-11 on 10): Prometheus 2.49+ flattens it, so
    # the rank just above 10 lands in the +Inf bucket (-> 3); 2.42 interpolates inside le=3.
    vec = buckets(("1", 5), ("2", 10), ("3", 10 + 1e-11), ("+Inf", 20))
    q = (10 + 5e-12) / 20
    v3, _ = single(call("histogram_quantile", ctx(0), scalar(q), vec))
    v253, _ = single(call("histogram_quantile", ctx(0, semantics="2.53"), scalar(q), vec))
    v242, _ = single(call("histogram_quantile", ctx(0, semantics="2.42"), scalar(q), vec))
    assert v3 == v253 == [3.0]
    assert v242 == [pytest.approx(2.5, abs=0.05)]


def test_histogram_quantiles_labels_each_quantile() -> None:
    vec = buckets(("0.1", 10), ("0.5", 30), ("1", 40), ("+Inf", 40))
    out = call("histogram_quantiles", ctx(0), vec, string("q"), scalar(0.5), scalar(1))
    assert isinstance(out, InstantVector)
    got = {dict(s.labels)["q"]: float(s.values[0]) for s in out.series}
    assert got == {"0.5": pytest.approx(0.3), "1.0": pytest.approx(1.0)}
    assert all(s.drop_name for s in out.series)


@pytest.mark.parametrize(("value", "text"), [
    (1.0, "1.0"), (0.0, "0.0"), (-0.0, "0.0"), (0.25, "0.25"), (2.0, "2.0"), (1e6, "1e+06"),
    (math.nan, "NaN"), (math.inf, "+Inf"), (-math.inf, "-Inf"),
])
def test_openmetrics_float(value: float, text: str) -> None:
    from pytest_selfslo.promql.functions.histograms import openmetrics_float
    assert openmetrics_float(value) == text
