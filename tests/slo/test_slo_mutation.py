"""Acceptance 3: the generated tests kill the threshold and window mutants of the generated rules.

``selfslo mutate``'s API over ``selfslo slo generate`` + ``selfslo slo tests``
output, for the Sloth dialect (float thresholds such as
``0.0029999999999998296``) and ours (decimal ones), a ratio and a latency SLI:
every ``threshold-step`` (MU01: the threshold moved just past the nearest value
the tests' inputs take where the alert then behaves differently),
``threshold-10pct`` (MU02) and ``range-changed`` (MU07) mutant is killed; none
survives, none is an equivalent-suspect.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_selfslo.cli import main
from pytest_selfslo.mutate import MutationSuite

DATA = Path(__file__).parent / "data"


def _generate(tmp_path: Path, spec: Path) -> tuple[str, str]:
    (tmp_path / "tests").mkdir()
    rules, tests = tmp_path / "slo.yml", tmp_path / "tests" / "slo_test.yml"
    assert main(["slo", "generate", str(spec), "-o", str(rules)]) == 0
    assert main(["slo", "tests", str(spec), "-o", str(tests)]) == 0
    return str(rules), str(tests)


@pytest.mark.parametrize("spec", ["sloth_getting_started.yml", "openslo_checkout.yml",
                                  "pyrra_api_latency.yml"])
def test_generated_tests_kill_every_threshold_and_window_mutant(tmp_path: Path, spec: str) -> None:
    rules, tests = _generate(tmp_path, DATA / spec)
    report = MutationSuite.load([rules], [tests], only=["MU01", "MU02", "MU07"]).run()
    counts = report.counts
    operators = {m.mutant.operator.code for r in report.rules for m in r.mutants}
    assert operators == {"MU01", "MU02", "MU07"}  # all three kinds exist in the generated rules
    # two threshold-step mutants (up and down) per comparison of every window pair
    step = [m for r in report.rules for m in r.mutants if m.mutant.operator.code == "MU01"]
    assert len(step) >= 8
    assert counts["killed"] > 0
    assert counts["survived"] == 0 and counts["equivalent-suspect"] == 0, report.format_text()
