"""``selfslo mutate``: formats, exit codes, --only, --fail-under, markers, input errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sorted_project import NOT_ENABLED, write_sorted_project
from test_mutate_acceptance import RULES, WEAK_TEST

from pytest_selfslo.cli import main
from pytest_selfslo.mutate.sites import load_rule_sites


@pytest.fixture
def weak(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "rules" / "tests").mkdir(parents=True)
    (tmp_path / "rules" / "alerts.yml").write_text(RULES, encoding="utf-8")
    (tmp_path / "rules" / "tests" / "alerts_test.yml").write_text(WEAK_TEST, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_text_output_and_exit_code(weak: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["mutate"]) == 1  # defaults: rules/*.yml, rules/tests/*.yml
    out = capsys.readouterr().out
    assert "rules/alerts.yml:5:15: MU03 comparison-flip survived in CoherenceLow" in out
    assert out.rstrip().splitlines()[-1].startswith("mutation score: 30.8% (killed 4, survived 9")


def test_fail_under_and_only(weak: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["mutate", "--fail-under", "30"]) == 0
    assert main(["mutate", "--only", "comparison-flip,MU12", "--fail-under", "51"]) == 1
    assert main(["mutate", "--only", "comparison-flip", "--fail-under", "50%"]) == 0
    out = capsys.readouterr().out
    assert "mutation score: 50.0% (killed 1, survived 1" in out
    assert "MU05" not in out.split("mutation score: 30.8%")[-1]


def test_json_format(weak: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["mutate", "--format", "json", "--only", "MU05"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["score"] == 0.0 and data["fail_under"] == 100.0
    (rule,) = data["rules"]
    assert (rule["file"], rule["rule"], rule["counts"]["survived"]) == ("rules/alerts.yml",
                                                                       "CoherenceLow", 3)
    first = rule["mutants"][0]
    assert (first["id"], first["operator"], first["line"], first["column"]) == ("MU05#1", "MU05",
                                                                                6, 14)
    assert first["original"] == "for: 5m" and first["mutant"] == "for: 2m30s"
    assert first["suggestion"]["test_file"] == "rules/tests/alerts_test.yml"
    assert "alert_rule_test" in first["suggestion"]["yaml"]


def test_github_format(weak: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["mutate", "--format", "github", "--only", "MU03"]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("::error file=rules/alerts.yml,line=5,col=15,"
                               "title=MU03 comparison-flip survived::")
    assert "%0A" in lines[0] and lines[-1].startswith("::notice title=mutation score::")


def test_equivalence_marker(weak: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rules = weak / "rules" / "alerts.yml"
    rules.write_text(RULES.replace(
        "      - alert: CoherenceLow\n",
        "      # selfslo-mutate: equivalent=MU03#1,for-changed the test decides what matters\n"
        "      # selfslo-mutate: equivalent=MU03#2 only here to show the note\n"
        "      - alert: CoherenceLow\n"), encoding="utf-8")
    assert main(["mutate", "--only", "MU03,MU05", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    status = {m["id"]: (m["status"], m["equivalent_reason"], m["note"])
              for m in data["rules"][0]["mutants"]}
    assert status["MU03#1"] == ("equivalent", "the test decides what matters", None)
    assert status["MU05#3"][0] == "equivalent"
    # a marked mutant the tests kill anyway is reported with a note to drop the marker
    assert status["MU03#2"][0] == "killed" and "remove the marker" in status["MU03#2"][2]
    assert data["counts"]["equivalent"] == 4 and data["score"] == 100.0


@pytest.mark.parametrize(("comment", "message"), [
    ("# selfslo-mutate: equivalent=MU99 why", "unknown mutation operator 'MU99'"),
    ("# selfslo-mutate: equivalent=MU03", "give the reason the mutant is equivalent"),
    ("# selfslo-mutate: equivalent=MU03#x why", "bad mutant id 'MU03#x'"),
    ("# selfslo-mutate: ignore=MU03 why", "expected 'equivalent=ID[,ID] reason'"),
])
def test_bad_marker_is_an_input_error_with_its_position(
        weak: Path, capsys: pytest.CaptureFixture[str], comment: str, message: str) -> None:
    rules = weak / "rules" / "alerts.yml"
    rules.write_text(RULES.replace("        for: 5m\n", f"        for: 5m  {comment}\n"),
                     encoding="utf-8")
    assert main(["mutate"]) == 2
    err = capsys.readouterr().err
    assert f"rules/alerts.yml:6:18: selfslo-mutate comment: {message}" in err
    assert "Traceback" not in err


def test_input_errors_exit_2(weak: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["mutate", "--only", "bogus"]) == 2
    assert main(["mutate", "--rules", "missing.yml"]) == 2
    (weak / "rules" / "tests" / "alerts_test.yml").write_text("tests: [{interval: x}]\n")
    assert main(["mutate"]) == 2
    err = capsys.readouterr().err
    assert "unknown mutation operator 'bogus'" in err and "missing.yml: no such file" in err
    assert "alerts_test.yml:1:" in err and "Traceback" not in err


def test_list_operators(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["mutate", "--list-operators"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 17 and lines[0].startswith("MU01  threshold-step")


def test_marker_applies_to_the_rule_below_or_around_it(tmp_path: Path) -> None:
    path = tmp_path / "r.yml"
    path.write_text("groups:\n- name: g\n  rules:\n"
                    "  # selfslo-mutate: equivalent=MU02 first\n"
                    "  - alert: A\n    expr: x > 1  # selfslo-mutate: equivalent=MU03#2 inline\n"
                    "  - alert: B\n    expr: y > 1\n", encoding="utf-8")
    a, b = load_rule_sites(path)
    assert [(m.ids, m.reason, m.line) for m in a.markers] == [(("MU02",), "first", 4),
                                                            (("MU03#2",), "inline", 6)]
    assert a.marker_for("MU02#2") is not None and a.marker_for("MU03#1") is None
    assert b.markers == ()


@pytest.fixture
def experimental(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    write_sorted_project(tmp_path)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_experimental_functions_need_enable_feature(experimental: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["mutate"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"selfslo mutate: error: rules/{NOT_ENABLED}"
    assert main(["mutate", "--enable-feature", "promql-experimental-functions"]) == 0
    out = capsys.readouterr().out
    assert out.rstrip().splitlines()[-1].startswith("mutation score: 100.0% (killed 4, survived 0")


def test_enable_feature_is_repeatable_with_comma_lists_and_warns_as_test_rules(
        experimental: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["mutate", "--enable-feature=bogus,promql-experimental-functions",
                 "--enable-feature", "other"]) == 0
    err = capsys.readouterr().err
    assert err.splitlines() == ["  WARNING: Unknown feature passed to --enable-feature: bogus",
                                "  WARNING: Unknown feature passed to --enable-feature: other"]
    assert main(["test-rules", "--enable-feature=bogus,promql-experimental-functions",
                 "--enable-feature", "other", "rules/tests/sorted_test.yml"]) == 0
    assert [line for line in capsys.readouterr().err.splitlines() if "WARNING" in line] == \
        err.splitlines()


def test_promtool_2_releases_cannot_enable_them(experimental: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["mutate", "--semantics", "2.53", "--enable-feature",
                 "promql-experimental-functions"]) == 2
    err = capsys.readouterr().err
    assert 'WARNING: Unknown option for --enable-feature: "promql-experimental-functions"' in err
    assert 'function "sort_by_label" is not enabled' in err
