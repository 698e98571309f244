"""Problems at ``file:line:col`` in the formats CI systems read.

``selfslo lint`` (findings, SLO drift) and ``selfslo test-rules`` (failures,
coverage gaps) turn what they found into :class:`Annotation` objects and
:func:`render` them:

* ``text`` -- ``file:line:col CODE message``, one per line;
* ``json`` -- a list of ``{path, line, column, code, name, severity, message}``;
* ``github`` -- GitHub Actions workflow commands (``::error file=...``), which
  the runner shows as annotations on the pull request;
* ``sarif`` -- a SARIF 2.1.0 log (GitHub code scanning, GitLab, Azure DevOps),
  one run with the tool's rules, the results, and each "skipped: why" note as a
  tool execution notification;
* ``checkstyle`` -- Checkstyle XML (Jenkins warnings-ng, reviewdog, GitLab).

    >>> tool = Tool("selfslo lint", "0.1.0", (ToolRule("SL031", "impossible-comparison",
    ...             "a comparison can never be true", "error"),))
    >>> text = render([Annotation("r.yml", 5, 15, "SL031", "impossible-comparison", "error",
    ...                           "never true")], "sarif", tool)
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote
from xml.sax.saxutils import quoteattr

from pytest_selfslo._core.safetext import printable

__all__ = ["FORMATS", "SARIF_SCHEMA", "Annotation", "Tool", "ToolRule", "render"]

FORMATS = ("text", "json", "github", "sarif", "checkstyle")
#: the ``$schema`` of the SARIF logs we write (the OASIS 2.1.0 errata 01 schema)
SARIF_SCHEMA = ("https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/"
                "sarif-schema-2.1.0.json")
_LEVELS = ("error", "warning", "note")
_GITHUB = {"error": "error", "warning": "warning", "note": "notice"}
_CHECKSTYLE = {"error": "error", "warning": "warning", "note": "info"}


@dataclass(frozen=True, order=True)
class Annotation:
    """One problem: where (1-based line and column), which check, how bad, what."""

    path: str
    line: int
    column: int
    code: str
    name: str
    level: str
    message: str

    def __post_init__(self) -> None:
        if self.level not in _LEVELS:
            raise ValueError(f"annotation level must be one of {_LEVELS}, got {self.level!r}")

    def to_dict(self) -> dict[str, Any]:
        """The ``json`` format's entry."""
        return {"path": self.path, "line": self.line, "column": self.column, "code": self.code,
                "name": self.name, "severity": self.level, "message": self.message}


@dataclass(frozen=True)
class ToolRule:
    """A check the tool runs: id, readable name, one-line summary, default level."""

    code: str
    name: str
    summary: str
    level: str


@dataclass(frozen=True)
class Tool:
    """The tool in SARIF's ``tool.driver``: name, version and the checks it knows."""

    name: str
    version: str
    rules: tuple[ToolRule, ...] = ()
    information_uri: str = "https://pypi.org/project/pytest-selfslo/"


def render(annotations: Sequence[Annotation], fmt: str, tool: Tool, *,
           notes: Sequence[str] = ()) -> str:
    """``annotations`` in ``fmt`` (one of :data:`FORMATS`), without a trailing newline.

    ``notes`` are things the tool did not check and why (``SL052 rate-window
    skipped: ...``); SARIF keeps them in the log, the other formats leave them to
    the caller (stderr).
    """
    if fmt == "text":  # one line per finding: text from the files has its controls escaped
        return "\n".join(printable(f"{a.path}:{a.line}:{a.column} {a.code} {a.message}")
                         for a in annotations)
    if fmt == "json":
        return json.dumps([a.to_dict() for a in annotations], indent=2)
    if fmt == "github":
        return "\n".join(printable(_github(a)) for a in annotations)
    if fmt == "sarif":
        return json.dumps(sarif_log(annotations, tool, notes), indent=2)
    if fmt == "checkstyle":
        return _checkstyle(annotations, tool)
    raise ValueError(f"unknown output format {fmt!r}; expected one of {', '.join(FORMATS)}")


def _escape(text: str, prop: bool = False) -> str:
    """Workflow-command escaping; properties (file=, title=) also escape ':' and ','."""
    out = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return out.replace(":", "%3A").replace(",", "%2C") if prop else out


def _github(a: Annotation) -> str:
    return (f"::{_GITHUB[a.level]} file={_escape(a.path, True)},line={a.line},col={a.column},"
            f"title={_escape(f'{a.code} {a.name}', True)}::{_escape(a.message)}")


def _uri(path: str) -> tuple[str, bool]:
    """(URI of ``path``, relative?): relative to the working directory when inside it."""
    absolute = os.path.normpath(os.path.join(os.getcwd(), path))
    relative = os.path.relpath(absolute, os.getcwd())
    if relative != ".." and not relative.startswith("../"):
        return quote(Path(relative).as_posix(), safe="/"), True
    return "file://" + quote(Path(absolute).as_posix(), safe="/"), False


def sarif_log(annotations: Sequence[Annotation], tool: Tool,
              notes: Sequence[str] = ()) -> dict[str, Any]:
    """The SARIF 2.1.0 log object (see :func:`render`)."""
    rules = list(tool.rules)
    index = {r.code: i for i, r in enumerate(rules)}
    for a in annotations:  # a code the tool did not declare still gets a rule entry
        if a.code not in index:
            index[a.code] = len(rules)
            rules.append(ToolRule(a.code, a.name, a.name, a.level))
    results = []
    for a in annotations:
        uri, relative = _uri(a.path)
        location: dict[str, Any] = {"uri": uri}
        if relative:
            location["uriBaseId"] = "%SRCROOT%"
        results.append({
            "ruleId": a.code,
            "ruleIndex": index[a.code],
            "level": a.level,
            "message": {"text": a.message},
            "locations": [{"physicalLocation": {
                "artifactLocation": location,
                "region": {"startLine": max(a.line, 1), "startColumn": max(a.column, 1)},
            }}],
        })
    root = "file://" + quote(Path(os.getcwd()).as_posix().rstrip("/"), safe="/") + "/"
    run: dict[str, Any] = {
        "tool": {"driver": {
            "name": tool.name,
            "version": tool.version,
            "informationUri": tool.information_uri,
            "rules": [{
                "id": r.code,
                "name": _pascal(r.name),
                "shortDescription": {"text": r.summary},
                "defaultConfiguration": {"level": r.level},
                "properties": {"tags": [r.name]},
            } for r in rules],
        }},
        "originalUriBaseIds": {"%SRCROOT%": {"uri": root}},
        "columnKind": "unicodeCodePoints",
        "results": results,
        "invocations": [{
            "executionSuccessful": True,
            "toolExecutionNotifications": [
                {"level": "note", "message": {"text": note}} for note in notes],
        }],
    }
    return {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}


def _pascal(name: str) -> str:
    """SARIF suggests PascalCase rule names: ``impossible-comparison`` -> ``ImpossibleComparison``."""
    return "".join(part[:1].upper() + part[1:] for part in name.replace("_", "-").split("-"))


#: characters XML 1.0 cannot hold, even escaped (C0 controls other than tab and newlines)
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _xml_attr(text: str) -> str:
    return quoteattr(_NOT_XML.sub("\ufffd", text))


def _checkstyle(annotations: Sequence[Annotation], tool: Tool) -> str:
    by_file: dict[str, list[Annotation]] = {}
    for a in annotations:
        by_file.setdefault(a.path, []).append(a)
    out = ['<?xml version="1.0" encoding="UTF-8"?>', '<checkstyle version="4.3">']
    for path, items in by_file.items():
        out.append(f"  <file name={_xml_attr(os.fspath(path))}>")
        for a in items:
            out.append(f"    <error line=\"{a.line}\" column=\"{a.column}\" "
                       f"severity=\"{_CHECKSTYLE[a.level]}\" message={_xml_attr(a.message)} "
                       f"source={_xml_attr(f'{tool.name}.{a.code}.{a.name}')}/>")
        out.append("  </file>")
    out.append("</checkstyle>")
    return "\n".join(out)
