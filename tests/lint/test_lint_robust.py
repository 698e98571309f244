"""The linter never crashes: any text or any YAML shape gives findings, not exceptions."""

from __future__ import annotations

from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings, strategies as st

from pytest_selfslo.lint.context import LintContext
from pytest_selfslo.lint.findings import CHECKS
from pytest_selfslo.lint.loader import load_file
from pytest_selfslo.lint.runner import lint_files

scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
                    st.text(max_size=20),
                    st.sampled_from(["self_stress > 1", "rate(self_stress[1m])", "5m", "{{ $x",
                                     "absent(sum(x))", 'x{a=~"^b$"}', "sum(", "warning"]))
keys = st.sampled_from(["groups", "name", "rules", "alert", "record", "expr", "for", "labels",
                        "annotations", "severity", "summary", "runbook_url", "interval",
                        "tests", "rule_files", "input_series", "series", "values", "other"])
documents = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(keys, inner, max_size=5)), max_leaves=25)

rules = st.fixed_dictionaries(
    {"expr": scalars},
    optional={"alert": scalars, "record": scalars, "for": scalars,
              "labels": st.dictionaries(keys, scalars, max_size=3),
              "annotations": st.dictionaries(keys, scalars, max_size=3)})
rule_files = st.fixed_dictionaries({"groups": st.lists(st.fixed_dictionaries(
    {"name": scalars, "rules": st.lists(rules, max_size=4)}), max_size=3)})


def _lint(tmp: Path, text: str) -> None:
    path = tmp / "f.yml"
    path.write_text(text, encoding="utf-8")
    findings = lint_files([load_file(path)], LintContext(root=tmp))
    assert all(f.code in CHECKS and f.line >= 1 and f.column >= 1 for f in findings)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(doc=documents)
def test_any_yaml_shape_is_linted_without_crashing(tmp_path: Path, doc: object) -> None:
    _lint(tmp_path, yaml.safe_dump(doc))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(doc=rule_files)
def test_any_rule_file_shape_is_linted_without_crashing(tmp_path: Path, doc: object) -> None:
    _lint(tmp_path, yaml.safe_dump(doc))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=200))
def test_any_text_is_linted_without_crashing(tmp_path: Path, text: str) -> None:
    _lint(tmp_path, text)


def test_binary_file_is_sl001(tmp_path: Path) -> None:
    path = tmp_path / "b.yml"
    path.write_bytes(b"groups: \xff\xfe\n")
    (finding,) = load_file(path).findings
    assert finding.code == "SL001"
    assert finding.message == "not UTF-8 text: byte 8: invalid start byte"
