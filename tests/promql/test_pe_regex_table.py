"""Regex semantics table: our RE2 matchers agree with real promtool 2.x and 3.x, row by row.

Each row is a label matcher (or ``label_replace``) pattern and a label value.
The ``expect`` column is the specification for Prometheus 2.x and 3.x
(``True``/``False``: matches or not; a string: the query fails with that Go
error, ``"capture:X"``: ``label_replace``'s ``$1`` is X). Every row is run
through our engine with each semantics against that column, and -- for each
real promtool found (2.42 from Debian stable at /usr/bin, 2.53 and 3.5 unpacked
by ``.ci/fetch-prometheus`` into /work/cache) -- all rows go into one unit-test
file whose expectations are *our engine's* results under that binary's
semantics: promtool passing a row means it agrees with us.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pytest_selfslo.errors import PromQLError
from pytest_selfslo.prometheus import binary_semantics
from pytest_selfslo.promql.engine import Engine
from pytest_selfslo.promql.storage import Storage

PROMTOOLS = {
    "2.42": "/usr/bin/promtool",
    "2.53": "/work/cache/prom-trixie/usr/bin/promtool",
    "3.5": "/work/cache/prom-sid/usr/bin/promtool",
}
MISSING_PAREN = "error parsing regexp: missing closing ): `(a`"


@dataclass(frozen=True)
class Row:
    id: str
    pattern: str
    value: str
    #: Prometheus 2.x and 3.x: True/False (match), "capture:X", or the error text
    v2: Any
    v3: Any
    op: str = "=~"
    #: promtool versions that behave otherwise (documented differences), with the reason
    differs: tuple[tuple[str, str], ...] = ()


def same(rid: str, pattern: str, value: str, result: Any, **kw: Any) -> Row:
    return Row(rid, pattern, value, result, result, **kw)


ROWS = [
    # anchoring: the whole value must match, and $ is the end of the text (not before a \n)
    same("literal", "abc", "abc", True),
    same("anchored-start", "abc", "xabc", False),
    same("anchored-end", "abc", "abcx", False),
    same("substring", "b", "abc", False),
    same("alternation-whole", "a|ab", "ab", True),
    same("explicit-anchors", "^abc$", "abc", True),
    same("dollar-is-end-of-text", "abc$", "abc\n", False),
    same("empty-pattern-empty-value", "", "", True),
    same("empty-pattern-value", "", "a", False),
    same("dot-star-empty", ".*", "", True),
    same("not-regex-anchored", "b", "abc", True, op="!~"),
    # . and newlines: (?s) since 3.0
    Row("dot-newline", "a.b", "a\nb", False, True),
    Row("dot-star-multiline", ".*", "line1\nline2", False, True),
    Row("not-dot-star-multiline", ".*", "line1\nline2", True, False, op="!~"),
    same("dot-newline-off", "(?-s:a.b)", "a\nb", False),
    same("dot-newline-on", "(?s:a.b)", "a\nb", True),
    same("negated-class-newline", "a[^x]b", "a\nb", True),
    same("multiline-caret", "(?m)^b$", "a\nb", False),
    # character classes: Perl classes are ASCII, \p classes Unicode
    same("posix-alpha", "[[:alpha:]]+", "abcXYZ", True),
    same("digits", "\\d+", "0123", True),
    same("digit-is-ascii", "\\d", "\u0663", False),
    same("word-is-ascii", "\\w+", "h\u00e9llo", False),
    same("unicode-letters", "\\pL+", "h\u00e9llo", True),
    same("unicode-script", "\\p{Greek}+", "\u03b1\u03b2\u03b3", True),
    same("range", "[a-c]+", "abcabc", True),
    same("negated-range", "[^a-c]", "d", True),
    same("space-tab", "\\s", "\t", True),
    same("word-boundary", "\\bfoo\\b", "foo", True),
    same("hex-escape", "\\x41\\x{263a}", "A\u263a", True),
    same("escaped-dot", "a\\.b", "axb", False),
    same("text-anchors", "\\Aabc\\z", "abc", True),
    same("bounded-repeat", "a{2,3}", "aaaa", False),
    same("ungreedy-flag", "(?U)a+", "aaa", True),
    # case-insensitive flags
    same("ci-flag", "(?i)abc", "ABC", True),
    same("ci-spans-alternation", "(?i)ABC|x", "abc", True),
    same("ci-midway-off-before", "a(?i)b", "AB", False),
    same("ci-midway-on-after", "a(?i)b", "aB", True),
    same("ci-group-scoped", "(?i:A)b", "aB", False),
    same("ci-group-then-dot-star", "((?i)PRO).*", "production", True),
    same("ci-kelvin-sign", "(?i)k", "\u212a", True),
    same("ci-simple-folding-only", "(?i)stra\u00dfe", "STRASSE", False),
    # what backtracks in Python's re: linear in RE2 (and the right answer)
    same("nested-plus", "(a+)+b", "a" * 40, False),
    same("nested-plus-negated", "(a+)+b", "a" * 40, True, op="!~"),
    # label_replace: $1 of the anchored match; only the anchored form is compiled
    same("capture-leftmost-first", "(a|aa)+", "aaa", "capture:a", op="label_replace"),
    same("capture-optional-group", "(?i)(A)(b)?", "a", "capture:a", op="label_replace"),
    same("capture-injected-group", "a)(b", "ab", "capture:b", op="label_replace"),
    Row("capture-dot-newline", "a(.)b", "a\nb", "capture:", "capture:\n", op="label_replace"),
    same("capture-invalid", "(a", "a", "invalid regular expression in label_replace(): (a",
         op="label_replace"),
    # patterns Go (and RE2) refuse: Go's message
    same("missing-paren", "(a", "a", MISSING_PAREN,
         differs=(("2.42", "2.42 compiles the anchored ^(?:...)$ first, so its message "
                           "quotes `^(?:(a)$`"),)),
    same("unexpected-paren", "a)(b", "ab", "error parsing regexp: unexpected ): `a)(b`"),
    same("lookahead", "(?=x)", "x", "error parsing regexp: invalid or unsupported Perl "
         "syntax: `(?=`"),
    same("backreference", "(a)\\1", "aa", "error parsing regexp: invalid escape sequence: `\\1`"),
    same("repeat-count", "a{1001}", "a", "error parsing regexp: invalid repeat count: `{1001}`"),
    same("nested-repeat", "x**", "x", "error parsing regexp: invalid nested repetition "
         "operator: `**`"),
    same("class-range", "[z-a]", "a", "error parsing regexp: invalid character class range: "
         "`z-a`"),
    same("capital-z", "\\Z", "", "error parsing regexp: invalid escape sequence: `\\Z`"),
    same("any-byte", "\\C", "a", "error parsing regexp: invalid escape sequence: `\\C`"),
    same("missing-argument", "*", "a", "error parsing regexp: missing argument to repetition "
         "operator: `*`"),
    same("trailing-backslash", "a\\", "a", "error parsing regexp: trailing backslash at end of "
         "expression: ``",
         differs=(("2.42", "2.42 compiles the anchored ^(?:a\\)$ first: the backslash escapes "
                           "the ), so its message is missing closing )"),)),
    same("unknown-flag", "(?z)", "a", "error parsing regexp: invalid or unsupported Perl "
         "syntax: `(?z`"),
    same("missing-bracket", "[a", "a", "error parsing regexp: missing closing ]: `[a`",
         differs=(("2.42", "2.42 compiles the anchored ^(?:...)$ first: its message quotes "
                           "`[a)$`"),)),
    same("repeated-repeat", "x{2}{3}", "xx", "error parsing regexp: invalid nested repetition "
         "operator: `{2}{3}`"),
    same("nested-repeat-size", "(a{1000}){1000}", "a", "error parsing regexp: invalid repeat "
         "count: `{1000}`"),
    same("empty-group-name", "(?P<>a)", "a", "error parsing regexp: invalid named capture: "
         "`(?P<>`"),
    same("unknown-posix-class", "[[:foo:]]", "a", "error parsing regexp: invalid character "
         "class range: `[:foo:]`"),
    same("named-group-angle", "(?<n>a)", "a", True,
         differs=(("2.42", "Go before 1.22 (Prometheus 2.42) refuses (?<name>...)"),)),
]


def _quote(text: str) -> str:
    """A PromQL double-quoted string (Go escapes)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") \
        .replace("\t", "\\t") + '"'


def _series(i: int, row: Row) -> str:
    return f"x{{row={_quote(str(i))},v={_quote(row.value)}}}"


def _expr(i: int, row: Row) -> str:
    if row.op == "label_replace":
        return (f"label_replace(x{{row={_quote(str(i))}}}, \"out\", \"$1\", \"v\", "
                f"{_quote(row.pattern)})")
    return f"x{{row={_quote(str(i))},v{row.op}{_quote(row.pattern)}}}"


def _ours(i: int, row: Row, semantics: str) -> tuple[str, Any]:
    """("samples", [(labels, value)]) or ("error", message) from our engine."""
    storage = Storage()
    storage.load(f"{_series(i, row)} 1", 60_000)
    try:
        samples = Engine(storage, semantics=semantics).instant_samples(_expr(i, row), 0)
    except PromQLError as exc:
        return "error", str(exc)
    return "samples", [(dict(s.labels), s.value) for s in samples]


def _verdict(outcome: tuple[str, Any], row: Row) -> Any:
    """Our outcome in the table's terms."""
    kind, data = outcome
    if kind == "error":
        return data
    if row.op == "label_replace":
        assert len(data) == 1, data
        return "capture:" + data[0][0].get("out", "")
    matched = bool(data)
    return matched


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
@pytest.mark.parametrize("semantics", ["2.42", "2.53", "3.5"])
def test_our_engine_follows_the_table(row: Row, semantics: str) -> None:
    i = ROWS.index(row)
    got = _verdict(_ours(i, row, semantics), row)
    expected = row.v2 if semantics.startswith("2.") else row.v3
    if isinstance(expected, str) and not expected.startswith("capture:"):
        assert isinstance(got, str), f"expected the error {expected!r}, got {got!r}"
        assert got.endswith(expected), got
    else:
        assert got == expected


# ----------------------------------------------------------------- against real promtool
def _unit_test_file(semantics: str) -> tuple[str, dict[int, tuple[str, Any]]]:
    """All rows as one promtool unit-test file expecting our engine's results."""
    ours = {i: _ours(i, row, semantics) for i, row in enumerate(ROWS)}
    lines = ["tests:", "- input_series:"]
    lines += [f"  - {{series: {_yaml(_series(i, row))}, values: '1'}}" for i, row in enumerate(ROWS)]
    lines.append("  promql_expr_test:")
    for i, row in enumerate(ROWS):
        kind, data = ours[i]
        lines += [f"  - expr: {_yaml(_expr(i, row))}", "    eval_time: 0m"]
        if kind == "samples" and data:
            lines.append("    exp_samples:")
            for labels, value in data:
                name = labels.pop("__name__", "")
                text = name + "{" + ",".join(f"{k}={_quote(v)}" for k, v in sorted(labels.items())) + "}"
                lines.append(f"    - {{labels: {_yaml(text)}, value: {value!r}}}")
    return "\n".join(lines) + "\n", ours


def _yaml(text: str) -> str:
    """A YAML double-quoted scalar (JSON string syntax, which YAML accepts)."""
    import json

    return json.dumps(text, ensure_ascii=False)


_FAILED_ROW = re.compile(r'^\s+expr: ".*?row=\\"(\d+)\\".*?", time: [^,]*,(?: err: (.*))?$')


def _promtool_results(output: str) -> dict[int, str | None]:
    """Row -> None (promtool reported a mismatch) or its error message, for failed rows."""
    out: dict[int, str | None] = {}
    for line in output.splitlines():
        m = _FAILED_ROW.match(line)
        if m:
            out[int(m.group(1))] = m.group(2)
    return out


@pytest.fixture(scope="module", params=sorted(PROMTOOLS))
def promtool_run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
                 ) -> tuple[str, str, dict[int, tuple[str, Any]], dict[int, str | None]]:
    version = request.param
    binary = PROMTOOLS[version]
    if not Path(binary).exists() or shutil.which(binary) is None:
        pytest.skip(f"promtool {version} not found at {binary} (installed by the Debian "
                    "package, or unpacked by .ci/fetch-prometheus)")
    semantics = binary_semantics(binary)  # "2.42", "2.53", "3.5"
    text, ours = _unit_test_file(semantics)
    path = tmp_path_factory.mktemp(f"regex-{version}") / "regex_test.yml"
    path.write_text(text, encoding="utf-8")
    proc = subprocess.run([binary, "test", "rules", path.name], cwd=path.parent,
                          capture_output=True, text=True, timeout=300)
    output = proc.stdout + proc.stderr
    assert proc.returncode in (0, 1) and ("SUCCESS" in output or "FAILED" in output), output
    return version, semantics, ours, _promtool_results(output)


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
def test_real_promtool_agrees_with_our_engine(row: Row, promtool_run: Any) -> None:
    version, semantics, ours, theirs = promtool_run
    i = ROWS.index(row)
    kind, data = ours[i]
    differs = dict(row.differs).get(version)
    if differs is not None:
        # a documented difference of this version: it must still be one (else drop the note)
        assert i in theirs, f"promtool {version} now agrees with us: {differs}"
        return
    if kind == "error":
        message = theirs.get(i, "<no error: promtool accepted the query>")
        assert message is not None, f"promtool {version} evaluated the query we refuse: {data}"
        go_error = data.split(": ", 2)[-1] if row.op == "label_replace" else \
            data[data.index("error parsing regexp"):]
        assert message.endswith(go_error), (message, data)
    else:
        assert i not in theirs, (f"promtool {version} (semantics {semantics}) disagrees with our "
                                 f"{data}: {theirs[i] or 'different samples'}")
