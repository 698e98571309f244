"""The Go ``text/template`` subset Prometheus alert labels and annotations use.

Prometheus expands every label and annotation of an alerting rule with Go's
``text/template`` plus its own helper functions, after prepending
``{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}{{$externalURL :=
.ExternalURL}}{{$value := .Value}}``. We do the same, so positions in error
messages line up with Prometheus'.

Supported: text and ``{{ pipeline }}`` actions with ``{{-``/``-}}`` trimming and
``{{/* comments */}}``; variables (``$x := ...``, ``$x = ...``); fields on
``.``/variables (``.Labels.job``, ``$labels.job``); ``if``/``else if``/``else``,
``range`` (with ``$k, $v :=``, ``else``, ``break``, ``continue``), ``with``/``else
with``; pipelines with ``|`` and parentheses; the Go builtins ``and or not len
index print printf println eq ne lt le gt ge html urlquery``; and Prometheus'
``humanize humanize1024 humanizeDuration humanizePercentage humanizeTimestamp
reReplaceAll match title toUpper toLower stripPort stripDomain urlQueryEscape
parseDuration safeHtml externalURL pathPrefix``. Anything else -- ``query`` and
the functions that consume query results, ``define``/``template``/``block``,
unknown functions -- is a :class:`~pytest_selfslo._core.errors.TemplateError` at parse
time naming the template and position: never silently wrong output.

Execution errors (e.g. comparing an int with a float) render, as in Prometheus,
as ``<error expanding template: ...>`` in the label or annotation value.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pytest_selfslo._core.errors import TemplateError
from pytest_selfslo._core.limits import DEFAULT_LIMITS
from pytest_selfslo.template import execute as _exec
from pytest_selfslo.template.execute import Node

__all__ = ["TEMPLATE_PREAMBLE", "Template", "expand_template", "parse_template"]

TEMPLATE_PREAMBLE = ("{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}"
                     "{{$externalURL := .ExternalURL}}{{$value := .Value}}")

_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<str>"(?:[^"\\\n]|\\.)*")
  | (?P<raw>`[^`]*`)
  | (?P<char>'(?:[^'\\\n]|\\.)+')
  | (?P<decl>:=)
  | (?P<assign>=)
  | (?P<num>[+-]?(?:0[xX][0-9a-fA-F_]+|(?:\d[\d_]*\.?\d*|\.\d+)(?:[eE][+-]?\d+)?))
  | (?P<var>\$[A-Za-z0-9_]*)
  | (?P<field>(?:\.[A-Za-z_][A-Za-z0-9_]*)+|\.)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<punct>[|(),])
""", re.VERBOSE)
_KEYWORDS = {"if", "else", "end", "range", "with", "break", "continue", "define",
             "template", "block", "nil", "true", "false"}
_UNSUPPORTED_KEYWORDS = {"define", "template", "block"}


@dataclass
class _Tok:
    kind: str
    text: str
    offset: int


class _Parser:
    """Recursive-descent parser over the action tokens of one template."""

    def __init__(self, text: str, name: str) -> None:
        self.text = text
        self.name = name
        self.items = _split(text, name)
        self.pos = 0
        self.scopes: list[set[str]] = [{"$"}]

    def fail(self, offset: int, message: str) -> TemplateError:
        line = self.text.count("\n", 0, offset) + 1
        return TemplateError(f"template: {self.name}:{line}: {message}")

    # ---- structure -------------------------------------------------------
    def parse(self) -> list[Node]:
        nodes, end = self.list_until(set())
        if end is not None:
            raise self.fail(end[1], f"unexpected {{{{{end[0]}}}}}")
        return nodes

    def list_until(self, stops: set[str]) -> tuple[list[Node], tuple[str, int, list[_Tok]] | None]:
        nodes: list[Node] = []
        while self.pos < len(self.items):
            kind, payload, offset = self.items[self.pos]
            self.pos += 1
            if kind == "text":
                if payload:
                    nodes.append(_exec.Text(payload))
                continue
            toks = payload
            assert isinstance(toks, list)
            if not toks:
                raise self.fail(offset, "missing value for command")
            head = toks[0]
            word = head.text if head.kind == "ident" else ""
            if word in ("end", "else"):
                if word not in stops:
                    raise self.fail(offset, f"unexpected {{{{{word}}}}}")
                return nodes, (word, offset, toks)
            if word in _UNSUPPORTED_KEYWORDS:
                raise self.fail(offset, f"{{{{{word}}}}} is not supported in alert templates "
                                        "by pytest-selfslo")
            if word in ("if", "with", "range"):
                nodes.append(self.block(word, toks[1:], offset))
            elif word in ("break", "continue"):
                if not any("$__range__" in s for s in self.scopes):
                    raise self.fail(offset, f"{{{{{word}}}}} outside {{{{range}}}}")
                nodes.append(_exec.Break() if word == "break" else _exec.Continue())
            else:
                nodes.append(_exec.Action(self.pipeline(toks, offset, allow_decl=True), offset))
        if stops:
            raise self.fail(len(self.text), "unexpected EOF")
        return nodes, None

    def block(self, word: str, toks: list[_Tok], offset: int) -> Node:
        self.scopes.append({"$__range__"} if word == "range" else set())
        pipe = self.pipeline(toks, offset, allow_decl=True, range_decl=word == "range")
        body, end = self.list_until({"end", "else"})
        else_body: list[Node] = []
        assert end is not None
        self.scopes.pop()
        if end[0] == "else":
            rest = end[2][1:]
            if rest and rest[0].kind == "ident" and rest[0].text in ("if", "with") and word != "range":
                # "else if" / "else with": a nested block that shares our {{end}}
                else_body = [self.block(rest[0].text, rest[1:], end[1])]
                return _exec.Block(word, pipe, body, else_body, offset)
            if rest:
                raise self.fail(end[1], "unexpected tokens after {{else}}")
            self.scopes.append(set())
            else_body, end2 = self.list_until({"end"})
            self.scopes.pop()
            assert end2 is not None
        return _exec.Block(word, pipe, body, else_body, offset)

    # ---- pipelines -------------------------------------------------------
    def pipeline(self, toks: list[_Tok], offset: int, *, allow_decl: bool = False,
                 range_decl: bool = False) -> _exec.Pipeline:
        decl: list[str] = []
        assign = False
        i = 0
        if allow_decl and toks and toks[0].kind == "var":
            j = 1
            names = [toks[0].text]
            if range_decl and len(toks) > 3 and toks[1].kind == "punct" and toks[1].text == ",":
                names.append(toks[2].text)
                j = 3
            if j < len(toks) and toks[j].kind in ("decl", "assign"):
                assign = toks[j].kind == "assign"
                decl = names
                i = j + 1
                for name in decl:
                    if assign:
                        self.check_var(name, offset)
        cmds = self.commands(toks[i:], offset)
        if not cmds:
            raise self.fail(offset, "missing value for command")
        if decl and not assign:
            self.scopes[-1].update(decl)
        return _exec.Pipeline(decl, assign, cmds)

    def commands(self, toks: list[_Tok], offset: int) -> list[_exec.Command]:
        cmds: list[_exec.Command] = []
        current: list[Node] = []
        first = 0
        i = 0
        while i < len(toks):
            tok = toks[i]
            if tok.kind == "punct" and tok.text == "|":
                if not current:
                    raise self.fail(offset, "missing value for command")
                cmds.append(self.command(current, toks[first:i]))
                current = []
                i += 1
                first = i
                continue
            node, i = self.operand(toks, i, offset)
            current.append(node)
        if current:
            cmds.append(self.command(current, toks[first:]))
        elif cmds:
            raise self.fail(offset, "missing value for command")
        return cmds

    def command(self, nodes: list[Node], toks: list[_Tok]) -> _exec.Command:
        """A command with its source position (Go reports ``line:col`` and the command text)."""
        parts = [toks[0].text]
        for prev, tok in itertools.pairwise(toks):
            gap = tok.offset > prev.offset + len(prev.text)
            parts.append((" " if gap and prev.text != "(" and tok.text != ")" else "") + tok.text)
        text = "".join(parts)
        pos = toks[0].offset
        if len(toks) > 1 and toks[0].kind == "var" and toks[1].kind == "field" \
                and toks[1].offset == toks[0].offset + len(toks[0].text):
            pos = toks[1].offset  # Go positions a variable's field chain at the first field
        line = self.text.count("\n", 0, pos) + 1
        col = pos - (self.text.rfind("\n", 0, pos) + 1)
        return _exec.Command(nodes, f"{line}:{col}", text)

    def operand(self, toks: list[_Tok], i: int, offset: int) -> tuple[Node, int]:
        tok = toks[i]
        if tok.kind == "punct" and tok.text == "(":
            depth, j = 1, i + 1
            while j < len(toks) and depth:
                if toks[j].kind == "punct":
                    depth += {"(": 1, ")": -1}.get(toks[j].text, 0)
                j += 1
            if depth:
                raise self.fail(offset, "unclosed left paren")
            inner = self.pipeline(toks[i + 1:j - 1], offset)
            node: Node = _exec.SubPipe(inner)
            if j < len(toks) and toks[j].kind == "field" and toks[j].text != ".":
                node = _exec.Chain(node, toks[j].text[1:].split("."))
                j += 1
            return node, j
        if tok.kind == "punct":
            raise self.fail(offset, f"unexpected {tok.text!r} in command")
        if tok.kind in ("decl", "assign"):
            raise self.fail(offset, f"unexpected {tok.text!r} in operand")
        if tok.kind == "var":
            name, _, rest = tok.text.partition(".")
            self.check_var(name, offset)
            fields = rest.split(".") if rest else []
            if i + 1 < len(toks) and toks[i + 1].kind == "field" and toks[i + 1].text != ".":
                fields += toks[i + 1].text[1:].split(".")
                i += 1
            return _exec.Variable(name, fields), i + 1
        if tok.kind == "field":
            return _exec.Field([] if tok.text == "." else tok.text[1:].split(".")), i + 1
        if tok.kind in ("str", "raw", "char"):
            return _exec.Literal(_unquote(tok, self, offset)), i + 1
        if tok.kind == "num":
            return _exec.Literal(_number(tok.text, self, offset)), i + 1
        word = tok.text
        if word in ("true", "false"):
            return _exec.Literal(word == "true"), i + 1
        if word == "nil":
            return _exec.Literal(None), i + 1
        if word in _KEYWORDS:
            raise self.fail(offset, f"unexpected keyword {word!r} in command")
        if word in _exec.UNSUPPORTED_FUNCS:
            raise self.fail(offset, f"function {word!r} is not supported in alert templates by "
                                    "pytest-selfslo (it needs a live query engine or Go types)")
        if word not in _exec.FUNCS:
            raise self.fail(offset, f'function "{word}" not defined')
        return _exec.Func(word), i + 1

    def check_var(self, name: str, offset: int) -> None:
        base = name.split(".")[0]
        if not any(base in scope for scope in self.scopes):
            raise self.fail(offset, f'undefined variable "{base}"')


def _split(text: str, name: str) -> list[tuple[str, Any, int]]:
    """Text and action items, applying ``{{-``/``-}}`` trimming and dropping comments."""
    items: list[tuple[str, Any, int]] = []
    pos = 0
    trim_next = False
    while True:
        start = text.find("{{", pos)
        chunk = text[pos:] if start < 0 else text[pos:start]
        if trim_next:
            chunk = chunk.lstrip(" \t\r\n")
        if start < 0:
            items.append(("text", chunk, pos))
            return items
        inner_start = start + 2
        trim_left = text.startswith("- ", inner_start) or text.startswith("-\t", inner_start) \
            or text.startswith("-\n", inner_start) or text.startswith("-\r", inner_start)
        if trim_left:
            chunk = chunk.rstrip(" \t\r\n")
            inner_start += 1
        items.append(("text", chunk, pos))
        if text[inner_start:].lstrip(" \t\r\n" if trim_left else "").startswith("/*"):
            close = text.find("*/", inner_start)
            if close < 0:
                raise TemplateError(_pos(text, name, start, "unclosed comment"))
            end = text.find("}}", close)
            if end < 0:
                raise TemplateError(_pos(text, name, start, "unclosed action"))
            trim_next = text[close + 2:end].strip() == "-"
            pos = end + 2
            continue
        toks, end = _lex_action(text, name, inner_start, start)
        trim_next = False
        if text[end - 1] == "-" and end - 2 >= inner_start and text[end - 2] in " \t\r\n":
            trim_next = True
        items.append(("action", toks, start))
        pos = end + 2


def _lex_action(text: str, name: str, i: int, start: int) -> tuple[list[_Tok], int]:
    toks: list[_Tok] = []
    while True:
        if i >= len(text):
            raise TemplateError(_pos(text, name, start, "unclosed action"))
        if text.startswith("}}", i):
            return toks, i
        if text.startswith("-}}", i) and i > 0 and text[i - 1] in " \t\r\n":
            return toks, i + 1
        match = _TOKEN.match(text, i)
        if match is None:
            raise TemplateError(_pos(text, name, i, f"unexpected {text[i]!r} in command"))
        kind = match.lastgroup or ""
        if kind != "ws":
            toks.append(_Tok(kind, match.group(0), i))
        i = match.end()


def _pos(text: str, name: str, offset: int, message: str) -> str:
    return f"template: {name}:{text.count(chr(10), 0, offset) + 1}: {message}"


def _unquote(tok: _Tok, parser: _Parser, offset: int) -> str:
    if tok.kind == "raw":
        return tok.text[1:-1]
    body = tok.text[1:-1]
    try:
        value = body.encode("latin-1", "backslashreplace").decode("unicode_escape") \
            if "\\" in body else body
    except UnicodeDecodeError:
        raise parser.fail(offset, f"invalid syntax: {tok.text}") from None
    if tok.kind == "char":
        return str(ord(value)) if len(value) == 1 else value
    return value


def _number(text: str, parser: _Parser, offset: int) -> int | float:
    clean = text.replace("_", "")
    try:
        if re.fullmatch(r"[+-]?(0[xX][0-9a-fA-F]+|\d+)", clean):
            return int(clean, 0)
        return float(clean)
    except ValueError:
        raise parser.fail(offset, f"bad number syntax: {text!r}") from None


@dataclass(frozen=True)
class Template:
    """A parsed template, ready to execute against alert data many times."""

    name: str
    text: str
    nodes: tuple[Node, ...]

    def execute(self, data: Any, max_bytes: int = DEFAULT_LIMITS.max_template_bytes) -> str:
        """Render with ``data`` as ``.``; raises :class:`TemplateError` on execution errors
        and :class:`~pytest_selfslo.errors.LimitError` past ``max_bytes`` characters."""
        return _exec.execute(list(self.nodes), data, self.name, self.text, max_bytes)


@functools.lru_cache(maxsize=4096)
def _parse_cached(text: str, name: str) -> Template:
    full = TEMPLATE_PREAMBLE + text
    return Template(name, full, tuple(_Parser(full, name).parse()))


def parse_template(text: str, name: str = "__alert") -> Template:
    """Parse an alert label/annotation template (with Prometheus' preamble) or raise."""
    return _parse_cached(text, name)


def expand_template(text: str, name: str, labels: Mapping[str, str], value: float, *,
                    external_labels: Mapping[str, str] | None = None,
                    external_url: str = "", eval_time_s: float = 0.0,
                    max_bytes: int = DEFAULT_LIMITS.max_template_bytes) -> str:
    """Render one label/annotation exactly as Prometheus' ``AlertingRule.Eval`` does.

    Parse errors raise :class:`TemplateError` (rule files are validated on load, so
    this only happens for templates built in code); execution errors come back as
    ``<error expanding template: ...>`` just like Prometheus. Output (or any string
    a function builds) over ``max_bytes`` characters raises
    :class:`~pytest_selfslo.errors.LimitError`.
    """
    if "{{" not in text:
        return text
    template = parse_template(text, name)
    data = _exec.AlertData(dict(labels), dict(external_labels or {}), external_url, value,
                           eval_time_s)
    try:
        return template.execute(data, max_bytes)
    except TemplateError as exc:
        return f"<error expanding template: {exc}>"
