"""A fast path for the common shape of a rule file, equal to the general loader or not taken.

Composing the YAML node tree with libyaml and turning it into rules was about
half of a cold lint of 1,000 rules (``benchmarks/lint.py``): libyaml builds a
Python node and two mark objects for every key and value. Most rule files use
a small part of YAML: block mappings and sequences, one-line plain or simply
quoted scalars, and flow mappings of plain scalars (``labels: {severity:
warning}``). For such a file :func:`build_fast` reads the groups and rules
straight from the lines with one regular expression.

It is all or nothing: on anything outside that subset (block or multi-line
scalars, escapes, anchors, aliases, merge keys, tags, nulls, tabs, non-ASCII
text, duplicate keys...) and
on anything the general loader would report (unknown fields, bad durations,
invalid names, missing ``expr``...), it returns False and ``load_file`` runs
the general loader, so findings, positions and messages never depend on the
path taken. ``tests/lint/test_lint_fastload.py`` checks that both
paths build the same rules on generated files, inside and outside the subset.
"""

from __future__ import annotations

import re
from typing import Any

from pytest_selfslo._core.durations import parse_duration
from pytest_selfslo.lint.model import (
    GROUP_KEYS,
    METRIC_NAME,
    NO_CODES,
    RULE_KEYS,
    Field,
    Group,
    Rule,
    RuleFile,
)

__all__ = ["build_fast"]

#: every line: (indent, "- ", key, spaces, rest); without a key, ``rest`` must be empty or a
#: comment, else the line is one the subset does not know ("---", "- scalar", "key : v"...)
_LINE = re.compile(r"^( *)(?:(- +)?([A-Za-z_][A-Za-z0-9_]*):( +|$))?(.*)$", re.M)
#: characters a plain scalar may not start with (or that start another kind of node);
#: ``~`` is a YAML null (an empty string for Go), so the general loader decides
_INDICATORS = frozenset("-?:,[]{}#&*!|>'\"%@`~")
#: the other plain nulls
_NULLS = frozenset(("~", "null", "Null", "NULL"))
_DOUBLE = re.compile(r'"[^"\\]*"')
_SINGLE = re.compile(r"'[^']*'")
_FLOW_ITEM = re.compile(r"( *)([A-Za-z_][A-Za-z0-9_]*):( +)([^-?:,\[\]{}#&*!|>'\"%@` ][^:,\[\]{}#'\"]*?) *")
#: the ASCII characters ``str.isprintable`` rejects, but the line feed
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f]")
_new_tuple = tuple.__new__


class _Unusual(Exception):
    """The text leaves the subset: the general loader decides."""


class _Map(dict[str, Any]):
    """A mapping with the 1-based lines where libyaml's node would start and end."""

    __slots__ = ("end", "start")

    start: int
    end: int


def _scalar(value: str, line: int, col: int, flows: dict[tuple[str, int], list[Any]]) -> Any:
    """The Field (or flow mapping) of a one-line value starting at 0-based ``col``."""
    first = value[0]
    if first not in _INDICATORS:
        if ": " in value or " #" in value or value[-1] == ":" or value in _NULLS:
            raise _Unusual
        return _new_tuple(Field, (value, line, col + 1))
    if first == '"' and _DOUBLE.fullmatch(value):
        return _new_tuple(Field, (value[1:-1], line, col + 1))
    if first == "'" and _SINGLE.fullmatch(value):
        return _new_tuple(Field, (value[1:-1], line, col + 1))
    if first == "{" and value[-1] == "}":
        items = flows.get((value, col))
        if items is None:
            items = flows[value, col] = _flow_items(value, col)
        out = _Map()
        for key, val, at in items:
            out[key] = _new_tuple(Field, (val, line, at))
        return out
    raise _Unusual


def _flow_items(value: str, col: int) -> list[tuple[str, str, int]]:
    """(key, value, 1-based column of the value) of a one-line flow mapping at ``col``."""
    out: list[tuple[str, str, int]] = []
    inner = value[1:-1]
    if not inner.strip():
        return out
    offset = col + 1
    for part in inner.split(","):
        m = _FLOW_ITEM.fullmatch(part)
        if m is None:
            raise _Unusual
        ws, key, sp, val = m.groups()
        if val in _NULLS or any(key == k for k, _v, _c in out):
            raise _Unusual
        out.append((key, val, offset + len(ws) + len(key) + len(sp) + 2))
        offset += len(part) + 1
    return out


_BLANK: tuple[()] = ()
#: (indent, key column, "- ", key, value, value column) of a key line
_Row = tuple[int, int, str, str, str, int]


def _content_rows(text: str) -> tuple[list[int], list[_Row]]:
    """The 1-based line numbers of the key lines, and their (indent, key column, "- ", key,
    value, value column) rows.

    Lines repeat in a rule file (``for: 5m``, ``labels: {severity: warning}``...):
    each distinct line is matched once, and its row tuple is shared by every line
    with the same text (two parallel lists, so no per-line tuple is built).
    """
    if _CONTROL.search(text):  # tab, CR, other controls (the text is ASCII)
        raise _Unusual
    seen: dict[str, _Row | tuple[()]] = {}
    match = _LINE.match
    nos: list[int] = []
    rows: list[_Row] = []
    add_no, add_row = nos.append, rows.append
    for no, line in enumerate(text.split("\n"), 1):
        row = seen.get(line)
        if row is None:
            ind, dash, key, sp, val = match(line).groups("")  # type: ignore[union-attr]
            if key:
                if val.endswith(" "):
                    val = val.rstrip(" ")
                kcol = len(ind) + len(dash)
                row = (len(ind), kcol, dash, key, val, kcol + len(key) + 1 + len(sp))
            elif val and val[0] != "#":
                raise _Unusual
            else:
                row = _BLANK
            seen[line] = row
        if row:
            add_no(no)
            add_row(row)
    return nos, rows


class _Parser:
    """Block mappings and sequences over the key rows; ``self.i`` is the next row to read."""

    def __init__(self, text: str) -> None:
        self.nos, self.rows = _content_rows(text)
        self.n = len(self.rows)
        self.i = 0
        #: one-line flow mappings already read in this file, by (text, column)
        self.flows: dict[tuple[str, int], list[Any]] = {}
        # libyaml's end of a mapping that runs to the end of the stream: the line after
        # the last one, or the last line itself when the text does not end in "\n", that
        # line holds only blanks or a comment and is shorter than the mapping's indent
        # (libyaml unrolls that indent at the end of the line; otherwise the stream end
        # moves its mark to the start of a line after the last)
        lines = text.count("\n")
        last = text.rpartition("\n")[2]
        self.tail = len(last) if last and last.lstrip(" \t")[:1] in ("", "#") else -1
        self.stream_end = lines + (1 if last else 0) + 1

    def end_of_stream(self, col: int) -> int:
        """The 1-based line where libyaml ends a mapping at ``col`` that runs to the end."""
        return self.stream_end - 1 if 0 <= self.tail < col else self.stream_end

    def root(self) -> _Map:
        if not self.n or self.rows[0][2]:
            raise _Unusual
        node = self.mapping(self.rows[0][1])
        if self.i != self.n:
            raise _Unusual
        return node

    def mapping(self, col: int) -> _Map:
        """The block mapping at ``col`` whose first key (possibly after a "- ") is row ``i``."""
        nos, rows, n = self.nos, self.rows, self.n
        i = self.i
        out = _Map()
        out.start = nos[i]
        row = rows[i]
        while True:
            _ind, _kcol, _dash, key, val, vcol = row
            if key in out:
                raise _Unusual
            no = nos[i]
            i += 1
            if val:
                # a plain one-line scalar (most values), inlined from _scalar
                if val[0] not in _INDICATORS and ": " not in val and " #" not in val and \
                        val[-1] != ":" and val not in _NULLS:
                    out[key] = _new_tuple(Field, (val, no, vcol + 1))
                else:
                    out[key] = _scalar(val, no, vcol, self.flows)
            else:
                if i == n:
                    raise _Unusual  # a null value
                nxt = rows[i]
                nind = nxt[0]
                self.i = i
                if nind > col:
                    out[key] = self.sequence(nind) if nxt[2] else self.mapping(nind)
                elif nind == col and nxt[2]:
                    out[key] = self.sequence(col)
                else:
                    raise _Unusual  # a null value
                i = self.i
            if i == n:
                break
            nxt = rows[i]
            nind = nxt[0]
            if nind < col:
                break
            if nind > col or nxt[2]:
                raise _Unusual  # a continuation line, or a sequence entry after a scalar
            row = nxt
        self.i = i
        out.end = nos[i] if i < n else self.end_of_stream(col)
        return out

    def sequence(self, col: int) -> list[_Map]:
        """The block sequence of mappings whose first "- " is row ``i``, at ``col``."""
        items = []
        rows, n = self.rows, self.n
        while True:
            items.append(self.mapping(rows[self.i][1]))
            i = self.i
            if i == n:
                break
            nxt = rows[i]
            nind = nxt[0]
            if nind == col and nxt[2]:
                continue
            if nind > col:
                raise _Unusual
            break
        return items


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
    if type(node) is not _Map:
        raise _Unusual
    for value in node.values():
        if type(value) is not Field:
            raise _Unusual
    return node  # a dict of Fields: the rule keeps the parsed mapping itself


def _rule(node: Any, group: str, index: int, per_line: dict[int, set[str]],
          durations: dict[str, int]) -> Rule:
    if type(node) is not _Map or not node.keys() <= RULE_KEYS:
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
    elif not METRIC_NAME.match(name.value) or node.keys() & {"for", "keep_firing_for",
                                                                "annotations"}:
        raise _Unusual
    start, end = node.start, node.end
    disabled = NO_CODES
    if per_line:  # usually empty
        codes: set[str] = set()
        for line, more in per_line.items():
            if start <= line <= end:
                codes |= more
        disabled = frozenset(codes) if codes else NO_CODES
    for_ = get("for")
    for_ms = _duration(for_, durations) if for_ is not None else None
    if "keep_firing_for" in node:
        _duration(node["keep_firing_for"], durations)
    labels, annotations = get("labels"), get("annotations")
    return Rule("alert" if alert is not None else "record", name, expr, group, index, start, end,
                for_, _strings(labels) if labels is not None else {},
                _strings(annotations) if annotations is not None else {}, disabled,
                for_ms=for_ms)


def build_fast(rf: RuleFile, text: str, per_line: dict[int, set[str]]) -> bool:
    """Fill ``rf.groups`` from ``text`` when it is in the subset and clean; else False.

    ``per_line`` are the per-rule disable comments (``loader._disables``). On
    False ``rf`` is untouched and the general loader must run.
    """
    # only printable ASCII and line feeds (checked in _content_rows, one search of the text):
    # with a tab, CR, BOM or non-ASCII text libyaml's columns and line breaks differ
    if not text.isascii():
        return False
    try:
        root = _Parser(text).root()
        if list(root) != ["groups"] or type(root["groups"]) is not list:
            return False
        durations: dict[str, int] = {}
        groups = []
        for gnode in root["groups"]:
            if not gnode.keys() <= GROUP_KEYS:
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
