"""The fast rule-file reader (``rules.fastload``) builds exactly what the general loader builds.

Hypothesis writes rule files in the common YAML subset in several styles
(indented or indentless sequences, block or flow label maps, plain or quoted
values, comments, disable comments, blank lines, no final newline) and then
mutates some of them out of the subset or into files with problems. For
every file, ``load_file`` with the fast path and with ``fast=False`` must give
equal RuleFiles (groups, rules, every Field's value/line/column, start/end
lines, disables, findings), and the whole lint the same findings. The lint
that drops each AST once its facts are known (``keep_ast=False``, what
``lint_paths`` does) must find what the lint keeping them finds.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from pytest_selfslo.lint.checks.promql import expr_facts
from pytest_selfslo.lint.context import LintContext
from pytest_selfslo.lint.fastload import build_fast
from pytest_selfslo.lint.loader import RuleFile, load_file
from pytest_selfslo.lint.runner import lint_files, lint_paths

_PLAIN = st.sampled_from(["warning", "critical", "page", "5m", "x y", "a:b", "null", "~",
                          "https://runbooks.example/self#3", "docs/PHASE_B_TO_C_RUNBOOK.md#x",
                          "1.5", "true", "a}b", "v-1"])
_EXPR = st.sampled_from([
    'avg by (token_id) (avg_over_time(self_stress{job="j"}[5m])) > 0.3',
    "self_stress > 1", "rate(self_coherence[30s])", "sum(x_total)", "absent(sum(up))",
    'x{a=~"^b$"} < 2', "avg(", "up == 1", "1",
])
_TEMPLATE = st.sampled_from([
    "token {{ $labels.token_id }} is {{ $value | humanize }}", "plain text", "{{ $label.x }}",
    "{{ $labels.job }}", "value {{ $value }}",
])


@st.composite
def _value(draw: st.DrawFn, inner: st.SearchStrategy[str]) -> str:
    text = draw(inner)
    style = draw(st.sampled_from(["plain", "double", "single"]))
    if style == "double":
        return f'"{text}"'
    if style == "single" or ": " in text or " #" in text or text[:1] in "{-!&*[%@'\"":
        return f"'{text}'"
    return text


@st.composite
def rule_text(draw: st.DrawFn) -> str:
    """A rule file in the subset, in one of several layouts."""
    step = draw(st.sampled_from([2, 4]))
    indentless = draw(st.booleans())
    lines = [draw(st.sampled_from(["", "# a rule file", "# selfslo-lint: disable-file=SL035"]))]
    lines.append("groups:")
    seq = 0 if indentless else step
    for g in range(draw(st.integers(1, 3))):
        lines.append(" " * seq + f"- name: {draw(st.sampled_from(['g', 'h', 'g2']))}{g}")
        gind = seq + 2
        if draw(st.booleans()):
            lines.append(" " * gind + f"interval: {draw(st.sampled_from(['1m', '30s']))}")
        lines.append(" " * gind + "rules:")
        rseq = gind if indentless else gind + step
        for r in range(draw(st.integers(0, 4))):
            if draw(st.integers(0, 5)) == 0:
                lines.append(" " * rseq + "# selfslo-lint: disable=SL031")
            rind = rseq + 2
            kind = draw(st.sampled_from(["alert", "alert", "record"]))
            name = f"A_{g}_{r}" if kind == "alert" else f"job:x:avg{r}"
            lines.append(" " * rseq + f"- {kind}: {name}")
            lines.append(" " * rind + f"expr: {draw(_value(_EXPR))}")
            if kind == "alert":
                if draw(st.booleans()):
                    lines.append(" " * rind + f"for: {draw(st.sampled_from(['5m', '0s', '1h']))}")
                if draw(st.booleans()):
                    sev = draw(_PLAIN)
                    if draw(st.booleans()) and all(c not in sev for c in ":,{}#"):
                        lines.append(" " * rind + f"labels: {{severity: {sev}, team:  ops }}")
                    else:
                        lines.append(" " * rind + "labels:")
                        lines.append(" " * (rind + step) + f"severity: {draw(_value(_PLAIN))}")
                lines.append(" " * rind + "annotations:")
                lines.append(" " * (rind + step) + f"summary: {draw(_value(_TEMPLATE))}")
                lines.append(" " * (rind + step) + f"runbook_url: {draw(_value(_PLAIN))}")
            if draw(st.integers(0, 4)) == 0:
                lines.append("")
    text = "\n".join(lines)
    return text + draw(st.sampled_from(["\n", "", "\n\n", "\n# end\n"]))


_MUTATIONS = ["  ", "\t", "- x", "---", "expr: |", "  extra: 1", "for: 5 minutes",
              "labels: {a: [b]}", "é", "\r", "#", ":", "  - alert: B", "record: bad name"]


@st.composite
def mutated(draw: st.DrawFn) -> str:
    """A subset file, sometimes with a line inserted or a character replaced."""
    text = draw(rule_text())
    how = draw(st.sampled_from(["none", "insert", "replace"]))
    if how == "none" or not text:
        return text
    pos = draw(st.integers(0, len(text) - 1))
    if how == "insert":
        return text[:pos] + draw(st.sampled_from(_MUTATIONS)) + text[pos:]
    return text[:pos] + draw(st.sampled_from(list(" :-#{}'\"\nab0"))) + text[pos + 1:]


def _both(text: str) -> tuple[RuleFile, RuleFile]:
    return load_file("rules.yml", text), load_file("rules.yml", text, fast=False)


@given(rule_text())
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_subset_files_take_the_fast_path_and_load_identically(text: str) -> None:
    fast, general = _both(text)
    assert fast == general
    # a clean file in the subset must not need the general loader (a null, which Go reads
    # as "", is left to it)
    nulls = re.search(r"(:|,) *(null|~) *(,|}|$)", text, re.M)
    if not general.findings and not nulls:
        probe = RuleFile("rules.yml", "rules", text=text)
        assert build_fast(probe, text, {})


@given(mutated())
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_mutated_files_load_identically(text: str) -> None:
    fast, general = _both(text)
    assert fast == general


@given(mutated())
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_fast_path_gives_the_same_findings(text: str) -> None:
    fast, general = _both(text)
    assert ([f.format() for f in lint_files([fast], LintContext(root=Path.cwd()))]
            == [f.format() for f in lint_files([general], LintContext(root=Path.cwd()))])


@pytest.mark.parametrize("text", [
    "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: x > 1\n    for: 5m\n",
    "groups:\n  - name: g\n    rules:\n      - record: r\n        expr: x\n\n      # c\n"
    "      - alert: B\n        expr: y\n",
    "  groups:\n  - name: g\n    rules: \n    - alert: A\n      expr: 'x > 1'\n",
    "groups:\n  - name: g\n    interval: 1m\n    limit: 3\n    rules:\n      - alert: A\n"
    "        expr: x > 1\n        labels: { }\n        annotations: {summary: s, b: c d}",
])
def test_known_layouts_take_the_fast_path(text: str) -> None:
    probe = RuleFile("rules.yml", "rules", text=text)
    assert build_fast(probe, text, {})
    assert load_file("rules.yml", text) == load_file("rules.yml", text, fast=False)


@pytest.mark.parametrize("text", [
    "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: |\n          x > 1\n",
    "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: x >\n          1\n",
    "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: x > 1 # c\n",
    "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: x\n        expr: y\n",
    "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: \"a\\tb\"\n",
    "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: x\n        for: 5 m\n",
    "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: x\n        bogus: 1\n",
    "groups:\n\t- name: g\n", "---\ngroups: []\n", "groups: []\n", "",
])
def test_unusual_or_faulty_files_use_the_general_loader(text: str) -> None:
    probe = RuleFile("rules.yml", "rules", text=text)
    assert not build_fast(probe, text, {})
    assert probe.groups == []
    assert load_file("rules.yml", text) == load_file("rules.yml", text, fast=False)


@given(mutated())
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_released_asts_give_the_same_findings(text: str) -> None:
    """lint_paths keeps no AST (``keep_ast=False``): the checks must not notice."""
    kept = lint_files([load_file("rules.yml", text)], LintContext(root=Path.cwd()))
    released = lint_files([load_file("rules.yml", text)], LintContext(root=Path.cwd()),
                          keep_ast=False)
    assert sorted(f.format() for f in released) == sorted(f.format() for f in kept)


def test_release_drops_the_ast_but_keeps_facts_and_labels() -> None:
    text = ("groups:\n  - name: g\n    rules:\n      - alert: A\n"
            "        expr: avg by (job) (self_stress) > 1\n        labels: {severity: page}\n")
    rf = load_file("rules.yml", text)
    ctx = LintContext(root=Path.cwd())
    findings = lint_files([rf], ctx, keep_ast=False)
    rule = rf.rules()[0]
    assert rule.ast is None and rule.expr_index.released and rule.expr_index.nodes == []
    assert rule.expr_index.labels(None).kept == frozenset({"job"})
    problems, threshold, conditional, _uses = ctx.expr_problems[rule.expr.value]
    assert [p[0] for p in problems] == ["SL031"] and threshold and conditional
    assert {f.code for f in findings} >= {"SL031", "SL020", "SL021", "SL022"}
    with pytest.raises(ValueError, match="released"):
        expr_facts(rule.expr.value, rule.expr_index, 60.0)


def test_files_with_unit_test_series_keep_their_asts(tmp_path: Path) -> None:
    """SL036 reads the AST of rule files that unit tests load."""
    (tmp_path / "r.yml").write_text(
        "groups:\n  - name: g\n    rules:\n      - record: r\n        expr: a / on(x) b\n")
    (tmp_path / "t.yml").write_text(
        "rule_files: [r.yml]\ntests:\n  - input_series:\n"
        "      - {series: 'a{x=\"1\",y=\"1\"}', values: '1'}\n"
        "      - {series: 'a{x=\"1\",y=\"1\",z=\"2\"}', values: '1'}\n"
        "      - {series: 'b{x=\"1\",y=\"1\"}', values: '1'}\n")
    files = [load_file(tmp_path / "r.yml"), load_file(tmp_path / "t.yml")]
    kept = lint_files(files, LintContext(root=tmp_path), keep_ast=False)
    assert files[0].rules()[0].ast is not None
    assert [f.code for f in kept] == ["SL036"]
    assert [f.code for f in lint_paths([tmp_path])] == ["SL036"]


@pytest.mark.parametrize("char", ["\r", "\x0b", "\x0c", "\x1c", "\x85", "\x7f", "\t", "\x00", "é",
                                  "\ufeff"])
def test_lines_with_unusual_characters_use_the_general_loader(char: str) -> None:
    """libyaml breaks lines and counts columns differently there (or rejects the text)."""
    text = ("groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: x > 1\n"
            f"        for: 5m{char}\n")
    probe = RuleFile("rules.yml", "rules", text=text)
    assert not build_fast(probe, text, {})
    assert load_file("rules.yml", text) == load_file("rules.yml", text, fast=False)


_LAST_RULE = "groups:\n  - name: g0\n    rules:\n      - record: a:b\n        expr: up"


@pytest.mark.parametrize("tail", [
    "", "\n", "\n\n", "\n# end", "\n# end\n", "\n#      ", "\n#xxxxxxx", "  # c", "\n  ",
    "\n" + " " * 8, "\n\n# x", "\n# a\n# b", "\n       #", "\n        #",
])
def test_the_last_rule_ends_where_libyaml_ends_it(tail: str) -> None:
    """A file without a final newline whose last line is blank or a comment: libyaml ends
    the last rule's mapping on that line when the line is shorter than the mapping's
    indent (8 here), else on the line after; the fast path must agree (found by
    hypothesis: a trailing '# end' made the fast path's end line one too far)."""
    fast, general = _both(_LAST_RULE + tail)
    assert general.findings == [] and fast == general
