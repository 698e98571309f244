"""Go regexps on RE2: matching, replacing, expanding and Go's error messages."""

from __future__ import annotations

import pytest

from pytest_selfslo._core.goregex import (
    GoRegexError,
    compile_go,
    go_parse_error,
    label_replace_regex,
    matcher_regex,
    must_compile_message,
)


@pytest.mark.parametrize(("pattern", "text", "repl", "expected"), [
    ("a*", "baaac", "X", "XbXcX"),  # Go: no empty match right after a match (Python: XbXXcX)
    ("", "h\u00e9!", "-", "-h-\u00e9-!-"),  # empty matches step whole UTF-8 characters
    ("(\\w+)@(?P<host>\\w+)", "x ann@web y", "${host}:$1", "x web:ann y"),
    ("o", "foo", "$$", "f$$"),
    ("(a)|b", "ab", "[$1]", "[a][]"),
])
def test_replace_all_is_gos(pattern: str, text: str, repl: str, expected: str) -> None:
    assert compile_go(pattern).replace_all(text, repl) == expected


def test_search_is_unanchored_and_fullmatch_anchored() -> None:
    regex = compile_go("b+")
    assert regex.search("abbc") and not regex.fullmatch("abbc") and regex.fullmatch("bb")
    assert not regex.search("xyz")


def test_matcher_fullmatch_remembers_answers_and_stays_right() -> None:
    regex = matcher_regex("api|web")
    for _ in range(3):
        assert regex.fullmatch("api") and not regex.fullmatch("apiary")
    assert regex.fullmatch("\ud800") is False  # a lone surrogate: no crash


def test_groups_and_group_names() -> None:
    regex = label_replace_regex("(?P<a>x)(y)?")
    assert regex.groups("x") == ("x", "x", None)
    assert regex.groups("xz") is None
    assert regex.group_names == {"a": 1} and regex.group_count == 2


def test_compiled_patterns_are_cached() -> None:
    assert matcher_regex("cache-me") is matcher_regex("cache-me")
    assert matcher_regex("cache-me", dotall=False) is not matcher_regex("cache-me")


@pytest.mark.parametrize(("pattern", "message"), [
    ("(a", "missing closing ): `(a`"),
    ("a)", "unexpected ): `a)`"),
    ("[a", "missing closing ]: `[a`"),
    ("(?=a)", "invalid or unsupported Perl syntax: `(?=`"),
    ("a{1001}", "invalid repeat count: `{1001}`"),
    ("(a{1000}){1000}", "invalid repeat count: `{1000}`"),
    ("x{2}{3}", "invalid nested repetition operator: `{2}{3}`"),
    ("*", "missing argument to repetition operator: `*`"),
    ("\\8", "invalid escape sequence: `\\8`"),
    ("\\C", "invalid escape sequence: `\\C`"),
    ("[[:foo:]]", "invalid character class range: `[:foo:]`"),
    ("(?P<>a)", "invalid named capture: `(?P<>`"),
    ("a\\", "trailing backslash at end of expression: ``"),
])
def test_errors_are_worded_like_go(pattern: str, message: str) -> None:
    with pytest.raises(GoRegexError) as info:
        compile_go(pattern)
    assert str(info.value) == f"error parsing regexp: {message}"


def test_matchers_check_the_pattern_alone_but_label_replace_does_not() -> None:
    with pytest.raises(GoRegexError, match="unexpected \\): `a\\)\\(b`"):
        matcher_regex("a)(b")
    assert label_replace_regex("a)(b").groups("ab") == ("ab", "b")


def test_must_compile_and_parser_messages() -> None:
    error = GoRegexError("error parsing regexp: missing closing ): `(`")
    assert must_compile_message("(", error) == \
        "regexp: Compile(`(`): error parsing regexp: missing closing ): `(`"
    assert must_compile_message("`(", error).startswith('regexp: Compile("`("): ')
    assert go_parse_error("illegal regex for (a") == "error parsing regexp: missing closing ): `(a`"
    assert "Prometheus accepts it" in go_parse_error("illegal regex for \\Qa\\E")
    assert go_parse_error("unexpected token") == "unexpected token"
