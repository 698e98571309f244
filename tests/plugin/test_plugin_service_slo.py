"""``pytest --self-slo --self-slo-slo=FILE`` with a Sloth, OpenSLO or Pyrra spec (auto-detected)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import pytest_selfslo.ruletest.runner  # noqa: F401  (numpy-backed: imported once, outside the runs)
from pytest_selfslo.slo.burnrate import generate_rules
from pytest_selfslo.slo.importers import import_spec

DATA = Path(__file__).parents[1] / "slo" / "data"
SPECS = {"openslo": DATA / "openslo_checkout.yml", "pyrra": DATA / "pyrra_api_latency.yml",
         "sloth": DATA / "sloth_getting_started.yml"}
INI = "[pytest]\nselfslo_prometheus = embedded\nselfslo_canary_default = off\n"


def _project(pytester: pytest.Pytester, fmt: str) -> Path:
    (pytester.path / "rules").mkdir()
    shutil.copy(SPECS[fmt], pytester.path / "spec.yml")
    rules = pytester.path / "rules" / "slo.yml"
    rules.write_text(generate_rules(import_spec(SPECS[fmt])))
    pytester.makeini(INI)
    return rules


@pytest.mark.parametrize("fmt", sorted(SPECS))
def test_service_spec_items_pass(pytester: pytest.Pytester, fmt: str) -> None:
    _project(pytester, fmt)
    result = pytester.runpytest("--self-slo", "rules", "--self-slo-slo=spec.yml", "-v")
    result.stdout.fnmatch_lines_random(["*selfslo::slo-spec PASSED*",
                                        "*selfslo::slo-generated-tests PASSED*",
                                        "*selfslo::drift PASSED*"])
    assert result.ret == 0


def test_rules_that_disagree_with_the_spec_are_drift(pytester: pytest.Pytester) -> None:
    rules = _project(pytester, "pyrra")
    text = rules.read_text()
    page = repr(14 * (1 - 99 / 100))  # Pyrra's 14 * (1-0.99)
    assert f"> {page})" in text
    rules.write_text(text.replace(f"> {page})", "> 0.14)", 1))
    result = pytester.runpytest("--self-slo", "rules", "--self-slo-slo=spec.yml")
    result.stdout.fnmatch_lines(["*the rules disagree with the SLO spec (1 finding(s))*",
                                 "*rules/slo.yml:*SL040 alert ApiLatencyBudgetBurn (slo_severity=page): "
                                 "the expression differs*"])
    assert result.ret == pytest.ExitCode.TESTS_FAILED


def test_unmappable_spec_fails_the_spec_item_with_its_location(pytester: pytest.Pytester) -> None:
    _project(pytester, "pyrra")
    spec = pytester.path / "spec.yml"
    spec.write_text(spec.read_text().replace("window: 4w", "window: 2w"))
    result = pytester.runpytest("--self-slo", "rules", "--self-slo-slo=spec.yml")
    result.stdout.fnmatch_lines(["*spec.yml:13:11: window: '2w' is not supported*"])
    assert result.ret == pytest.ExitCode.TESTS_FAILED


SLI_PLUGINS = Path(__file__).parents[1] / "slo" / "sli_plugins"
PLUGIN_SPEC = DATA / "sloth_plugin.yml"


@pytest.mark.parametrize("how", ["option", "ini"])
def test_sloth_spec_with_an_sli_plugin(pytester: pytest.Pytester, how: str) -> None:
    (pytester.path / "rules").mkdir()
    shutil.copy(PLUGIN_SPEC, pytester.path / "spec.yml")
    shutil.copytree(SLI_PLUGINS, pytester.path / "sli_plugins")
    (pytester.path / "rules" / "slo.yml").write_text(
        generate_rules(import_spec(PLUGIN_SPEC, [SLI_PLUGINS])))
    pytester.makeini(INI + ("selfslo_sli_plugins = sli_plugins\n" if how == "ini" else ""))
    args = ["--self-slo-sli-plugins=sli_plugins"] if how == "option" else []
    result = pytester.runpytest("--self-slo", "rules", "--self-slo-slo=spec.yml", *args, "-v")
    result.stdout.fnmatch_lines_random(["*selfslo::slo-spec PASSED*",
                                        "*selfslo::slo-generated-tests PASSED*",
                                        "*selfslo::drift PASSED*"])
    assert result.ret == 0


def test_sloth_plugin_spec_without_plugin_dirs_fails_located(pytester: pytest.Pytester) -> None:
    (pytester.path / "rules").mkdir()
    shutil.copy(PLUGIN_SPEC, pytester.path / "spec.yml")
    (pytester.path / "rules" / "slo.yml").write_text(
        generate_rules(import_spec(PLUGIN_SPEC, [SLI_PLUGINS])))
    pytester.makeini(INI)
    result = pytester.runpytest("--self-slo", "rules", "--self-slo-slo=spec.yml")
    result.stdout.fnmatch_lines(["*spec.yml:11:13: sli.plugin.id: unknown SLI plugin "
                                 "'getting_started_availability'*"])
    assert result.ret == pytest.ExitCode.TESTS_FAILED


def test_missing_sli_plugin_dir_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makeini(INI)
    result = pytester.runpytest("--self-slo", "--self-slo-sli-plugins=nope")
    result.stderr.fnmatch_lines(["*--self-slo-sli-plugins (command line): no such directory: "
                                 "nope*"])
    assert result.ret == pytest.ExitCode.USAGE_ERROR
