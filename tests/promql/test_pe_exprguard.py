"""PromQL size limits checked before parsing (exprguard), and the budgets (limits)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from pytest_selfslo._core.limits import DEFAULT_LIMITS, Limits, read_head, read_limited_text
from pytest_selfslo.errors import LimitError, PromQLParseError, SeriesNotationError
from pytest_selfslo.promql.engine import Engine, parse_expr
from pytest_selfslo.promql.exprguard import (
    MAX_LENGTH,
    MAX_NESTING,
    MAX_OPERATORS,
    check_expr,
    ensure_recursion,
)
from pytest_selfslo.promql.series import (
    check_series_values,
    count_series_values,
    parse_series_values,
)
from pytest_selfslo.promql.storage import Storage


@pytest.mark.parametrize("text", [
    "(" * MAX_NESTING + "up" + ")" * MAX_NESTING,
    " + ".join(["up"] * (MAX_OPERATORS + 1)),
    "-" * MAX_OPERATORS + "1",
    'up{a="' + "x" * (MAX_LENGTH - 8) + '"}',
    # brackets and operators inside strings and comments do not count
    'up{a="' + "(" * 1000 + '"} + on() vector(1)',
    "up # " + "(" * 1000 + "+" * 1000 + "\n + 1",
    "`" + "((((-" * 300 + "`",
    # matcher operators inside braces are not PromQL operators
    "up{" + ",".join(f'l{i}=~"a",m{i}!="b"' for i in range(400)) + "}",
    # identifiers that contain and/or/unless
    " + ".join(["error_or_unless_and_total"] * 200),
])
def test_accepts_up_to_the_limits(text: str) -> None:
    bound = check_expr(text)
    assert bound >= 1
    parse_expr(text)  # and the parser copes


@pytest.mark.parametrize(("text", "message"), [
    ("(" * (MAX_NESTING + 1) + "up" + ")" * (MAX_NESTING + 1),
     "nests more than 128 brackets deep; the limit is 128"),
    ("sum(" * (MAX_NESTING + 1) + "up" + ")" * (MAX_NESTING + 1), "nests more than 128"),
    ("x[5m:1m]" + "[" * 200, "nests more than 128"),
    (" + ".join(["up"] * (MAX_OPERATORS + 2)), "has 501 operators; the limit is 500"),
    (" or ".join(["up"] * (MAX_OPERATORS + 2)), "has 501 operators"),
    ("-" * (MAX_OPERATORS + 1) + "1", "has 501 operators"),
    ("1 " + "== bool 1 " * (MAX_OPERATORS + 1), "has 501 operators"),
    ("x" * (MAX_LENGTH + 1), "is 262,145 characters long; the limit is 262,144"),
    # an unterminated string runs to the end: what follows it cannot hide brackets
    ('up + "' + "(" * 1000, None),
])
def test_refuses_past_the_limits_with_a_position(text: str, message: str | None) -> None:
    if message is None:
        check_expr(text)  # everything after the quote is string content
        return
    with pytest.raises(LimitError) as info:
        check_expr(text, "rules.yml:5:11")
    assert str(info.value).startswith("rules.yml:5:11: PromQL expression ")
    assert message in str(info.value)
    assert str(info.value).endswith("(see docs/limits.md)")


def test_limit_error_is_not_a_parse_error() -> None:
    """Code that turns parse errors into findings or failed tests must let it through."""
    with pytest.raises(LimitError) as info:
        parse_expr("(" * 1000 + "up" + ")" * 1000)
    assert not isinstance(info.value, (ValueError, PromQLParseError))


def test_the_bound_covers_the_syntax_tree_and_the_recursion_limit_follows() -> None:
    deep = "(" * MAX_NESTING + " + ".join(["up"] * 300) + ")" * MAX_NESTING
    bound = check_expr(deep)
    assert bound >= MAX_NESTING + 299
    before = sys.getrecursionlimit()
    ensure_recursion(10)
    assert sys.getrecursionlimit() == before  # shallow: untouched
    ensure_recursion(bound)
    assert sys.getrecursionlimit() >= max(before, 4 * bound)
    storage = Storage()
    storage.load("up 2", 60_000)
    [sample] = Engine(storage).instant_samples(deep, 0)
    assert sample.value == 600.0


def test_limits_validate_and_name_their_options() -> None:
    assert Limits() == DEFAULT_LIMITS
    for bad in (0, -1, 1.5, True, "10"):
        with pytest.raises(ValueError, match="max_steps must be a positive integer"):
            Limits(max_steps=bad)  # type: ignore[arg-type]
    with pytest.raises(LimitError) as info:
        Limits(max_samples=5).check("max_samples", 6, "input samples", "t.yml:3:4")
    assert str(info.value) == (
        "t.yml:3:4: 6 input samples exceed the limit max_samples=5 (raise it with selfslo "
        "test-rules --max-samples, pytest --self-slo-max-samples or the ini key "
        "selfslo_max_samples)")
    Limits(max_samples=5).check("max_samples", 5, "input samples")  # at the limit: fine


def test_read_limited_text_refuses_devices_fifos_and_big_files(tmp_path: Path) -> None:
    small = tmp_path / "r.yml"
    small.write_text("groups: []\n", encoding="utf-8")
    assert read_limited_text(small, "rule file") == "groups: []\n"
    with pytest.raises(LimitError, match=r"11 bytes in rule file .* exceed the limit "
                                         r"max_file_bytes=10 .*--max-file-bytes"):
        read_limited_text(small, "rule file", Limits(max_file_bytes=10))
    with pytest.raises(LimitError, match=r"^/dev/zero: is a character device, expected a "
                                         r"regular file$"):
        read_limited_text("/dev/zero", "rule file")
    fifo = tmp_path / "fifo.yml"
    os.mkfifo(fifo)
    with pytest.raises(LimitError, match=r"is a FIFO \(named pipe\), expected a regular file"):
        read_limited_text(fifo, "rule file")  # and returns at once: no writer needed
    with pytest.raises(IsADirectoryError):
        read_limited_text(tmp_path, "rule file")
    assert read_head(small, 6) == "groups"
    assert read_head(fifo, 6) is None and read_head("/dev/zero", 6) is None
    assert read_head(tmp_path, 6) is None and read_head(tmp_path / "missing.yml", 6) is None
    with pytest.raises(FileNotFoundError):
        read_limited_text(tmp_path / "missing.yml", "rule file")


@pytest.mark.parametrize("text", ["1+2x2 _ stale _x3", "0+1x10", "_x5", "stale", "1 2 3",
                                  "1x0", "_x0", "-1-2x4", "Inf NaN -Inf", "1e3+2e-1x4", ""])
def test_counting_series_values_agrees_with_expanding_them(text: str) -> None:
    assert count_series_values(text) == len(parse_series_values(text))
    assert check_series_values(text) == len(parse_series_values(text))


def test_counting_and_checking_do_not_expand() -> None:
    assert count_series_values("0+1x10000000 " * 8) == 80_000_008  # instant, no memory
    assert check_series_values("0+1x10000000 " * 8) == 80_000_008
    with pytest.raises(SeriesNotationError, match="token 'abc' at column 3"):
        check_series_values("0 abc 2")


def test_storage_and_engine_apply_the_sample_and_step_budgets() -> None:
    limits = Limits(max_samples=10, max_steps=5)
    storage = Storage(limits)
    storage.load("a 1 2 3 4 5", 60_000)
    with pytest.raises(LimitError, match="11 loaded samples exceed the limit max_samples=10"):
        storage.load("b 0+1x5", 60_000)
    storage.clear()
    storage.load("c 0+1x9", 60_000)  # the budget counts what is loaded now
    engine = Engine(storage, limits=limits)
    assert len(engine.range_samples("c", 0, 240_000, 60_000)) == 5
    with pytest.raises(LimitError, match="6 range query steps exceed the limit max_steps=5"):
        engine.range("c", 0, 300_000, 60_000)
