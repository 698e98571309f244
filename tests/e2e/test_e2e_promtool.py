"""``promtool test rules`` and our runner give the same verdict on every rules/tests/*.yml file.

Run once per available promtool (see ``tests/conftest.py``); the embedded
runner uses the semantics of that promtool's version (2.x -> ``"2"``), as
every comparison with a real server does. A copy of the
rules with one threshold mutated proves the comparison can fail: both engines
must reject it, on the files that exercise that rule.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from promtool_runs import Promtool

from pytest_selfslo.ruletest.runner import run_rule_tests

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "rules" / "phase_c_rules.yml"
TEST_FILES = sorted((ROOT / "rules" / "tests").glob("*.yml"))
ORIGINAL = "expr: avg_over_time(self_coherence[5m]) < 0.80"
MUTANT = "expr: avg_over_time(self_coherence[5m]) < 0.50"



def verdicts(files: list[Path], promtool: Promtool) -> dict[str, tuple[bool, bool]]:
    """file name -> (promtool passed, our runner passed), semantics of that promtool."""
    semantics = promtool.semantics
    out: dict[str, tuple[bool, bool]] = {}
    for path in files:
        proc = subprocess.run([promtool.path, "test", "rules", str(path)], capture_output=True,
                              text=True, timeout=60, cwd=path.parent)
        assert proc.returncode in (0, 1), f"promtool crashed on {path}: {proc.stderr}"
        ours = run_rule_tests([str(path)], semantics=semantics)
        out[path.name] = (proc.returncode == 0, ours.passed)
    return out


def test_promtool_and_our_runner_agree_on_every_rule_test_file(
        promtool_bin: Promtool) -> None:
    assert "self_slo_test.yml" in {p.name for p in TEST_FILES}, TEST_FILES
    got = verdicts(TEST_FILES, promtool_bin)
    assert got == {p.name: (True, True) for p in TEST_FILES}, got


def test_both_engines_fail_a_copy_with_a_mutated_threshold(tmp_path: Path,
                                                           promtool_bin: Promtool) -> None:
    text = RULES.read_text(encoding="utf-8")
    assert text.count(ORIGINAL) == 1, f"{RULES} no longer has {ORIGINAL!r}: update the mutant"
    (tmp_path / RULES.name).write_text(text.replace(ORIGINAL, MUTANT), encoding="utf-8")
    tests_dir = tmp_path / "tests"
    tests_dir.mkdir()
    copies = []
    for path in TEST_FILES:  # rule_files: ../phase_c_rules.yml resolves to the mutant
        copies.append(tests_dir / path.name)
        shutil.copyfile(path, copies[-1])
    got = verdicts(copies, promtool_bin)
    assert all(promtool == ours for promtool, ours in got.values()), got
    assert got["self_slo_test.yml"] == (False, False), got
