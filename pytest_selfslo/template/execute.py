"""Execution side of :mod:`pytest_selfslo.template.parse`: nodes, functions, evaluation.

Values follow Go's types as ``text/template`` sees them in Prometheus alert
data: ``str``, ``bool``, ``int`` (integer constants), ``float`` (float64 such as
``$value``), ``dict`` (``map[string]string`` such as ``$labels``) and ``None``
(nil). Truthiness, comparisons (``int`` vs ``float`` is an error, as in Go),
printing and map lookups with ``missingkey=zero`` match Go.
"""

from __future__ import annotations

import functools
import html
import re
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pytest_selfslo._core import gofmt
from pytest_selfslo._core.durations import parse_duration
from pytest_selfslo._core.errors import LimitError, TemplateError
from pytest_selfslo._core.goregex import GoRegexError, compile_go, must_compile_message
from pytest_selfslo._core.limits import hint

__all__ = ["FUNCS", "UNSUPPORTED_FUNCS", "AlertData", "execute"]


@dataclass
class AlertData:
    """The ``.`` of an alert template (Prometheus ``AlertTemplateData``)."""

    Labels: dict[str, str]
    ExternalLabels: dict[str, str]
    ExternalURL: str
    Value: float
    eval_time_s: float = 0.0


# ---- nodes ---------------------------------------------------------------
@dataclass
class Text:
    text: str


@dataclass
class Literal:
    value: Any


@dataclass
class Field:
    names: list[str]


@dataclass
class Variable:
    name: str
    names: list[str]


@dataclass
class Func:
    name: str


@dataclass
class Command:
    """One pipeline stage; ``pos`` is Go's ``line:col`` and ``text`` its source."""

    nodes: list[Node]
    pos: str
    text: str


@dataclass
class Pipeline:
    decl: list[str]
    assign: bool
    cmds: list[Command]


@dataclass
class SubPipe:
    pipe: Pipeline


@dataclass
class Chain:
    node: Node
    names: list[str]


@dataclass
class Action:
    pipe: Pipeline
    offset: int


@dataclass
class Block:
    kind: str
    pipe: Pipeline
    body: list[Node]
    else_body: list[Node]
    offset: int


@dataclass
class Break:
    pass


@dataclass
class Continue:
    pass


Node = (Text | Literal | Field | Variable | Func | Pipeline | SubPipe | Chain | Action | Block
        | Break | Continue | Command)


class _ExecError(Exception):
    pass


class _ArgTypeError(_ExecError):
    """An argument of the wrong Go type (reported at the function, without "error calling")."""


class _Located(_ExecError):
    """An execution error with Go's ``line:col: executing "name" at <node>:`` context."""


class _BreakSignal(Exception):
    pass


class _ContinueSignal(Exception):
    pass


_MISSING = object()


# ---- type helpers -------------------------------------------------------
def _type(value: Any) -> str:
    if isinstance(value, AlertData):
        return "*template.tmplData"
    return gofmt._go_type(value)


def truth(value: Any) -> bool:
    """Go template truthiness: zero values and empty collections are false."""
    if value is None:
        return False
    if isinstance(value, (bool, int, float)):
        return bool(value)
    if isinstance(value, (str, dict, list, tuple)):
        return len(value) > 0
    return True


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    return "other" if value is not None else "nil"


def _eq(a: Any, *others: Any) -> bool:
    if not others:
        raise _ExecError("missing argument for comparison")
    for b in others:
        ka, kb = _kind(a), _kind(b)
        if ka != kb:
            if a is not None and b is not None:
                raise _ExecError("incompatible types for comparison")
            if a is b:
                return True
            continue
        if ka == "other":
            raise _ExecError(f"non-comparable type {gofmt.go_print(a)}: {_type(a)}")
        if a == b:
            return True
    return False


def _ordered(op: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    def compare(a: Any, b: Any) -> bool:
        ka, kb = _kind(a), _kind(b)
        if ka not in ("int", "float", "string") or kb not in ("int", "float", "string"):
            raise _ExecError("invalid type for comparison")
        if ka != kb:
            raise _ExecError("incompatible types for comparison")
        return op(a, b)
    return compare


def _string_arg(fn: str, value: Any) -> str:
    if not isinstance(value, str):
        raise _ArgTypeError(f"wrong type for value; expected string; got {_type(value)}")
    return value


def _strings(fn: str, count: int, impl: Callable[..., Any]) -> Callable[..., Any]:
    def call(*args: Any) -> Any:
        if len(args) != count:
            raise _ExecError(f"wrong number of args for {fn}: want {count} got {len(args)}")
        return impl(*(_string_arg(fn, a) for a in args))
    return call


def _match(pattern: str, text: str) -> bool:
    """``regexp.MatchString``: unanchored; a bad pattern is the function's error."""
    try:
        return compile_go(pattern).search(text)
    except GoRegexError as exc:
        raise _ExecError(str(exc)) from None


def _re_replace_all(pattern: str, repl: str, text: str) -> str:
    """``regexp.MustCompile(pattern).ReplaceAllString(text, repl)`` (Go's ``$1``/``${name}``)."""
    try:
        regex = compile_go(pattern)
    except GoRegexError as exc:
        raise _ExecError(must_compile_message(pattern, exc)) from None
    return regex.replace_all(text, repl)


def _title(text: str) -> str:
    """``cases.Title(..., NoLower)``: upper-case the first letter after any non-word rune."""
    return re.sub(r"(?<!\w)\w", lambda m: m.group(0).upper(), text)


def _strip_port(host_port: str) -> str:
    match = re.fullmatch(r"\[([^\]]*)\]:\d*|([^:\[\]]*):\d*", host_port)
    if match is None:
        return host_port
    return match.group(1) if match.group(1) is not None else match.group(2)


def _strip_domain(host_port: str) -> str:
    host, port = host_port, ""
    match = re.fullmatch(r"\[([^\]]*)\]:(\d*)|([^:\[\]]*):(\d*)", host_port)
    if match is not None:
        host = match.group(1) if match.group(1) is not None else match.group(3)
        port = match.group(2) if match.group(1) is not None else match.group(4)
    if re.fullmatch(r"[\d.]+|[0-9a-fA-F:]*:[0-9a-fA-F:.]*", host):
        return host_port
    host = host.split(".")[0]
    return f"{host}:{port}" if port else host


def _sprint(*args: Any) -> str:
    out = []
    for i, arg in enumerate(args):
        if i and not isinstance(arg, str) and not isinstance(args[i - 1], str):
            out.append(" ")
        out.append(gofmt.go_print(arg))
    return "".join(out)


def _len(value: Any) -> int:
    if isinstance(value, (str, dict, list, tuple)):
        return len(value.encode() if isinstance(value, str) else value)
    raise _ExecError(f"len of type {_type(value)}")


def _index(item: Any, *keys: Any) -> Any:
    for key in keys:
        if isinstance(item, dict):
            if not isinstance(key, str):
                raise _ExecError(f"value has type {_type(key)}; should be string")
            item = item.get(key, "")
        elif isinstance(item, (list, tuple, str)):
            if not isinstance(key, int) or isinstance(key, bool):
                raise _ExecError(f"cannot index slice/array with type {_type(key)}")
            if not 0 <= key < len(item):
                raise _ExecError(f"index out of range: {key}")
            item = item[key] if not isinstance(item, str) else item.encode()[key]
        else:
            raise _ExecError(f"can't index item of type {_type(item)}")
    return item


def _parse_duration_s(text: str) -> float:
    negative = text.startswith("-")
    try:
        ms = parse_duration(text[1:] if negative else text)
    except ValueError as exc:
        raise _ExecError(str(exc)) from None
    return (-ms if negative else ms) / 1000.0


def _wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
    def call(*args: Any) -> Any:
        try:
            return fn(*args)
        except gofmt.GoFuncError as exc:
            raise _ExecError(str(exc)) from None
        except TypeError:
            raise _ExecError("wrong number of args") from None
    return call


FUNCS: dict[str, Callable[..., Any]] = {
    "not": lambda x: not truth(x),
    "len": _len,
    "index": _index,
    "print": _sprint,
    "println": lambda *a: " ".join(gofmt.go_print(x) for x in a) + "\n",
    "printf": lambda fmt, *a: gofmt.go_sprintf(_string_arg("printf", fmt), *a),
    "eq": _eq,
    "ne": lambda a, b: not _eq(a, b),
    "lt": _ordered(lambda a, b: a < b),
    "le": _ordered(lambda a, b: a <= b),
    "gt": _ordered(lambda a, b: a > b),
    "ge": _ordered(lambda a, b: a >= b),
    "html": lambda *a: html.escape(_sprint(*a)).replace("&#x27;", "&#39;").replace("&quot;", "&#34;"),
    "urlquery": lambda *a: urllib.parse.quote_plus(_sprint(*a)),
    "humanize": _wrap(gofmt.humanize),
    "humanize1024": _wrap(gofmt.humanize1024),
    "humanizeDuration": _wrap(gofmt.humanize_duration),
    "humanizePercentage": _wrap(gofmt.humanize_percentage),
    "humanizeTimestamp": _wrap(gofmt.humanize_timestamp),
    "reReplaceAll": _strings("reReplaceAll", 3, _re_replace_all),
    "match": _strings("match", 2, _match),
    "title": _strings("title", 1, _title),
    "toUpper": _strings("toUpper", 1, str.upper),
    "toLower": _strings("toLower", 1, str.lower),
    "stripPort": _strings("stripPort", 1, _strip_port),
    "stripDomain": _strings("stripDomain", 1, _strip_domain),
    "urlQueryEscape": _strings("urlQueryEscape", 1, urllib.parse.quote_plus),
    "safeHtml": _strings("safeHtml", 1, lambda s: s),
    "parseDuration": _strings("parseDuration", 1, _parse_duration_s),
    # and/or/externalURL/pathPrefix/now are handled by the executor (laziness, data access)
    "and": lambda *a: a, "or": lambda *a: a,
    "externalURL": lambda: "", "pathPrefix": lambda: "", "now": lambda: 0.0,
}

UNSUPPORTED_FUNCS = frozenset({
    "query", "first", "label", "value", "strvalue", "sortByLabel", "graphLink", "tableLink",
    "args", "toTime", "toDuration", "slice", "call", "js",
})


@dataclass
class _State:
    data: Any
    name: str
    text: str
    vars: list[tuple[str, Any]] = field(default_factory=list)
    out: list[str] = field(default_factory=list)
    #: output budget in characters (``Limits.max_template_bytes``) and what is used of it
    max_bytes: int = 1 << 20
    size: int = 0

    def emit(self, text: str) -> None:
        self.size += len(text)
        if self.size > self.max_bytes:
            self.over_budget(f"its output reached {self.size:,} characters")
        self.out.append(text)

    def over_budget(self, what: str) -> None:
        raise LimitError(f"template {self.name}: {what}, over the limit max_template_bytes="
                         f"{self.max_bytes} ({hint('max_template_bytes')})")

    def lookup(self, name: str) -> Any:
        for key, value in reversed(self.vars):
            if key == name:
                return value
        raise _ExecError(f"undefined variable: {name}")

    def set(self, name: str, value: Any) -> None:
        for i in range(len(self.vars) - 1, -1, -1):
            if self.vars[i][0] == name:
                self.vars[i] = (name, value)
                return
        raise _ExecError(f"undefined variable: {name}")


def execute(nodes: list[Node], data: Any, name: str, text: str,
            max_bytes: int = 1 << 20) -> str:
    """Run a parsed template; execution errors raise :class:`TemplateError`, output (or
    a string built by a function) over ``max_bytes`` characters :class:`LimitError`."""
    state = _State(data, name, text, [("$", data)], max_bytes=max_bytes)
    try:
        _walk(state, data, nodes)
    except _Located as exc:
        raise TemplateError(f"error executing template {name}: template: {name}:{exc}") from None
    except _ExecError as exc:
        raise TemplateError(f"error executing template {name}: template: {name}: {exc}") from None
    return "".join(state.out)


def _walk(state: _State, dot: Any, nodes: list[Node]) -> None:
    for node in nodes:
        if isinstance(node, Text):
            state.emit(node.text)
        elif isinstance(node, Action):
            value = _pipeline(state, dot, node.pipe)
            if not node.pipe.decl:
                state.emit(gofmt.go_print(value))
        elif isinstance(node, Block):
            _block(state, dot, node)
        elif isinstance(node, Break):
            raise _BreakSignal()
        elif isinstance(node, Continue):
            raise _ContinueSignal()


def _block(state: _State, dot: Any, node: Block) -> None:
    mark = len(state.vars)
    value = _pipeline(state, dot, node.pipe)
    try:
        if node.kind == "if":
            _walk(state, dot, node.body if truth(value) else node.else_body)
        elif node.kind == "with":
            _walk(state, value if truth(value) else dot, node.body if truth(value) else node.else_body)
        else:
            _range(state, dot, node, value, mark)
    finally:
        del state.vars[mark:]


def _range(state: _State, dot: Any, node: Block, value: Any, mark: int) -> None:
    if isinstance(value, dict):
        items: list[tuple[Any, Any]] = [(k, value[k]) for k in sorted(value)]
    elif isinstance(value, (list, tuple)):
        items = list(enumerate(value))
    elif value is None:
        items = []
    else:
        raise _ExecError(f"range can't iterate over {gofmt.go_print(value)}")
    if not items:
        _walk(state, dot, node.else_body)
        return
    decl = node.pipe.decl
    for key, elem in items:
        del state.vars[mark:]
        if len(decl) == 1:
            state.vars.append((decl[0], elem))
        elif len(decl) == 2:
            state.vars.extend([(decl[0], key), (decl[1], elem)])
        try:
            _walk(state, elem, node.body)
        except _BreakSignal:
            break
        except _ContinueSignal:
            continue


def _pipeline(state: _State, dot: Any, pipe: Pipeline) -> Any:
    value: Any = _MISSING
    for cmd in pipe.cmds:
        value = _command(state, dot, cmd, value)
    if pipe.decl:
        if pipe.assign:
            state.set(pipe.decl[0], value)
        else:
            state.vars.append((pipe.decl[0], value))
    return value


def _command(state: _State, dot: Any, command: Command, final: Any) -> Any:
    cmd = command.nodes
    head = cmd[0]
    try:
        if isinstance(head, Func):
            return _call(state, dot, head.name, cmd[1:], final)
        if len(cmd) > 1 or final is not _MISSING:
            raise _ExecError(f"can't give argument to non-function {_describe(head)}")
        return _operand(state, dot, head)
    except _Located:
        raise
    except _ArgTypeError as exc:
        node = head.name if isinstance(head, Func) else command.text
        raise _Located(f'{command.pos}: executing "{state.name}" at <{node}>: {exc}') from None
    except _ExecError as exc:
        raise _Located(f'{command.pos}: executing "{state.name}" at <{command.text}>: {exc}') from None


def _call(state: _State, dot: Any, name: str, arg_nodes: list[Node], final: Any) -> Any:
    if name in ("and", "or"):
        # Go 1.18+: and/or evaluate their arguments lazily and return the deciding one
        thunks: list[Callable[[], Any]] = [functools.partial(_arg, state, dot, n) for n in arg_nodes]
        if final is not _MISSING:
            thunks.append(lambda: final)
        if not thunks:
            raise _ExecError(f"wrong number of args for {name}: want at least 1 got 0")
        result: Any = None
        for thunk in thunks:
            result = thunk()
            if truth(result) != (name == "and"):
                return result
        return result
    args = [_arg(state, dot, node) for node in arg_nodes]
    if final is not _MISSING:
        args.append(final)
    if name == "externalURL":
        return state.data.ExternalURL if isinstance(state.data, AlertData) else ""
    if name == "pathPrefix":
        url = state.data.ExternalURL if isinstance(state.data, AlertData) else ""
        return urllib.parse.urlsplit(url).path
    if name == "now":
        return state.data.eval_time_s if isinstance(state.data, AlertData) else 0.0
    try:
        result = FUNCS[name](*args)
        if isinstance(result, str) and len(result) > state.max_bytes:
            state.over_budget(f"{name} returned {len(result):,} characters")
        return result
    except (_ArgTypeError, _Located):
        raise
    except _ExecError as exc:
        raise _ExecError(f"error calling {name}: {exc}") from None
    except TypeError:
        raise _ExecError(f"wrong number of args for {name}: got {len(args)}") from None


def _arg(state: _State, dot: Any, node: Node) -> Any:
    if isinstance(node, Func):
        return _call(state, dot, node.name, [], _MISSING)
    return _operand(state, dot, node)


def _operand(state: _State, dot: Any, node: Node) -> Any:
    if isinstance(node, Literal):
        return node.value
    if isinstance(node, Field):
        return _fields(dot, node.names)
    if isinstance(node, Variable):
        return _fields(state.lookup(node.name), node.names)
    if isinstance(node, SubPipe):
        return _pipeline(state, dot, node.pipe)
    if isinstance(node, Chain):
        return _fields(_operand(state, dot, node.node), node.names)
    raise _ExecError(f"can't evaluate {_describe(node)}")


def _fields(value: Any, names: list[str]) -> Any:
    for name in names:
        if isinstance(value, AlertData):
            if name not in ("Labels", "ExternalLabels", "ExternalURL", "Value"):
                raise _ExecError(f"can't evaluate field {name} in type {_type(value)}")
            value = getattr(value, name)
        elif isinstance(value, Mapping):
            value = value.get(name, "")
        elif value is None:
            raise _ExecError(f"nil pointer evaluating interface {{}}.{name}")
        else:
            raise _ExecError(f"can't evaluate field {name} in type {_type(value)}")
    return value


def _describe(node: Node) -> str:
    if isinstance(node, Field):
        return "." + ".".join(node.names)
    if isinstance(node, Variable):
        return node.name + "".join("." + n for n in node.names)
    if isinstance(node, Literal):
        return gofmt.go_print(node.value)
    return type(node).__name__
