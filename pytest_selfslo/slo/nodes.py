"""Position-keeping YAML access for SLO spec readers: every error is ``path:line:col: why``.

    >>> doc = Doc.parse("a:\\n  b: 3\\n", "x.yml")
    >>> doc.root.get("a").req("b").number("b")
    3.0
    >>> doc.root.req("c")
    Traceback (most recent call last):
    ...
    pytest_selfslo._core.errors.SLOSpecError: x.yml:1:1: missing required key 'c'
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import yaml

from pytest_selfslo._core.errors import SLOSpecError, located

__all__ = ["Doc", "Node"]

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class Node:
    """One YAML node plus the file it came from."""

    node: yaml.Node
    path: str

    def error(self, message: str) -> SLOSpecError:
        """An :class:`SLOSpecError` located at this node."""
        mark = self.node.start_mark
        return SLOSpecError(located(message, self.path, mark.line + 1, mark.column + 1))

    def _mapping(self, what: str = "a mapping") -> list[tuple[yaml.Node, yaml.Node]]:
        if not isinstance(self.node, yaml.MappingNode):
            raise self.error(f"expected {what}, got {_kind(self.node)}")
        return list(self.node.value)

    def keys(self) -> list[str]:
        """The keys of a mapping node, in file order."""
        return [str(k.value) for k, _ in self._mapping()]

    def get(self, key: str) -> Node | None:
        """The value under ``key`` (``None`` when absent or null)."""
        for k, v in self._mapping():
            if k.value == key:
                if isinstance(v, yaml.ScalarNode) and v.tag.endswith(":null"):
                    return None
                return Node(v, self.path)
        return None

    def req(self, key: str) -> Node:
        """The value under ``key``; an error at this mapping when it is missing."""
        found = self.get(key)
        if found is None:
            raise self.error(f"missing required key {key!r}")
        return found

    def key_node(self, key: str) -> Node:
        """The node of the key itself (to point errors at a key)."""
        for k, _ in self._mapping():
            if k.value == key:
                return Node(k, self.path)
        return self

    def only(self, allowed: set[str], where: str) -> None:
        """Error at the first key not in ``allowed`` (never drop a field silently)."""
        for k, _ in self._mapping():
            if str(k.value) not in allowed:
                raise Node(k, self.path).error(
                    f"{where}: unsupported field {k.value!r} (supported: {', '.join(sorted(allowed))})")

    def items(self) -> Iterator[tuple[str, Node]]:
        """``(key, value)`` pairs of a mapping."""
        for k, v in self._mapping():
            yield str(k.value), Node(v, self.path)

    def seq(self) -> list[Node]:
        """Elements of a sequence node."""
        if not isinstance(self.node, yaml.SequenceNode):
            raise self.error(f"expected a list, got {_kind(self.node)}")
        return [Node(v, self.path) for v in self.node.value]

    def text(self, what: str) -> str:
        """A scalar as text (numbers and booleans keep their source spelling)."""
        if not isinstance(self.node, yaml.ScalarNode):
            raise self.error(f"{what}: expected a string, got {_kind(self.node)}")
        return str(self.node.value)

    def opt_text(self, key: str, default: str = "") -> str:
        """The text under ``key`` of this mapping, or ``default`` when absent."""
        found = self.get(key)
        return default if found is None else found.text(key)

    def opt_seq(self, key: str) -> list[Node]:
        """The list under ``key`` of this mapping, or an empty list when absent."""
        found = self.get(key)
        return [] if found is None else found.seq()

    def number(self, what: str) -> float:
        """A numeric scalar."""
        raw = self.text(what)
        try:
            return float(raw)
        except ValueError:
            raise self.error(f"{what}: expected a number, got {raw!r}") from None

    def boolean(self, what: str) -> bool:
        """A YAML boolean."""
        raw = self.text(what).lower()
        if raw in {"true", "yes", "on"}:
            return True
        if raw in {"false", "no", "off"}:
            return False
        raise self.error(f"{what}: expected true or false, got {raw!r}")

    def str_map(self, what: str) -> dict[str, str]:
        """A mapping of string to string (labels, annotations)."""
        return {k: v.text(f"{what}.{k}") for k, v in self.items()}


@dataclass(frozen=True)
class Doc:
    """A parsed YAML document."""

    root: Node

    @classmethod
    def parse(cls, text: str, path: str) -> Doc:
        """Compose ``text``; YAML syntax errors and empty files become located errors."""
        try:
            node = yaml.compose(text, Loader=_LOADER)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line, col = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
            raise SLOSpecError(located(f"invalid YAML: {exc.problem or exc}", path, line, col)) from None
        except yaml.YAMLError as exc:
            raise SLOSpecError(located(f"invalid YAML: {exc}", path, 1, 1)) from None
        if node is None:
            raise SLOSpecError(located("empty SLO spec", path, 1, 1))
        return cls(Node(node, path))

    @classmethod
    def parse_all(cls, text: str, path: str) -> list[Doc]:
        """Every document of a multi-document stream (Kubernetes manifests)."""
        try:
            nodes = [n for n in yaml.compose_all(text, Loader=_LOADER) if n is not None]
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line, col = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
            raise SLOSpecError(located(f"invalid YAML: {exc.problem or exc}", path, line, col)) from None
        if not nodes:
            raise SLOSpecError(located("empty SLO spec", path, 1, 1))
        return [cls(Node(n, path)) for n in nodes]


def _kind(node: yaml.Node) -> str:
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    return f"{node.value!r}"
