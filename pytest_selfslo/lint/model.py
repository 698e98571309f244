"""The linter's view of a rule file or promtool test file: scalars with positions, rules, groups.

Shared by the two readers (:mod:`.loader`, the general one over libyaml's node
tree, and :mod:`.fastload`, for clean files in the common YAML subset), which
must build identical objects.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

from pytest_selfslo.lint.findings import CHECKS, Finding

__all__ = ["GROUP_KEYS", "LABEL_NAME", "METRIC_NAME", "NO_CODES", "RULE_KEYS", "TEST_TOP_KEYS",
           "Field", "Group", "Rule", "RuleFile", "TestFile"]

NO_CODES: frozenset[str] = frozenset()
METRIC_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
GROUP_KEYS = {"name", "interval", "limit", "rules", "query_offset", "labels"}
RULE_KEYS = {"alert", "record", "expr", "for", "keep_firing_for", "labels", "annotations"}
TEST_TOP_KEYS = {"rule_files", "evaluation_interval", "group_eval_order", "tests",
                  "fuzzy_compare"}


class Field(NamedTuple):
    """A scalar value and where it starts (1-based line and column); a tuple for speed."""

    value: str
    line: int
    column: int


@dataclass(slots=True)
class Rule:
    """One alerting or recording rule as written, with positions."""

    kind: Literal["alert", "record"]
    name: Field
    expr: Field
    group: str
    index: int
    start_line: int
    end_line: int
    for_: Field | None = None
    labels: dict[str, Field] = field(default_factory=dict)
    annotations: dict[str, Field] = field(default_factory=dict)
    disabled: frozenset[str] = frozenset()
    #: parsed expression (a promql_parser node) once the linter parsed it, else None
    ast: Any = None
    #: every node of ``ast``, depth first (computed once: node access crosses into Rust)
    nodes: list[Any] = field(default_factory=list)
    #: ``ast``'s nodes grouped by kind (a ``promql_walk.ExprIndex``), shared by equal exprs
    expr_index: Any = None
    #: milliseconds of ``for_`` when it is a valid duration
    for_ms: int | None = None

    @property
    def where(self) -> str:
        """``group "g", rule 3, "Name"`` as promtool names a rule in messages."""
        return f'group "{self.group}", rule {self.index}, "{self.name.value}"'


@dataclass
class Group:
    """A rule group with the position of its name."""

    name: Field
    rules: list[Rule] = field(default_factory=list)
    interval: Field | None = None


@dataclass
class TestFile:
    """The parts of a promtool unit-test file the linter reads."""

    rule_files: list[Field] = field(default_factory=list)
    #: (series selector, values notation) fields of every input_series entry
    input_series: list[tuple[Field, Field]] = field(default_factory=list)
    #: promql_expr_test expressions
    exprs: list[Field] = field(default_factory=list)
    #: per ``tests[]`` entry: (its input_series fields, its promql_expr_test expressions);
    #: entries are independent runs, so their series never meet (SL036)
    groups: list[tuple[list[tuple[Field, Field]], list[Field]]] = field(default_factory=list)


@dataclass
class RuleFile:
    """A linted file: rule groups (or a unit-test file) plus load-time findings."""

    path: str
    kind: Literal["rules", "tests", "invalid"]
    groups: list[Group] = field(default_factory=list)
    tests: TestFile | None = None
    findings: list[Finding] = field(default_factory=list)
    file_disabled: frozenset[str] = frozenset()
    #: the file's text; :attr:`lines` splits it on first use (most lints never need to)
    text: str = ""
    _lines: list[str] | None = field(default=None, repr=False, compare=False)

    @property
    def lines(self) -> list[str]:
        """The file's lines (``text.splitlines()``), for positions inside multi-line values."""
        if self._lines is None:
            self._lines = self.text.splitlines()
        return self._lines

    def rules(self) -> list[Rule]:
        """Every rule of every group, in file order."""
        return [r for g in self.groups for r in g.rules]

    def finding(self, code: str, line: int, column: int, message: str,
                rule: Rule | None = None) -> Finding | None:
        """A finding for ``code`` unless the file or ``rule`` disables it."""
        if code in self.file_disabled or (rule is not None and code in rule.disabled):
            return None
        return Finding(self.path, line, column, code, CHECKS[code].severity, message)
