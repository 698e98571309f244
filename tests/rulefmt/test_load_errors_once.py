"""Issue 14 item 3: a load error is printed once, in file order, not once per test group."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from pytest_selfslo.ruletest.runner import run_rule_tests

BAD_RULES = textwrap.dedent("""\
    groups:
      - name: g
        rules:
          - alert: A
            expr: up == 0
            sevrity: page
          - alert: B
            expr: up ==
    """)
TESTS = "rule_files: [rules.yml]\ntests:\n" + "".join(
    f"  - name: group{i}\n    interval: 1m\n    promql_expr_test:\n"
    f"      - {{expr: vector(1), eval_time: 0m, exp_samples: [{{labels: '{{}}', value: 1}}]}}\n"
    for i in range(3))


@pytest.fixture
def files(tmp_path: Path) -> Path:
    (tmp_path / "rules.yml").write_text(BAD_RULES)
    (tmp_path / "test.yml").write_text(TESTS)
    return tmp_path


def test_selfslo_test_rules_prints_each_problem_once(files: Path) -> None:
    report = run_rule_tests([str(files / "test.yml")])
    text = report.format_text()
    assert report.exit_code == 1
    assert text.count("field 'sevrity' not found") == 1, text
    assert text.count("could not parse expression") == 1, text
    assert text.index(":6:") < text.index(":8:")  # file order


def test_plugin_reports_a_bad_rule_file_once(files: Path, pytester: pytest.Pytester) -> None:
    for name in ("rules.yml", "test.yml"):
        (pytester.path / name).write_text((files / name).read_text())
    result = pytester.runpytest("--self-slo", "test.yml", "--self-slo-prometheus=embedded")
    out = result.stdout.str()
    assert out.count("field 'sevrity' not found") == 1, out
    assert "invalid rule test file" in out
    assert "Traceback" not in out
