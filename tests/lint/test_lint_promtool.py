"""The project's own rules pass the real ``promtool`` (Debian 2.42 in CI).

Skipped, with the reason, when no ``promtool`` binary is on PATH.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "rules"
PROMTOOL = shutil.which("promtool")

needs_promtool = pytest.mark.skipif(PROMTOOL is None, reason="promtool not found on PATH")


def _promtool(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL is not None
    return subprocess.run([PROMTOOL, *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120, check=False)


@needs_promtool
def test_promtool_check_rules_accepts_rule_files() -> None:
    files = sorted(str(p) for p in RULES.glob("*.yml"))
    assert files, "no rule files under rules/"
    proc = _promtool("check", "rules", *files)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS: 28 rules found" in proc.stdout


@needs_promtool
@pytest.mark.parametrize("test_file", sorted(p.name for p in (RULES / "tests").glob("*.yml")))
def test_promtool_test_rules_passes(test_file: str) -> None:
    proc = _promtool("test", "rules", test_file, cwd=RULES / "tests")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS" in proc.stdout
