"""The lint cache: same findings warm as cold, and any dependency change is a miss."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pytest_selfslo.lint.runner import lint_paths

RULE = """groups:
  - name: g
    rules:
      - alert: A
        expr: self_stress > 1
        for: 5m
        labels: {severity: warning}
        annotations:
          summary: s
          runbook_url: docs/rb.md#self-slo-violations
"""


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "rb.md").write_text("## SELF SLO violations\n")
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "r.yml").write_text(RULE)
    return tmp_path


def _bump(path: Path) -> None:
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))


def test_warm_run_returns_the_same_findings(repo: Path) -> None:
    cache = repo / ".cache"
    cold = lint_paths([repo / "rules"], cache_dir=cache)
    assert [f.code for f in cold] == ["SL031"]
    assert len(list(cache.glob("*.json"))) == 1
    warm = lint_paths([repo / "rules"], cache_dir=cache)
    assert warm == cold
    assert warm == lint_paths([repo / "rules"])  # and equal to an uncached run


def test_changed_file_is_relinted(repo: Path) -> None:
    cache = repo / ".cache"
    lint_paths([repo / "rules"], cache_dir=cache)
    (repo / "rules" / "r.yml").write_text(RULE.replace("self_stress > 1", "self_stress > 0.3"))
    assert lint_paths([repo / "rules"], cache_dir=cache) == []


def test_changed_runbook_is_a_miss(repo: Path) -> None:
    cache = repo / ".cache"
    lint_paths([repo / "rules"], cache_dir=cache)
    rb = repo / "docs" / "rb.md"
    rb.write_text("## Something else\n")
    _bump(rb)
    codes = [f.code for f in lint_paths([repo / "rules"], cache_dir=cache)]
    assert "SL023" in codes


def test_new_unit_test_file_next_to_rules_is_a_miss(repo: Path) -> None:
    cache = repo / ".cache"
    rules = repo / "rules" / "r.yml"
    rules.write_text(RULE.replace("self_stress > 1", "join_1 + on(a) join_2 > 0"))
    assert "SL036" not in [f.code for f in lint_paths([repo / "rules"], cache_dir=cache)]
    (repo / "rules" / "r_test.yml").write_text(
        "rule_files: [r.yml]\ntests:\n  - input_series:\n"
        "      - {series: 'join_1{a=\"1\"}', values: '1'}\n"
        "      - {series: 'join_2{a=\"1\",b=\"2\"}', values: '1'}\n"
        "      - {series: 'join_2{a=\"1\",b=\"3\"}', values: '1'}\n")
    _bump(repo / "rules")
    assert "SL036" in [f.code for f in lint_paths([repo / "rules"], cache_dir=cache)]


def test_corrupt_cache_entry_is_ignored(repo: Path) -> None:
    cache = repo / ".cache"
    lint_paths([repo / "rules"], cache_dir=cache)
    for entry in cache.glob("*.json"):
        entry.write_text("{not json")
    assert [f.code for f in lint_paths([repo / "rules"], cache_dir=cache)] == ["SL031"]
