"""Strict, line-tracking YAML reading for rule files and promtool test files.

Prometheus reads both formats with Go's ``yaml.UnmarshalStrict``: unknown keys
and duplicate keys are errors, and a scalar decoded into a string field keeps
its *source text* (``values: 2.9999999999999996`` stays exactly that string, it
is never rounded through a float). PyYAML's composed node tree gives us both
that source text and every node's line and column, so the helpers here decode
from nodes, not from ``yaml.safe_load`` output, and every problem carries a
``path:line:column`` position.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import yaml

from pytest_selfslo._core.durations import parse_duration

__all__ = ["Problem", "YamlReader", "compose"]

#: libyaml's composer when available: same nodes and marks, ~10x faster on big test files
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_NULL_TAG = "tag:yaml.org,2002:null"
_BOOL_TAG = "tag:yaml.org,2002:bool"
_INT_TAG = "tag:yaml.org,2002:int"
_FLOAT_TAG = "tag:yaml.org,2002:float"
_N = TypeVar("_N", bound=yaml.Node)


@dataclass(frozen=True)
class Problem:
    """One validation problem with its position (1-based line and column)."""

    file: str
    line: int
    column: int
    code: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.message}"


def compose(text: str, path: str) -> tuple[yaml.Node | None, Problem | None]:
    """The YAML node tree of ``text``, or the syntax problem that prevents it."""
    try:
        return yaml.compose(text, Loader=_LOADER), None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        what = exc.problem or str(exc)
        return None, Problem(path, line, col, "yaml-syntax", f"invalid YAML: {what}")
    except yaml.YAMLError as exc:
        return None, Problem(path, 1, 1, "yaml-syntax", f"invalid YAML: {exc}")


def is_null(node: yaml.Node | None) -> bool:
    """True for an absent value or an explicit YAML null (``~``, ``null``, empty)."""
    return node is None or (isinstance(node, yaml.ScalarNode) and node.tag == _NULL_TAG)


class YamlReader:
    """Decodes nodes into typed values, collecting :class:`Problem` instead of raising."""

    def __init__(self, path: str, *, ignore_unknown_fields: bool = False) -> None:
        self.path = path
        self.ignore_unknown_fields = ignore_unknown_fields
        self.problems: list[Problem] = []

    def where(self, node: yaml.Node | None) -> str:
        """``path:line:column`` of ``node`` (line 1 when there is no node)."""
        if node is None:
            return f"{self.path}:1:1"
        mark = node.start_mark
        return f"{self.path}:{mark.line + 1}:{mark.column + 1}"

    def problem(self, node: yaml.Node | None, code: str, message: str) -> None:
        """Record a problem located at ``node`` (or line 1 when there is no node)."""
        if node is None:
            self.problems.append(Problem(self.path, 1, 1, code, message))
        else:
            mark = node.start_mark
            self.problems.append(Problem(self.path, mark.line + 1, mark.column + 1, code, message))

    def _of_kind(self, node: yaml.Node | None, kind: type[_N], what: str,
                 expected: str) -> _N | None:
        """``node`` if it has the wanted kind; None when null, or (with a problem) another kind."""
        if is_null(node):
            return None
        if not isinstance(node, kind):
            assert node is not None
            self.problem(node, "type", f"{what}: expected {expected}, got {_kind(node)}")
            return None
        return node

    def mapping(self, node: yaml.Node | None, what: str,
                fields: tuple[str, ...]) -> dict[str, tuple[yaml.Node, yaml.Node]]:
        """Keys of a mapping -> (key node, value node); unknown and duplicate keys reported."""
        node = self._of_kind(node, yaml.MappingNode, what, "a mapping")
        if node is None:
            return {}
        out: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value) if isinstance(key_node, yaml.ScalarNode) else "?"
            if key in out:
                self.problem(key_node, "duplicate-key",
                             f"{what}: key {key!r} already set in this mapping")
                continue
            if key not in fields:
                if not self.ignore_unknown_fields:
                    self.problem(key_node, "unknown-field",
                                 f"{what}: field {key!r} not found (expected one of: "
                                 f"{', '.join(fields)})")
                continue
            out[key] = (key_node, value_node)
        return out

    def sequence(self, node: yaml.Node | None, what: str) -> list[yaml.Node]:
        """Items of a sequence (null -> empty)."""
        node = self._of_kind(node, yaml.SequenceNode, what, "a list")
        if node is None:
            return []
        return list(node.value)

    def string(self, node: yaml.Node | None, what: str) -> str:
        """Source text of a scalar (Go decodes any scalar into a string field verbatim)."""
        node = self._of_kind(node, yaml.ScalarNode, what, "a string")
        if node is None:
            return ""
        return str(node.value)

    def string_map(self, node: yaml.Node | None, what: str) -> dict[str, str]:
        """A ``map[string]string`` such as labels or annotations."""
        node = self._of_kind(node, yaml.MappingNode, what, "a mapping")
        if node is None:
            return {}
        out: dict[str, str] = {}
        for key_node, value_node in node.value:
            key = self.string(key_node, what)
            if key in out:
                self.problem(key_node, "duplicate-key", f"{what}: key {key!r} already set")
            out[key] = self.string(value_node, f"{what}.{key}")
        return out

    def duration(self, node: yaml.Node | None, what: str) -> int:
        """Milliseconds of a Prometheus duration field (null -> 0)."""
        text = self.string(node, what)
        if text == "":
            return 0
        return self._convert(node, what, text, parse_duration, "duration")

    def integer(self, node: yaml.Node | None, what: str) -> int:
        """A YAML integer (Go ``int``)."""
        text = self.string(node, what)
        if text == "":
            return 0
        return self._convert(node, what, text, lambda t: int(t, 0), "integer")

    def boolean(self, node: yaml.Node | None, what: str) -> bool:
        """A YAML bool (``true``/``false``)."""
        if is_null(node):
            return False
        assert node is not None
        if isinstance(node, yaml.ScalarNode) and node.tag == _BOOL_TAG:
            return str(node.value).lower() in ("true", "yes", "on", "y")
        self.problem(node, "type", f"{what}: expected true or false, got {_describe(node)}")
        return False

    def number(self, node: yaml.Node | None, what: str) -> float:
        """A YAML number decoded as Go's ``float64`` (``.inf``, ``.nan`` included)."""
        if is_null(node):
            return 0.0
        assert node is not None
        if isinstance(node, yaml.ScalarNode) and node.tag in (_INT_TAG, _FLOAT_TAG):
            return _yaml_float(str(node.value))
        self.problem(node, "type", f"{what}: expected a number, got {_describe(node)}")
        return 0.0

    def _convert(self, node: yaml.Node | None, what: str, text: str,
                 fn: Callable[[str], int], kind: str) -> int:
        try:
            return fn(text)
        except ValueError:
            self.problem(node, "type", f"{what}: expected a {kind}, got {text!r}")
            return 0


def _yaml_float(text: str) -> float:
    lowered = text.lower().replace("_", "")
    if lowered in (".inf", "+.inf"):
        return math.inf
    if lowered == "-.inf":
        return -math.inf
    if lowered == ".nan":
        return math.nan
    try:
        return float(int(lowered, 0)) if not any(c in lowered for c in ".e") else float(lowered)
    except ValueError:
        return float(lowered)


def _kind(node: yaml.Node) -> str:
    if isinstance(node, yaml.MappingNode):
        return "!!map"
    return "!!seq" if isinstance(node, yaml.SequenceNode) else "a scalar"


def _describe(node: yaml.Node) -> str:
    if isinstance(node, yaml.ScalarNode):
        return repr(node.value)
    return _kind(node)
