"""Failure messages of rule unit tests: promtool's lines plus a diff and an explanation.

promtool prints expected and actual alerts/samples as two blobs; finding the
one differing annotation in them is tedious. We keep promtool's ``exp:``/``got:``
lines (so output stays familiar and greppable) and add a unified diff, and for
an expected alert that is not firing, what the rule was doing at that time:
its pending instances (``pending for 4m, `for` is 5m``) or the expression's value.
"""

from __future__ import annotations

import difflib
import json
from typing import TYPE_CHECKING, Any

import numpy as np
import promql_parser

from pytest_selfslo._core.durations import format_duration
from pytest_selfslo._core.gofmt import format_float_g
from pytest_selfslo._core.names import unknown_name
from pytest_selfslo.promql.engine import parse_expr
from pytest_selfslo.promql.histogram import FloatHistogram
from pytest_selfslo.promql.values import Labels, format_labels
from pytest_selfslo.ruletest.jsondiff import Style, json_diff

if TYPE_CHECKING:
    from pytest_selfslo.alerting.ruleeval import GroupRun
    from pytest_selfslo.rulefmt.model import AlertingRule
    from pytest_selfslo.rulefmt.testfile import AlertCase

__all__ = ["alert_failure", "expr_failure", "sample_key"]

LabelsAndAnnotations = tuple[dict[str, str], dict[str, str]]


def sample_key(item: LabelsAndAnnotations) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """Sort key of an alert: labels then annotations (promtool's order)."""
    return sorted(item[0].items()), sorted(item[1].items())


def _go_labels(mapping: dict[str, str]) -> str:
    return "{" + ", ".join(f"{k}={json.dumps(v)}" for k, v in sorted(mapping.items())) + "}"


def _alerts_text(items: list[LabelsAndAnnotations]) -> str:
    if not items:
        return "[]"
    parts = []
    for i, (labels, notes) in enumerate(items):
        parts.append(f"{i}:\n  Labels:{_go_labels(labels)}\n  Annotations:{_go_labels(notes)}")
    return "[\n" + ",\n".join(parts) + "\n]"


def _alerts_json(items: list[LabelsAndAnnotations]) -> list[Any]:
    """The alerts as promtool marshals them for ``--diff`` (an empty list: one empty alert)."""
    return [{"Labels": dict(labels), "Annotations": dict(notes)}
            for labels, notes in items or [({}, {})]]


def _indent_rest(text: str, prefix: str) -> str:
    lines = text.split("\n")
    return "\n".join([lines[0]] + [prefix + line for line in lines[1:]])


def _diff(exp: str, got: str) -> str:
    lines = difflib.unified_diff(exp.splitlines(), got.splitlines(), "expected", "got", lineterm="")
    return "\n".join("            " + line for line in lines)


def alert_failure(run: GroupRun, case: AlertCase, rules: list[AlertingRule],
                  exp: list[LabelsAndAnnotations], got: list[LabelsAndAnnotations],
                  step: int, *, diff: Style | None = None) -> str:
    """promtool's alert mismatch message, a diff, and why expected alerts are missing.

    With ``diff`` (``--diff``) the expected and received alerts are shown as
    promtool's ``diff:`` block (:mod:`.jsondiff`) instead of ``exp:``/``got:``.
    """
    exp_s = sorted(exp, key=sample_key)
    got_s = sorted(got, key=sample_key)
    head = f"    alertname: {case.alertname}, time: {format_duration(case.eval_time_ms)}, "
    if diff is not None:
        lines = [head, "        diff: " + _indent_rest(
            json_diff(_alerts_json(exp_s), _alerts_json(got_s), diff), "            ")]
    else:
        exp_text, got_text = _alerts_text(exp_s), _alerts_text(got_s)
        lines = [
            head,
            "        exp:" + _indent_rest(exp_text, "            ") + ", ",
            "        got:" + _indent_rest(got_text, "            "),
            "        diff (-expected +got):",
            _diff(exp_text, got_text),
        ]
    if not rules:
        loaded = (r.name for g in run.groups for r in g.alerting_rules)
        lines.append(f"        note: {unknown_name('alerting rule', case.alertname, loaded)}")
        return "\n".join(lines)
    missing = [e for e in exp_s if e not in got_s]
    for labels, _ in missing:
        lines.append("        " + _explain(run, rules, labels, step))
    return "\n".join(lines)


def _explain(run: GroupRun, rules: list[AlertingRule], labels: dict[str, str], step: int) -> str:
    when = format_duration(int(run.steps[step] - run.steps[0]))
    for rule in rules:
        for alert in run.alerts_at(rule, step):
            if alert.labels == labels or all(alert.labels.get(k) == v for k, v in labels.items()):
                held = int(run.steps[step]) - alert.active_at_ms
                if alert.state.value == "pending":
                    return (f"expected alert {_go_labels(labels)} is pending for "
                            f"{format_duration(held)} at {when}, `for` is "
                            f"{format_duration(rule.for_ms)} (value {format_float_g(alert.value)})")
                return (f"alert {_go_labels(alert.labels)} is firing at {when} with "
                        f"annotations {_go_labels(alert.annotations)}")
    values: list[str] = []
    for rule in rules:
        values += _expr_values(run, rule.expr, int(run.steps[step]))
    shown = "; ".join(values[:5]) if values else "no series"
    return (f"expected alert {_go_labels(labels)} is not active at {when}: "
            f"the expression returns {shown}")


def _expr_values(run: GroupRun, expr: str, at: int) -> list[str]:
    """Values of ``expr`` at ``at``; for an empty comparison, the left-hand side's values."""
    def values_of(node: Any) -> list[str]:
        value = run.engine.evaluate(node, np.array([at], dtype=np.int64))
        series = getattr(value, "series", None)
        if series is None:
            return [format_float_g(float(value.values[0]))]  # type: ignore[union-attr]
        return [f"{format_labels(s.labels)} "
                + (s.hist[0].test_expression() if s.hist is not None and s.hist[0] is not None
                   else format_float_g(float(s.values[0])))
                for s in series if s.present[0]]

    try:
        node = parse_expr(expr)
        found = values_of(node)
        if not found and isinstance(node, promql_parser.BinaryExpr) and \
                str(node.op) in ("==", "!=", ">", "<", ">=", "<="):
            lhs = values_of(node.lhs)
            if lhs:
                return [f"no series (the comparison's left-hand side {node.lhs} is "
                        + "; ".join(lhs[:5]) + ")"]
        return found
    except Exception as exc:  # explanation only: never mask the failure itself
        return [f"(could not evaluate: {exc})"]


def _samples_text(items: list[tuple[Labels, Any]]) -> str:
    if not items:
        return "nil"
    return ", ".join(f"{_labels_text(lab)} {_value_text(v)}" for lab, v in items)


def _value_text(value: Any) -> str:
    """A sample value as promtool prints it: ``%E`` floats, histograms in series notation."""
    if isinstance(value, FloatHistogram):
        return value.test_expression()
    return _go_e(value)


def _labels_text(labels: Labels) -> str:
    return "{" + ", ".join(f"{k}={json.dumps(v)}" for k, v in labels) + "}"


def _go_e(value: float) -> str:
    """Go ``strconv.FormatFloat(v, 'E', -1, 64)`` as promtool prints sample values."""
    if value == 0 and str(value)[0] != "-":
        return "0E+00"
    text = format_float_g(value, eprec=-100)
    return text.upper() if "e" in text else text


def expr_failure(where: str, exp: list[tuple[Labels, Any]], got: list[tuple[Labels, Any]]) -> str:
    """promtool's expression mismatch message plus a per-sample diff."""
    exp_lines = [f"{_labels_text(lab)} {_value_text(v)}" for lab, v in exp]
    got_lines = [f"{_labels_text(lab)} {_value_text(v)}" for lab, v in got]
    diff = difflib.unified_diff(exp_lines, got_lines, "expected", "got", lineterm="")
    return "\n".join([
        f"{where},",
        f"        exp: {_samples_text(exp)}",
        f"        got: {_samples_text(got)}",
        "        diff (-expected +got):",
        *("            " + line for line in diff),
    ])


