"""Rules of a rule file with their positions and ``selfslo-mutate`` equivalence markers.

A surviving mutant that cannot be killed (it means the same as the original
for every input the rule can see) is marked in the rule file, with a reason,
like a lint disable comment -- on the rule's own lines or on the comment lines
just above it::

    # selfslo-mutate: equivalent=MU07#2 the 6h window is longer than any history the tests load
    - record: job:errors:ratio_rate6h
      expr: avg_over_time(job:errors:bool[6h])

The ids are operator codes or names (every mutant of that operator in the
rule) or mutant ids (``MU07#2``), comma-separated; the rest of the line is the
reason, which is required. An unknown operator or a missing reason is an
input error with ``file:line:col``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from pytest_selfslo._core.errors import RuleFileError
from pytest_selfslo._core.limits import read_limited_text
from pytest_selfslo.mutate.operators import resolve_operators
from pytest_selfslo.rulefmt.goyaml import MAPPING, SCALAR, SEQUENCE, Node, compose
from pytest_selfslo.rulefmt.model import Rule, RuleGroup
from pytest_selfslo.rulefmt.rulefile import format_problems, parse_rule_text

__all__ = ["MARKER", "Marker", "RuleSite", "load_rule_sites"]

MARKER = "selfslo-mutate"
_MARKER = re.compile(r"#\s*selfslo-mutate:\s*(?P<verb>[A-Za-z_-]+)\s*=?\s*(?P<ids>[^\s]*)\s*"
                     r"(?P<reason>.*?)\s*$")
_ID = re.compile(r"^(?P<op>[A-Za-z0-9_-]+?)(?:#(?P<n>[1-9][0-9]*))?$")


@dataclass(frozen=True)
class Marker:
    """``# selfslo-mutate: equivalent=IDS reason``: ``ids`` are ``MU07`` or ``MU07#2``."""

    ids: tuple[str, ...]
    reason: str
    line: int
    column: int

    def covers(self, mutant_id: str) -> bool:
        """Whether this marker names the mutant (by its id or its operator code)."""
        return mutant_id in self.ids or mutant_id.split("#", 1)[0] in self.ids


@dataclass(frozen=True)
class RuleSite:
    """One rule of a rule file: where it is, what it is, which mutants are marked equivalent."""

    path: str
    group_index: int
    rule_index: int
    group: RuleGroup
    rule: Rule
    #: field -> (line, column) of its value (``labels.<k>``/``annotations.<k>``: of the key)
    positions: dict[str, tuple[int, int]] = field(default_factory=dict)
    markers: tuple[Marker, ...] = ()

    @property
    def name(self) -> str:
        """The alert or record name."""
        return self.rule.name

    def position(self, field_name: str) -> tuple[int, int]:
        """Line and column of ``field_name`` (falls back to the rule's first line)."""
        return self.positions.get(field_name) or self.positions.get("rule") or (self.rule.line, 1)

    def marker_for(self, mutant_id: str) -> Marker | None:
        """The equivalence marker covering ``mutant_id``, if any."""
        return next((m for m in self.markers if m.covers(mutant_id)), None)


def _pos(node: Node) -> tuple[int, int]:
    return node.line, node.column


def _parse_marker(path: str, line_no: int, text: str) -> Marker | None:
    m = _MARKER.search(text)
    if m is None:
        return None
    col = m.start() + 1
    where = f"{path}:{line_no}:{col}"
    if m.group("verb") != "equivalent":
        raise RuleFileError(f"{where}: {MARKER} comment: expected 'equivalent=ID[,ID] reason', "
                            f"got {m.group('verb')!r}")
    ids: list[str] = []
    for raw in m.group("ids").split(","):
        found = _ID.match(raw.strip())
        if not raw.strip() or found is None:
            raise RuleFileError(f"{where}: {MARKER} comment: bad mutant id {raw!r} "
                                "(expected an operator id or name, optionally #N: MU07#2)")
        try:
            code = resolve_operators([found.group("op")])[0]
        except ValueError as exc:
            raise RuleFileError(f"{where}: {MARKER} comment: {exc}") from None
        ids.append(code + (f"#{found.group('n')}" if found.group("n") else ""))
    reason = m.group("reason")
    if not reason:
        raise RuleFileError(f"{where}: {MARKER} comment: give the reason the mutant is "
                            "equivalent after the ids")
    return Marker(tuple(ids), reason, line_no, col)


def _markers(path: str, lines: list[str]) -> dict[int, list[Marker]]:
    """Markers by the line they apply to (a comment-only line applies to the next content line)."""
    out: dict[int, list[Marker]] = {}
    for no, text in enumerate(lines, start=1):
        if MARKER not in text:
            continue
        marker = _parse_marker(path, no, text)
        if marker is None:
            continue
        target = no
        if text.lstrip().startswith("#"):
            for nxt in range(no, len(lines)):
                stripped = lines[nxt].lstrip()
                if stripped and not stripped.startswith("#"):
                    target = nxt + 1
                    break
        out.setdefault(target, []).append(marker)
    return out


def load_rule_sites(path: str | Path) -> list[RuleSite]:
    """Every rule of the rule file at ``path``, in file order (raises :class:`RuleFileError`)."""
    spath = str(path)
    try:
        text = read_limited_text(path, "rule file")  # regular files within the budget
    except (OSError, UnicodeDecodeError) as exc:
        raise RuleFileError(f"{spath}: cannot read rule file: {exc}") from exc
    groups, problems = parse_rule_text(text, spath)
    if problems:
        raise RuleFileError(format_problems(problems))
    root, _ = compose(text, spath)
    markers = _markers(spath, text.splitlines())
    sites: list[RuleSite] = []
    group_nodes = _value(root, "groups")
    for gi, group in enumerate(groups):
        gnode = _item(group_nodes, gi)
        rule_nodes = _value(gnode, "rules")
        for ri, rule in enumerate(group.rules):
            rnode = _item(rule_nodes, ri)
            positions, first, last = _positions(rnode)
            marks = tuple(m for line, ms in sorted(markers.items()) if first <= line <= last
                          for m in ms)
            sites.append(RuleSite(spath, gi, ri, group, rule, positions, marks))
    return sites


def _item(node: Node | None, index: int) -> Node | None:
    if node is None or node.deref.kind != SEQUENCE or index >= len(node.deref.value):
        return None
    item: Node = node.deref.value[index]
    return item.deref


def _value(node: Node | None, key: str) -> Node | None:
    if node is None or node.deref.kind != MAPPING:
        return None
    return next((v.deref for k, v in node.deref.value if k.deref.value == key), None)


def _positions(node: Node | None) -> tuple[dict[str, tuple[int, int]], int, int]:
    if node is None or node.kind != MAPPING:
        return {}, 0, -1
    positions = {"rule": _pos(node)}
    for key, value in node.value:
        if key.kind != SCALAR or key.value == "<<":
            continue
        positions[key.value] = _pos(value)
        if key.value in ("labels", "annotations") and value.deref.kind == MAPPING:
            for k, _v in value.deref.value:
                positions[f"{key.value}.{k.deref.value}"] = _pos(k)
    return positions, node.line, _last_line(node)


def _last_line(node: Node) -> int:
    """1-based line of the last character of ``node`` (aliases end where they are written)."""
    if node.kind == MAPPING:
        kids = [n for pair in node.value for n in pair]
    elif node.kind == SEQUENCE:
        kids = list(node.value)
    else:
        return node.end_line
    return max((_last_line(k) for k in kids), default=node.line)
