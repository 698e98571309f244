"""The diff ``promtool test rules --diff`` prints for an alert mismatch.

promtool (2.52+) marshals the expected and the received alerts to JSON (a list
of ``{"Labels": {...}, "Annotations": {...}}``) and prints the difference the
way the Go library ``nsf/jsondiff`` does with its console options: the whole
document pretty-printed (four-space indents, object keys sorted, strings
quoted like Go's ``strconv.Quote``), a changed value as ``"old" => "new"`` in
yellow, a member only the expected side has in red, one only the received
side has in green. This module writes the same text from the decoded values.

Without colours (:data:`PLAIN`: output not a terminal, or ``NO_COLOR`` set) a
removed member is written ``[-...-]`` and an added one ``{+...+}``, the
markers of ``git diff --word-diff=plain``; changed values keep ``=>``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pytest_selfslo._core.gofmt import go_quote

__all__ = ["COLOR", "PLAIN", "Style", "json_diff", "strip_ansi"]


@dataclass(frozen=True)
class Style:
    """Begin and end markers of the three kinds of difference."""

    added: tuple[str, str]
    removed: tuple[str, str]
    changed: tuple[str, str]


#: jsondiff's console options (ANSI colours)
COLOR = Style(added=("\033[0;32m", "\033[0m"), removed=("\033[0;31m", "\033[0m"),
              changed=("\033[0;33m", "\033[0m"))
#: without colours: word-diff markers for members on one side only
PLAIN = Style(added=("{+", "+}"), removed=("[-", "-]"), changed=("", ""))
_NORMAL = ("", "")
_INDENT = "    "
_ANSI = re.compile(r"\033\[[0-9;]*m")


def strip_ansi(text: str) -> str:
    """``text`` without ANSI colour sequences."""
    return _ANSI.sub("", text)


class _Writer:
    """The state jsondiff threads through: nesting level and the marker currently open."""

    def __init__(self, style: Style) -> None:
        self.style = style
        self.level = 0
        self.open: tuple[str, str] | None = None

    def tag(self, out: list[str], tag: tuple[str, str]) -> None:
        if self.open is tag:
            return
        if self.open is not None:
            out.append(self.open[1])
        out.append(tag[0])
        self.open = tag

    def finish(self, out: list[str]) -> str:
        if self.open is not None:
            out.append(self.open[1])
            self.open = None
        return "".join(out)

    def newline(self, out: list[str], text: str) -> None:
        """``text``, then a line break: an open marker is closed before it and reopened after."""
        out.append(text)
        if self.open is not None:
            out.append(self.open[1])
        out.append("\n" + _INDENT * self.level)
        if self.open is not None:
            out.append(self.open[0])

    def value(self, out: list[str], v: Any, full: bool) -> None:
        if isinstance(v, bool):
            out.append("true" if v else "false")
        elif isinstance(v, str):
            out.append(go_quote(v))
        elif isinstance(v, (int, float)):
            out.append(repr(v))
        elif isinstance(v, (list, dict)):
            self._collection(out, v, full)
        else:
            out.append("null")

    def _collection(self, out: list[str], v: list[Any] | dict[str, Any], full: bool) -> None:
        open_, close = ("[", "]") if isinstance(v, list) else ("{", "}")
        if not full:
            out.append(open_ + close)
            return
        items = list(enumerate(v)) if isinstance(v, list) else sorted(v.items())
        if not items:
            out.append(open_)
        else:
            self.level += 1
            self.newline(out, open_)
        for n, (key, item) in enumerate(items):
            if isinstance(v, dict):
                out.append(go_quote(str(key)) + ": ")
            self.value(out, item, True)
            if n != len(items) - 1:
                self.newline(out, ",")
            else:
                self.level -= 1
                self.newline(out, "")
        out.append(close)

    def diff(self, a: Any, b: Any) -> str:
        out: list[str] = []
        same_kind = type(a) is type(b) or (isinstance(a, (int, float))
                                           and isinstance(b, (int, float))
                                           and not isinstance(a, bool) and not isinstance(b, bool))
        if isinstance(a, (list, dict)) and same_kind:
            return self._collection_diff(a, b)
        if (a is None and b is None) or (same_kind and a == b):
            self.tag(out, _NORMAL)
            self.value(out, a, True)
        else:
            self.tag(out, self.style.changed)
            self.value(out, a, False)
            out.append(" => ")
            self.value(out, b, False)
        return self.finish(out)

    def _collection_diff(self, a: list[Any] | dict[str, Any], b: list[Any] | dict[str, Any]) -> str:
        open_, close = ("[", "]") if isinstance(a, list) else ("{", "}")
        keys: list[Any]
        if isinstance(a, list) and isinstance(b, list):
            keys = list(range(max(len(a), len(b))))
            has_a = [k < len(a) for k in keys]
            has_b = [k < len(b) for k in keys]
        else:
            assert isinstance(a, dict) and isinstance(b, dict)
            keys = sorted(set(a) | set(b))
            has_a = [k in a for k in keys]
            has_b = [k in b for k in keys]
        # the common members are diffed first, one level deeper (what jsondiff does)
        self.level += 1
        inner = {i: self.diff(a[k], b[k]) for i, k in enumerate(keys)
                 if has_a[i] and has_b[i]}
        self.level -= 1
        out: list[str] = []
        self.tag(out, _NORMAL)
        if not keys:
            out.append(open_ + close)
            return self.finish(out)
        self.level += 1
        self.newline(out, open_)
        for i, k in enumerate(keys):
            name = go_quote(str(k)) + ": " if isinstance(a, dict) else ""
            if i in inner:
                out.append(name + inner[i])
            else:
                side, item = ((self.style.removed, a[k]) if has_a[i]
                              else (self.style.added, b[k]))
                self.tag(out, side)
                out.append(name)
                self.value(out, item, True)
            if i < len(keys) - 1:
                self.tag(out, _NORMAL)
                self.newline(out, ",")
        self.level -= 1
        self.tag(out, _NORMAL)
        self.newline(out, "")
        out.append(close)
        return self.finish(out)


def json_diff(expected: Any, got: Any, style: Style = COLOR) -> str:
    """jsondiff's console text for two decoded JSON documents."""
    return _Writer(style).diff(expected, got)
