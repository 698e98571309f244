"""A fast path for the common shape of a rule file, equal to the general loader or not taken.

Composing the YAML node tree with libyaml and turning it into rules was about
half of a cold lint of 1,000 rules (``benchmarks/lint.py``): libyaml builds a
Python node and two mark objects for every key and value. Most rule files use
a small part of YAML: block mappings and sequences, one-line plain or simply
quoted scalars, and flow mappings of plain scalars (``labels: {severity:
warning}``). For such a file :func:`build_fast` reads the groups and rules
straight from the lines with one regular expression.

It is all or nothing: on anything outside that subset (block or multi-line
scalars, escapes, anchors, tags, tabs, non-ASCII text, duplicate keys...) and
on anything the general loader would report (unknown fields, bad durations,
invalid names, missing ``expr``...), it returns False and ``load_file`` runs
the general loader, so findings, positions and messages never depend on the
path taken. ``tests/rules_lint/test_rules_lint_fastload.py`` checks that both
paths build the same rules on generated files, inside and outside the subset.
"""

from __future__ import annotations

import re
from typing import Any

from ..promql.durations import parse_duration
from .loader import (
    _GROUP_KEYS,
    _METRIC_NAME,
    _NO_CODES,
    _RULE_KEYS,
    Field,
    Group,
    Rule,
    RuleFile,
)

__all__ = ["build_fast"]

#: every line: (indent, "- ", key, spaces, rest); without a key, ``rest`` must be empty or a
#: comment, else the line is one the subset does not know ("---", "- scalar", "key : v"...)
_LINE = re.compile(r"^( *)(?:(- +)?([A-Za-z_][A-Za-z0-9_]*):( +|$))?(.*)$", re.M)
#: any character other than printable ASCII and the line feed (tabs, CR, BOM, non-ASCII:
#: libyaml's columns and line breaks differ from Python's there)
_UNUSUAL_CHAR = re.compile(r"[^\n\x20-\x7e]")
#: characters a plain scalar may not start with (or that start another kind of node)
_INDICATORS = frozenset("-?:,[]{}#&*!|>'\"%@`")
_DOUBLE = re.compile(r'"[^"\\]*"')
_SINGLE = re.compile(r"'[^']*'")
_FLOW_ITEM = re.compile(r"( *)([A-Za-z_][A-Za-z0-9_]*):( +)([^-?:,\[\]{}#&*!|>'\"%@` ][^:,\[\]{}#'\"]*?) *")
_new_tuple = tuple.__new__


class _Unusual(Exception):
    """The text leaves the subset: the general loader decides."""


class _Map(dict[str, Any]):
    """A mapping with the 1-based lines where libyaml's node would start and end."""

    __slots__ = ("end", "start")

    start: int
    end: int


def _scalar(value: str, line: int, col: int) -> Any:
    """The Field (or flow mapping) of a one-line value starting at 0-based ``col``."""
    first = value[0]
    if first not in _INDICATORS:
        if ": " in value or " #" in value or value[-1] == ":":
            raise _Unusual
        return _new_tuple(Field, (value, line, col + 1))
    if first == '"' and _DOUBLE.fullmatch(value):
        return _new_tuple(Field, (value[1:-1], line, col + 1))
    if first == "'" and _SINGLE.fullmatch(value):
        return _new_tuple(Field, (value[1:-1], line, col + 1))
    if first == "{" and value[-1] == "}":
        return _flow_map(value, line, col)
    raise _Unusual


def _flow_map(value: str, line: int, col: int) -> _Map:
    out = _Map()
    inner = value[1:-1]
    if not inner.strip():
        return out
    offset = col + 1
    for part in inner.split(","):
        m = _FLOW_ITEM.fullmatch(part)
        if m is None or m.group(2) in out:
            raise _Unusual
        key_at = offset + len(m.group(1))
        val_at = key_at + len(m.group(2)) + 1 + len(m.group(3))
        out[m.group(2)] = _new_tuple(Field, (m.group(4), line, val_at + 1))
        offset += len(part) + 1
    return out


class _Parser:
    """Block mappings and sequences over the content rows (comments and blanks dropped)."""

    def __init__(self, text: str) -> None:
        rows = _LINE.findall(text)
        if len(rows) != text.count("\n") + 1:
            raise _Unusual
        content = []
        for no, (ind, dash, key, sp, val) in enumerate(rows, 1):
            if key:
                if val[-1:] == " ":
                    val = val.rstrip(" ")
                kcol = len(ind) + len(dash)
                content.append((no, len(ind), kcol, dash, key, val, kcol + len(key) + 1 + len(sp)))
            elif val and val[0] != "#":
                raise _Unusual
        self.rows = content
        self.n = len(content)
        # libyaml's end of stream: the line after the last one unless the text ends in "\n"
        self.stream_end = text.count("\n") + (0 if not text or text[-1] == "\n" else 1) + 1

    def root(self) -> _Map:
        if not self.rows or self.rows[0][3]:
            raise _Unusual
        node, i = self.mapping(0, self.rows[0][2])
        if i != self.n:
            raise _Unusual
        return node

    def mapping(self, i: int, col: int) -> tuple[_Map, int]:
        """The block mapping whose first key (possibly after a "- ") is row ``i``."""
        rows, n = self.rows, self.n
        out = _Map()
        out.start = rows[i][0]
        while True:
            no, _ind, _kcol, _dash, key, val, vcol = rows[i]
            if key in out:
                raise _Unusual
            i += 1
            if val:
                out[key] = _scalar(val, no, vcol)
            else:
                if i >= n:
                    raise _Unusual  # a null value
                nind = rows[i][1]
                if nind > col:
                    node, i = (self.sequence(i, nind) if rows[i][3]
                               else self.mapping(i, nind))
                elif nind == col and rows[i][3]:
                    node, i = self.sequence(i, col)
                else:
                    raise _Unusual  # a null value
                out[key] = node
            if i >= n:
                break
            nind = rows[i][1]
            if nind < col:
                break
            if nind > col or rows[i][3]:
                raise _Unusual  # a continuation line, or a sequence entry after a scalar
        out.end = rows[i][0] if i < n else self.stream_end
        return out, i

    def sequence(self, i: int, col: int) -> tuple[list[_Map], int]:
        """The block sequence of mappings whose first "- " is row ``i`` at ``col``."""
        rows, n = self.rows, self.n
        items = []
        while True:
            node, i = self.mapping(i, rows[i][2])
            items.append(node)
            if i >= n:
                break
            nind = rows[i][1]
            if nind == col and rows[i][3]:
                continue
            if nind > col:
                raise _Unusual
            break
        return items, i


def _duration(node: Any, cache: dict[str, int]) -> int:
    if type(node) is not Field:
        raise _Unusual
    ms = cache.get(node.value)
    if ms is None:
        try:
            ms = cache[node.value] = parse_duration(node.value)
        except ValueError:
            raise _Unusual from None
    return ms


def _strings(node: Any) -> dict[str, Field]:
    if type(node) is not _Map or any(type(v) is not Field for v in node.values()):
        raise _Unusual
    return dict(node)


def _rule(node: Any, group: str, index: int, per_line: dict[int, set[str]],
          durations: dict[str, int]) -> Rule:
    if type(node) is not _Map or not node.keys() <= _RULE_KEYS:
        raise _Unusual
    get = node.get
    alert, record = get("alert"), get("record")
    if (alert is None) == (record is None):
        raise _Unusual
    name = alert if alert is not None else record
    expr = get("expr")
    if type(name) is not Field or type(expr) is not Field or not expr.value.strip():
        raise _Unusual
    if alert is not None:
        if not name.value.strip():
            raise _Unusual
    elif not _METRIC_NAME.match(name.value) or node.keys() & {"for", "keep_firing_for",
                                                                "annotations"}:
        raise _Unusual
    start, end = node.start, node.end
    disabled: set[str] = set()
    for line, codes in per_line.items():  # usually empty
        if start <= line <= end:
            disabled |= codes
    rule = Rule("alert" if alert is not None else "record", name, expr, group, index, start, end,
                disabled=frozenset(disabled) if disabled else _NO_CODES)
    if "for" in node:
        rule.for_ = node["for"]
        rule.for_ms = _duration(rule.for_, durations)
    if "keep_firing_for" in node:
        _duration(node["keep_firing_for"], durations)
    if "labels" in node:
        rule.labels = _strings(node["labels"])
    if "annotations" in node:
        rule.annotations = _strings(node["annotations"])
    return rule


def build_fast(rf: RuleFile, text: str, per_line: dict[int, set[str]]) -> bool:
    """Fill ``rf.groups`` from ``text`` when it is in the subset and clean; else False.

    ``per_line`` are the per-rule disable comments (``loader._disables``). On
    False ``rf`` is untouched and the general loader must run.
    """
    if _UNUSUAL_CHAR.search(text):
        return False
    try:
        root = _Parser(text).root()
        if list(root) != ["groups"] or type(root["groups"]) is not list:
            return False
        durations: dict[str, int] = {}
        groups = []
        for gnode in root["groups"]:
            if not gnode.keys() <= _GROUP_KEYS:
                return False
            name = gnode.get("name")
            if type(name) is not Field or not name.value:
                return False
            group = Group(name)
            if "interval" in gnode:
                _duration(gnode["interval"], durations)
                group.interval = gnode["interval"]
            rules = gnode.get("rules")
            if rules is not None:
                if type(rules) is not list:
                    return False
                group.rules = [_rule(r, name.value, i, per_line, durations)
                               for i, r in enumerate(rules, start=1)]
            groups.append(group)
    except _Unusual:
        return False
    rf.groups = groups
    return True
