"""Read rule files and promtool unit-test files *with positions* for the linter.

``yaml.safe_load`` forgets where things were; a lint finding must say
``file:line:col``. A plain file is read by :mod:`.fastload`; anything else
(anchors, merge keys, block scalars...) is composed by the one positioned YAML
reader, :mod:`pytest_selfslo.rulefmt.goyaml`, in Go's ``yaml.v3`` dialect as
Prometheus reads rule files (merges expanded, each value keeping the position
of the text it came from). Structure problems
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
from typing import Literal

from pytest_selfslo._core.durations import parse_duration
from pytest_selfslo._core.safeio import FileTooLargeError, read_regular
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
from pytest_selfslo.rulefmt.goyaml import (
    MAPPING,
    MAX_DOCUMENT_BYTES,
    SCALAR,
    SEQUENCE,
    Node,
    Reader,
    compose,
)

__all__ = ["Field", "Group", "Rule", "RuleFile", "TestFile", "load_file", "read_rule_text"]

_DISABLE = re.compile(r"#\s*selfslo-lint:\s*(disable|disable-file)\s*=\s*([A-Za-z0-9_,\- ]+)")
def _pos(node: Node) -> tuple[int, int]:
    node = node.deref
    return node.line, node.column


_new_tuple = tuple.__new__
_NULLS = frozenset(("", "~", "null", "Null", "NULL"))


def _field(node: Node) -> Field:
    # an alias or merged value is found where its text is; a null scalar is "" (Go's zero);
    # tuple.__new__ skips NamedTuple's Python-level __new__ (half the cost of Field(...))
    node = node.deref
    value = node.value if node.kind == SCALAR and not (node.plain and node.value in _NULLS) else ""
    return _new_tuple(Field, (value, node.line, node.column))


def _kind_word(node: Node) -> str:
    return ("scalar", "mapping", "sequence")[node.deref.kind]


class _Builder:
    """Turns the composed node tree into groups/rules, collecting SL002 findings."""

    def __init__(self, rf: RuleFile, rule_disables: dict[int, set[str]]) -> None:
        self.rf = rf
        self.rule_disables = rule_disables
        #: merge keys expanded as yaml.v3 does; its problems (duplicate keys, bad merges) -> SL002
        self.reader = Reader(rf.path, "v3", ignore_unknown_fields=True)
        #: label names / duration texts already found valid in this file (rule files repeat
        #: the same few; the regex and duration parser then run once per distinct text)
        self.valid_labels: set[str] = set()
        self.durations: dict[str, int] = {}

    def problem(self, code: str, node: Node, message: str) -> None:
        line, col = _pos(node)
        found = self.rf.finding(code, line, col, message)
        if found is not None:
            self.rf.findings.append(found)

    def pairs(self, node: Node, what: str) -> list[tuple[str, Node, Node]]:
        """(key, key node, value node) of a mapping, merge keys expanded (yaml.v3 precedence)."""
        if node.deref.kind != MAPPING:
            return []
        reader = self.reader
        before = len(reader.problems)
        out = reader.entries(node.deref, what, struct=True)
        for problem in reader.problems[before:]:
            found = self.rf.finding("SL002", problem.line, problem.column, problem.message)
            if found is not None:
                self.rf.findings.append(found)
        return out

    def duration(self, node: Node, what: str) -> tuple[Field, int] | None:
        fld = _field(node)
        if node.deref.kind != SCALAR:
            self.problem("SL002", node, f"{what}: expected a duration such as '5m', got a "
                         f"{_kind_word(node)}")
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

    def string_map(self, node: Node, what: str, check_names: bool) -> dict[str, Field]:
        out: dict[str, Field] = {}
        if node.deref.kind != MAPPING:
            if not (node.deref.kind == SCALAR and node.deref.value in ("", "null", "~")):
                self.problem("SL002", node, f"{what}: expected a mapping of strings")
            return out
        valid = self.valid_labels
        for name, key, val in self.pairs(node, what):
            if check_names and name not in valid:
                if LABEL_NAME.match(name):
                    valid.add(name)
                else:
                    self.problem("SL002", key, f"{what}: invalid label name {name!r}")
            if val.deref.kind != SCALAR:
                self.problem("SL002", val, f"{what}.{name}: expected a string value")
                continue
            out[name] = _field(val)
        return out

    def build(self, root: Node) -> None:
        if root.deref.kind != MAPPING:
            self.problem("SL002", root, "expected a mapping with a 'groups' list at the top")
            return
        pairs = self.pairs(root, "rule file")
        top = {k: v for k, _key, v in pairs}
        for name, key, _val in pairs:
            if name != "groups":
                self.problem("SL002", key, f"unknown top-level field {name!r}; "
                             "a rule file has only 'groups'")
        groups = top.get("groups")
        if groups is None:
            self.problem("SL002", root, "missing top-level field 'groups'")
            return
        if groups.deref.kind != SEQUENCE:
            self.problem("SL002", groups, "groups: expected a list of rule groups")
            return
        for gnode in groups.deref.value:
            self.group(gnode)

    def group(self, gnode: Node) -> None:
        if gnode.deref.kind != MAPPING:
            self.problem("SL002", gnode, "group: expected a mapping with 'name' and 'rules'")
            return
        pairs = self.pairs(gnode, "group")
        fields = {k: v for k, _key, v in pairs}
        for name, key, _val in pairs:
            if name not in GROUP_KEYS:
                self.problem("SL002", key, f"group: unknown field {name!r}; expected one of "
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
        if rules is not None and rules.deref.kind != SEQUENCE:
            self.problem("SL002", rules, f'group "{group.name.value}": rules: expected a list')
        elif rules is not None:
            for i, rnode in enumerate(rules.deref.value, start=1):
                rule = self.rule(rnode, group.name.value, i)
                if rule is not None:
                    group.rules.append(rule)
        self.rf.groups.append(group)

    def rule(self, rnode: Node, group: str, index: int) -> Rule | None:
        where = f'group "{group}", rule {index}'
        if rnode.deref.kind != MAPPING:
            self.problem("SL002", rnode, f"{where}: expected a mapping with 'expr'")
            return None
        pairs = self.pairs(rnode, where)
        fields = {k: v for k, _key, v in pairs}
        if not fields.keys() <= RULE_KEYS:
            for text, key, _val in pairs:
                if text not in RULE_KEYS:
                    self.problem("SL002", key, f"{where}: unknown field {text!r}")
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
        start = rnode.deref.line
        end = rnode.deref.end_line
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


def _load_tests(rf: RuleFile, root: Node) -> None:
    tests = TestFile()
    rf.tests = tests
    reader = Reader(rf.path, "v2", ignore_unknown_fields=True)  # promtool: yaml.v2 merges

    def fields(node: Node) -> dict[str, Node]:
        if node.deref.kind != MAPPING:
            return {}
        return {k: v for k, _key, v in reader.entries(node.deref, "test file", struct=True)}

    def items(node: Node | None) -> list[Node]:
        return list(node.deref.value) if node is not None and node.deref.kind == SEQUENCE else []

    for name, key, val in reader.entries(root, "test file", struct=True):
        if name not in TEST_TOP_KEYS:
            line, col = _pos(key)
            found = rf.finding("SL005", line, col, f"unit-test file: unknown top-level field "
                               f"{name!r}")
            if found:
                rf.findings.append(found)
        if name == "rule_files":
            tests.rule_files = [_field(n) for n in items(val)]
        if name == "tests":
            for tnode in items(val):
                tfields = fields(tnode)
                series: list[tuple[Field, Field]] = []
                exprs: list[Field] = []
                for snode in items(tfields.get("input_series")):
                    s = fields(snode)
                    if "series" in s:
                        series.append((_field(s["series"]), _field(s.get("values", s["series"]))))
                for enode in items(tfields.get("promql_expr_test")):
                    e = fields(enode)
                    if "expr" in e:
                        exprs.append(_field(e["expr"]))
                tests.input_series += series
                tests.exprs += exprs
                tests.groups.append((series, exprs))


def read_rule_text(path: str | Path) -> str | RuleFile:
    """The text of a file to lint, or an invalid :class:`RuleFile` whose SL001 says why not.

    A regular file of at most :data:`~pytest_selfslo.rulefmt.goyaml.MAX_DOCUMENT_BYTES`
    (the YAML reader's limit, checked before reading: a huge file is not read
    whole); a FIFO or a device is refused without blocking.
    """
    spath = str(path)
    try:
        return read_regular(path, MAX_DOCUMENT_BYTES, "the rule file").decode("utf-8")
    except UnicodeDecodeError as exc:
        message = f"not UTF-8 text: byte {exc.start}: {exc.reason}"
    except OSError as exc:
        message = f"cannot read the file: {exc.strerror or exc}"
        if isinstance(exc, FileTooLargeError):
            message += " (MAX_DOCUMENT_BYTES)"
    rf = RuleFile(spath, "invalid")
    rf.findings.append(Finding(spath, 1, 1, "SL001", CHECKS["SL001"].severity, message))
    return rf


def load_file(path: str | Path, text: str | None = None, *, fast: bool = True) -> RuleFile:
    """Load ``path`` into a :class:`RuleFile`; problems become findings, never exceptions.

    A clean file in the common YAML subset is read by :mod:`.fastload` (the same
    result, without libyaml's node tree); ``fast=False`` forces the general loader.
    """
    spath = str(path)
    if text is None:
        read = read_rule_text(path)
        if isinstance(read, RuleFile):
            return read
        text = read
    rf = RuleFile(spath, "rules", text=text)
    per_line: dict[int, set[str]] = {}
    if "selfslo-lint" in text:
        rf.file_disabled, per_line = _disables(rf.lines, spath, rf.findings)
    if fast and build_fast(rf, text, per_line):
        return rf
    root, syntax = compose(text, spath)
    if syntax is not None:  # invalid YAML, or a limit of the reader (size, depth, aliases)
        rf.kind = "invalid"
        message = syntax.message if syntax.code == "yaml-syntax" else f"invalid YAML: {syntax.message}"
        found = rf.finding("SL001", syntax.line, syntax.column, message)
        if found:
            rf.findings.append(found)
        return rf
    if root is None:
        rf.kind = "invalid"
        found = rf.finding("SL002", 1, 1, "empty file: expected a mapping with 'groups'")
        if found:
            rf.findings.append(found)
        return rf
    keys = ({k.deref.value for k, _ in root.deref.value if k.deref.kind == SCALAR}
            if root.deref.kind == MAPPING else set())
    if "tests" in keys and "groups" not in keys:
        rf.kind = "tests"
        _load_tests(rf, root.deref)
        return rf
    _Builder(rf, per_line).build(root)
    return rf
