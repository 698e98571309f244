"""The promqltest runner itself: pass, fail and skip decisions on small scripts."""

from __future__ import annotations

import math

import pytest

from pytest_selfslo.promql.values import STALE_NAN
from pytest_selfslo.ruletest.promqltest import (
    PromQLTestScriptError,
    almost_equal,
    run_promqltest_text,
)

SCRIPT = """
load 1m
    x{a="1"} 1+1x5
    x{a="2"} 10 _ stale
    h {{schema:0 sum:1 count:1 buckets:[1]}}+{{sum:2 count:1 buckets:[1]}}x2

# passes
eval instant at 2m x
    x{a="1"} 3

# wrong value: fails
eval instant at 2m x{a="1"}
    x{a="1"} 4

eval range from 0 to 2m step 1m x
    x{a="1"} 1 2 3
    x{a="2"} 10 10 _

eval instant at 1m x + on() x
    expect fail

eval instant at 0m 1 + 1
    2

eval instant at 0m "s"
    expect string "s"

eval instant at 1m x{a="1"}[1m]
    expect range vector from 1m to 1m step 1m
    x{a="1"} 2

eval instant at 1m h
    h {{sum:3 count:2 buckets:[2]}}

eval instant at 1m histogram_count(h)
    {} 2

eval instant at 2m h
    h {{sum:3 count:2 buckets:[2]}}
"""


def test_runner_decisions() -> None:
    result = run_promqltest_text(SCRIPT, "t.test")
    statuses = [(o.line, o.status) for o in result.outcomes]
    assert [s for _, s in statuses] == ["pass", "fail", "pass", "pass", "pass", "pass", "pass",
                                        "pass", "pass", "fail"]
    failing = result.outcomes[1]
    assert "expected 4.0 for x{a=\"1\"} but got 3.0" in failing.message
    assert ("expected {{count:2 sum:3 buckets:[2]}} for h but got "
            "{{count:3 sum:5 counter_reset_hint:not_reset buckets:[3]}}") in result.outcomes[-1].message
    assert result.summary() == "t.test: 8 passed, 2 failed, 0 skipped (80.0% of non-skipped)"


def test_expect_fail_message_is_checked() -> None:
    script = """
load 1m
    x{a="1"} 1
    y{a="1"} 1
    y{a="1",b="2"} 1

eval instant at 0m x + on(a) y
    expect fail msg: many-to-many matching not allowed

eval instant at 0m x + on(a) y
    expect fail msg: something else
"""
    result = run_promqltest_text(script)
    assert [o.status for o in result.outcomes] == ["pass", "fail"]
    assert "expected error message 'something else'" in result.outcomes[1].message


def test_bad_scripts() -> None:
    with pytest.raises(PromQLTestScriptError, match="invalid command"):
        run_promqltest_text("lod 1m\n")
    with pytest.raises(PromQLTestScriptError, match="invalid load step"):
        run_promqltest_text("load 1x\n  x 1\n")


def test_almost_equal() -> None:
    assert almost_equal(1.0, 1.0 + 1e-9)
    assert not almost_equal(1.0, 1.001)
    assert almost_equal(math.nan, math.nan)
    assert not almost_equal(STALE_NAN, math.nan)
    assert almost_equal(STALE_NAN, STALE_NAN)
    assert not almost_equal(0.0, 1e-300)


@pytest.mark.parametrize(
    ("script", "fragment"),
    [
        ("load 1m\n  x{a= 1\n", "s.test:2: invalid series"),
        ("load 1m\n  x 1 2 oops\n", "s.test:2: invalid series values"),
        ("eval instant at 1q x\n", "s.test:1: invalid eval time '1q'"),
        ("eval range from 0 to 1m step 0s5 x\n", "s.test:1: invalid range step"),
        ("eval instant at 0 x\n  expect sometimes\n", "s.test:2: invalid expect line"),
        ("eval instant at 0 x\n  x{ 1\n", "s.test:2: invalid series"),
        ("eval instant at 0 x[1m]\n  expect range vector 0 1m\n", "s.test:2: invalid range vector"),
    ],
)
def test_script_errors_name_file_and_line(script: str, fragment: str) -> None:
    with pytest.raises(PromQLTestScriptError) as info:
        run_promqltest_text(script, "s.test")
    assert fragment in str(info.value)


def test_annotation_expectations() -> None:
    script = """
load 1m
    g 1 2 3
    c_total 1 2 3

eval instant at 2m rate(g[5m])
    expect info msg: PromQL info: metric might not be a counter, name does not end in _total/_sum/_count/_bucket: "g" (1:6)
    {} 0.008333333333333333

eval instant at 2m rate(g[5m])
    expect info regex: might not be a counter
    {} 0.008333333333333333

eval instant at 2m rate(g[5m])
    expect info msg: PromQL info: something else
    {} 0.008333333333333333

eval instant at 2m rate(g[5m])
    expect no_info
    {} 0.008333333333333333

eval instant at 2m rate(c_total[5m])
    expect info
    {} 0.008333333333333333

eval range from 0 to 1m step 1m sort(c_total)
    expect warn
    c_total 1 2
"""
    result = run_promqltest_text(script)
    assert [o.status for o in result.outcomes] == ["pass", "pass", "fail", "fail", "fail", "pass"]
    assert "expected info msg 'PromQL info: something else'" in result.outcomes[2].message
    assert "got none" in result.outcomes[4].message
    assert "expected no info annotation" in result.outcomes[3].message
