"""Acceptance 6 of issue 21: ``docs/limits.md`` lists every limit with its default."""

from __future__ import annotations

import dataclasses

import pytest
from _limits import REPO

from pytest_selfslo._core.limits import LIMIT_NAMES, Limits
from pytest_selfslo.lint.config import MAX_CONFIG_BYTES
from pytest_selfslo.rulefmt import goyaml

DOC = (REPO / "docs" / "limits.md").read_text(encoding="utf-8")


def _rows() -> list[str]:
    return [line for line in DOC.splitlines() if line.startswith("| ") and "---" not in line]


@pytest.mark.parametrize(("name", "default"), [
    ("MAX_DOCUMENT_BYTES", "64 MiB"), ("MAX_DEPTH", "1,000 levels"),
    ("MAX_NODES", "5,000,000"), ("MAX_ALIAS_EXPANSION", "10,000,000")])
def test_every_yaml_reader_limit_has_a_row_with_its_default(name: str, default: str) -> None:
    value = getattr(goyaml, name)
    number = {"64 MiB": 64 << 20, "1,000 levels": 1000}.get(default) or int(
        default.replace(",", ""))
    assert value == number  # the documented default is the code's
    (row,) = [r for r in _rows() if r.startswith(f"| `{name}`")]
    assert f"| {default} |" in row


def test_every_rule_test_budget_has_a_row_naming_its_options() -> None:
    defaults = {f.name: f.default for f in dataclasses.fields(Limits)}
    assert set(LIMIT_NAMES) == set(defaults)
    for name in LIMIT_NAMES:
        (row,) = [r for r in _rows() if r.startswith(f"| `{name}`")]
        flag = name.replace("_", "-")
        assert f"--{flag}" in row and f"--self-slo-{flag}" in row and f"selfslo_{name}" in row


def test_the_lint_configuration_limit_is_documented() -> None:
    assert MAX_CONFIG_BYTES == 4 << 20
    (row,) = [r for r in _rows() if r.startswith("| lint configuration file")]
    assert "| 4 MiB |" in row
