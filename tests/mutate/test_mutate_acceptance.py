"""Acceptance 1: a weak suite shows survivors with suggested tests; pasting them kills them.

The suite only checks that the alert fires at 10m on values far below the
threshold. Threshold nudges, the comparison flip and ``for`` changes survive,
each with a suggested test; the suggestions are pasted under ``tests:`` (the
text the report shows, unchanged) and the same mutants are then killed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_selfslo.mutate.report import KILLED, SURVIVED, MutationReport
from pytest_selfslo.mutate.runner import MutationSuite
from pytest_selfslo.ruletest.runner import run_rule_tests

#: a rule file and a deliberately weak unit test of it (docs/mutation.md's worked example)
WEAK = Path(__file__).resolve().parent / "weak"
RULES = (WEAK / "alerts.yml").read_text(encoding="utf-8")
WEAK_TEST = (WEAK / "tests" / "alerts_test.yml").read_text(encoding="utf-8")


@pytest.fixture
def weak(tmp_path: Path) -> Path:
    (tmp_path / "tests").mkdir()
    (tmp_path / "alerts.yml").write_text(RULES, encoding="utf-8")
    (tmp_path / "tests" / "alerts_test.yml").write_text(WEAK_TEST, encoding="utf-8")
    return tmp_path


def _run(root: Path) -> MutationReport:
    return MutationSuite.load([str(root / "alerts.yml")], [str(root / "tests" / "*.yml")]).run()


def _by_id(report: MutationReport) -> dict[str, object]:
    return {m.mutant.id: m for r in report.rules for m in r.mutants}


def test_weak_suite_survivors_come_with_suggested_tests(weak: Path) -> None:
    report = _run(weak)
    results = _by_id(report)
    survived = {i for i, m in results.items() if m.status == SURVIVED}  # type: ignore[attr-defined]
    # threshold nudged up (by the step and by 10%) and down by 10%, < flipped to <=, for
    # halved, doubled and zeroed: the test never looks at the boundary or before 10m
    assert {"MU01#1", "MU02#1", "MU02#2", "MU03#1", "MU05#1", "MU05#2", "MU05#3"} <= survived
    # the step down lands on the test's own value (< 0.2 is false there): killed; so is `>`
    assert results["MU01#2"].status == KILLED  # type: ignore[attr-defined]
    assert results["MU03#2"].status == KILLED  # type: ignore[attr-defined]
    for mutant_id in survived:
        result = results[mutant_id]
        assert result.suggestion is not None, mutant_id  # type: ignore[attr-defined]
        assert result.suggestion.test_file == str(weak / "tests" / "alerts_test.yml")  # type: ignore[attr-defined]
    text = report.format_text(weak)
    assert "alerts.yml:5:15: MU01 threshold-step survived in CoherenceLow (MU01#1: < 0.8 -> < 0.801)" in text
    assert "  - avg_over_time(self_coherence[5m]) < 0.8\n  + avg_over_time(self_coherence[5m]) <= 0.8" in text
    assert "alerts.yml:6:14: MU05 for-changed survived in CoherenceLow (MU05#3: for 5m -> 0s (zeroed))" in text
    assert "  - for: 5m\n  + for: 0s" in text
    assert "suggested test (paste under `tests:` in tests/alerts_test.yml):" in text
    assert report.score < 50 and report.exit_code(100) == 1


def test_pasting_the_suggested_tests_kills_the_survivors(weak: Path) -> None:
    before = _run(weak)
    survivors = {m.mutant.id for r in before.rules for m in r.open}
    snippets = []
    for r in before.rules:
        for m in r.open:
            assert m.suggestion is not None
            if m.suggestion.yaml not in snippets:
                snippets.append(m.suggestion.yaml)
    test_file = weak / "tests" / "alerts_test.yml"
    test_file.write_text(WEAK_TEST + "".join(snippets), encoding="utf-8")
    assert run_rule_tests([str(test_file)]).passed  # the pasted tests pass on the original
    after = _by_id(_run(weak))
    assert survivors and all(after[i].status == KILLED for i in survivors), {  # type: ignore[attr-defined]
        i: after[i].status for i in survivors}  # type: ignore[attr-defined]
    assert all(m.status == KILLED for m in after.values())  # type: ignore[attr-defined]


def test_a_suite_that_already_fails_is_a_setup_error(weak: Path) -> None:
    from pytest_selfslo.mutate.runner import MutationSetupError

    test_file = weak / "tests" / "alerts_test.yml"
    test_file.write_text(WEAK_TEST.replace("is 0.2", "is 0.3"), encoding="utf-8")
    with pytest.raises(MutationSetupError, match="fails without any mutation"):
        _run(weak)
