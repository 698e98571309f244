"""SLO drift: rule thresholds vs the SLO spec vs the canary policy gates.

The SLO numbers live in the spec; rules and policy repeat them, so they can
drift. Every mismatch is a finding at the rule (or gate) that disagrees and
its message names the other location, e.g.::

    rules/phase_c_rules.yml:9:10 SL040 alert AURIS_SELF_Coherence_Drop: threshold 0.85
    differs from the SLO target 0.80 of objective 'coherence' (slo.yml:5)

What is compared, per objective with an ``alert``:
* the alert exists, in the spec's ``alert_group``, with expression
  ``avg_over_time(<metric>[<window>]) <violation op> <target>``, the spec's
  ``for``, ``severity`` and ``runbook_url``;
* every other comparison of ``<metric>`` against a constant in any rule
  (burn-rate indicators) uses ``<target>``;
and per canary gate: a rule comparing the gate's metric against a constant
uses the gate's threshold (SL041), and a gate on a SELF metric uses the SLO
target.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import promql_parser as pp

from pytest_selfslo._core.durations import format_duration
from pytest_selfslo.lint.checks.promql import locate
from pytest_selfslo.lint.documents import load_files
from pytest_selfslo.lint.findings import CHECKS, Finding
from pytest_selfslo.lint.model import Rule, RuleFile
from pytest_selfslo.lint.prepare import expand_paths, parse_exprs
from pytest_selfslo.lint.promql_walk import (
    COMPARISONS,
    domain_of,
    number_value,
    op_name,
    parse_promql,
    unwrap,
)
from pytest_selfslo.lint.render import format_number, to_seconds
from pytest_selfslo.promql.astwalk import selectors
from pytest_selfslo.rulefmt.goyaml import MAPPING, SCALAR, SEQUENCE, Node, compose, read_document
from pytest_selfslo.slo.burnrate import rule_groups
from pytest_selfslo.slo.service import ServiceSLOs
from pytest_selfslo.slo.spec import DEFAULT_SLO_SPEC

if TYPE_CHECKING:
    from pytest_selfslo.canary.policy import CanaryPolicy, Gate
    from pytest_selfslo.slo.spec import Objective, SLOSpec

__all__ = ["check_drift", "check_service_drift", "drift_findings", "normal_form",
           "service_drift_findings"]

_DEFAULT_SPEC_FILE = Path(__file__).resolve().parents[1] / "data" / "default_slo.yml"
_FLIP = {">": "<", "<": ">", ">=": "<=", "<=": ">=", "==": "==", "!=": "!="}
_VIOLATION = {">=": "<", ">": "<=", "<=": ">", "<": ">="}


def _item_lines(path: str | Path | None, list_key: str) -> dict[str, dict[str, int]]:
    """For a YAML file with a list of named items: item name -> {key -> line} ("" = item)."""
    if path is None:
        return {}
    try:  # the one YAML reader; a FIFO or a device is refused, never read
        root, problem = compose(read_document(path), str(path))
    except (OSError, UnicodeDecodeError):
        return {}
    if problem is not None or root is None:
        return {}
    out: dict[str, dict[str, int]] = {}
    items = _fields(root)
    listed = items.get(list_key)
    for node in listed.deref.value if listed is not None and listed.deref.kind == SEQUENCE else []:
        fields = _fields(node)
        name = fields.get("name")
        if name is not None and name.deref.kind == SCALAR:
            lines = {k: v.line for k, v in fields.items()}
            lines[""] = node.line
            out[str(name.deref.value)] = lines
    return out


def _fields(node: Node) -> dict[str, Node]:
    """A mapping's scalar keys -> value nodes (empty for anything else)."""
    target = node.deref
    if target.kind != MAPPING:
        return {}
    return {str(k.value): v for k, v in target.value if k.kind == SCALAR}


class _Where:
    """Names the spec/policy side of a mismatch: ``file:line`` when known."""

    def __init__(self, path: str | Path | None, fallback: str, list_key: str) -> None:
        self.path = str(path) if path is not None else None
        self.fallback = fallback
        self.lines = _item_lines(path, list_key)

    def __call__(self, name: str, key: str = "") -> str:
        lines = self.lines.get(name, {})
        line = lines.get(key) or lines.get("")
        if self.path is None:
            return self.fallback
        return f"{self.path}:{line}" if line else self.path


def _comparisons(rule: Rule) -> Iterable[tuple[str, str, float, Any]]:
    """(metric, op as `metric op c`, c, node) for comparisons of a known metric with a constant."""
    if rule.ast is None:
        return
    for node in rule.nodes:
        if not (isinstance(node, pp.BinaryExpr) and op_name(node.op) in COMPARISONS):
            continue
        op, c, side = op_name(node.op), number_value(node.rhs), node.lhs
        if c is None:
            op, c, side = _FLIP[op], number_value(node.lhs), node.rhs
        dom = domain_of(side) if c is not None else None
        if c is not None and dom is not None:
            yield dom[2], op, c, node


def _window_of(node: Any) -> float | None:
    """Range of the ``avg_over_time(metric[w])`` on the non-constant side of a comparison."""
    for side in (node.lhs, node.rhs):
        call = unwrap(side)
        if isinstance(call, pp.Call) and call.args:
            arg = unwrap(call.args[0])
            if isinstance(arg, pp.MatrixSelector):
                return float(arg.range.total_seconds())
    return None


def _locate_number(rf: RuleFile, rule: Rule, value: float) -> tuple[int, int]:
    """Position of the threshold literal in the expression (``0.85``, ``0.850``...)."""
    for text in dict.fromkeys((format_number(value), f"{value:g}", repr(value))):
        pos = locate(rf, rule.expr, f" {text}")
        if pos != (rule.expr.line, rule.expr.column):
            return pos[0], pos[1] + 1
    return rule.expr.line, rule.expr.column


def _same(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=0, abs_tol=1e-9)


class _Drift:
    def __init__(self, files: Sequence[RuleFile]) -> None:
        self.files = files
        self.out: list[Finding] = []

    def add(self, rf: RuleFile, code: str, line: int, col: int, message: str,
            rule: Rule | None = None) -> None:
        found = rf.finding(code, line, col, message, rule)
        if found is not None:
            self.out.append(found)

    def objective(self, spec: SLOSpec, obj: Objective, where: _Where) -> None:
        alerts = [(rf, g, r) for rf in self.files for g in rf.groups for r in g.rules
                  if r.kind == "alert" and r.name.value == obj.alert]
        loc = where(obj.name)
        if not alerts:
            if self.files:
                rf = self.files[0]
                self.add(rf, "SL040", 1, 1, f"alert {obj.alert} of SLO objective {obj.name!r} "
                         f"({loc}) is not defined in any linted rule file")
            return
        for rf, group, rule in alerts:
            self._alert(spec, obj, where, rf, group.name.value, rule)

    def _alert(self, spec: SLOSpec, obj: Objective, where: _Where, rf: RuleFile, group: str,
               rule: Rule) -> None:
        name = f"alert {obj.alert}"
        if group != spec.alert_group:
            self.add(rf, "SL040", rule.name.line, rule.name.column,
                     f"{name} is in group {group!r}, the SLO spec puts it in "
                     f"{spec.alert_group!r} ({where.path or where.fallback})", rule)
        comps = [c for c in _comparisons(rule) if c[0] == obj.metric]
        if not comps:
            self.add(rf, "SL040", rule.expr.line, rule.expr.column,
                     f"{name} does not compare {obj.metric} with a threshold; the SLO spec "
                     f"({where(obj.name)}) expects {obj.metric} {obj.comparison} "
                     f"{format_number(obj.target)}", rule)
        for _metric, op, _c, node in comps:
            expected_op = _VIOLATION.get(obj.comparison, "?")
            if op != expected_op:
                self.add(rf, "SL040", rule.expr.line, rule.expr.column,
                         f"{name} fires on '{op}', the SLO spec objective {obj.name!r} "
                         f"({where(obj.name, 'comparison')}) is '{obj.comparison}' so the alert "
                         f"must use '{expected_op}'", rule)
            window = _window_of(node)
            if window is not None and not _same(window, to_seconds(obj.window)):
                self.add(rf, "SL040", rule.expr.line, rule.expr.column,
                         f"{name} averages over {format_duration(int(window * 1000))}"
                         f", the SLO spec window is {obj.window} ({where(obj.name, 'window')})",
                         rule)
        fr = rule.for_.value if rule.for_ is not None else "0s"
        sev = rule.labels.get("severity")
        link = rule.annotations.get("runbook_url")
        # (field, what the rule has, what the spec says, do they agree, spec key)
        for fld, got, want, same, key in (
            (rule.for_, f"for: {fr}", obj.for_, _same(to_seconds(fr), to_seconds(obj.for_)),
             "for"),
            (sev, f"severity {sev.value if sev else None!r}", repr(obj.severity),
             sev is not None and sev.value == obj.severity, "severity"),
            (link, f"runbook_url {link.value if link else None!r}", repr(spec.runbook_url),
             link is not None and link.value == spec.runbook_url, "runbook_url"),
        ):
            if not same:
                at = fld or rule.name
                loc = where(obj.name, key) if key != "runbook_url" else (
                    where.path or where.fallback)
                self.add(rf, "SL040", at.line, at.column,
                         f"{name} has {got}, the SLO spec says {want} ({loc})", rule)

    def gate_mismatch(self, gate: Gate, pwhere: _Where,
                      slo: tuple[str, float, str, str]) -> None:
        """A canary gate on a SELF metric whose threshold is not the SLO target."""
        message = (f"canary gate {gate.name!r} threshold "
                   f"{format_number(float(gate.threshold))} differs from the {slo[2]} "
                   f"{format_number(slo[1])} ({slo[3]})")
        line = pwhere.lines.get(gate.name, {}).get("threshold")
        if pwhere.path is not None:
            self.out.append(Finding(pwhere.path, line or 1, 1, "SL041",
                                    CHECKS["SL041"].severity, message))
        elif self.files:
            self.add(self.files[0], "SL041", 1, 1, f"{message} [{pwhere.fallback}]")

    def thresholds(self, expected: dict[str, tuple[str, float, str, str]]) -> None:
        """Every comparison of a metric with a constant uses the expected value."""
        for rf in self.files:
            for rule in rf.rules():
                for metric, _op, c, _node in _comparisons(rule):
                    if metric not in expected:
                        continue
                    code, target, what, loc = expected[metric]
                    if not _same(c, target):
                        line, col = _locate_number(rf, rule, c)
                        self.add(rf, code, line, col,
                                 f"{rule.where}: threshold {c:g} on {metric} differs from the "
                                 f"{what} {format_number(target)} ({loc})", rule)


def drift_findings(files: Sequence[RuleFile], spec: SLOSpec | ServiceSLOs | None,
                   policy: CanaryPolicy | None = None, *,
                   spec_path: str | Path | None = None,
                   policy_path: str | Path | None = None) -> list[Finding]:
    """Drift findings for already-loaded rule files (see :func:`check_drift`); a service
    SLO spec (:class:`~pytest_selfslo.slo.service.ServiceSLOs`) is compared by
    :func:`service_drift_findings`."""
    if isinstance(spec, ServiceSLOs):
        return (service_drift_findings(files, spec, spec_path=spec_path)
                + drift_findings(files, None, policy, policy_path=policy_path))
    drift = _Drift([rf for rf in files if rf.kind == "rules"])
    if (spec_path is None and spec is not None and spec == DEFAULT_SLO_SPEC
            and _DEFAULT_SPEC_FILE.is_file()):
        spec_path = _DEFAULT_SPEC_FILE
    swhere = _Where(spec_path, "the SLO spec (DEFAULT_SLO_SPEC)", "objectives")
    pwhere = _Where(policy_path, "the canary policy (DEFAULT_POLICY)", "gates")
    expected: dict[str, tuple[str, float, str, str]] = {}
    if spec is not None:
        for obj in spec.objectives:
            expected[obj.metric] = ("SL040", float(obj.target),
                                    f"SLO target of objective {obj.name!r}",
                                    swhere(obj.name, "target"))
            if obj.alert:
                drift.objective(spec, obj, swhere)
    if policy is not None:
        for gate in policy.gates:
            for metric in {n.name for n in _gate_selectors(gate.expr)}:
                slo = expected.get(metric)
                if slo is not None and not _same(slo[1], float(gate.threshold)):
                    drift.gate_mismatch(gate, pwhere, slo)
                if slo is None:
                    expected[metric] = ("SL041", float(gate.threshold),
                                        f"threshold of canary gate {gate.name!r}",
                                        pwhere(gate.name, "threshold"))
    drift.thresholds(expected)
    return drift.out


def _gate_selectors(expr: str) -> list[Any]:
    return [n for n in selectors(parse_promql(expr)) if n.name]


def check_drift(rule_paths: Iterable[str | Path], spec: SLOSpec | ServiceSLOs | None,
                policy: CanaryPolicy | None = None, *,
                spec_path: str | Path | None = None,
                policy_path: str | Path | None = None) -> list[Finding]:
    """Compare rule files with the SLO spec (and canary policy); findings SL040/SL041.

    ``spec_path``/``policy_path`` name the files the spec/policy came from, so
    messages can cite ``file:line``; the built-in default spec cites
    ``pytest_selfslo/data/default_slo.yml``. Files that do not parse yield
    their SL001-SL003 findings (drift cannot be judged without their rules).
    """
    files = [rf for p in expand_paths(rule_paths) for rf in load_files(p)]
    broken: list[Finding] = []
    for rf in files:
        parse_exprs(rf)
        broken += rf.findings
    out = broken + drift_findings(files, spec, policy, spec_path=spec_path,
                                  policy_path=policy_path)
    return sorted(out)


# --- service SLOs (Sloth, OpenSLO, Pyrra, selfslo/v1): generated rules vs the repo's ----------

def normal_form(expr: str) -> str:
    """An expression's AST normal form (promql-parser's prettified AST: whitespace, matcher
    order, ``max(...) without (l)`` vs ``max without (l) (...)`` do not matter)."""
    try:
        text = str(pp.parse(expr).prettify())
    except (ValueError, RuntimeError):
        text = expr
    return " ".join(text.replace("( ", "(").replace(" )", ")").split())


def _one_line(expr: str) -> str:
    try:
        return str(pp.parse(expr))
    except (ValueError, RuntimeError):
        return " ".join(expr.split())


def _rule_labels(rule: Rule) -> dict[str, str]:
    return {k: v.value for k, v in rule.labels.items()}


def _labels_diff(got: dict[str, str], want: dict[str, str]) -> str:
    parts = []
    for key in sorted(set(got) | set(want)):
        if key not in got:
            parts.append(f"missing {key}={want[key]!r}")
        elif key not in want:
            parts.append(f"extra {key}={got[key]!r}")
        elif got[key] != want[key]:
            parts.append(f"{key}={got[key]!r} (spec: {want[key]!r})")
    return ", ".join(parts)


def service_drift_findings(files: Sequence[RuleFile], spec: ServiceSLOs, *,
                           spec_path: str | Path | None = None) -> list[Finding]:
    """Rules that disagree with what ``selfslo slo generate`` makes of ``spec`` (SL040).

    Per generated rule: the repo has a rule of that name (alerts: with the same severity
    label) whose expression has the same AST normal form, the same labels and the same
    ``for`` (none, except for Pyrra's pairs and absent alerts); with several such rules of
    one name and severity, one that agrees in everything is enough.
    A generated rule the repo lacks is a finding at the first rule file's first line.
    """
    rule_files = [rf for rf in files if rf.kind == "rules"]
    if not rule_files:
        return []
    drift = _Drift(rule_files)
    where = str(spec_path) if spec_path is not None else "the SLO spec"
    sev_key = spec.scheme.severity
    repo = [(rf, r) for rf in rule_files for g in rf.groups for r in g.rules]
    for group in rule_groups(spec):
        for gen in group["rules"]:
            kind = "alert" if "alert" in gen else "record"
            name = gen[kind]
            want = {str(k): str(v) for k, v in gen.get("labels", {}).items()}
            if kind == "alert":
                what = f"alert {name} ({sev_key}={want.get(sev_key)})"
                candidates = [(rf, r) for rf, r in repo if r.kind == "alert"
                              and r.name.value == name
                              and _rule_labels(r).get(sev_key) == want.get(sev_key)]
            else:
                keys = [k for k in (spec.scheme.service, spec.scheme.slo, spec.scheme.window)
                        if k in want]
                what = f"recording rule {name} ({', '.join(f'{k}={want[k]}' for k in keys)})"
                candidates = [(rf, r) for rf, r in repo if r.kind == "record"
                              and r.name.value == name
                              and all(_rule_labels(r).get(k) == want[k] for k in keys)]
            if not candidates:
                drift.add(rule_files[0], "SL040", 1, 1,
                          f"{what} generated from {where} is not defined in any linted rule file")
                continue
            want_for = to_seconds(gen["for"]) if gen.get("for") else 0
            # several generated alerts of one name and severity (Pyrra's pairs, absent
            # alerts): one of the candidates agreeing in everything is enough
            if len(candidates) > 1 and any(
                    normal_form(gen["expr"]) == normal_form(r.expr.value)
                    and _rule_labels(r) == want
                    and (to_seconds(r.for_.value) if r.for_ is not None else 0) == want_for
                    for _, r in candidates):
                continue
            same_labels = [(rf, r) for rf, r in candidates if _rule_labels(r) == want]
            for rf, rule in same_labels if len(candidates) > 1 and same_labels else candidates:
                _compare(drift, rf, rule, gen["expr"], want, what, where, want_for)
    return drift.out


def _compare(drift: _Drift, rf: RuleFile, rule: Rule, expr: str, want: dict[str, str],
             what: str, where: str, want_for: float = 0) -> None:
    if normal_form(expr) != normal_form(rule.expr.value):
        ours, theirs = _one_line(expr), _one_line(rule.expr.value)
        drift.add(rf, "SL040", rule.expr.line, rule.expr.column,
                  f"{what}: the expression differs from the one generated from {where}: "
                  f"got {theirs!r}, the spec gives {ours!r}", rule)
    diff = _labels_diff(_rule_labels(rule), want)
    if diff:
        drift.add(rf, "SL040", rule.name.line, rule.name.column,
                  f"{what}: labels differ from the ones generated from {where}: {diff}", rule)
    got_for = to_seconds(rule.for_.value) if rule.for_ is not None else 0
    if got_for != want_for and not want_for:
        assert rule.for_ is not None
        drift.add(rf, "SL040", rule.for_.line, rule.for_.column,
                  f"{what} has for: {rule.for_.value}, the rules generated from {where} have "
                  "none (the short window confirms the burn)", rule)
    elif got_for != want_for:
        line, col = (rule.for_.line, rule.for_.column) if rule.for_ is not None else (
            rule.name.line, rule.name.column)
        drift.add(rf, "SL040", line, col,
                  f"{what} has for: {rule.for_.value if rule.for_ else 'none'}, the rules "
                  f"generated from {where} have for: {want_for:g}s", rule)


def check_service_drift(rule_paths: Iterable[str | Path], spec: ServiceSLOs, *,
                        spec_path: str | Path | None = None) -> list[Finding]:
    """:func:`service_drift_findings` for rule files on disk (unparsable files: their findings)."""
    files = [rf for p in expand_paths(rule_paths) for rf in load_files(p)]
    broken: list[Finding] = []
    for rf in files:
        broken += rf.findings
    return sorted(broken + service_drift_findings(files, spec, spec_path=spec_path))
