"""Hostile rules, rule tests and queries (issue 21, items 3, 4 and 6), each in a limited child.

Every case runs through the four ways in: ``selfslo lint``, ``selfslo
test-rules``, ``pytest --self-slo`` and the Python API (the ``promql_engine``
fixture's :class:`~pytest_selfslo.plugin.fixtures.EmbeddedPromQL`, ``Engine``,
templates, policies). A refused input ends with exit status 2 and one line
naming the limit and its position (:mod:`._limits` checks no traceback, no
signal death, and bounds CPU and memory); a pathological but valid input
(backtracking regexes) simply finishes with the right answer.
"""

from __future__ import annotations

import os
import shutil
import sys
import textwrap
from pathlib import Path

import pytest
from _limits import Outcome, run_limited, selfslo

#: wall-clock bound of a ``pytest --self-slo`` case: pytest's own start-up and collection
#: take seconds on a loaded machine; the case itself is bounded by the CPU limit
PYTEST_WALL = 120.0


def run(argv: list[str], cwd: Path, *, wall: float | None = None) -> Outcome:
    """A case under the suite's limits (:mod:`_limits`), in ``cwd``."""
    if wall is None:
        return run_limited(argv, cwd=cwd, env={"PYTEST_XDIST_WORKER": ""})
    return run_limited(argv, cwd=cwd, env={"PYTEST_XDIST_WORKER": ""}, wall=wall)


def run_pytest(argv: list[str], cwd: Path) -> Outcome:
    """A ``pytest --self-slo`` case: the same limits, a wall clock that allows for pytest."""
    return run(argv, cwd, wall=PYTEST_WALL)


def pytest_self_slo(*args: str) -> list[str]:
    """``pytest --self-slo`` of this checkout, without the cache and without the ``selfslo::``
    items (SLO spec, drift, the default canary policy's properties), which are not the case."""
    return [sys.executable, "-m", "pytest", "--self-slo", "-p", "no:cacheprovider",
            "-p", "no:randomly", "-q", "--deselect", "selfslo", *args]


def python(script: str) -> list[str]:
    """A Python script as a command line."""
    return [sys.executable, "-c", script]


def assert_refused(outcome: Outcome, *fragments: str) -> str:
    """Exit 2 with one line on stderr holding every fragment (the suite's verdict)."""
    return outcome.assert_clean_error(2, fragments)


def assert_completed(outcome: Outcome, status: int = 0) -> None:
    """Finished by itself within the limits with ``status``, no traceback."""
    outcome.assert_ended_cleanly(status)
    assert "MemoryError" not in outcome.stderr and "RecursionError" not in outcome.stderr, \
        outcome.describe()


def assert_pytest_refused(outcome: Outcome, *fragments: str) -> str:
    """``pytest`` ended with exit 2 and one output line holds every fragment; returns it."""
    outcome.assert_ended_cleanly(2)
    lines = [line for line in outcome.stdout.splitlines()
             if all(fragment in line for fragment in fragments)]
    assert lines, outcome.describe()
    return lines[0]


DEEP = "(" * 10_000 + "up" + ")" * 10_000
FLAT = " + ".join(["up"] * 20_000)
UNARY = "-" * 10_000 + "up"
LONG = "up{job=\"" + "x" * 300_000 + "\"}"
HOSTILE_EXPRS = {
    "nested-10000": (DEEP, "nests more than 128 brackets deep; the limit is 128"),
    "flat-20000-terms": (FLAT, "has 19,999 operators; the limit is 500"),
    "unary-10000": (UNARY, "has 10,000 operators; the limit is 500"),
    "300k-characters": (LONG, f"is {len(LONG):,} characters long; the limit is 262,144"),
}
#: a value that makes (a+)+b backtrack for minutes in Python's re
AAAA = "a" * 40
EMPTY_TEST_GROUP = "  - input_series: []\n    promql_expr_test: [{expr: vector(1), eval_time: 0m}]\n"


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def rule_file(directory: Path, expr: str, name: str = "rules.yml") -> Path:
    """One recording rule whose ``expr`` starts at line 5, column 11."""
    return write(directory, name, f"groups:\n- name: g\n  rules:\n  - record: r\n    expr: '{expr}'\n")


def expr_test_file(directory: Path, expr: str, name: str = "test.yml") -> Path:
    """One promql_expr_test whose ``expr`` starts at line 5, column 11."""
    return write(directory, name, "rule_files: []\ntests:\n- input_series: []\n  promql_expr_test:\n"
                                  f"  - expr: '{expr}'\n    eval_time: 1m\n")


def api(script: str) -> list[str]:
    """A script that exits 2 with the message when the API raises LimitError."""
    body = textwrap.indent(textwrap.dedent(script).strip(), "    ")
    return python("import sys\nfrom pytest_selfslo.errors import LimitError\ntry:\n"
                  f"{body}\nexcept LimitError as exc:\n"
                  "    print(exc, file=sys.stderr)\n    sys.exit(2)\n"
                  "print('no LimitError', file=sys.stderr)\nsys.exit(3)\n")


# ------------------------------------------------------------------ item 3: huge PromQL
@pytest.mark.parametrize("case", sorted(HOSTILE_EXPRS))
def test_lint_refuses_huge_promql_with_its_position(tmp_path: Path, case: str) -> None:
    expr, message = HOSTILE_EXPRS[case]
    rule_file(tmp_path, expr)
    assert_refused(run(selfslo("lint", "rules.yml"), tmp_path),
                   "rules.yml:5:11: PromQL expression", message)


@pytest.mark.parametrize("case", sorted(HOSTILE_EXPRS))
def test_test_rules_refuses_huge_promql_in_a_test_expr(tmp_path: Path, case: str) -> None:
    expr, message = HOSTILE_EXPRS[case]
    expr_test_file(tmp_path, expr)
    assert_refused(run(selfslo("test-rules", "test.yml"), tmp_path),
                   "test.yml:5:11: PromQL expression", message)


def test_test_rules_refuses_huge_promql_in_a_rule_file_it_loads(tmp_path: Path) -> None:
    rule_file(tmp_path, DEEP)
    write(tmp_path, "test.yml", f"rule_files: [rules.yml]\ntests:\n{EMPTY_TEST_GROUP}")
    assert_refused(run(selfslo("test-rules", "test.yml"), tmp_path),
                   "rules.yml:5:11: PromQL expression nests more than 128")


def test_test_rules_refuses_a_huge_series_descriptor(tmp_path: Path) -> None:
    write(tmp_path, "test.yml", f"""
        rule_files: []
        tests:
        - input_series: [{{series: '{DEEP}', values: '1'}}]
          promql_expr_test: [{{expr: vector(1), eval_time: 0m}}]
        """)
    assert_refused(run(selfslo("test-rules", "test.yml"), tmp_path),
                   "test.yml:3:27: PromQL expression nests more than 128")


def test_pytest_refuses_huge_promql_in_a_rule_test_at_collection(tmp_path: Path) -> None:
    expr_test_file(tmp_path, FLAT)
    outcome = run_pytest(pytest_self_slo("--self-slo-rules", "none/*.yml",
                                         "--self-slo-rule-tests", "test.yml", "test.yml"),
                         tmp_path)
    assert_pytest_refused(outcome, "test.yml:5:11: PromQL expression has 19,999 operators")


def test_pytest_refuses_huge_promql_in_a_rule_file(tmp_path: Path) -> None:
    rule_file(tmp_path, DEEP)
    outcome = run_pytest(pytest_self_slo("--self-slo-rules", "rules.yml",
                                         "--self-slo-prometheus", "embedded", "-k", "valid",
                                         "rules.yml"), tmp_path)
    line = assert_pytest_refused(outcome, "ERROR: input refused:",
                                 "rules.yml:5:11: PromQL expression nests more than 128")
    assert "rules.yml::valid" in line


@pytest.mark.parametrize("case", sorted(HOSTILE_EXPRS))
def test_api_refuses_huge_promql(tmp_path: Path, case: str) -> None:
    expr, message = HOSTILE_EXPRS[case]
    (tmp_path / "expr.txt").write_text(expr, encoding="utf-8")
    outcome = run(api("""
        from pytest_selfslo.plugin.fixtures import EmbeddedPromQL
        engine = EmbeddedPromQL()
        engine.load('up 1')
        engine.query(open('expr.txt').read())
        """), tmp_path)
    assert_refused(outcome, message)


def test_api_refuses_a_huge_series_descriptor(tmp_path: Path) -> None:
    (tmp_path / "series.txt").write_text(DEEP + " 1", encoding="utf-8")
    outcome = run(api("""
        from pytest_selfslo.plugin.fixtures import EmbeddedPromQL
        EmbeddedPromQL().load(open('series.txt').read())
        """), tmp_path)
    assert_refused(outcome, "nests more than 128 brackets deep")


def test_promqltest_script_refuses_huge_promql_with_its_line(tmp_path: Path) -> None:
    write(tmp_path, "x.test", f"load 1m\n  up 1\n\neval instant at 0m {DEEP}\n  up 1\n")
    outcome = run(api("""
        from pytest_selfslo.ruletest.promqltest import run_promqltest_file
        run_promqltest_file('x.test')
        """), tmp_path)
    assert_refused(outcome, "x.test:4: PromQL expression nests more than 128")


def test_policy_gate_refuses_huge_promql_with_its_line(tmp_path: Path) -> None:
    write(tmp_path, "policy.yml", f"""
        gates:
          - name: g
            expr: '{FLAT}'
            comparison: "<="
            threshold: 1
        """)
    rule_file(tmp_path, "up")
    outcome = run(selfslo("lint", "rules.yml", "--policy", "policy.yml"), tmp_path)
    assert_refused(outcome, "policy.yml:3: gates[0].expr: PromQL expression has 19,999 operators")


def test_expressions_at_the_limits_still_evaluate(tmp_path: Path) -> None:
    """128 brackets around a 372-term chain (nesting and operators at their limits), and
    500 unary minus signs: parsed, linted and evaluated, no RecursionError."""
    chain = "(" * 128 + " + ".join(["up"] * 372) + ")" * 128
    unary = "-" * 500 + "up"
    write(tmp_path, "rules.yml", f"""
        groups:
        - name: g
          rules:
          - record: chain:sum
            expr: '{chain}'
          - record: unary:sum
            expr: '{unary}'
        """)
    write(tmp_path, "test.yml", """
        rule_files: [rules.yml]
        tests:
        - input_series: [{series: 'up{job="a"}', values: '2'}]
          promql_expr_test:
          - {expr: 'chain:sum', eval_time: 0m, exp_samples: [{labels: 'chain:sum{job="a"}', value: 744}]}
          - {expr: 'unary:sum', eval_time: 0m, exp_samples: [{labels: 'unary:sum{job="a"}', value: 2}]}
        """)
    assert_completed(run(selfslo("test-rules", "test.yml"), tmp_path))
    outcome = run(selfslo("lint", "rules.yml"), tmp_path)
    assert_completed(outcome)
    assert "0 error(s), 0 warning(s)" in outcome.stderr


# ------------------------------------------------------------------ item 4: regex backtracking
def _regex_files(directory: Path) -> None:
    rule_file(directory, 'label_replace(x, "y", "$1", "job", "(a|aa)+$")')
    write(directory, "test.yml", f"""
        rule_files: [rules.yml]
        tests:
        - input_series: [{{series: 'x{{job="{AAAA}"}}', values: '1'}}]
          promql_expr_test:
          - expr: 'x{{job=~"(a+)+b"}}'
            eval_time: 0m
          - expr: 'x{{job!~"(a+)+b"}}'
            eval_time: 0m
            exp_samples: [{{labels: 'x{{job="{AAAA}"}}', value: 1}}]
          - expr: r
            eval_time: 0m
            exp_samples: [{{labels: 'r{{job="{AAAA}",y="a"}}', value: 1}}]
        """)


def test_test_rules_runs_backtracking_regexes_in_linear_time(tmp_path: Path) -> None:
    _regex_files(tmp_path)
    outcome = run(selfslo("test-rules", "test.yml"), tmp_path)
    assert_completed(outcome)
    assert "SUCCESS" in outcome.stdout


def test_pytest_runs_backtracking_regexes_in_linear_time(tmp_path: Path) -> None:
    _regex_files(tmp_path)
    outcome = run_pytest(pytest_self_slo("--self-slo-rules", "rules.yml",
                                         "--self-slo-rule-tests", "test.yml",
                                         "--self-slo-prometheus", "embedded",
                                         "-k", "unnamed", "test.yml"), tmp_path)
    assert_completed(outcome)
    assert "1 passed" in outcome.stdout


def test_lint_matches_backtracking_regexes_in_linear_time(tmp_path: Path) -> None:
    """SL036 matches a test's selectors against its input series: RE2 does the matching."""
    write(tmp_path, "test.yml", f"""
        rule_files: []
        tests:
        - input_series:
          - {{series: 'x{{job="{AAAA}",k="1"}}', values: '1'}}
          - {{series: 'x{{job="{AAAA}",k="2"}}', values: '1'}}
          promql_expr_test:
          - expr: 'x{{job!~"(a+)+b"}} * on(job) x{{job!~"(a+)+b"}}'
            eval_time: 0m
        """)
    outcome = run(selfslo("lint", "test.yml"), tmp_path)
    assert_completed(outcome, status=1)
    assert "SL036" in outcome.stdout and "many-to-many matching: 2 series" in outcome.stdout


def test_api_runs_backtracking_regexes_in_linear_time(tmp_path: Path) -> None:
    outcome = run(python(f"""
from pytest_selfslo.canary.policy import AlertMatcher
from pytest_selfslo.plugin.fixtures import EmbeddedPromQL
from pytest_selfslo.template.parse import expand_template
engine = EmbeddedPromQL()
engine.load('x{{job="{AAAA}"}} 1')
assert engine.query('x{{job=~"(a+)+b"}}') == []
[sample] = engine.query('label_replace(x, "y", "$1", "job", "(a|aa)+$")')
assert dict(sample.labels)["y"] == "a", sample
assert not AlertMatcher((("alertname", "(a+)+b"),)).matches({{"alertname": "{AAAA}"}})
out = expand_template('{{{{ if match "^(a+)+b$" .Labels.v }}}}y{{{{ else }}}}n{{{{ end }}}}'
                      '{{{{ reReplaceAll "(a|aa)+c" "z" .Labels.v }}}}', "t", {{"v": "{AAAA}"}}, 1.0)
assert out == "n{AAAA}", out
print("ok")
"""), tmp_path)
    assert_completed(outcome)
    assert outcome.stdout.strip() == "ok"


def test_a_pattern_too_big_for_re2_is_refused_not_compiled_for_minutes(tmp_path: Path) -> None:
    """RE2 expands Unicode classes into UTF-8 automata: its program budget stops \\pL{1000}."""
    expr_test_file(tmp_path, 'label_replace(vector(1), "a", "$1", "b", "\\\\pL{1000}")')
    outcome = run(selfslo("test-rules", "test.yml"), tmp_path)
    assert_completed(outcome, status=1)
    assert "invalid regular expression in label_replace(): \\pL{1000}" in outcome.stderr
    outcome = run(python("""
from pytest_selfslo._core.goregex import GoRegexError, compile_go
try:
    compile_go(r"\\pL{1000}")
except GoRegexError as exc:
    print(exc)
"""), tmp_path)
    assert_completed(outcome)
    assert outcome.stdout.strip() == "error parsing regexp: expression too large"


def test_invalid_regexes_get_gos_message(tmp_path: Path) -> None:
    """Refused by RE2 as by Go, worded as Go words it (not Python's or Rust's text)."""
    expr_test_file(tmp_path, 'up{job=~"(a)\\\\1"}')
    outcome = run(selfslo("test-rules", "test.yml"), tmp_path)
    assert_completed(outcome, status=1)
    assert "error parsing regexp: invalid escape sequence: `\\1`" in outcome.stderr
    rule_file(tmp_path, 'up{job=~"a{1001}"}')  # promql-parser accepts it, Prometheus does not
    outcome = run(selfslo("lint", "rules.yml"), tmp_path)
    assert_completed(outcome, status=1)
    assert "SL003" in outcome.stdout
    assert "error parsing regexp: invalid repeat count: `{1001}`" in outcome.stdout


# ------------------------------------------------------------------ item 6: memory bombs
def _steps_test(directory: Path) -> None:
    write(directory, "test.yml", """
        rule_files: []
        evaluation_interval: 1s
        tests:
        - input_series: [{series: up, values: '1'}]
          promql_expr_test: [{expr: up, eval_time: 10y}]
        """)


def _samples_test(directory: Path) -> None:
    series = "".join(f"  - {{series: 'up{{i=\"{i}\"}}', values: '0+1x10000000'}}\n"
                     for i in range(8))
    write(directory, "test.yml", "rule_files: []\ntests:\n- input_series:\n" + series
          + "  promql_expr_test: [{expr: up, eval_time: 1m}]\n")


def _printf_test(directory: Path) -> None:
    write(directory, "rules.yml", """
        groups:
        - name: g
          rules:
          - alert: A
            expr: vector(1)
            annotations:
              big: '{{ printf "%09999999d" 1 }}'
        """)
    write(directory, "test.yml", "rule_files: [rules.yml]\ntests:\n- input_series: []\n"
                                 "  alert_rule_test: [{alertname: A, eval_time: 0m}]\n")


def _zero_test(directory: Path) -> None:
    write(directory, "test.yml", f"rule_files: ['/dev/zero']\ntests:\n{EMPTY_TEST_GROUP}")


def _fifo_test(directory: Path) -> None:
    os.mkfifo(directory / "rules.yml")
    write(directory, "test.yml", f"rule_files: [rules.yml]\ntests:\n{EMPTY_TEST_GROUP}")


BOMBS = {
    "eval_time-10y-at-1s": (_steps_test, "test.yml:5:22: 315,360,001 evaluation steps",
                            "max_steps=1000000", "--max-steps", "selfslo_max_steps"),
    "8-series-of-10M-samples": (_samples_test, "test.yml:4:35: 10,000,001 input samples",
                                "max_samples=10000000", "--max-samples", "selfslo_max_samples"),
    "printf-%09999999d": (_printf_test, "rules.yml:4: template __alert_A: printf returned "
                          "9,999,999 characters", "max_template_bytes=1048576",
                          "--max-template-bytes", "selfslo_max_template_bytes"),
    "rule_files-/dev/zero": (_zero_test, "/dev/zero: is a character device, expected a regular file"),
    "rule_files-FIFO": (_fifo_test, "rules.yml: is a FIFO (named pipe), expected a regular file"),
}


@pytest.mark.parametrize("case", sorted(BOMBS))
def test_test_rules_refuses_memory_bombs_naming_the_limit(tmp_path: Path, case: str) -> None:
    make, *fragments = BOMBS[case]
    make(tmp_path)
    assert_refused(run(selfslo("test-rules", "test.yml"), tmp_path), *fragments)


@pytest.mark.parametrize("case", sorted(BOMBS))
def test_pytest_refuses_memory_bombs_naming_the_limit(tmp_path: Path, case: str) -> None:
    make, *fragments = BOMBS[case]
    make(tmp_path)
    outcome = run_pytest(pytest_self_slo("--self-slo-rules", "none/*.yml",
                                         "--self-slo-rule-tests", "test.yml",
                                         "--self-slo-prometheus", "embedded", "test.yml"),
                         tmp_path)
    assert_pytest_refused(outcome, *fragments[:2])


def test_pytest_never_hands_refused_input_to_real_promtool(tmp_path: Path) -> None:
    """With promtool on PATH the file is cross-checked too: not when our run refused it
    (promtool would read /dev/zero until its 300 s timeout)."""
    if shutil.which("promtool") is None:
        pytest.skip("no promtool on PATH (Debian package prometheus)")
    _zero_test(tmp_path)
    outcome = run_pytest(pytest_self_slo("--self-slo-rules", "none/*.yml",
                                         "--self-slo-rule-tests", "test.yml",
                                         "--self-slo-prometheus", "local", "test.yml"),
                         tmp_path)
    # its rule files are read once at collection (each problem reported once), so the
    # file is refused there: no item, no promtool cross-check
    line = assert_pytest_refused(outcome, "/dev/zero: is a character device")
    assert "ERROR collecting test.yml" in outcome.stdout, outcome.describe()
    assert "test.yml::promtool" not in outcome.stdout.replace(line, ""), outcome.describe()


def test_raised_limits_let_a_big_but_honest_test_run(tmp_path: Path) -> None:
    write(tmp_path, "test.yml", """
        rule_files: []
        evaluation_interval: 1s
        tests:
        - input_series: [{series: up, values: '1'}]
          promql_expr_test: [{expr: up, eval_time: 2d, exp_samples: []}]
        """)
    assert_refused(run(selfslo("test-rules", "test.yml", "--max-steps", "100000"),
                               tmp_path), "172,801 evaluation steps", "max_steps=100000")
    outcome = run(selfslo("test-rules", "test.yml", "--max-steps", "200000"), tmp_path)
    assert_completed(outcome)
    write(tmp_path, "pytest.ini", "[pytest]\nselfslo_max_steps = 100000\n")
    outcome = run_pytest(pytest_self_slo("--self-slo-rules", "none/*.yml",
                                         "--self-slo-rule-tests", "test.yml",
                                         "--self-slo-prometheus", "embedded", "test.yml"),
                         tmp_path)
    assert_pytest_refused(outcome, "172,801 evaluation steps", "max_steps=100000")


def test_lint_validates_huge_series_notation_without_expanding_it(tmp_path: Path) -> None:
    _samples_test(tmp_path)
    outcome = run(selfslo("lint", "test.yml"), tmp_path)
    assert_completed(outcome)


@pytest.mark.parametrize(("call", "message"), [
    ("engine.load('\\n'.join(f'up{{i=\"{i}\"}} 0+1x10000000' for i in range(8)))",
     "10,000,001 loaded samples exceed the limit max_samples=10000000"),
    ("engine.query_range('up', 0, '3650d', '1s')",
     "315,360,001 range query steps exceed the limit max_steps=1000000"),
    ("expand_template('{{ printf \"%09999999d\" 1 }}', 't', {}, 1.0)",
     "template t: printf returned 9,999,999 characters, over the limit max_template_bytes"),
    ("expand_template('{{ $x := printf \"%0500000d\" 1 }}{{ $x }}{{ $x }}{{ $x }}', 't', {}, 1.0)",
     "template t: its output reached 1,500,000 characters, over the limit max_template_bytes"),
    ("load_test_file('/dev/zero')", "/dev/zero: is a character device, expected a regular file"),
])
def test_api_refuses_memory_bombs(tmp_path: Path, call: str, message: str) -> None:
    outcome = run(api(f"""
        from pytest_selfslo.plugin.fixtures import EmbeddedPromQL
        from pytest_selfslo.template.parse import expand_template
        from pytest_selfslo.ruletest.runner import load_test_file
        engine = EmbeddedPromQL()
        {call}
        """), tmp_path)
    assert_refused(outcome, message)
