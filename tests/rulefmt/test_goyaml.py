"""The one positioned YAML reader: Go's scalars, merge keys, duplicates and hostile input.

Verdicts against real promtool live in ``test_yaml_dialect.py``; here are the
reader's own rules, and the limits that keep a YAML bomb or a deeply nested
file from hanging, eating memory or raising ``RecursionError`` in every
consumer (rule files, promtool test files, the SLO spec, canary policies).
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from pytest_selfslo._core.errors import PolicyError, RuleTestFileError, SLOSpecError
from pytest_selfslo._core.safeio import FileTooLargeError, NotRegularFileError
from pytest_selfslo.canary.policy import load_policy
from pytest_selfslo.rulefmt import goyaml
from pytest_selfslo.rulefmt.goyaml import (
    Reader,
    YamlLimitError,
    compose,
    compose_all,
    compose_text,
    read_document,
    resolve,
)
from pytest_selfslo.rulefmt.rulefile import check_rule_text
from pytest_selfslo.rulefmt.testfile import parse_test_text
from pytest_selfslo.slo.spec import load_slo_spec

ROOT = Path(__file__).resolve().parents[2]
BOMB = "".join(
    f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10) if i else ', '.join(['x'] * 10)}]\n"
    for i in range(9))


def _scalar(text: str, dialect: goyaml.Dialect) -> tuple[str, Any]:
    root = compose_text(f"k: {text}\n", "t.yml")
    assert root is not None
    return resolve(root.value[0][1], dialect)


@pytest.mark.parametrize(("text", "v2", "v3"), [
    ("6E-01", ("!!float", 0.6), ("!!float", 0.6)),
    ("8E-1", ("!!float", 0.8), ("!!float", 0.8)),
    ("yes", ("!!bool", True), ("!!str", "yes")),
    ("off", ("!!bool", False), ("!!str", "off")),
    ("True", ("!!bool", True), ("!!bool", True)),
    ("0o17", ("!!int", 15), ("!!int", 15)),
    ("017", ("!!int", 15), ("!!int", 15)),
    ("08", ("!!float", 8.0), ("!!float", 8.0)),
    ("0x1F", ("!!int", 31), ("!!int", 31)),
    ("-0x10", ("!!int", -16), ("!!int", -16)),
    ("0b101", ("!!int", 5), ("!!int", 5)),
    ("1_000", ("!!int", 1000), ("!!int", 1000)),
    ("1_0.5", ("!!float", 10.5), ("!!float", 10.5)),
    (".5", ("!!float", 0.5), ("!!float", 0.5)),
    ("+1", ("!!int", 1), ("!!int", 1)),
    ("18446744073709551615", ("!!int", 2**64 - 1), ("!!int", 2**64 - 1)),
    ("1e400", ("!!str", "1e400"), ("!!str", "1e400")),
    (".inf", ("!!float", math.inf), ("!!float", math.inf)),
    ("-.Inf", ("!!float", -math.inf), ("!!float", -math.inf)),
    ("inf", ("!!str", "inf"), ("!!str", "inf")),
    ("1:30", ("!!str", "1:30"), ("!!str", "1:30")),
    ("~", ("!!null", None), ("!!null", None)),
    ("Null", ("!!null", None), ("!!null", None)),
    ("2001-12-14", ("!!timestamp", "2001-12-14"), ("!!timestamp", "2001-12-14")),
    ("2001-12-14t21:59:43.10-05:00", ("!!timestamp", "2001-12-14t21:59:43.10-05:00"),
     ("!!timestamp", "2001-12-14t21:59:43.10-05:00")),
    ("'1'", ("!!str", "1"), ("!!str", "1")),
    ("!!str 1", ("!!str", "1"), ("!!str", "1")),
    ("!!float 1", ("!!float", 1.0), ("!!float", 1.0)),
    ("5m", ("!!str", "5m"), ("!!str", "5m")),
])
def test_scalars_resolve_as_go_does(text: str, v2: tuple[str, Any], v3: tuple[str, Any]) -> None:
    assert _scalar(text, "v2") == v2
    assert _scalar(text, "v3") == v3


def test_nan_resolves_to_a_float_nan() -> None:
    tag, value = _scalar(".NaN", "v3")
    assert tag == "!!float" and math.isnan(value)


def test_an_impossible_explicit_tag_is_a_problem() -> None:
    with pytest.raises(ValueError, match=r"cannot decode !!float `1.5` as a !!int"):
        _scalar("!!int 1.5", "v3")


MERGES = """\
base: &base {a: 1, b: 2}
other: &other {b: 3, c: 4}
explicit_last: {<<: *base, a: 9}
explicit_first: {a: 9, <<: *base}
listed: {<<: [*base, *other]}
"""


def _entries(dialect: goyaml.Dialect, key: str) -> tuple[dict[str, tuple[str, int]], list[str]]:
    root = compose_text(MERGES, "m.yml")
    assert root is not None
    node = dict((k.value, v) for k, v in root.value)[key]
    reader = Reader("m.yml", dialect)
    got = {text: (value.deref.value, value.deref.line)
           for text, _k, value in reader.entries(node, key, struct=True)}
    return got, [str(p) for p in reader.problems]


def test_v3_merges_explicit_keys_win_then_the_first_map() -> None:
    assert _entries("v3", "explicit_last")[0] == {"a": ("9", 3), "b": ("2", 1)}
    assert _entries("v3", "explicit_first")[0] == {"a": ("9", 4), "b": ("2", 1)}
    assert _entries("v3", "listed")[0] == {"a": ("1", 1), "b": ("2", 1), "c": ("4", 2)}


def test_v2_merges_apply_in_document_order() -> None:
    assert _entries("v2", "explicit_last")[0]["a"] == ("9", 3)
    assert _entries("v2", "explicit_first")[0]["a"] == ("1", 1)  # the later merge wins
    assert _entries("v2", "listed")[0]["b"] == ("2", 1)          # earlier list items win


def test_a_merge_that_brings_an_unknown_field_is_named_where_the_field_is() -> None:
    text = textwrap.dedent("""\
        groups:
          - name: g
            rules:
              - alert: A
                <<: &common
                  for: 5m
                  sevrity: page
                expr: up == 0
        """)
    problems = check_rule_text(text, "r.yml")
    assert [str(p) for p in problems] == [
        "r.yml:7:11: group 'g', rule 1: field 'sevrity' not found (expected one of: record, "
        "alert, expr, for, keep_firing_for, labels, annotations)"]


def test_duplicate_keys_are_errors_in_both_dialects() -> None:
    rules = "groups:\n  - name: g\n    rules:\n      - {alert: A, expr: up, expr: down}\n"
    assert [p.message for p in check_rule_text(rules, "r.yml")] == [
        "group 'g', rule 1: mapping key 'expr' already defined at line 4"]
    with pytest.raises(RuleTestFileError, match=r"t.yml:2:1: test file: field 'tests' already "
                                                r"set in this mapping"):
        parse_test_text("tests: []\ntests: []\n", "t.yml")


def test_each_problem_is_reported_once_in_file_order(tmp_path: Path) -> None:
    """A merged unknown key is one problem, however often it is merged."""
    text = textwrap.dedent("""\
        tests:
          - interval: 1m
            input_series:
              - &s {series: 'up{job="a"}', values: "1 1", colour: red}
              - <<: *s
                series: 'up{job="b"}'
              - <<: *s
                series: 'up{job="c"}'
            promql_expr_test:
              - {expr: up, eval_time: 1m, bogus: 1}
        """)
    with pytest.raises(RuleTestFileError) as exc:
        parse_test_text(text, str(tmp_path / "t.yml"))
    lines = str(exc.value).splitlines()
    assert [line.split(": ", 1)[0].rsplit(":", 2)[1] for line in lines] == ["4", "10"]
    assert "field 'colour' not found" in lines[0] and "field 'bogus' not found" in lines[1]


# ---------------------------------------------------------------- hostile input
def test_billion_laughs_is_refused_at_the_alias() -> None:
    root, problem = compose(BOMB + "groups: []\n", "bomb.yml")
    assert root is None and problem is not None
    assert str(problem).startswith("bomb.yml:4:10: ")  # *a2 in the a3 line
    assert "excessive aliasing" in problem.message and "MAX_ALIAS_EXPANSION" in problem.message


@pytest.mark.parametrize("depth", [1_001, 100_000])
def test_deep_nesting_is_refused_without_recursion(depth: int) -> None:
    flow = "k: " + "[" * depth + "]" * depth + "\n"
    with pytest.raises(YamlLimitError, match=r"^deep.yml:1:\d+: nesting deeper than 1000 levels "
                                             r"\(MAX_DEPTH\)$"):
        compose_text(flow, "deep.yml")
    block = "".join(" " * i + "a:\n" for i in range(depth if depth < 5000 else 5000))
    with pytest.raises(YamlLimitError, match="MAX_DEPTH"):
        compose_text(block, "deep.yml")


def test_nesting_up_to_the_limit_is_fine() -> None:
    depth = goyaml.MAX_DEPTH
    root = compose_text("[" * depth + "]" * depth, "ok.yml")
    assert root is not None and root.kind == goyaml.SEQUENCE


def test_a_document_over_the_size_limit_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(goyaml, "MAX_DOCUMENT_BYTES", 100)
    root, problem = compose("k: " + "x" * 200, "big.yml")
    assert root is None and problem is not None
    assert str(problem) == ("big.yml:1:1: the document is larger than 100 bytes "
                            "(MAX_DOCUMENT_BYTES)")


def test_recursive_and_unknown_anchors_are_one_line_errors() -> None:
    assert str(compose("a: &r [*r]\n", "r.yml")[1]) == "r.yml:1:8: anchor 'r' value contains itself"
    assert str(compose("a: *nope\n", "r.yml")[1]) == "r.yml:1:4: unknown anchor 'nope' referenced"


def test_only_the_first_document_is_read() -> None:
    root = compose_text("a: 1\n---\nb: [unclosed\n", "two.yml")
    assert root is not None and [k.value for k, _v in root.value] == ["a"]


def test_compose_all_reads_every_document_with_its_positions() -> None:
    text = "a: 1\n---\n# c\nb:\n  - x\n...\n---\n--- |\n  lit\n"
    docs, problem = compose_all(text, "s.yml")
    assert problem is None and len(docs) == 4
    first, second, empty, literal = docs
    assert first is not None and (first.line, first.stop_line, first.stop_column) == (1, 1, 0)
    assert second is not None and [(k.value, k.line, k.column) for k, _v in second.value] == \
        [("b", 4, 1)]
    items = second.value[0][1]
    # a block sequence ends where the next token starts: 0-based line 5 (the "..."), column 0
    assert (items.line, items.column, items.stop_line, items.stop_column) == (5, 3, 5, 0)
    assert empty is not None and empty.value == ""  # an empty document is a null scalar
    assert literal is not None and literal.style == "|" and literal.value == "lit\n"
    assert (literal.line, literal.stop_line, literal.stop_column) == (8, 9, 0)
    assert compose_all("", "e.yml") == ([], None)


@pytest.mark.parametrize(("text", "expected"), [
    ("a: 1\n---\nb: [unclosed\n", "s.yml:4:1: invalid YAML: did not find expected ',' or ']'"),
    ("a: &x 1\n---\nb: *x\n", "s.yml:3:4: unknown anchor 'x' referenced"),  # no crossing
    ("a: 1\n---\n" + "[" * 1001 + "]" * 1001, "s.yml:3:1001: nesting deeper than 1000 levels"),
    ("a: 1\n---\n" + BOMB, "s.yml:6:10: document contains excessive aliasing: *a2"),
])
def test_compose_all_bounds_every_document(text: str, expected: str) -> None:
    docs, problem = compose_all(text, "s.yml")
    assert docs == [] and problem is not None and str(problem).startswith(expected), problem


def test_compose_all_applies_the_size_limit_to_the_stream(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(goyaml, "MAX_DOCUMENT_BYTES", 20)
    _docs, problem = compose_all("a: 1\n---\nb: 2\n---\nc: 3\n---\nd: 4\n", "s.yml")
    assert str(problem) == "s.yml:1:1: the document is larger than 20 bytes (MAX_DOCUMENT_BYTES)"


def test_read_document_reads_regular_files_only(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "ok.yml").write_text("a: é\n")
    assert read_document(tmp_path / "ok.yml") == "a: é\n"
    fifo = tmp_path / "fifo.yml"
    os.mkfifo(fifo)
    with pytest.raises(NotRegularFileError, match=r"fifo\.yml: is a FIFO"):
        read_document(fifo)  # at once: a FIFO nobody writes to is never opened for a read
    with pytest.raises(NotRegularFileError, match="is a character device"):
        read_document("/dev/zero")
    with pytest.raises(IsADirectoryError):
        read_document(tmp_path)
    (tmp_path / "bad.yml").write_bytes(b"a: \xe9\n")
    with pytest.raises(UnicodeDecodeError):
        read_document(tmp_path / "bad.yml")
    monkeypatch.setattr(goyaml, "MAX_DOCUMENT_BYTES", 4)
    with pytest.raises(FileTooLargeError, match=r"ok\.yml: the policy is larger than 4 bytes"):
        read_document(tmp_path / "ok.yml", "the policy")


def _hostile_files(tmp_path: Path) -> dict[str, Path]:
    deep = "[" * 50_000 + "]" * 50_000
    files = {
        "policy-bomb": ("policy.yml", BOMB + "steps: *a8\n"),
        "policy-deep": ("policy.yml", f"steps: {deep}\n"),
        "slo-bomb": ("slo.yml", BOMB + "objectives: *a8\n"),
        "slo-deep": ("slo.yml", f"objectives: {deep}\n"),
        "rules-bomb": ("rules.yml", BOMB + "groups: *a8\n"),
        "rules-deep": ("rules.yml", f"groups: {deep}\n"),
        "tests-bomb": ("test.yml", BOMB + "tests: *a8\n"),
        "tests-deep": ("test.yml", f"tests: {deep}\n"),
    }
    out = {}
    for name, (file_name, text) in files.items():
        (tmp_path / name).mkdir()
        path = tmp_path / name / file_name
        path.write_text(text)
        out[name] = path
    return out


CHILD = """
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
kind, path = sys.argv[1], sys.argv[2]
from pytest_selfslo._core.errors import SelfSloError
try:
    if kind == "policy":
        from pytest_selfslo.canary.policy import load_policy
        load_policy(path)
    elif kind == "slo":
        from pytest_selfslo.slo.spec import load_slo_spec
        load_slo_spec(path)
    elif kind == "rules":
        from pytest_selfslo.rulefmt.rulefile import check_rule_file
        problems = check_rule_file(path)
        assert problems, "accepted"
        raise SelfSloError(str(problems[0]))
    elif kind == "lint":
        from pytest_selfslo.lint.runner import lint_paths
        findings = lint_paths([path])
        assert findings, "accepted"
        raise SelfSloError(findings[0].format())
    else:
        from pytest_selfslo.rulefmt.testfile import load_test_file
        load_test_file(path)
except SelfSloError as exc:
    print(str(exc))
    sys.exit(2)
print("accepted")
"""


@pytest.mark.parametrize("case", ["policy-bomb", "policy-deep", "slo-bomb", "slo-deep",
                                  "rules-bomb", "rules-deep", "tests-bomb", "tests-deep",
                                  "lint-bomb", "lint-deep"])
def test_hostile_yaml_is_one_line_error_in_bounded_time_and_memory(tmp_path: Path,
                                                                   case: str) -> None:
    files = _hostile_files(tmp_path)
    kind, what = case.split("-")
    path = files[f"rules-{what}" if kind == "lint" else case]
    proc = subprocess.run([sys.executable, "-c", CHILD, kind, str(path)], capture_output=True,
                          text=True, timeout=60, cwd=ROOT, check=False)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr and "RecursionError" not in proc.stdout + proc.stderr
    (line,) = proc.stdout.strip().splitlines()
    assert str(path) in line
    assert ("MAX_DEPTH" in line) if what == "deep" else ("excessive aliasing" in line)


def test_merge_keys_work_in_policies_and_slo_specs(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yml"
    policy.write_text(textwrap.dedent("""\
        x-gate: &gate {comparison: ">=", window: 10m, no_data: hold}
        steps: [0.05, 0.5, 1.0]
        gates:
          - {<<: *gate, name: coherence, expr: avg(self_coherence), threshold: 0.8}
        """))
    with pytest.raises(PolicyError, match=r"policy.yml:1: .*x-gate"):
        load_policy(policy)
    spec = tmp_path / "slo.yml"
    spec.write_text(textwrap.dedent("""\
        objectives:
          - &o {name: coherence, metric: self_coherence, comparison: ">=", target: 8E-1}
          - {<<: *o, name: presence, metric: self_presence}
          - {name: dup, name: again, metric: self_stress, comparison: "<=", target: 0.3}
        """))
    with pytest.raises(SLOSpecError, match=r"slo.yml:4: objectives\[2\]: field 'name' already set"):
        load_slo_spec(spec)
    spec.write_text(spec.read_text().rsplit("  - {name: dup", 1)[0])
    loaded = load_slo_spec(spec)
    assert [(o.name, o.metric, o.target) for o in loaded.objectives] == [
        ("coherence", "self_coherence", 0.8), ("presence", "self_presence", 0.8)]
