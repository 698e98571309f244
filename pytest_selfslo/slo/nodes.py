"""Position-keeping YAML access for SLO spec readers: every error is ``path:line:col: why``.

Specs are composed by the one YAML reader (:mod:`pytest_selfslo.rulefmt.goyaml`):
bounded size, depth, nodes and alias expansion, merge keys (``<<``) expanded
with yaml.v3's precedence (explicit keys win), aliases followed.

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

from pytest_selfslo._core.errors import SLOSpecError, located
from pytest_selfslo.rulefmt import goyaml
from pytest_selfslo.rulefmt.goyaml import MAPPING, SCALAR, SEQUENCE, compose, compose_all, is_null

__all__ = ["Doc", "Node"]


@dataclass(frozen=True)
class Node:
    """One YAML node plus the file it came from."""

    node: goyaml.Node
    path: str

    def error(self, message: str) -> SLOSpecError:
        """An :class:`SLOSpecError` located at this node."""
        return SLOSpecError(located(message, self.path, self.node.line, self.node.column))

    def _mapping(self, what: str = "a mapping") -> list[tuple[goyaml.Node, goyaml.Node]]:
        node = self.node.deref
        if node.kind != MAPPING:
            raise self.error(f"expected {what}, got {_kind(node)}")
        return _merged(node, self.path)

    def keys(self) -> list[str]:
        """The keys of a mapping node, in file order."""
        return [str(k.value) for k, _ in self._mapping()]

    def get(self, key: str) -> Node | None:
        """The value under ``key`` (``None`` when absent or null)."""
        for k, v in self._mapping():
            if k.value == key:
                if is_null(v):
                    return None
                return Node(v.deref, self.path)
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
            yield str(k.value), Node(v.deref, self.path)

    def seq(self) -> list[Node]:
        """Elements of a sequence node."""
        node = self.node.deref
        if node.kind != SEQUENCE:
            raise self.error(f"expected a list, got {_kind(node)}")
        return [Node(v.deref, self.path) for v in node.value]

    def text(self, what: str) -> str:
        """A scalar as text (numbers and booleans keep their source spelling)."""
        node = self.node.deref
        if node.kind != SCALAR:
            raise self.error(f"{what}: expected a string, got {_kind(node)}")
        return str(node.value)

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
        """Compose ``text``; YAML syntax errors, limits and empty files become located errors."""
        node, problem = compose(text, path)
        if problem is not None:
            raise SLOSpecError(located(problem.message, path, problem.line, problem.column))
        if node is None or is_null(node):
            raise SLOSpecError(located("empty SLO spec", path, 1, 1))
        return cls(Node(node.deref, path))

    @classmethod
    def parse_all(cls, text: str, path: str) -> list[Doc]:
        """Every document of a multi-document stream (Kubernetes manifests)."""
        docs, problem = compose_all(text, path)
        if problem is not None:
            raise SLOSpecError(located(problem.message, path, problem.line, problem.column))
        nodes = [n for n in docs if n is not None and not is_null(n)]
        if not nodes:
            raise SLOSpecError(located("empty SLO spec", path, 1, 1))
        return [cls(Node(n.deref, path)) for n in nodes]


def _merged(node: goyaml.Node, path: str) -> list[tuple[goyaml.Node, goyaml.Node]]:
    """The pairs of a mapping with merge keys expanded (explicit keys win, as in yaml.v3)."""
    explicit = [(k.deref, v) for k, v in node.value if not _is_merge(k)]
    if len(explicit) == len(node.value):
        return explicit
    seen = {str(k.value) for k, _ in explicit}
    out = list(explicit)
    for k, v in node.value:
        if not _is_merge(k):
            continue
        value = v.deref
        sources = [value] if value.kind == MAPPING else [
            s.deref for s in value.value] if value.kind == SEQUENCE else []
        if not sources or any(src.kind != MAPPING for src in sources):
            raise Node(v, path).error("a merge key (<<) needs a mapping or a list of mappings")
        for src in sources:
            for mk, mv in _merged(src, path):
                if str(mk.value) not in seen:
                    seen.add(str(mk.value))
                    out.append((mk, mv))
    return out


def _is_merge(key: goyaml.Node) -> bool:
    key = key.deref
    return key.kind == SCALAR and key.plain and key.value == "<<"


def _kind(node: goyaml.Node) -> str:
    if node.kind == MAPPING:
        return "a mapping"
    if node.kind == SEQUENCE:
        return "a list"
    return f"{node.value!r}"
