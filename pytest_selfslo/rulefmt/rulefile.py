"""Prometheus rule files: loading and ``promtool check rules``-grade validation.

A rule file is ``groups: [{name, interval, query_offset, limit, labels,
rules: [{record|alert, expr, for, keep_firing_for, labels, annotations}]}]``.
Validation follows Prometheus' ``model/rulefmt`` checks (unknown fields,
duplicate group names, exactly one of ``record``/``alert``, ``expr`` set and
parseable, no ``for``/``annotations`` on recording rules, valid metric, label
and annotation names, templates that parse) and reports *every* problem with
``path:line:column`` instead of stopping at the first one.

Two entry points:

* :func:`check_rule_file` -- the linter API: a list of :class:`RuleProblem`
  (empty when the file is fine);
* :func:`load_rule_files` -- expands globs, loads groups, raises
  :class:`~pytest_selfslo._core.errors.RuleFileError` listing all problems of the
  first bad file.

The YAML is read as ``model/rulefmt`` reads it: ``yaml.v3`` with known
fields (:mod:`pytest_selfslo.rulefmt.goyaml`: merge keys, Go's scalars,
duplicate keys). ``semantics`` names the Prometheus release whose fields and
quirks apply (:mod:`pytest_selfslo.rulefmt.releases`): ``query_offset`` from
2.53, group ``labels`` from 3.0, and before 3.3 ``record``/``alert``/``expr``
are the raw YAML node (an alias gives the anchor name, ``expr: null`` the
expression ``null``). Names are validated with Prometheus' legacy (pre-UTF-8)
character sets, the stricter of the two schemes, so a file accepted here
loads on 2.x and 3.x.
"""

from __future__ import annotations

import glob
import os
import re
from collections.abc import Iterable
from pathlib import Path

import promql_parser

from pytest_selfslo._core.errors import RuleFileError, TemplateError
from pytest_selfslo._core.goregex import go_parse_error
from pytest_selfslo._core.limits import DEFAULT_LIMITS, Limits, read_limited_text
from pytest_selfslo.promql.astwalk import regex_matcher_error
from pytest_selfslo.promql.exprguard import check_expr, ensure_recursion
from pytest_selfslo.rulefmt import releases
from pytest_selfslo.rulefmt.goyaml import ALIAS, MAPPING, SCALAR, Node, Problem, Reader, compose
from pytest_selfslo.rulefmt.manifests import is_manifest, rule_documents
from pytest_selfslo.rulefmt.model import AlertingRule, RecordingRule, Rule, RuleGroup
from pytest_selfslo.template.parse import parse_template

__all__ = ["RuleProblem", "check_rule_file", "check_rule_text", "load_rule_files",
           "parse_rule_text"]

RuleProblem = Problem

_METRIC_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


def check_rule_file(path: str | Path, *, ignore_unknown_fields: bool = False,
                    semantics: str = "3", limits: Limits = DEFAULT_LIMITS) -> list[RuleProblem]:
    """Every problem in the rule file at ``path`` (empty list: the file is valid).

    A file that is not a regular file or is over ``limits.max_file_bytes``, or an
    expression over the PromQL size limits, raises
    :class:`~pytest_selfslo.errors.LimitError` instead.
    """
    try:
        text = read_rule_text(path, limits)
    except RuleFileError as exc:
        return [RuleProblem(str(path), 1, 1, "read", str(exc).split(": ", 1)[1])]
    return _parsed(text, str(path), ignore_unknown_fields, semantics)[1]


#: (path, text, ignore_unknown_fields, semantics) -> parse result: a rule file that
#: ``::valid``, several rule-test files and the drift check all read is parsed once per
#: run (keyed by content, so a rewritten file is parsed again)
_PARSED: dict[tuple[str, str, bool, str], tuple[list[RuleGroup], list[RuleProblem]]] = {}
_PARSED_MAX = 64


def _parsed(text: str, path: str, ignore_unknown_fields: bool,
            semantics: str) -> tuple[list[RuleGroup], list[RuleProblem]]:
    key = (path, text, ignore_unknown_fields, semantics)
    hit = _PARSED.get(key)
    if hit is None:
        hit = parse_rule_text(text, path, ignore_unknown_fields=ignore_unknown_fields,
                              semantics=semantics)
        if len(_PARSED) >= _PARSED_MAX:
            _PARSED.clear()
        _PARSED[key] = hit
    return list(hit[0]), list(hit[1])


def read_rule_text(path: str | Path, limits: Limits = DEFAULT_LIMITS) -> str:
    """The text of a rule file; :class:`RuleFileError` when it cannot be read as UTF-8,
    :class:`~pytest_selfslo.errors.LimitError` when it is not a regular file or too big."""
    try:
        return read_limited_text(path, "rule file", limits)
    except (OSError, UnicodeDecodeError) as exc:
        raise RuleFileError(f"{path}: cannot read rule file: {exc}") from exc


def check_rule_text(text: str, path: str = "<rules>", *, ignore_unknown_fields: bool = False,
                    semantics: str = "3") -> list[RuleProblem]:
    """Every problem in rule-file ``text`` (``path`` is only used in positions)."""
    return parse_rule_text(text, path, ignore_unknown_fields=ignore_unknown_fields,
                           semantics=semantics)[1]


def parse_rule_text(text: str, path: str = "<rules>", *, ignore_unknown_fields: bool = False,
                    semantics: str = "3") -> tuple[list[RuleGroup], list[RuleProblem]]:
    """Groups decoded from ``text`` plus every validation problem found on the way.

    A Kubernetes manifest (``PrometheusRule``, ``ConfigMap``, several documents)
    is read as the rule files it holds, with positions in ``text``
    (:mod:`pytest_selfslo.rulefmt.manifests`).
    """
    if is_manifest(text):
        documents, trouble = rule_documents(text)
        groups: list[RuleGroup] = []
        problems = [RuleProblem(path, p.line, p.column, "yaml-syntax" if p.kind == "syntax"
                                else "manifest", p.message) for p in trouble]
        for doc in documents:
            more, found = _parse_plain(doc.text, path, ignore_unknown_fields, semantics)
            groups += more
            problems += found
        return groups, problems
    return _parse_plain(text, path, ignore_unknown_fields, semantics)


def _parse_plain(text: str, path: str, ignore_unknown_fields: bool, semantics: str
                 ) -> tuple[list[RuleGroup], list[RuleProblem]]:
    root, syntax = compose(text, path)
    if syntax is not None:
        return [], [syntax]
    return parse_rule_nodes(root, path, ignore_unknown_fields=ignore_unknown_fields,
                            semantics=semantics)


def parse_rule_nodes(root: Node | None, path: str, *, ignore_unknown_fields: bool = False,
                     semantics: str = "3") -> tuple[list[RuleGroup], list[RuleProblem]]:
    """Groups decoded from an already composed rule file (see :func:`parse_rule_text`)."""
    release = releases.release_of(semantics)
    reader = Reader(path, "v3", ignore_unknown_fields=ignore_unknown_fields)
    top = reader.mapping(root, "rule file", ("groups",))
    groups: list[RuleGroup] = []
    seen: dict[str, int] = {}
    group_nodes = reader.sequence(top["groups"][1], "groups") if "groups" in top else []
    for group_node in group_nodes:
        group = _group(reader, group_node, path, release)
        if group is None:
            continue
        if group.name in seen:
            reader.problem(group_node, "duplicate-group",
                           f"groupname: {group.name!r} is repeated in the same file "
                           f"(first defined on line {seen[group.name]})")
        else:
            seen[group.name] = group.line
        groups.append(group)
    return groups, reader.problems


def _group(reader: Reader, node: Node, path: str, release: releases.Release) -> RuleGroup | None:
    fields = reader.mapping(node, "rule group", releases.rule_group_fields(release))
    if not fields and node.deref.kind != MAPPING:
        return None
    name_node = fields.get("name", (None, None))[1]
    name = reader.string(name_node, "group name")
    if name == "":
        reader.problem(node, "group-name", "Groupname must not be empty")
    where = f"group {name!r}"
    group_labels = reader.string_map(fields.get("labels", (None, None))[1], f"{where} labels")
    label_node = fields.get("labels", (None, None))[1]
    _check_labels(reader, label_node, group_labels, where, release)
    rules: list[Rule] = []
    for index, rule_node in enumerate(reader.sequence(fields.get("rules", (None, None))[1],
                                                      f"{where} rules"), start=1):
        rule = _rule(reader, rule_node, path, f"{where}, rule {index}", index, group_labels,
                     release)
        if rule is not None:
            rules.append(rule)
    return RuleGroup(
        name=name, file=path, rules=tuple(rules),
        interval_ms=reader.duration(fields.get("interval", (None, None))[1], f"{where} interval"),
        query_offset_ms=reader.duration(fields.get("query_offset", (None, None))[1],
                                        f"{where} query_offset"),
        limit=reader.integer(fields.get("limit", (None, None))[1], f"{where} limit"),
        line=node.line,
    )


def _raw(reader: Reader, node: Node | None, what: str, release: releases.Release) -> str:
    """``record``/``alert``/``expr``: before 3.3 a raw ``yaml.Node``'s Value (alias: its name)."""
    if release >= releases.RULE_NAME_ALIASES or node is None:
        return reader.string(node, what)
    if node.kind == ALIAS:
        return str(node.value)
    return str(node.value) if node.kind == SCALAR else ""


def _rule(reader: Reader, node: Node, path: str, where: str, index: int,
          group_labels: dict[str, str], release: releases.Release) -> Rule | None:
    fields = reader.mapping(node, where, releases.rule_fields(release))
    if node.deref.kind != MAPPING:
        return None

    def value(key: str) -> Node | None:
        return fields[key][1] if key in fields else None

    record = _raw(reader, value("record"), f"{where} record", release)
    alert = _raw(reader, value("alert"), f"{where} alert", release)
    name = alert or record
    where = f"{where} ({name!r})" if name else where
    expr = _raw(reader, value("expr"), f"{where} expr", release)
    for_ms = reader.duration(value("for"), f"{where} for")
    keep_ms = reader.duration(value("keep_firing_for"), f"{where} keep_firing_for")
    labels = reader.string_map(value("labels"), f"{where} labels")
    annotations = reader.string_map(value("annotations"), f"{where} annotations")
    name_node = value("record") if record else value("alert") if alert else node

    if record and alert:
        reader.problem(value("record"), "record-and-alert",  # where rulefmt points
                       f"{where}: only one of 'record' and 'alert' must be set")
    if not record and not alert:
        reader.problem(node, "no-record-or-alert",
                       f"{where}: one of 'record' or 'alert' must be set")
    if expr.strip() == "":
        reader.problem(value("expr") or node, "no-expr", f"{where}: field 'expr' must be set in rule")
    else:
        _check_expr(reader, value("expr"), expr, where)
    if record:
        for present, field_name in ((bool(annotations) , "annotations"), (for_ms != 0, "for"),
                                    (keep_ms != 0, "keep_firing_for")):
            if present:
                reader.problem(name_node, "recording-field",
                               f"{where}: invalid field {field_name!r} in recording rule")
        if not _METRIC_NAME.match(record):
            reader.problem(name_node, "record-name",
                           f"{where}: invalid recording rule name: {record!r} "
                           "(expected [a-zA-Z_:][a-zA-Z0-9_:]*)")
        if "{" in record or "}" in record:
            reader.problem(name_node, "record-braces",
                           f"{where}: braces present in the recording rule name; "
                           f"should it be in expr?: {record}")
    _check_labels(reader, value("labels"), labels, where, release)
    ann_node = value("annotations")
    for key in annotations:
        if not _LABEL_NAME.match(key):
            reader.problem(ann_node, "annotation-name", f"{where}: invalid annotation name: {key!r}")
    if alert:
        for kind, mapping, at in (("label", labels, value("labels")),
                                  ("annotation", annotations, ann_node)):
            for key, text in mapping.items():
                try:
                    parse_template(text, f"__alert_{alert}")
                except TemplateError as exc:
                    reader.problem(at, "template", f"{where}: {kind} {key!r}: {exc}")
    merged = {**group_labels, **labels}
    line = (name_node or node).line
    expr_node = value("expr") or node
    expr_pos = (expr_node.line, expr_node.column)
    if alert:
        return AlertingRule(name=alert, expr=expr, for_ms=for_ms, keep_firing_for_ms=keep_ms,
                            labels=merged, annotations=annotations, file=path, line=line,
                            index=index, expr_pos=expr_pos)
    return RecordingRule(name=record, expr=expr, labels=merged, file=path, line=line, index=index,
                         expr_pos=expr_pos)


def _check_expr(reader: Reader, node: Node | None, expr: str, where: str) -> None:
    ensure_recursion(check_expr(expr, reader.where(node)))
    try:
        parsed = promql_parser.parse(expr)
    except BaseException as exc:  # the Rust binding can panic (pyo3 PanicException)
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise
        reader.problem(node, "bad-expr",
                       f"{where}: could not parse expression {expr!r}: {go_parse_error(str(exc))}")
        return
    problem = regex_matcher_error(parsed) if "~" in expr else None
    if problem is not None:
        reader.problem(node, "bad-expr", f"{where}: could not parse expression {expr!r}: {problem}")
        return
    while isinstance(parsed, promql_parser.ParenExpr):
        parsed = parsed.expr
    kind = {promql_parser.MatrixSelector: "range vector", promql_parser.SubqueryExpr: "range vector",
            promql_parser.StringLiteral: "string"}.get(type(parsed))
    if kind is not None:
        reader.problem(node, "expr-type",
                       f"{where}: expression {expr!r} returns a {kind}; a rule needs an instant "
                       "vector or a scalar (Prometheus fails every evaluation with 'rule result "
                       "is not a vector or scalar')")


def _check_labels(reader: Reader, node: Node | None, labels: dict[str, str],
                  where: str, release: releases.Release) -> None:
    utf8 = release >= releases.UTF8_LABEL_NAMES
    for key in labels:
        if not (key if utf8 else _LABEL_NAME.match(key)) or key == "__name__":
            reader.problem(node, "label-name", f"{where}: invalid label name: {key!r}")


def expand_rule_paths(paths_or_globs: Iterable[str | Path]) -> list[str]:
    """Every file matching the given paths or glob patterns, in the order given (sorted per glob)."""
    out: list[str] = []
    for pattern in paths_or_globs:
        text = os.fspath(pattern)
        matches = sorted(glob.glob(text)) if glob.has_magic(text) else [text]
        out.extend(matches)
    return out


def load_rule_files(paths_or_globs: Iterable[str | Path], *, ignore_unknown_fields: bool = False,
                    semantics: str = "3", limits: Limits = DEFAULT_LIMITS) -> list[RuleGroup]:
    """Load every rule group from the given files/globs, in file then group order.

    Raises :class:`RuleFileError` for the first file with problems, listing all of
    them (one ``path:line:column: message`` per line), and
    :class:`~pytest_selfslo.errors.LimitError` for a file or expression over ``limits``.
    """
    groups: list[RuleGroup] = []
    for path in expand_rule_paths(paths_or_globs):
        file_groups, problems = _parsed(read_rule_text(path, limits), path,
                                        ignore_unknown_fields, semantics)
        if problems:
            raise RuleFileError(format_problems(problems))
        groups.extend(file_groups)
    return groups


def format_problems(problems: Iterable[RuleProblem]) -> str:
    """One problem per line, sorted by position."""
    ordered = sorted(problems, key=lambda p: (p.file, p.line, p.column))
    return "\n".join(str(p) for p in ordered)


def groups_from_text(text: str, path: str = "<rules>") -> list[RuleGroup]:
    """Groups of an in-memory rule file; raises :class:`RuleFileError` on any problem."""
    groups, problems = parse_rule_text(text, path)
    if problems:
        raise RuleFileError(format_problems(problems))
    return groups




