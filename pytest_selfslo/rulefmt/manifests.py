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

A text that is not a manifest (no ``---``, ``apiVersion:`` or ``kind:`` at the
start of a line) is not touched: :func:`is_manifest` is False and callers read
it as they always did.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import yaml

__all__ = ["ManifestProblem", "RuleDocument", "is_manifest", "rule_documents"]

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
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
    try:
        roots = list(yaml.compose_all(text, Loader=_LOADER))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        return [], [ManifestProblem(line, col, "syntax", f"invalid YAML: {exc.problem or exc}")]
    except yaml.YAMLError as exc:
        return [], [ManifestProblem(1, 1, "syntax", f"invalid YAML: {exc}")]
    lines = text.split("\n")
    reader = _Reader(lines)
    for number, root in enumerate(roots, start=1):
        if root is not None:
            reader.document(root, number, len(roots))
    return reader.documents, reader.problems


def _mapping(node: yaml.Node) -> dict[str, tuple[yaml.Node, yaml.Node]]:
    if not isinstance(node, yaml.MappingNode):
        return {}
    return {str(k.value): (k, v) for k, v in node.value if isinstance(k, yaml.ScalarNode)}


def _scalar(fields: dict[str, tuple[yaml.Node, yaml.Node]], key: str) -> str:
    node = fields.get(key, (None, None))[1]
    return str(node.value) if isinstance(node, yaml.ScalarNode) else ""


class _Reader:
    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        self.documents: list[RuleDocument] = []
        self.problems: list[ManifestProblem] = []

    def problem(self, node: yaml.Node, message: str) -> None:
        mark = node.start_mark
        self.problems.append(ManifestProblem(mark.line + 1, mark.column + 1, "structure", message))

    def document(self, root: yaml.Node, number: int, count: int) -> None:
        fields = _mapping(root)
        kind = _scalar(fields, "kind")
        if not kind:
            if "apiVersion" in fields:
                return  # some other object without a kind: not ours to judge
            origin = f"document {number}" if count > 1 else "rule file"
            self.region(origin, root.start_mark, root.end_mark)
            return
        self.object(root, fields, kind)

    def object(self, node: yaml.Node, fields: dict[str, tuple[yaml.Node, yaml.Node]],
               kind: str) -> None:
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
            self.region(label, key.start_mark, value.end_mark)
        elif kind == "ConfigMap":
            data = fields.get("data", (None, None))[1]
            for key, value in (data.value if isinstance(data, yaml.MappingNode) else []):
                self.config_map_entry(label, key, value)
        elif kind.endswith("List"):
            items = fields.get("items", (None, None))[1]
            for item in items.value if isinstance(items, yaml.SequenceNode) else []:
                item_fields = _mapping(item)
                item_kind = _scalar(item_fields, "kind")
                if item_kind:
                    self.object(item, item_fields, item_kind)

    def config_map_entry(self, label: str, key: yaml.Node, value: yaml.Node) -> None:
        entry = str(key.value)
        if not (isinstance(value, yaml.ScalarNode) and entry.endswith(_RULE_SUFFIXES)
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
        start = value.start_mark.line + 1  # the line after the "|" indicator
        end = value.end_mark.line + (1 if value.end_mark.column > 0 else 0)
        self.documents.append(RuleDocument(self.blank(start, 0, end, 0), origin, start + 1))

    def region(self, origin: str, start: yaml.Mark, end: yaml.Mark) -> None:
        """A rule file from ``start`` (inclusive) to ``end`` (exclusive, libyaml marks)."""
        self.documents.append(RuleDocument(
            self.blank(start.line, start.column, end.line, end.column), origin, start.line + 1))

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
