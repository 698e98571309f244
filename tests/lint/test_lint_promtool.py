"""The project's own rules pass every real ``promtool`` (Debian 2.42, 2.53 and 3.5 in CI).

Skipped, with the reason, when there is no ``promtool`` binary (see ``tests/conftest.py``).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from promtool_runs import Promtool

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "rules"


def _promtool(promtool: Promtool, *args: str,
              cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([promtool.path, *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120, check=False)


def test_promtool_check_rules_accepts_rule_files(promtool_bin: Promtool) -> None:
    files = sorted(str(p) for p in RULES.glob("*.yml"))
    assert files, "no rule files under rules/"
    proc = _promtool(promtool_bin, "check", "rules", *files)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS: 28 rules found" in proc.stdout


@pytest.mark.parametrize("test_file", sorted(p.name for p in (RULES / "tests").glob("*.yml")))
def test_promtool_test_rules_passes(promtool_bin: Promtool, test_file: str) -> None:
    proc = _promtool(promtool_bin, "test", "rules", test_file, cwd=RULES / "tests")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS" in proc.stdout
