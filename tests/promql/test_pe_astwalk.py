"""AST walking helpers used by the promqltest runner."""

from __future__ import annotations

import promql_parser

from pytest_selfslo.promql.astwalk import at_unsafe, calls, selectors, unimplemented_experimental


def test_selectors_and_calls_found_everywhere() -> None:
    node = promql_parser.parse(
        'sum by (a) (rate(x{j="1"}[5m])) / on(a) group_left max_over_time((y + z)[10m:1m])')
    assert sorted(s.name for s in selectors(node)) == ["x", "y", "z"]
    assert sorted(c.func.name for c in calls(node)) == ["max_over_time", "rate"]


def test_at_unsafe() -> None:
    assert at_unsafe(promql_parser.parse("x + time()"))
    assert at_unsafe(promql_parser.parse("timestamp(x)"))
    assert not at_unsafe(promql_parser.parse("rate(x[5m])"))


def test_unimplemented_experimental_is_reported_by_name() -> None:
    node = promql_parser.parse("abs(mad_over_time(x[5m]))")
    assert unimplemented_experimental(node, table={"abs": None}) == "mad_over_time"
    assert unimplemented_experimental(node, table={"abs": None, "mad_over_time": None}) is None
    # abs is stable: never reported even when missing
    assert unimplemented_experimental(promql_parser.parse("abs(x)"), table={}) is None
