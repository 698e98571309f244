"""The README's main job, ``pytest --self-slo rules``, on a copy of this repo's assets.

Also the real-promtool cross-check: it agrees on our rules, and a disagreement
(forced with a stand-in ``promtool`` that always fails) shows both outputs.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from promtool_runs import Promtool
from stand_in_promtool import FAILED_LINE, fake_bin, promtool_script, python_only_path

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def repo_copy(pytester: pytest.Pytester) -> pytest.Pytester:
    """rules/, docs/ and the sample heartbeat log of this repo, no ini (defaults apply)."""
    shutil.copytree(REPO / "rules", pytester.path / "rules")
    shutil.copytree(REPO / "docs", pytester.path / "docs")
    (pytester.path / "fixtures").mkdir()
    shutil.copy(REPO / "fixtures" / "identity.jsonl", pytester.path / "fixtures")
    pytester.makeini("[pytest]\nselfslo_heartbeats = fixtures/identity.jsonl\n"
                     "selfslo_canary_max_examples = 3\n")
    return pytester


def test_bundled_rules_pass_with_real_promtool_cross_check(repo_copy: pytest.Pytester,
                                                            promtool_bin: Promtool) -> None:
    result = repo_copy.runpytest("--self-slo", "rules", "-v", "-p", "no:cacheprovider",
                                 f"--self-slo-promtool={promtool_bin.path}")
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()
    result.stdout.fnmatch_lines_random([
        "rules/phase_c_rules.yml::promtool-check PASSED*",
        "rules/tests/self_slo_test.yml::promtool PASSED*",
        "selfslo::heartbeats?coherence? PASSED*",
        "rule coverage: 100.0% of 18 rules",
    ])


def test_breaking_a_bundled_rule_test_fails_readably(repo_copy: pytest.Pytester) -> None:
    test_file = repo_copy.path / "rules" / "tests" / "self_slo_test.yml"
    text = test_file.read_text()
    assert "exp_labels: {severity: warning, token_id: low}" in text
    test_file.write_text(text.replace("exp_labels: {severity: warning, token_id: low}",
                                      "exp_labels: {severity: critical, token_id: low}", 1))
    result = repo_copy.runpytest("--self-slo", "rules", "--self-slo-prometheus=embedded")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines([
        "*rule test 'unnamed#0' in self_slo_test.yml failed*",
        "*alertname: AURIS_SELF_Coherence_Drop, time: 5m,*",
        '*Labels:{alertname="AURIS_SELF_Coherence_Drop", severity="critical", token_id="low"}*',
    ])
    result.stdout.no_fnmatch_line("*Traceback*")


FAILING_PROMTOOL = promtool_script("2.42.0", passes=False)


def test_promtool_disagreement_shows_both_outputs(repo_copy: pytest.Pytester,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    bin_dir = repo_copy.path / "bin"
    fake_bin(bin_dir, "promtool", FAILING_PROMTOOL)
    monkeypatch.setenv("PATH", python_only_path(bin_dir))
    result = repo_copy.runpytest("--self-slo", "rules/tests/self_slo_test.yml",
                                 "rules/phase_c_rules.yml")
    result.stdout.fnmatch_lines([
        "*promtool 2.42.0 FAILED self_slo_test.yml (the embedded engine passes it: they "
        "disagree; Prometheus 2.x semantics)",
        "--- promtool test rules self_slo_test.yml (promtool 2.42.0, exit 1) ---",
        "Unit Testing:  self_slo_test.yml",
        FAILED_LINE,
        "--- embedded engine ---",
        "Unit Testing:  *self_slo_test.yml",
        "  SUCCESS",
    ])
    result.stdout.fnmatch_lines(["*promtool check rules rejected phase_c_rules.yml:*"])


def test_promtool_items_are_slow_and_deselectable(repo_copy: pytest.Pytester,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    bin_dir = repo_copy.path / "bin"
    fake_bin(bin_dir, "promtool", FAILING_PROMTOOL)
    monkeypatch.setenv("PATH", str(bin_dir))
    result = repo_copy.runpytest("--self-slo", "rules/tests/self_slo_test.yml", "-m",
                                 "not selfslo_slow", "--self-slo-rules=rules/phase_c_rules.yml")
    # 4 rule tests and the file's lint, slo-spec + drift + 3 heartbeat objectives, 8 canary
    # items (the rule file itself is not under the given path); the promtool cross-check is
    # deselected
    result.assert_outcomes(passed=4 + 1 + 5 + 8, deselected=1)


def test_promtool_option_picks_the_binary(repo_copy: pytest.Pytester,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """``--self-slo-promtool`` runs that binary even when none is on PATH."""
    fake = fake_bin(repo_copy.path / "pinned", "promtool-2.42", FAILING_PROMTOOL)
    monkeypatch.setenv("PATH", python_only_path())
    result = repo_copy.runpytest("--self-slo", "rules/tests/self_slo_test.yml",
                                 "--self-slo-rules=rules/phase_c_rules.yml",
                                 "--self-slo-promtool=pinned/promtool-2.42")
    result.stdout.fnmatch_lines(["*promtool 2.42.0 FAILED self_slo_test.yml (the embedded "
                                 "engine passes it: they disagree*",
                                 FAILED_LINE])
    assert fake.is_file()


def test_local_prometheus_path_brings_its_promtool(repo_copy: pytest.Pytester,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """``local:DIR/prometheus`` also selects ``DIR/promtool`` for the cross-checks."""
    bin_dir = repo_copy.path / "prom-3" / "usr" / "bin"
    fake_bin(bin_dir, "prometheus", "#!/bin/sh\nexit 1\n")
    fake_bin(bin_dir, "promtool", promtool_script("3.5.0", passes=False))
    monkeypatch.setenv("PATH", python_only_path())
    result = repo_copy.runpytest("--self-slo", "rules/tests/self_slo_test.yml",
                                 "--self-slo-rules=rules/phase_c_rules.yml",
                                 "--self-slo-prometheus=local:prom-3/usr/bin/prometheus")
    result.stdout.fnmatch_lines(["*promtool 3.5.0 FAILED self_slo_test.yml (the embedded "
                                 "engine passes it: they disagree; Prometheus 3.x semantics)"])
