"""Read rule files and promtool unit-test files *with positions* for the linter.

``yaml.safe_load`` forgets where things were; a lint finding must say
``file:line:col``. We compose the YAML node tree (libyaml when available) and
keep the start mark of every field the checks report on. Structure problems
(what ``promtool check rules`` rejects: unknown fields, missing ``expr``,
bad durations, invalid names) become SL001/SL002 findings here, so the checks
only ever see well-formed rules.

Disable comments (see ``docs/lint.md``)::

    # selfslo-lint: disable=SL031,short-range      (the rule it is inside or just above)
    # selfslo-lint: disable-file=SL035               (the whole file)
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, ClassVar, Literal

import yaml

from pytest_selfslo._core.durations import parse_duration
from pytest_selfslo.lint.fastload import build_fast
from pytest_selfslo.lint.findings import CHECKS, Finding, resolve_codes
from pytest_selfslo.lint.model import (
    GROUP_KEYS,
    LABEL_NAME,
    METRIC_NAME,
    NO_CODES,
    RULE_KEYS,
    TEST_TOP_KEYS,
    Field,
    Group,
    Rule,
    RuleFile,
    TestFile,
)

__all__ = ["Field", "Group", "Rule", "RuleFile", "TestFile", "load_file"]

_BaseLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


_DEFAULT_TAGS: dict[type, str] = {
    yaml.ScalarNode: yaml.resolver.BaseResolver.DEFAULT_SCALAR_TAG,
    yaml.SequenceNode: yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG,
    yaml.MappingNode: yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
}


class _TextResolver:
    """Tag resolution for a composer that reads every scalar as text (mixed in first).

    Resolving ints/floats/bools per scalar was a third of the load time, and the
    resolver's Python hooks, called for every node even with no resolvers
    registered, another third. With no implicit or path resolvers,
    ``BaseResolver.resolve`` answers the default tag of the node kind, which is
    what :meth:`resolve` returns directly (``tests/rules_lint`` compares the trees).
    """

    yaml_implicit_resolvers: ClassVar[dict[Any, Any]] = {}
    yaml_path_resolvers: ClassVar[dict[Any, Any]] = {}

    def resolve(self, kind: type, value: Any, implicit: Any) -> str:
        """The default tag of ``kind`` (what BaseResolver answers without resolvers)."""
        return _DEFAULT_TAGS[kind]

    def descend_resolver(self, current_node: Any, current_index: Any) -> None:
        """No path resolvers: nothing to track while descending."""

    def ascend_resolver(self) -> None:
        """No path resolvers: nothing to track while ascending."""


class _Loader(_TextResolver, _BaseLoader):  # type: ignore[misc]
    """libyaml's composer (PyYAML's pure one without libyaml) with :class:`_TextResolver`."""


_DISABLE = re.compile(r"#\s*selfslo-lint:\s*(disable|disable-file)\s*=\s*([A-Za-z0-9_,\- ]+)")
def _pos(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


_new_tuple = tuple.__new__
_SCALAR = yaml.ScalarNode


def _field(node: yaml.Node) -> Field:
    mark = node.start_mark
    # a scalar's value is always a str (we resolve no tags); tuple.__new__ skips
    # NamedTuple's Python-level __new__ (half the cost of Field(...), the same object)
    value = node.value if isinstance(node, yaml.ScalarNode) else ""
    return _new_tuple(Field, (value, mark.line + 1, mark.column + 1))


def _mapping(node: yaml.Node) -> list[tuple[yaml.ScalarNode, yaml.Node]]:
    return list(node.value) if isinstance(node, yaml.MappingNode) else []


class _Builder:
    """Turns the composed node tree into groups/rules, collecting SL002 findings."""

    def __init__(self, rf: RuleFile, rule_disables: dict[int, set[str]]) -> None:
        self.rf = rf
        self.rule_disables = rule_disables
        #: label names / duration texts already found valid in this file (rule files repeat
        #: the same few; the regex and duration parser then run once per distinct text)
        self.valid_labels: set[str] = set()
        self.durations: dict[str, int] = {}

    def problem(self, code: str, node: yaml.Node, message: str) -> None:
        line, col = _pos(node)
        found = self.rf.finding(code, line, col, message)
        if found is not None:
            self.rf.findings.append(found)

    def duration(self, node: yaml.Node, what: str) -> tuple[Field, int] | None:
        fld = _field(node)
        if not isinstance(node, yaml.ScalarNode):
            self.problem("SL002", node, f"{what}: expected a duration such as '5m', got a "
                         f"{type(node).__name__.removesuffix('Node').lower()}")
            return None
        ms = self.durations.get(fld.value)
        if ms is not None:
            return fld, ms
        try:
            ms = parse_duration(fld.value)
        except ValueError:
            self.problem("SL002", node, f"{what}: expected a duration such as '5m', "
                         f"got {fld.value!r}")
            return None
        self.durations[fld.value] = ms
        return fld, ms

    def string_map(self, node: yaml.Node, what: str, check_names: bool) -> dict[str, Field]:
        out: dict[str, Field] = {}
        if not isinstance(node, yaml.MappingNode):
            if not (isinstance(node, yaml.ScalarNode) and node.value in ("", "null", "~")):
                self.problem("SL002", node, f"{what}: expected a mapping of strings")
            return out
        valid = self.valid_labels
        for key, val in node.value:
            name = key.value
            if type(name) is not str:  # a sequence or mapping as key
                name = str(name)
            if check_names and name not in valid:
                if LABEL_NAME.match(name):
                    valid.add(name)
                else:
                    self.problem("SL002", key, f"{what}: invalid label name {name!r}")
            if val.__class__ is not _SCALAR:
                self.problem("SL002", val, f"{what}.{name}: expected a string value")
                continue
            mark = val.start_mark  # _field(val), inlined: this loop runs for every label
            out[name] = _new_tuple(Field, (val.value, mark.line + 1, mark.column + 1))
        return out

    def build(self, root: yaml.Node) -> None:
        top = dict((k.value, v) for k, v in _mapping(root))
        if not isinstance(root, yaml.MappingNode):
            self.problem("SL002", root, "expected a mapping with a 'groups' list at the top")
            return
        for key, _val in _mapping(root):
            if key.value != "groups":
                self.problem("SL002", key, f"unknown top-level field {key.value!r}; "
                             "a rule file has only 'groups'")
        groups = top.get("groups")
        if groups is None:
            self.problem("SL002", root, "missing top-level field 'groups'")
            return
        if not isinstance(groups, yaml.SequenceNode):
            self.problem("SL002", groups, "groups: expected a list of rule groups")
            return
        for gnode in groups.value:
            self.group(gnode)

    def group(self, gnode: yaml.Node) -> None:
        if not isinstance(gnode, yaml.MappingNode):
            self.problem("SL002", gnode, "group: expected a mapping with 'name' and 'rules'")
            return
        fields = dict((k.value, v) for k, v in gnode.value)
        for key, _val in gnode.value:
            if key.value not in GROUP_KEYS:
                self.problem("SL002", key, f"group: unknown field {key.value!r}; expected one of "
                             f"{', '.join(sorted(GROUP_KEYS))}")
        name_node = fields.get("name")
        if name_node is None or not _field(name_node).value:
            self.problem("SL002", gnode, "group: missing 'name'")
            return
        group = Group(_field(name_node))
        if "interval" in fields:
            interval = self.duration(fields["interval"], f'group "{group.name.value}" interval')
            group.interval = interval[0] if interval is not None else None
        rules = fields.get("rules")
        if rules is not None and not isinstance(rules, yaml.SequenceNode):
            self.problem("SL002", rules, f'group "{group.name.value}": rules: expected a list')
        elif rules is not None:
            for i, rnode in enumerate(rules.value, start=1):
                rule = self.rule(rnode, group.name.value, i)
                if rule is not None:
                    group.rules.append(rule)
        self.rf.groups.append(group)

    def rule(self, rnode: yaml.Node, group: str, index: int) -> Rule | None:
        where = f'group "{group}", rule {index}'
        if not isinstance(rnode, yaml.MappingNode):
            self.problem("SL002", rnode, f"{where}: expected a mapping with 'expr'")
            return None
        fields = {k.value: v for k, v in rnode.value}
        if not fields.keys() <= RULE_KEYS:
            for key, _val in rnode.value:
                if key.value not in RULE_KEYS:
                    self.problem("SL002", key, f"{where}: unknown field {key.value!r}")
        has_alert, has_record = "alert" in fields, "record" in fields
        if has_alert == has_record:
            self.problem("SL002", rnode, f"{where}: expected exactly one of 'alert' or 'record', "
                         f"got {'both' if has_alert else 'neither'}")
            return None
        kind: Literal["alert", "record"] = "alert" if has_alert else "record"
        name = _field(fields[kind])
        where = f'{where}, "{name.value}"'
        if kind == "record" and not METRIC_NAME.match(name.value):
            self.problem("SL002", fields[kind], f"{where}: invalid recording rule name "
                         f"{name.value!r} (expected a metric name)")
        if kind == "alert" and not name.value.strip():
            self.problem("SL002", fields[kind], f"{where}: empty alert name")
        expr = _field(fields["expr"]) if "expr" in fields else None
        if expr is None or not expr.value.strip():
            self.problem("SL002", fields.get("expr", rnode), f"{where}: missing 'expr'")
            return None
        if kind == "record":
            for bad in ("for", "keep_firing_for", "annotations"):
                if bad in fields:
                    self.problem("SL002", fields[bad], f"{where}: '{bad}' is only valid on "
                                 "alerting rules")
        start = rnode.start_mark.line + 1
        end = rnode.end_mark.line + 1
        disabled: set[str] = set()
        for line, codes in self.rule_disables.items():  # usually empty
            if start <= line <= end:
                disabled |= codes
        rule = Rule(kind, name, expr, group, index, start, end,
                    disabled=frozenset(disabled) if disabled else NO_CODES)
        if "for" in fields:
            for_ = self.duration(fields["for"], f"{where}: for")
            if for_ is not None:
                rule.for_, rule.for_ms = for_
        if "keep_firing_for" in fields:
            self.duration(fields["keep_firing_for"], f"{where}: keep_firing_for")
        if "labels" in fields:
            rule.labels = self.string_map(fields["labels"], f"{where}: labels", True)
        if "annotations" in fields:
            rule.annotations = self.string_map(fields["annotations"], f"{where}: annotations",
                                               True)
        return rule


def _disables(lines: list[str], path: str,
              findings: list[Finding]) -> tuple[frozenset[str], dict[int, set[str]]]:
    """File-wide disables and per-line disables (a comment line applies to the rule below)."""
    whole: set[str] = set()
    per_line: dict[int, set[str]] = {}
    for no, text in enumerate(lines, start=1):
        if "selfslo-lint" not in text:
            continue
        m = _DISABLE.search(text)
        if m is None:
            continue
        try:
            codes = set(resolve_codes(m.group(2).split(",")))
        except ValueError as exc:
            findings.append(Finding(path, no, m.start() + 1, "SL002", CHECKS["SL002"].severity,
                                    f"selfslo-lint comment: {exc}"))
            continue
        if m.group(1) == "disable-file":
            whole |= codes
            continue
        # a comment on its own line applies to the next rule ("- alert:"/"- record:" line)
        target = no
        if text.lstrip().startswith("#"):
            for nxt in range(no, len(lines)):
                stripped = lines[nxt].lstrip()
                if stripped and not stripped.startswith("#"):
                    target = nxt + 1
                    break
        per_line.setdefault(target, set()).update(codes)
    return frozenset(whole), per_line


def _load_tests(rf: RuleFile, root: yaml.MappingNode) -> None:
    tests = TestFile()
    rf.tests = tests
    for key, val in root.value:
        if key.value not in TEST_TOP_KEYS:
            line, col = _pos(key)
            found = rf.finding("SL005", line, col, f"unit-test file: unknown top-level field "
                               f"{key.value!r}")
            if found:
                rf.findings.append(found)
        if key.value == "rule_files" and isinstance(val, yaml.SequenceNode):
            tests.rule_files = [_field(n) for n in val.value]
        if key.value == "tests" and isinstance(val, yaml.SequenceNode):
            for tnode in val.value:
                tfields = dict((k.value, v) for k, v in _mapping(tnode))
                series: list[tuple[Field, Field]] = []
                exprs: list[Field] = []
                for snode in getattr(tfields.get("input_series"), "value", []) or []:
                    s = dict((k.value, v) for k, v in _mapping(snode))
                    if "series" in s:
                        series.append((_field(s["series"]), _field(s.get("values", s["series"]))))
                for enode in getattr(tfields.get("promql_expr_test"), "value", []) or []:
                    e = dict((k.value, v) for k, v in _mapping(enode))
                    if "expr" in e:
                        exprs.append(_field(e["expr"]))
                tests.input_series += series
                tests.exprs += exprs
                tests.groups.append((series, exprs))


def load_file(path: str | Path, text: str | None = None, *, fast: bool = True) -> RuleFile:
    """Load ``path`` into a :class:`RuleFile`; problems become findings, never exceptions.

    A clean file in the common YAML subset is read by :mod:`.fastload` (the same
    result, without libyaml's node tree); ``fast=False`` forces the general loader.
    """
    spath = str(path)
    if text is None:
        raw = Path(path).read_bytes()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            rf = RuleFile(spath, "invalid")
            rf.findings.append(Finding(spath, 1, 1, "SL001", CHECKS["SL001"].severity,
                                       f"not UTF-8 text: byte {exc.start}: {exc.reason}"))
            return rf
    rf = RuleFile(spath, "rules", text=text)
    per_line: dict[int, set[str]] = {}
    if "selfslo-lint" in text:
        rf.file_disabled, per_line = _disables(rf.lines, spath, rf.findings)
    if fast and build_fast(rf, text, per_line):
        return rf
    try:
        root = yaml.compose(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line, col = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        problem = getattr(exc, "problem", None) or str(exc)
        rf.kind = "invalid"
        found = rf.finding("SL001", line, col, f"invalid YAML: {problem}")
        if found:
            rf.findings.append(found)
        return rf
    if root is None:
        rf.kind = "invalid"
        found = rf.finding("SL002", 1, 1, "empty file: expected a mapping with 'groups'")
        if found:
            rf.findings.append(found)
        return rf
    keys = {k.value for k, _ in _mapping(root)}
    if "tests" in keys and "groups" not in keys:
        rf.kind = "tests"
        assert isinstance(root, yaml.MappingNode)
        _load_tests(rf, root)
        return rf
    _Builder(rf, per_line).build(root)
    return rf
