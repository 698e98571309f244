"""One failing and one passing example per lint check, plus disable comments and positions."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from pytest_selfslo.lint.findings import CHECKS, Severity
from pytest_selfslo.lint.runner import lint_paths

GOOD_ANN = """\
        labels: {severity: warning}
        annotations:
          summary: "s {{ $labels.token_id }}"
          runbook_url: docs/rb.md#self-slo-violations"""


def _alert(expr: str, extra: str = "", for_: str = "5m", name: str = "A") -> str:
    lines = [f"      - alert: {name}", f"        expr: {expr}"]
    if for_:
        lines.append(f"        for: {for_}")
    text = "\n".join(lines) + "\n" + GOOD_ANN + "\n"
    return text + (extra + "\n" if extra else "")


def _file(*rules: str, group: str = "g") -> str:
    return f"groups:\n  - name: {group}\n    rules:\n" + "".join(rules)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A tiny repository: root marker and a runbook with the expected anchor."""
    (tmp_path / "pyproject.toml").write_text("[project]\nname='x'\n")
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "rb.md").write_text("# Runbook\n\n## SELF SLO violations\n\ntext\n")
    return tmp_path


def _codes(repo: Path, text: str, name: str = "r.yml") -> list[str]:
    path = repo / name
    path.write_text(textwrap.dedent(text) if text.startswith(" ") else text)
    return [f.code for f in lint_paths([path])]


CASES: dict[str, tuple[str, str]] = {
    "SL001": ("groups: [\n", _file(_alert("self_stress > 0.3"))),
    "SL002": (_file(_alert("self_stress > 0.3", extra="        bogus: 1")),
              _file(_alert("self_stress > 0.3"))),
    "SL003": (_file(_alert("'self_stress >'")), _file(_alert("self_stress > 0.3"))),
    "SL004": (_file(_alert("self_stress > 0.3", extra="        # {{ $label.x }} is fine in a comment")
                    ).replace('summary: "s {{ $labels.token_id }}"',
                              'summary: "s {{ $label.token_id }}"'),
              _file(_alert("self_stress > 0.3"))),
    "SL010": (_file(_alert("self_stress > 0.3")) + _file(_alert("self_stress > 0.3"))
              .replace("groups:\n", ""),
              _file(_alert("self_stress > 0.3")) + _file(_alert("self_stress > 0.3"),
                                                         group="h").replace("groups:\n", "")),
    "SL011": (_file(_alert("self_stress > 0.3"), _alert("self_stress > 0.4")),
              _file(_alert("self_stress > 0.3"), _alert("self_stress > 0.4", name="B"))),
    "SL020": (_file(_alert("self_stress > 0.3", for_="")), _file(_alert("self_stress > 0.3"))),
    "SL021": (_file(_alert("self_stress > 0.3")).replace("severity: warning", "severity: page"),
              _file(_alert("self_stress > 0.3"))),
    "SL022": (_file(_alert("self_stress > 0.3")).replace("summary:", "description:"),
              _file(_alert("self_stress > 0.3"))),
    "SL023": (_file(_alert("self_stress > 0.3")).replace("#self-slo-violations", "#nope"),
              _file(_alert("self_stress > 0.3"))),
    "SL024": (_file(_alert("avg(self_stress)", for_="")),
              _file(_alert("absent(self_stress)"), _alert("self_stress unless up", name="B"))),
    "SL030": (_file(_alert("rate(self_stress[5m]) > 0.1")),
              _file(_alert("rate(requests_total[5m]) > 0.1"))),
    "SL031": (_file(_alert("self_stress > 1")), _file(_alert("self_stress > 0.3"))),
    "SL032": (_file(_alert("avg(self_stress) > 0.3")),
              _file(_alert("avg by (token_id) (self_stress) > 0.3"))),
    "SL033": (_file(_alert('self_stress{token_id=~"^a.*$"} > 0.3')),
              _file(_alert('self_stress{token_id=~"a.*"} > 0.3'))),
    "SL034": (_file(_alert("absent(sum(self_stress))")), _file(_alert("absent(self_stress)"))),
    "SL035": (_file(_alert("avg_over_time(self_stress[1m]) > 0.3")),
              _file(_alert("avg_over_time(self_stress[2m]) > 0.3"))),
}


@pytest.mark.parametrize("code", sorted(CASES))
def test_check_fails_on_bad_example(repo: Path, code: str) -> None:
    bad, _good = CASES[code]
    assert code in _codes(repo, bad)


@pytest.mark.parametrize("code", sorted(CASES))
def test_check_passes_on_good_example(repo: Path, code: str) -> None:
    _bad, good = CASES[code]
    assert code not in _codes(repo, good)


def test_every_check_has_an_example_or_its_own_test() -> None:
    own_tests = {"SL005", "SL036", "SL040", "SL041",  # test files, conformance, drift
                 # online checks: a fake API (test_lint_online_faults.py) and real servers
                 # (tests/e2e/test_e2e_online_lint.py)
                 "SL050", "SL051", "SL052", "SL053", "SL054", "SL055"}
    assert set(CHECKS) == set(CASES) | own_tests


def test_test_file_problems_are_sl005(repo: Path) -> None:
    text = ("rule_files: [missing.yml]\ntests:\n  - input_series:\n"
            "      - series: 'up{job=\"x\"'\n        values: '1x3'\n")
    (repo / "t.yml").write_text(text)
    found = lint_paths([repo / "t.yml"])
    msgs = [f.format() for f in found]
    assert any("SL005" in m and "'missing.yml' matches no file" in m for m in msgs), msgs
    assert any(f.code == "SL005" and f.line == 4 and "invalid series descriptor" in f.message
               for f in found), msgs


def test_valid_test_file_has_no_sl005(repo: Path) -> None:
    (repo / "r.yml").write_text(_file(_alert("self_stress > 0.3")))
    (repo / "t.yml").write_text("rule_files: [r.yml]\ntests:\n  - input_series:\n"
                                "      - series: 'self_stress{token_id=\"a\"}'\n"
                                "        values: '0.1+0.1x3 _ stale'\n"
                                "    promql_expr_test:\n      - expr: self_stress\n")
    assert lint_paths([repo / "t.yml"]) == []


def test_native_histogram_series_notation_is_checked(repo: Path) -> None:
    (repo / "r.yml").write_text(_file(_alert("histogram_count(h) > 3")))
    good = "{{schema:0 sum:5 count:4 buckets:[1 2 1]}}+{{count:1 buckets:[1]}}x3"
    for values, problems in ((good, []), ("{{schema:0 count:4 count:5}}", ["duplicate key"])):
        (repo / "t.yml").write_text("rule_files: [r.yml]\ntests:\n  - input_series:\n"
                                    "      - series: 'h'\n"
                                    f"        values: '{values}'\n"
                                    "    promql_expr_test:\n      - expr: h\n")
        found = lint_paths([repo / "t.yml"])
        assert [f.code for f in found] == ["SL005"] * len(problems), [f.format() for f in found]
        assert all(p in f.message and f.line == 5 for p, f in zip(problems, found, strict=True))


def test_vector_matching_passes_with_unique_match_groups(repo: Path) -> None:
    (repo / "r.yml").write_text(_file(_alert("join_1 + on(a, b) join_2 > 0")))
    (repo / "r_test.yml").write_text(
        "rule_files: [r.yml]\ntests:\n  - input_series:\n"
        "      - {series: 'join_1{a=\"1\",b=\"2\"}', values: '1'}\n"
        "      - {series: 'join_2{a=\"1\",b=\"2\"}', values: '1'}\n"
        "      - {series: 'join_2{a=\"1\",b=\"3\"}', values: '1'}\n")
    assert "SL036" not in [f.code for f in lint_paths([repo / "r.yml"])]


def test_vector_matching_uses_test_series(repo: Path) -> None:
    (repo / "r.yml").write_text(_file(_alert("join_1 + on(a) join_2 > 0")))
    (repo / "r_test.yml").write_text(
        "rule_files: [r.yml]\ntests:\n  - input_series:\n"
        "      - {series: 'join_1{a=\"1\"}', values: '1'}\n"
        "      - {series: 'join_2{a=\"1\",b=\"2\"}', values: '1'}\n"
        "      - {series: 'join_2{a=\"1\",b=\"3\"}', values: '1'}\n")
    found = [f for f in lint_paths([repo / "r.yml", repo / "r_test.yml"]) if f.code == "SL036"]
    assert len(found) == 1
    assert "2 series on the right side share the match group {a=\"1\"}" in found[0].message
    assert "[series from r_test.yml]" in found[0].message
    assert [f.code for f in lint_paths([repo]) if f.code == "SL036"] == ["SL036"]
    # a file named alone is linted alone: its neighbours are not read
    assert "SL036" not in [f.code for f in lint_paths([repo / "r.yml"])]


def test_messages_and_positions(repo: Path) -> None:
    (repo / "r.yml").write_text(_file(_alert("self_stress > 1")))
    (finding,) = [f for f in lint_paths([repo / "r.yml"]) if f.code == "SL031"]
    assert (finding.line, finding.column) == (5, 15)
    assert finding.severity is Severity.ERROR
    assert finding.format() == (
        f"{repo / 'r.yml'}:5:15 SL031 group \"g\", rule 1, \"A\": comparison '> 1' is never "
        "true: self_stress is always in [0, 1]")


def test_always_true_comparison_is_reported(repo: Path) -> None:
    (repo / "r.yml").write_text(_file(_alert("self_coherence >= 0")))
    msgs = [f.message for f in lint_paths([repo / "r.yml"]) if f.code == "SL031"]
    assert msgs and "is always true" in msgs[0]


def test_disable_comment_on_rule(repo: Path) -> None:
    rule = _alert("self_stress > 1").replace(
        "      - alert: A", "      # selfslo-lint: disable=impossible-comparison\n      - alert: A")
    codes = _codes(repo, _file(rule, _alert("self_coherence < -1", name="B")))
    assert codes.count("SL031") == 1  # B still reported


def test_disable_comment_inline_and_per_file(repo: Path) -> None:
    inline = _alert("self_stress > 1  # selfslo-lint: disable=SL031")
    assert "SL031" not in _codes(repo, _file(inline))
    whole = "# selfslo-lint: disable-file=SL031,SL035\n" + _file(
        _alert("self_stress > 1"), _alert("avg_over_time(self_stress[30s]) > 2", name="B"))
    codes = _codes(repo, whole)
    assert "SL031" not in codes and "SL035" not in codes


def test_unknown_code_in_disable_comment_is_reported(repo: Path) -> None:
    found = lint_paths([_write(repo, "# selfslo-lint: disable=SL999\n" + _file(
        _alert("self_stress > 0.3")))])
    assert [(f.code, f.line) for f in found] == [("SL002", 1)]
    assert "unknown lint check 'SL999'" in found[0].message


def test_disabled_argument(repo: Path) -> None:
    path = _write(repo, _file(_alert("self_stress > 1")))
    assert lint_paths([path], disabled=["SL031"]) == []
    with pytest.raises(ValueError, match="unknown lint check 'nope'"):
        lint_paths([path], disabled=["nope"])


def test_template_label_kept_by_on_and_label_replace(repo: Path) -> None:
    ok = _alert('label_replace(sum(self_stress), "token_id", "x", "", "") > 0.3')
    assert "SL032" not in _codes(repo, _file(ok))
    dropped = _alert("self_stress > on(job) group_left up")
    assert "SL032" not in _codes(repo, _file(dropped))  # many-to-one keeps lhs labels
    only_on = _alert("self_stress > on(job) up")
    assert "SL032" in _codes(repo, _file(only_on))


def test_every_dropped_label_and_missing_annotation_is_reported(repo: Path) -> None:
    """SL032 for each label a template reads (``$labels.x`` and ``index $labels "x"``) that the
    expression drops, in the template's order; SL022 for each missing required annotation."""
    rule = _alert("sum by (job) (self_stress) > 0.3").replace(
        'summary: "s {{ $labels.token_id }}"',
        """summary: '{{ $labels.job }} {{ index $labels "pod" }} {{ $labels.token_id }}'""")
    path = _write(repo, _file(rule))
    found = [(f.code, f.message.split("uses ")[-1]) for f in lint_paths([path])
             if f.code == "SL032"]
    assert [m.split(",")[0] for _c, m in found] == ["$labels.pod", "$labels.token_id"]
    bare = _file(_alert("self_stress > 0.3")).replace(
        '          summary: "s {{ $labels.token_id }}"\n', "").replace(
        "          runbook_url: docs/rb.md#self-slo-violations", "          other: x")
    messages = [f.message for f in lint_paths([_write(repo, bare)]) if f.code == "SL022"]
    assert sorted(m.rsplit(" ", 1)[-1] for m in messages) == ["'runbook_url'", "'summary'"]


def _write(repo: Path, text: str) -> Path:
    path = repo / "w.yml"
    path.write_text(text)
    return path


def test_negative_duration_is_sl002_not_a_parser_panic(repo: Path) -> None:
    # promql-parser's parse_duration panics (Rust) on "-328"; found by the robustness test
    found = lint_paths([_write(repo, _file(_alert("self_stress > 0.3", for_="-328")))])
    # the invalid `for` is dropped, so the alert also counts as having none (SL020)
    assert [(f.code, f.line) for f in found] == [("SL020", 4), ("SL002", 6)]
    assert "for: expected a duration such as '5m', got '-328'" in found[1].message
