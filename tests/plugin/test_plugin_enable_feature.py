"""``--self-slo-enable-feature`` / ini ``selfslo_enable_feature``: promtool's ``--enable-feature``
for the rule-test items, the ``mutants[...]`` items and the ``::promtool`` cross-checks."""

from __future__ import annotations

import pytest
from promtool_runs import available
from sorted_project import NOT_ENABLED as SORTED_NOT_ENABLED, write_sorted_project

#: promtool 3.4+'s message for the rule without the feature
NOT_ENABLED = f"*{SORTED_NOT_ENABLED}*"
ENABLE = "--self-slo-enable-feature=promql-experimental-functions"
EMBEDDED = "--self-slo-prometheus=embedded"  # no real promtool: only the embedded engine's items


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    write_sorted_project(pytester.path)
    return pytester


def test_without_the_feature_the_rule_test_fails_with_promtools_message(
        project: pytest.Pytester) -> None:
    result = project.runpytest("--self-slo", EMBEDDED, "rules", "-v")
    # the rule test and, as promtool check rules, the rule file's ``valid``; the linter does
    # not look at which functions a release offers (both ``lint`` items pass)
    result.assert_outcomes(failed=2, passed=2)
    result.stdout.fnmatch_lines(["*rules/sorted.yml::lint PASSED*"])
    result.stdout.fnmatch_lines(["*sorted.yml is not a valid rule file (1 problem(s)):",
                                 NOT_ENABLED])
    result.stdout.fnmatch_lines(["*rule test 'sorted' in sorted_test.yml failed*", NOT_ENABLED])


@pytest.mark.parametrize(("args", "ini"), [
    ([ENABLE], ""),
    (["--self-slo-enable-feature", "promql-delayed-name-removal,promql-experimental-functions"],
     ""),
    ([], "selfslo_enable_feature = promql-experimental-functions\n"),
    ([], "selfslo_enable_feature = promql-delayed-name-removal, promql-experimental-functions\n"),
], ids=["option", "comma-list", "ini", "ini-list"])
def test_with_the_feature_the_rule_test_passes(project: pytest.Pytester, args: list[str],
                                               ini: str) -> None:
    project.makeini(f"[pytest]\n{ini}")
    result = project.runpytest("--self-slo", EMBEDDED, *args, "rules",
                               "-W", "error::pytest_selfslo.plugin.config.SelfSloConfigWarning")
    result.assert_outcomes(passed=4)  # the group, valid and the two files' lint


def test_the_command_line_wins_over_the_ini(project: pytest.Pytester) -> None:
    project.makeini("[pytest]\nselfslo_enable_feature = promql-experimental-functions\n")
    result = project.runpytest("--self-slo", EMBEDDED, "--self-slo-enable-feature=other",
                               "rules", "-k", "sorted_test.yml and not lint")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([NOT_ENABLED])


def test_unknown_names_warn_as_test_rules_does(project: pytest.Pytester) -> None:
    result = project.runpytest("--self-slo", EMBEDDED,
                               "--self-slo-enable-feature=bogus,promql-experimental-functions",
                               "--self-slo-enable-feature", "other", "rules", "-k",
                               "sorted_test.yml")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines([
        "*SelfSloConfigWarning: --self-slo-enable-feature: Unknown feature passed to "
        "--enable-feature: bogus",
        "*SelfSloConfigWarning: --self-slo-enable-feature: Unknown feature passed to "
        "--enable-feature: other"])


def test_promtool_2_cannot_enable_experimental_functions(project: pytest.Pytester) -> None:
    """As promtool 2.53 (which knows sort_by_label): the flag warns and enables nothing."""
    result = project.runpytest("--self-slo", EMBEDDED, "--self-slo-semantics=2.53", ENABLE,
                               "rules", "-k", "sorted_test.yml and not lint")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "*--self-slo-enable-feature: Unknown option for --enable-feature: "
        "\"promql-experimental-functions\"*"])
    result.stdout.fnmatch_lines([NOT_ENABLED])


def test_mutants_need_the_feature_too(project: pytest.Pytester) -> None:
    args = ("--self-slo", EMBEDDED, "--self-slo-mutate", "--self-slo-mutation-fail-under=0",
            "rules", "-k", "mutants")
    without = project.runpytest(*args)
    without.assert_outcomes(failed=1)
    without.stdout.fnmatch_lines([NOT_ENABLED])
    with_it = project.runpytest(*args, ENABLE, "-v")
    with_it.assert_outcomes(passed=1)
    with_it.stdout.fnmatch_lines(["*rules/sorted.yml::mutants?job up sorted? PASSED*",
                                  "mutation score: 100.0% (killed 4, survived 0*"])


def _promtool_3_4() -> str:
    found = [p for p in available() if p.version >= (3, 4, 0)]
    if not found:
        pytest.skip("no promtool 3.4+ (the first that can enable experimental functions) in "
                    "$SELFSLO_PROMTOOLS or on PATH")
    return found[-1].path


@pytest.mark.selfslo_slow
def test_the_promtool_cross_check_passes_the_feature_on(project: pytest.Pytester) -> None:
    promtool = _promtool_3_4()
    args = ("--self-slo", f"--self-slo-promtool={promtool}", "rules", "-k", "promtool")
    without = project.runpytest(*args)
    without.assert_outcomes(failed=2)  # promtool test rules and promtool check rules
    without.stdout.fnmatch_lines(["*promtool 3.* FAILED sorted_test.yml (the embedded engine fails "
                                  "it too*", '*function "sort_by_label" is not enabled*'])
    without.stdout.fnmatch_lines(["*promtool check rules rejected sorted.yml:*",
                                  '*function "sort_by_label" is not enabled*'])
    project.runpytest(*args, ENABLE).assert_outcomes(passed=2)
