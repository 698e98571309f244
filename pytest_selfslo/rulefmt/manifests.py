"""Rule files inside Kubernetes manifests: ``PrometheusRule`` objects, ``ConfigMap`` data, streams.

Kubernetes teams keep rules in ``PrometheusRule`` objects
(``apiVersion: monitoring.coreos.com/v1``, the groups under ``spec.groups``),
or as rule files in the ``data`` of a ``ConfigMap``, often several objects in
one multi-document file or a ``kind: List``. ``promtool check rules`` refuses
all of them. :func:`rule_documents` finds the rule files in such a text and
returns each as the text of a *plain* rule file **with the original
positions**: every character outside the rule file is blanked (comment lines
are kept, for ``# selfslo-lint:`` disable comments), so line ``n`` column
``c`` of the plain text is line ``n`` column ``c`` of the manifest. Every
reader of plain rule files (the linter, the rule-file validator, the unit-test
runner, real promtool) then works unchanged and reports positions in the
original file::

    spec:              ->
      groups:          ->   groups:
      - name: g        ->   - name: g

YAML allows a top-level block mapping at any indentation, so ``  groups:`` on
its own is a valid rule file. A ``ConfigMap`` value must be a literal block
scalar (``key: |``) for its lines to be the rule file's lines; another style
is reported as a problem rather than read with made-up positions.

The manifest itself is read by the one positioned YAML reader
(:func:`pytest_selfslo.rulefmt.goyaml.compose_all`, Go's ``yaml.v3`` as
Prometheus reads rule files), with its limits on size, depth, nodes and
aliases; the rule files found are then read by the rule-file reader like any
other.

A text that is not a manifest (no ``---``, ``apiVersion:`` or ``kind:`` at the
start of a line) is not touched: :func:`is_manifest` is False and callers read
it as they always did.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pytest_selfslo.rulefmt.goyaml import MAPPING, SCALAR, SEQUENCE, Node, compose_all

__all__ = ["ManifestProblem", "RuleDocument", "is_manifest", "rule_documents"]

_MANIFEST = re.compile(r"^(?:---|apiVersion:|kind:)", re.M)
_COMMENT = re.compile(r"^\s*#")
#: ConfigMap data keys read as rule files when their text has a top-level ``groups:``
_RULE_SUFFIXES = (".yml", ".yaml", ".rules", ".rules.yml", ".rules.yaml")
_GROUPS_LINE = re.compile(r"^\s*groups\s*:", re.M)


@dataclass(frozen=True)
class RuleDocument:
    """One rule file found in a manifest: plain rule-file ``text`` with the original positions.

    ``origin`` says where it came from (``PrometheusRule monitoring/slo-rules``,
    ``ConfigMap rules data "a.yaml"``, ``document 2``); ``line`` is the 1-based
    line where its ``groups`` start.
    """

    text: str
    origin: str
    line: int


@dataclass(frozen=True)
class ManifestProblem:
    """Why part of a manifest could not be read as a rule file (1-based position).

    ``kind`` is ``syntax`` (the YAML stream does not parse) or ``structure``.
    """

    line: int
    column: int
    kind: str
    message: str


def is_manifest(text: str) -> bool:
    """Whether ``text`` may be a manifest or a multi-document stream (cheap test first)."""
    if "---" not in text and "apiVersion" not in text and "kind" not in text:
        return False
    return _MANIFEST.search(text) is not None


def rule_documents(text: str) -> tuple[list[RuleDocument], list[ManifestProblem]]:
    """The rule files in a manifest text, and what could not be read.

    Documents that are neither a rule file, a ``PrometheusRule``, a ``ConfigMap``
    holding rule files nor a ``List`` of them (a ``Deployment``...) are ignored.
    A document without ``kind`` is taken as a plain rule file (its own problems
    are then the rule-file reader's to report).
    """
    roots, problem = compose_all(text, "<manifest>")
    if problem is not None:  # invalid YAML, or a limit of the reader (size, depth, aliases)
        message = problem.message if problem.code == "yaml-syntax" else \
            f"invalid YAML: {problem.message}"
        return [], [ManifestProblem(problem.line, problem.column, "syntax", message)]
    lines = text.split("\n")
    reader = _Reader(lines)
    for number, root in enumerate(roots, start=1):
        if root is not None:
            reader.document(root, number, len(roots))
    return reader.documents, reader.problems


_Fields = dict[str, tuple[Node, Node]]


def _mapping(node: Node | None) -> _Fields:
    if node is None or node.deref.kind != MAPPING:
        return {}
    return {str(k.value): (k, v.deref) for k, v in node.deref.value if k.kind == SCALAR}


def _scalar(fields: _Fields, key: str) -> str:
    node = fields.get(key, (None, None))[1]
    return str(node.value) if node is not None and node.kind == SCALAR else ""


class _Reader:
    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        self.documents: list[RuleDocument] = []
        self.problems: list[ManifestProblem] = []

    def problem(self, node: Node, message: str) -> None:
        self.problems.append(ManifestProblem(node.line, node.column, "structure", message))

    def document(self, root: Node, number: int, count: int) -> None:
        fields = _mapping(root)
        kind = _scalar(fields, "kind")
        if not kind:
            if "apiVersion" in fields:
                return  # some other object without a kind: not ours to judge
            origin = f"document {number}" if count > 1 else "rule file"
            self.region(origin, root, root)
            return
        self.object(root, fields, kind)

    def object(self, node: Node, fields: _Fields, kind: str) -> None:
        meta = _mapping(fields["metadata"][1]) if "metadata" in fields else {}
        name = "/".join(p for p in (_scalar(meta, "namespace"), _scalar(meta, "name")) if p)
        label = f"{kind} {name}" if name else kind
        if kind == "PrometheusRule":
            spec = fields.get("spec", (None, None))[1]
            groups = _mapping(spec).get("groups") if spec is not None else None
            if groups is None:
                self.problem(spec or node, f"{label}: expected the rule groups under spec.groups")
                return
            key, value = groups
            self.region(label, key, value)
        elif kind == "ConfigMap":
            data = fields.get("data", (None, None))[1]
            for key, value in (data.value if data is not None and data.kind == MAPPING else []):
                self.config_map_entry(label, key, value.deref)
        elif kind.endswith("List"):
            items = fields.get("items", (None, None))[1]
            for item in items.value if items is not None and items.kind == SEQUENCE else []:
                item_fields = _mapping(item)
                item_kind = _scalar(item_fields, "kind")
                if item_kind:
                    self.object(item, item_fields, item_kind)

    def config_map_entry(self, label: str, key: Node, value: Node) -> None:
        entry = str(key.value)
        if not (value.kind == SCALAR and entry.endswith(_RULE_SUFFIXES)
                and _GROUPS_LINE.search(str(value.value))):
            return
        origin = f'{label} data "{entry}"'
        if value.style != "|":
            style = {">": "folded block", '"': "double-quoted", "'": "single-quoted"}.get(
                str(value.style), "plain")
            self.problem(value, f"{origin}: the rule file is a {style} scalar, whose lines "
                         f"are not the file's; write it as a literal block (`{entry}: |`) to "
                         "check it with positions")
            return
        start = value.line  # 0-based: the line after the "|" indicator
        end = value.stop_line + (1 if value.stop_column > 0 else 0)
        self.documents.append(RuleDocument(self.blank(start, 0, end, 0), origin, start + 1))

    def region(self, origin: str, start: Node, end: Node) -> None:
        """A rule file from ``start``'s first character to the end of ``end`` (exclusive)."""
        self.documents.append(RuleDocument(
            self.blank(start.line - 1, start.column - 1, end.stop_line, end.stop_column), origin,
            start.line))

    def blank(self, first: int, first_col: int, last: int, last_col: int) -> str:
        """The text with everything outside [first:first_col, last:last_col) blanked.

        ``last_col == 0`` ends the region at the end of line ``last - 1``.
        """
        out: list[str] = []
        for no, line in enumerate(self.lines):
            if first <= no < last or (no == last and last_col > 0):
                segment = line[:last_col] if no == last else line
                if no == first and first_col:
                    segment = " " * first_col + segment[first_col:]
                out.append(segment)
            elif _COMMENT.match(line):
                out.append(line)
            else:
                out.append("")
        return "\n".join(out)
