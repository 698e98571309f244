"""Lint findings and the table of checks (ids, names, default severity).

Every check has a stable id (``SL031``) and a readable name
(``impossible-comparison``); either can be used to disable it. The table is
the source of ``docs/lint.md`` and of ``selfslo lint --list-checks``; a test
checks that every id here is documented there.
"""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass
from typing import Any

from pytest_selfslo._core.safetext import printable

__all__ = ["CHECKS", "Check", "Finding", "Severity", "resolve_codes"]


class Severity(str, enum.Enum):
    """How bad a finding is; only errors make ``selfslo lint`` exit 1."""

    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Check:
    """One lint check: stable id, name for disable comments, default severity, summary."""

    code: str
    name: str
    severity: Severity
    summary: str


_ALL = [
    Check("SL001", "yaml-syntax", Severity.ERROR, "the file is not valid YAML"),
    Check("SL002", "rule-structure", Severity.ERROR,
          "rule file structure invalid (missing/unknown field, bad name, bad duration)"),
    Check("SL003", "promql-syntax", Severity.ERROR, "an expression does not parse"),
    Check("SL004", "template-syntax", Severity.ERROR,
          "a label/annotation template is malformed or uses an undefined variable"),
    Check("SL005", "test-file", Severity.ERROR,
          "a promtool unit-test file is malformed (rule_files, series, expressions)"),
    Check("SL010", "duplicate-group", Severity.ERROR, "two groups in one file share a name"),
    Check("SL011", "duplicate-rule", Severity.ERROR,
          "the same alert/record name with the same labels is defined twice"),
    Check("SL020", "missing-for", Severity.WARNING,
          "a threshold alert has no `for`, so one bad scrape pages"),
    Check("SL021", "severity-label", Severity.WARNING,
          "alert has no `severity` label or one outside the allowed set (house policy)"),
    Check("SL022", "required-annotations", Severity.WARNING,
          "alert lacks a required annotation (default `summary`, `runbook_url`; house policy)"),
    Check("SL023", "runbook-link", Severity.ERROR,
          "runbook_url points at a file or #anchor that does not exist in the repo"),
    Check("SL024", "no-condition", Severity.WARNING,
          "an alert expression has no comparison or absent(), so it fires for every series"),
    Check("SL030", "rate-on-gauge", Severity.ERROR,
          "rate()/irate()/increase() over a metric known to be a gauge"),
    Check("SL031", "impossible-comparison", Severity.ERROR,
          "a comparison can never (or always) be true given the metric's value domain"),
    Check("SL032", "template-label-dropped", Severity.ERROR,
          "a template uses a label that the expression aggregates away"),
    Check("SL033", "redundant-regex-anchor", Severity.WARNING,
          "a regex matcher starts with ^ or ends with $, which PromQL adds anyway"),
    Check("SL034", "absent-aggregation", Severity.ERROR,
          "absent() wraps an aggregation, so it can never say which series is missing"),
    Check("SL035", "short-range", Severity.WARNING,
          "a range selector is shorter than 2x the scrape interval"),
    Check("SL036", "vector-matching", Severity.ERROR,
          "a one-to-one binary operation matches several series on one side "
          "in the series of the unit tests that load the file"),
    Check("SL040", "slo-drift", Severity.ERROR,
          "an alert threshold/window/for/severity disagrees with the SLO spec"),
    Check("SL041", "policy-drift", Severity.ERROR,
          "a stability alert threshold disagrees with the canary policy gate"),
    # online checks (selfslo lint --prometheus URL): lint.online
    Check("SL050", "series-missing", Severity.ERROR,
          "a selector matches no series on the server in the lookback window"),
    Check("SL051", "label-missing", Severity.ERROR,
          "a label in by/without/on/ignoring/group_*, a matcher or a $labels template "
          "is not on the series it refers to"),
    Check("SL052", "rate-window", Severity.WARNING,
          "a rate/irate/increase/deriv window covers fewer than 4 (irate: 2) scrape intervals "
          "of the targets exposing the metric"),
    Check("SL053", "metric-type", Severity.ERROR,
          "a counter function over a gauge, or a gauge function over a counter "
          "(server metadata)"),
    Check("SL054", "recording-rule-missing", Severity.ERROR,
          "a recording rule another rule reads is neither in the linted files nor on the server"),
    Check("SL055", "query-cost", Severity.ERROR,
          "a rule's query touches more series or loads more samples than the budget"),
]

#: code -> check
CHECKS: dict[str, Check] = {c.code: c for c in _ALL}
_BY_NAME: dict[str, str] = {c.name: c.code for c in _ALL}


def resolve_codes(items: Any) -> frozenset[str]:
    """Map check ids or names (case-insensitive for ids) to ids; unknown ones raise ValueError."""
    out = set()
    for raw in items:
        item = str(raw).strip()
        if not item:
            continue
        code = item.upper() if item.upper() in CHECKS else _BY_NAME.get(item.lower())
        if code is None:
            raise ValueError(f"unknown lint check {item!r}; expected an id such as SL031 "
                             f"or a name such as impossible-comparison")
        out.add(code)
    return frozenset(out)


@dataclass(frozen=True, order=True)
class Finding:
    """One problem at ``path:line:column``; ``severity`` decides the exit code.

        >>> Finding("rules/x.yml", 7, 15, "SL031", Severity.ERROR, "never true").format()
        'rules/x.yml:7:15 SL031 never true'
    """

    path: str
    line: int
    column: int
    code: str
    severity: Severity
    message: str

    @property
    def name(self) -> str:
        """The check's readable name (``impossible-comparison``)."""
        return CHECKS[self.code].name if self.code in CHECKS else self.code

    def format(self) -> str:
        """``file:line:col CODE message`` (the text output format), on one line: control
        characters from the file (newlines, ANSI escapes, bidi overrides) are escaped."""
        return printable(f"{self.path}:{self.line}:{self.column} {self.code} {self.message}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (severity as its string value, plus the check name)."""
        data = asdict(self)
        data["severity"] = self.severity.value
        data["name"] = self.name
        return data
