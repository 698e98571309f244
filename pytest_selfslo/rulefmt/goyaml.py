"""The one positioned YAML reader: YAML as Go's ``yaml.v2`` and ``yaml.v3`` read it.

Prometheus reads rule files with ``gopkg.in/yaml.v3`` (``model/rulefmt``: a
``Decoder`` with ``KnownFields(true)``) and promtool unit-test files with
``gopkg.in/yaml.v2`` ``UnmarshalStrict`` (``cmd/promtool/unittest.go``); the
SLO spec and canary policies use the same reader in the v2 dialect. PyYAML
alone gets Go's answers wrong (``6E-01`` is a string in YAML 1.1, merge keys
are expanded after positions are lost, duplicate keys pass), so here:

* :func:`compose` pulls libyaml's events (``CParser`` when PyYAML has it) and
  builds :class:`Node` trees itself, iteratively: a document nested 100,000
  deep never recurses, and every node keeps its 1-based line and column.
  Only the first document is read, as ``yaml.Unmarshal`` does;
  :func:`compose_all` reads every document of a stream (Kubernetes
  manifests), each under the same limits.
* Scalars keep their source text; :func:`resolve` gives the tag and value Go
  resolves a plain scalar to (v2: ``yes``/``on`` are bools; both: ``6E-01``
  a float, ``0o17``/``0x1F``/``1_000`` ints, ``1e400`` and ``1:30`` strings,
  ``~`` null, timestamps).
* :class:`Reader` decodes nodes into Go-typed values (string, float64, int,
  bool, ``model.Duration``, ``map[string]string``, structs with known fields)
  and collects :class:`Problem` s instead of raising. Merge keys (``<<: *a``,
  ``<<: [*a, *b]``) are expanded at the node level, so a merged value keeps
  the position of the node it came from, with each library's precedence
  (v3: explicit keys win, then the first merged map; v2: keys apply in
  document order, later ones win; a map key set twice is an error).
* Hostile input is bounded before it costs anything (issue: YAML bombs): the
  document size (:data:`MAX_DOCUMENT_BYTES`), the nesting depth
  (:data:`MAX_DEPTH`), the node count (:data:`MAX_NODES`) and alias expansion
  (:data:`MAX_ALIAS_EXPANSION`, and Go's own "excessive aliasing" ratio). A
  breach is one :class:`YamlLimitError` ``path:line:col: ...`` naming the
  limit; nothing here raises ``RecursionError``. :func:`read_document` reads
  a user-named file for it: a regular file only (a FIFO or ``/dev/zero`` is
  refused at once, never read) of at most :data:`MAX_DOCUMENT_BYTES`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from yaml.events import (
    AliasEvent,
    DocumentEndEvent,
    DocumentStartEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
)

from pytest_selfslo._core.durations import parse_duration
from pytest_selfslo._core.errors import SelfSloError, located
from pytest_selfslo._core.safeio import read_regular

__all__ = ["MAX_ALIAS_EXPANSION", "MAX_DEPTH", "MAX_DOCUMENT_BYTES", "MAX_NODES", "Dialect",
           "Node", "Problem", "Reader", "YamlLimitError", "compose", "compose_all", "compose_text",
           "read_document", "read_document_or_raise", "resolve", "to_python"]

#: largest document read, in bytes of UTF-8 (a rule file of 100,000 rules is about 30 MB)
MAX_DOCUMENT_BYTES = 64 * 1024 * 1024
#: deepest nesting of mappings and sequences (Go's libyaml port stops at 10,000; real
#: rule, test, SLO and policy files are under 10 deep)
MAX_DEPTH = 1000
#: most nodes in one document (about 200 bytes of memory each)
MAX_NODES = 5_000_000
#: most nodes a document may expand to through aliases (a billion-laughs file expands to 10^9)
MAX_ALIAS_EXPANSION = 10_000_000

Dialect = Literal["v2", "v3"]

SCALAR, MAPPING, SEQUENCE, ALIAS = 0, 1, 2, 3
NULL_TAG, BOOL_TAG, INT_TAG, FLOAT_TAG = "!!null", "!!bool", "!!int", "!!float"
STR_TAG, TIMESTAMP_TAG, MERGE_TAG = "!!str", "!!timestamp", "!!merge"
SEQ_TAG, MAP_TAG = "!!seq", "!!map"
_LONG_PREFIX = "tag:yaml.org,2002:"
_KIND_TAGS = {MAPPING: MAP_TAG, SEQUENCE: SEQ_TAG}
_PARSER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class YamlLimitError(SelfSloError, ValueError):
    """The document breaks one of the reader's limits (size, depth, nodes, aliases).

    Its text is ``path:line:col: message``; the parts are attributes too.
    """

    def __init__(self, path: str, line: int, column: int, message: str) -> None:
        super().__init__(f"{path}:{line}:{column}: {message}")
        self.path, self.line, self.column, self.message = path, line, column, message


class Node:
    """One YAML node with its 1-based position.

    ``value`` is the source text of a scalar, the ``[item, ...]`` of a
    sequence, the ``[(key, value), ...]`` of a mapping, or the anchor name of
    an alias (whose ``target`` is the anchored node). ``plain`` is True for an
    unquoted scalar without a tag (the only kind Go resolves implicitly).
    ``size`` counts the nodes the node expands to, aliases followed.
    ``stop_line``/``stop_column`` are libyaml's end mark, the 0-based line and
    column of the first character after the node, and ``style`` a scalar's
    style as libyaml reports it (``"|"``, ``">"``, ``"'"``, ``'"'``; ``""`` or
    None for a plain one) -- what a reader that cuts a document into regions
    (:mod:`.manifests`) needs.
    """

    __slots__ = ("column", "end_line", "kind", "line", "plain", "size", "stop_column",
                 "stop_line", "style", "tag", "target", "value")

    def __init__(self, kind: int, tag: str | None, value: Any, line: int, column: int,
                 plain: bool = False) -> None:
        self.kind = kind
        self.tag = tag
        self.value = value
        self.line = line
        self.column = column
        self.plain = plain
        self.end_line = line
        self.size = 1
        self.target: Node | None = None
        self.stop_line = line - 1
        self.stop_column = column - 1
        self.style: str | None = None

    def __repr__(self) -> str:
        kind = ("scalar", "mapping", "sequence", "alias")[self.kind]
        shown = self.value if self.kind in (SCALAR, ALIAS) else f"{len(self.value)} items"
        return f"<{kind} {shown!r} at {self.line}:{self.column}>"

    @property
    def deref(self) -> Node:
        """The node itself, or an alias's target."""
        return self.target if self.target is not None else self


@dataclass(frozen=True)
class Problem:
    """One problem with its position (1-based line and column)."""

    file: str
    line: int
    column: int
    code: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.message}"


# ------------------------------------------------------------------ composing
def _short_tag(tag: str | None) -> str | None:
    if tag is not None and tag.startswith(_LONG_PREFIX):
        return "!!" + tag[len(_LONG_PREFIX):]
    return tag


def _allowed_alias_ratio(decodes: int) -> float:
    """Go's ``allowedAliasRatio``: 99% of a small document may come from aliases, 10% of a big one."""
    low, high = 400_000, 4_000_000
    if decodes <= low:
        return 0.99
    if decodes >= high:
        return 0.10
    return 0.99 - 0.89 * ((decodes - low) / (high - low))


def read_document(path: str | Path, what: str = "YAML file") -> str:
    """The UTF-8 text of the YAML file ``path`` names, for :func:`compose`.

    Only a regular file is read, and at most :data:`MAX_DOCUMENT_BYTES` of it:
    a FIFO, a device (``/dev/zero``), a socket or a directory is refused at
    once without blocking (:class:`~pytest_selfslo._core.safeio.NotRegularFileError`,
    :class:`IsADirectoryError`), a bigger file with
    :class:`~pytest_selfslo._core.safeio.FileTooLargeError` -- all
    :class:`OSError` s whose ``strerror`` says why -- and bad UTF-8 with
    :class:`UnicodeDecodeError`.
    """
    return read_regular(path, MAX_DOCUMENT_BYTES, what).decode("utf-8")


def read_document_or_raise(path: str | Path, what: str,
                           error: Callable[[str], SelfSloError]) -> str:
    """:func:`read_document`, its failures raised as ``error("path: cannot read WHAT: why")``
    (``path: expected UTF-8 text, got undecodable bytes (why)`` for bad UTF-8)."""
    try:
        return read_document(path, what)
    except OSError as exc:
        raise error(located(f"cannot read {what}: {exc.strerror or exc}", str(path))) from None
    except UnicodeDecodeError as exc:
        raise error(located(f"expected UTF-8 text, got undecodable bytes ({exc.reason})",
                            str(path))) from None


def _check_size(text: str, path: str) -> None:
    if len(text) > MAX_DOCUMENT_BYTES or len(text.encode("utf-8", "surrogatepass")) > MAX_DOCUMENT_BYTES:
        raise YamlLimitError(path, 1, 1, f"the document is larger than {MAX_DOCUMENT_BYTES} "
                                         "bytes (MAX_DOCUMENT_BYTES)")


def compose_text(text: str, path: str) -> Node | None:
    """The first document of ``text`` as a :class:`Node` tree (None when empty).

    Raises :class:`yaml.MarkedYAMLError` for a syntax error and
    :class:`YamlLimitError` when a limit is broken; :func:`compose` turns both
    into a :class:`Problem`.
    """
    _check_size(text, path)
    parser = _PARSER(text)
    try:
        return _compose_events(parser.get_event, path)
    finally:
        parser.dispose()


def compose_all_text(text: str, path: str) -> list[Node | None]:
    """Every document of the stream ``text`` as :func:`compose_text` reads the first one
    (an empty document is a null scalar; an empty stream has no documents).

    The size limit applies to the whole stream; depth, node and alias limits
    to each document (anchors do not cross documents, as in YAML).
    """
    _check_size(text, path)
    parser = _PARSER(text)
    try:
        documents: list[Node | None] = []
        last: list[Any] = [None]

        def get() -> Any:
            last[0] = parser.get_event()
            return last[0]

        while get().__class__ is not StreamEndEvent:
            if last[0].__class__ is DocumentStartEvent:
                documents.append(_compose_events(get, path))
                ended: Any = last[0].__class__
                while ended is not DocumentEndEvent and ended is not StreamEndEvent:
                    ended = get().__class__  # to the document's end (a syntax error raises here)
                if ended is StreamEndEvent:
                    break
        return documents
    finally:
        parser.dispose()


def _compose_events(get: Callable[[], Any], path: str) -> Node | None:
    anchors: dict[str, Node] = {}
    open_nodes: set[int] = set()
    stack: list[Node] = []
    pending_keys: list[Node | None] = []
    root: Node | None = None
    nodes = expanded = 0
    while True:
        event = get()
        cls = event.__class__
        if cls is ScalarEvent:
            mark = event.start_mark
            tag = event.tag
            node = Node(SCALAR, _short_tag(tag) if tag not in (None, "!") else tag, event.value,
                        mark.line + 1, mark.column + 1, tag is None and event.implicit[0])
            end = event.end_mark  # a block scalar ends at column 0 of the line after its last
            node.end_line = max(node.line, end.line + (1 if end.column > 0 else 0))
            node.stop_line, node.stop_column, node.style = end.line, end.column, event.style
        elif cls is MappingStartEvent or cls is SequenceStartEvent:
            mark = event.start_mark
            kind = MAPPING if cls is MappingStartEvent else SEQUENCE
            node = Node(kind, _short_tag(event.tag), [], mark.line + 1, mark.column + 1)
            if len(stack) >= MAX_DEPTH:
                raise YamlLimitError(path, node.line, node.column,
                                     f"nesting deeper than {MAX_DEPTH} levels (MAX_DEPTH)")
            if event.anchor is not None:
                anchors[event.anchor] = node
                open_nodes.add(id(node))
            nodes += 1
            _attach(stack, pending_keys, node)
            stack.append(node)
            pending_keys.append(None)
            continue
        elif cls is MappingEndEvent or cls is SequenceEndEvent:
            node = stack.pop()
            pending_keys.pop()
            end = event.end_mark
            node.end_line = end.line + 1
            node.stop_line, node.stop_column = end.line, end.column
            items = node.value if node.kind == SEQUENCE else [n for pair in node.value for n in pair]
            node.size = 1 + sum(item.size for item in items)
            open_nodes.discard(id(node))
            if not stack:
                root = node
                break
            continue
        elif cls is AliasEvent:
            mark = event.start_mark
            target = anchors.get(event.anchor)
            node = Node(ALIAS, None, event.anchor, mark.line + 1, mark.column + 1)
            if target is None:
                raise YamlLimitError(path, node.line, node.column,
                                     f"unknown anchor {event.anchor!r} referenced")
            if id(target) in open_nodes:
                raise YamlLimitError(path, node.line, node.column,
                                     f"anchor {event.anchor!r} value contains itself")
            node.target = target
            node.size = target.size
            expanded += target.size
            if expanded > MAX_ALIAS_EXPANSION or (
                    expanded > 100 and nodes + expanded > 1000
                    and expanded / (nodes + expanded) > _allowed_alias_ratio(nodes + expanded)):
                raise YamlLimitError(
                    path, node.line, node.column,
                    f"document contains excessive aliasing: *{event.anchor} brings the expansion "
                    f"to {expanded} nodes (MAX_ALIAS_EXPANSION {MAX_ALIAS_EXPANSION}, and at "
                    "most 99% of the nodes from aliases)")
        elif cls is DocumentEndEvent or cls is StreamEndEvent:
            break
        else:  # stream/document start
            continue
        if cls is ScalarEvent:
            nodes += 1
            if event.anchor is not None:
                anchors[event.anchor] = node
        if nodes > MAX_NODES:
            raise YamlLimitError(path, node.line, node.column,
                                 f"more than {MAX_NODES} nodes (MAX_NODES)")
        if not stack:
            root = node
            break
        _attach(stack, pending_keys, node)
    return root


def _attach(stack: list[Node], pending_keys: list[Node | None], node: Node) -> None:
    if not stack:
        return
    parent = stack[-1]
    if parent.kind == SEQUENCE:
        parent.value.append(node)
    elif pending_keys[-1] is None:
        pending_keys[-1] = node
    else:
        parent.value.append((pending_keys[-1], node))
        pending_keys[-1] = None


def compose(text: str, path: str) -> tuple[Node | None, Problem | None]:
    """The node tree of ``text``, or the one problem (syntax or limit) that prevents it."""
    try:
        return compose_text(text, path), None
    except (yaml.YAMLError, YamlLimitError) as exc:
        return None, _problem(exc, path)


def compose_all(text: str, path: str) -> tuple[list[Node | None], Problem | None]:
    """The node trees of every document of ``text``, or the one problem that prevents it."""
    try:
        return compose_all_text(text, path), None
    except (yaml.YAMLError, YamlLimitError) as exc:
        return [], _problem(exc, path)


def _problem(exc: Exception, path: str) -> Problem:
    """A syntax error or a broken limit as a :class:`Problem`."""
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        what = exc.problem or str(exc)
        return Problem(path, line, col, "yaml-syntax", f"invalid YAML: {what}")
    if isinstance(exc, YamlLimitError):
        return Problem(path, exc.line, exc.column, "yaml-limit", exc.message)
    return Problem(path, 1, 1, "yaml-syntax", f"invalid YAML: {exc}")


# ------------------------------------------------------------------ scalar resolution
_V3_MAP: dict[str, tuple[str, Any]] = {
    **{s: (BOOL_TAG, True) for s in ("true", "True", "TRUE")},
    **{s: (BOOL_TAG, False) for s in ("false", "False", "FALSE")},
    **{s: (NULL_TAG, None) for s in ("", "~", "null", "Null", "NULL")},
    **{s: (FLOAT_TAG, math.nan) for s in (".nan", ".NaN", ".NAN")},
    **{s: (FLOAT_TAG, math.inf) for s in (".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF")},
    **{s: (FLOAT_TAG, -math.inf) for s in ("-.inf", "-.Inf", "-.INF")},
    "<<": (MERGE_TAG, "<<"),
}
_V2_MAP: dict[str, tuple[str, Any]] = {
    **_V3_MAP,
    **{s: (BOOL_TAG, True) for s in ("y", "Y", "yes", "Yes", "YES", "on", "On", "ON")},
    **{s: (BOOL_TAG, False) for s in ("n", "N", "no", "No", "NO", "off", "Off", "OFF")},
}
_MAPS = {"v2": _V2_MAP, "v3": _V3_MAP}
#: strconv.ParseInt(s, 0, 64) syntax: sign, then 0x/0b/0o/0 prefixes or decimal digits
_GO_INT = re.compile(r"([+-]?)(?:0[xX]([0-9a-fA-F]+)|0[bB]([01]+)|0[oO]([0-7]+)|(0[0-7]*)|([1-9][0-9]*))")
#: the float syntax yaml.v2/v3 accept after a sign or digit (yamlStyleFloat)
_YAML_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
#: strconv.ParseFloat of a scalar starting with "." (no underscores, no hex: a decimal)
_DOT_FLOAT = re.compile(r"\.[0-9]+([eE][-+]?[0-9]+)?")
#: the timestamp layouts yaml.v2/v3 try (2006-1-2, with a time: T/t and a zone, or a space)
_TIMESTAMP = re.compile(r"[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:[Tt][0-9]{1,2}:[0-9]{1,2}:[0-9]{1,2}"
                        r"(?:\.[0-9]+)?(?:Z|[+-][0-9]{2}:[0-9]{2})| +[0-9]{1,2}:[0-9]{1,2}:"
                        r"[0-9]{1,2}(?:\.[0-9]+)?)?")
_INT64 = (-(1 << 63), (1 << 63) - 1)
_RESOLVABLE = frozenset({None, STR_TAG, BOOL_TAG, INT_TAG, FLOAT_TAG, NULL_TAG, TIMESTAMP_TAG})


def _go_int(text: str) -> int | None:
    """strconv.ParseInt(text, 0, 64), then ParseUint: the value, or None (syntax or range)."""
    m = _GO_INT.fullmatch(text)
    if m is None:
        return None
    sign, hexa, binary, octal, zero, decimal = m.groups()
    if hexa is not None:
        value = int(hexa, 16)
    elif binary is not None:
        value = int(binary, 2)
    elif octal is not None:
        value = int(octal, 8)
    elif zero is not None:
        value = int(zero, 8) if len(zero) > 1 else 0
    else:
        value = int(decimal)
    if sign == "-":
        value = -value
    if _INT64[0] <= value <= _INT64[1]:
        return value
    if not sign and value < (1 << 64):  # ParseUint takes no sign
        return value
    return None


def _go_float(text: str) -> float | None:
    """strconv.ParseFloat of a decimal already matched by the syntax: None when out of range."""
    value = float(text)
    return None if math.isinf(value) else value


def _resolve_plain(text: str, dialect: Dialect) -> tuple[str, Any]:
    """yaml.v2/v3 ``resolve("", text)`` for a plain scalar."""
    if not text:
        return NULL_TAG, None
    first = text[0]
    if first not in "+-0123456789yYnNtTfFoO~.<":
        return STR_TAG, text
    item = _MAPS[dialect].get(text)
    if item is not None:
        return item
    if first == ".":
        if _DOT_FLOAT.fullmatch(text):
            value = _go_float(text)
            if value is not None:
                return FLOAT_TAG, value
        return STR_TAG, text
    if first not in "+-0123456789":
        return STR_TAG, text
    if _TIMESTAMP.fullmatch(text):
        return TIMESTAMP_TAG, text
    plain = text.replace("_", "")
    number = _go_int(plain)
    if number is not None:
        return INT_TAG, number
    if _YAML_FLOAT.fullmatch(plain):
        value = _go_float(plain)
        if value is not None:
            return FLOAT_TAG, value
    return STR_TAG, text


def resolve(node: Node, dialect: Dialect) -> tuple[str, Any]:
    """The tag and value Go's YAML resolves a scalar node to (``!!str`` for quoted text).

    An explicit tag is honoured as Go does: ``!!str 1`` is the string "1",
    ``!!float 1`` the float 1.0, ``!!int 1.5`` a problem (a ``ValueError``).
    """
    node = node.deref
    if node.kind != SCALAR:
        return _KIND_TAGS[node.kind], node.value
    if node.plain:
        return _resolve_plain(node.value, dialect)
    tag = node.tag
    if tag is None or tag == "!" or tag == STR_TAG:  # quoted or block text, or !!str
        return STR_TAG, node.value
    if tag not in _RESOLVABLE:
        return str(tag), node.value
    rtag, value = _resolve_plain(node.value, dialect)
    if rtag == tag:
        return rtag, value
    if tag == FLOAT_TAG and rtag == INT_TAG:
        return FLOAT_TAG, float(value)
    raise ValueError(f"cannot decode {rtag} `{node.value}` as a {tag}")


# ------------------------------------------------------------------ decoding


def _is_merge(key: Node) -> bool:
    key = key.deref
    return key.kind == SCALAR and key.value == "<<" and (key.plain or key.tag == MERGE_TAG)


def is_null(node: Node | None) -> bool:
    """True for an absent value or a YAML null (``~``, ``null``, empty)."""
    if node is None:
        return True
    node = node.deref
    return node.kind == SCALAR and node.plain and node.value in ("", "~", "null", "Null", "NULL")


class Reader:
    """Decodes :class:`Node` s into Go-typed values, collecting :class:`Problem` s.

    ``dialect`` picks the library whose merge precedence, duplicate-key rules
    and scalar resolution apply: ``"v3"`` for rule files, ``"v2"`` for
    promtool test files (``UnmarshalStrict``) and our own formats.
    ``ignore_unknown_fields`` is promtool's ``--ignore-unknown-fields``.
    """

    def __init__(self, path: str, dialect: Dialect = "v3", *,
                 ignore_unknown_fields: bool = False) -> None:
        self.path = path
        self.dialect: Dialect = dialect
        self.ignore_unknown_fields = ignore_unknown_fields
        self.problems: list[Problem] = []
        self._seen: set[tuple[int, int, str]] = set()

    def where(self, node: Node | None) -> str:
        """``path:line:column`` of ``node`` (line 1 when there is no node)."""
        if node is None:
            return f"{self.path}:1:1"
        return f"{self.path}:{node.line}:{node.column}"

    def problem(self, node: Node | None, code: str, message: str) -> None:
        """Record a problem at ``node`` (line 1 without one); the same one twice is kept once."""
        line, col = (node.line, node.column) if node is not None else (1, 1)
        if (line, col, message) in self._seen:
            return
        self._seen.add((line, col, message))
        self.problems.append(Problem(self.path, line, col, code, message))

    def _of_kind(self, node: Node | None, kind: int, what: str, expected: str) -> Node | None:
        """The node (aliases followed) if it has ``kind``; None for null, or (with a problem) another kind."""
        if node is None or is_null(node):
            return None
        target = node.deref
        if target.kind != kind:
            self.problem(node, "type", f"{what}: expected {expected}, got {_describe_kind(target)}")
            return None
        return target

    # -- mappings -------------------------------------------------------------
    def _merged(self, node: Node, what: str) -> list[Node]:
        """The mappings a ``<<`` value merges, first (highest v3 precedence) first."""
        target = node.deref
        items = target.value if target.kind == SEQUENCE else [node]
        out = []
        for item in items:
            if item.deref.kind != MAPPING:
                self.problem(item, "merge", f"{what}: map merge requires map or sequence of "
                                            "maps as the value")
                return []
            out.append(item.deref)
        return out

    def _duplicates(self, node: Node, what: str) -> bool:
        """yaml.v3's unique-keys check of one mapping: True (with problems) when a key repeats."""
        seen: dict[tuple[int, str], Node] = {}
        bad = False
        for key, _value in node.value:
            target = key.deref
            ident = (target.kind, target.value if target.kind == SCALAR else str(id(target)))
            first = seen.get(ident)
            if first is not None:
                self.problem(key, "duplicate-key", f"{what}: mapping key {target.value!r} already "
                                                   f"defined at line {first.line}")
                bad = True
            else:
                seen[ident] = key
        return bad

    def entries(self, node: Node, what: str, *, struct: bool) -> list[tuple[str, Node, Node]]:
        """``(key text, key node, value node)`` of a mapping after merges, in effect order.

        v3: explicit keys win over merged ones, the first merged map over later
        ones; a key repeated in one mapping is an error. v2 structs: keys apply
        in document order (a merge where it stands), the last one wins, a
        field repeated in one mapping is an error; v2 maps: a key set twice,
        by merge or not, is an error and the first value stays.
        """
        if self.dialect == "v3":
            return self._entries_v3(node, what, set())
        out: dict[str, tuple[str, Node, Node]] = {}
        self._apply_v2(node, what, out, struct, 0)
        return list(out.values())

    def _entries_v3(self, node: Node, what: str, done: set[str]) -> list[tuple[str, Node, Node]]:
        # a repeated key is reported; unlike Go, which then leaves the whole mapping
        # undecoded, the first occurrence is kept, so no follow-on "must be set" appears
        self._duplicates(node, what)
        out = []
        merges: list[Node] = []
        for key, value in node.value:
            if _is_merge(key):
                merges.append(value)
                continue
            text = self._key(key, what)
            if text is None or text in done:
                continue
            done.add(text)
            out.append((text, key, value))
        for merge in merges:
            for mapping in self._merged(merge, what):
                out.extend(self._entries_v3(mapping, what, done))
        return out

    def _apply_v2(self, node: Node, what: str, out: dict[str, tuple[str, Node, Node]],
                  struct: bool, depth: int) -> None:
        here: set[str] = set()
        for key, value in node.value:
            if _is_merge(key):
                if depth > MAX_DEPTH:
                    self.problem(key, "merge", f"{what}: merges nested deeper than {MAX_DEPTH} "
                                               "(MAX_DEPTH)")
                    return
                for mapping in reversed(self._merged(value, what)):
                    self._apply_v2(mapping, what, out, struct, depth + 1)
                continue
            text = self._key(key, what)
            if text is None:
                continue
            if struct:
                if text in here:
                    self.problem(key, "duplicate-key",
                                 f"{what}: field {text!r} already set in this mapping")
                    continue
                here.add(text)
                out[text] = (text, key, value)
            elif text in out:
                self.problem(value, "duplicate-key", f"{what}: key {text!r} already set in map")
            else:
                out[text] = (text, key, value)

    def _key(self, key: Node, what: str) -> str | None:
        target = key.deref
        if target.kind != SCALAR:
            self.problem(key, "type", f"{what}: invalid map key: {_describe_kind(target)}")
            return None
        if is_null(target):
            return ""
        return str(target.value)

    def mapping(self, node: Node | None, what: str,
                fields: tuple[str, ...]) -> dict[str, tuple[Node, Node]]:
        """A Go struct: field name -> (key node, value node); unknown fields reported."""
        target = self._of_kind(node, MAPPING, what, "a mapping")
        if target is None:
            return {}
        out: dict[str, tuple[Node, Node]] = {}
        for text, key, value in self.entries(target, what, struct=True):
            if text not in fields:
                if not self.ignore_unknown_fields:
                    self.problem(key, "unknown-field", f"{what}: field {text!r} not found "
                                                       f"(expected one of: {', '.join(fields)})")
                continue
            out[text] = (key, value)
        return out

    def string_map(self, node: Node | None, what: str) -> dict[str, str]:
        """A ``map[string]string`` such as labels or annotations (merges expanded)."""
        target = self._of_kind(node, MAPPING, what, "a mapping")
        if target is None:
            return {}
        out: dict[str, str] = {}
        for text, _key, value in self.entries(target, what, struct=False):
            out[text] = self.string(value, f"{what}.{text}")
        return out

    def sequence(self, node: Node | None, what: str) -> list[Node]:
        """Items of a sequence (null -> empty)."""
        target = self._of_kind(node, SEQUENCE, what, "a list")
        return [] if target is None else list(target.value)

    # -- scalars --------------------------------------------------------------
    def string(self, node: Node | None, what: str) -> str:
        """Go's string field: a scalar's source text; null -> ""."""
        target = self._of_kind(node, SCALAR, what, "a string")
        return "" if target is None else str(target.value)

    def _resolved(self, node: Node, what: str) -> tuple[str, Any] | None:
        try:
            return resolve(node, self.dialect)
        except ValueError as exc:
            self.problem(node, "type", f"{what}: {exc}")
            return None

    def number(self, node: Node | None, what: str) -> float:
        """Go's ``float64``: ints and floats (``6E-01``, ``0x1F``, ``.inf``); null -> 0."""
        if node is None or is_null(node):
            return 0.0
        resolved = self._resolved(node, what)
        if resolved is None:
            return 0.0
        tag, value = resolved
        if tag in (INT_TAG, FLOAT_TAG):
            return float(value)
        self.problem(node, "type", f"{what}: expected a number, got {_describe(node, tag)}")
        return 0.0

    def integer(self, node: Node | None, what: str) -> int:
        """Go's ``int``: an int, or a float truncated toward zero as yaml.v3 does; null -> 0."""
        if node is None or is_null(node):
            return 0
        resolved = self._resolved(node, what)
        if resolved is None:
            return 0
        tag, value = resolved
        if tag == INT_TAG and _INT64[0] <= value <= _INT64[1]:
            return int(value)
        if tag == FLOAT_TAG and math.isfinite(value) and abs(value) < 2.0 ** 63:
            return int(value)
        self.problem(node, "type", f"{what}: expected an integer, got {_describe(node, tag)}")
        return 0

    def boolean(self, node: Node | None, what: str) -> bool:
        """Go's ``bool`` (v2 also takes yes/no/on/off); null -> false."""
        if node is None or is_null(node):
            return False
        resolved = self._resolved(node, what)
        if resolved is not None and resolved[0] == BOOL_TAG:
            return bool(resolved[1])
        self.problem(node, "type", f"{what}: expected true or false, got "
                                   f"{_describe(node, resolved[0] if resolved else '')}")
        return False

    def duration(self, node: Node | None, what: str) -> int:
        """Milliseconds of a ``model.Duration`` (decoded from the text; null -> 0)."""
        text = self.string(node, what)
        if text == "":
            return 0
        try:
            return parse_duration(text)
        except ValueError:
            self.problem(node, "type", f"{what}: expected a duration, got {text!r}")
            return 0


def _describe_kind(node: Node) -> str:
    return _KIND_TAGS.get(node.kind, "a scalar")


def _describe(node: Node, tag: str) -> str:
    target = node.deref
    if target.kind != SCALAR:
        return _describe_kind(target)
    return repr(target.value)


# ------------------------------------------------------------------ plain data
def to_python(root: Node | None, path: str,
              dialect: Dialect = "v2") -> tuple[Any, dict[str, Node], list[Problem]]:
    """Plain Python data (dict/list/str/int/float/bool/None), the node of every key path,
    and the problems found (a key repeated in one mapping, a bad merge).

    Paths are ``objectives[0].target`` style (the top level is ``""``); merges
    are expanded with ``dialect``'s precedence, aliases followed (the alias
    budget was paid when composing). Iterative: depth costs no recursion.
    """
    if root is None:
        return None, {}, []
    reader = Reader(path, dialect, ignore_unknown_fields=True)
    nodes: dict[str, Node] = {}
    result: list[Any] = [None]
    # (node, path, container, slot): put the value of node at container[slot]
    work: list[tuple[Node, str, Any, Any]] = [(root, "", result, 0)]
    while work:
        node, path, container, slot = work.pop()
        nodes.setdefault(path, node)
        target = node.deref
        if target.kind == MAPPING:
            out: dict[str, Any] = {}
            container[slot] = out
            for text, key, value in reader.entries(target, path or "document", struct=True):
                child = f"{path}.{text}" if path else text
                nodes[child] = key
                out[text] = None
                work.append((value, child, out, text))
        elif target.kind == SEQUENCE:
            items: list[Any] = [None] * len(target.value)
            container[slot] = items
            for i, item in enumerate(target.value):
                work.append((item, f"{path}[{i}]", items, i))
        else:
            try:
                tag, value = resolve(target, dialect)
            except ValueError:
                tag, value = STR_TAG, target.value
            container[slot] = value if tag not in (TIMESTAMP_TAG, MERGE_TAG) else target.value
    return result[0], nodes, reader.problems
