"""promtool's ``--enable-feature`` and which PromQL functions each release knows.

Measured against promtool 2.42, 2.53 and 3.5 (``tests/ruletest/test_features_promtool.py``)
and read from Prometheus' git history for the releases in between:

* functions and aggregations a release does not know fail to parse:
  ``unknown function with name "sort_by_label"`` (2.42 knows none of the
  functions below; 2.53 knows neither ``limitk`` nor ``double_exponential_smoothing``);
* experimental ones it knows fail to parse unless experimental functions are
  enabled: ``function "sort_by_label" is not enabled``, and for the two
  aggregations ``limitk() is experimental and must be enabled with
  --enable-feature=promql-experimental-functions``;
* only promtool 3.4 and later can enable them (``--enable-feature=
  promql-experimental-functions``): before, the experimental functions a
  release knows are never usable in ``promtool test rules``.

``--enable-feature`` itself: promtool 3.4+ accepts ``promql-experimental-functions``
and ``promql-delayed-name-removal`` and warns about any other name
(``Unknown feature passed to --enable-feature: x``); 3.0-3.3 warn that the flag
is a no-op; 2.x accepts ``no-default-scrape-port``, calls ``promql-at-modifier``
and ``promql-negative-offset`` no-ops, and warns about any other name. A warning
never changes the exit code.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import promql_parser

from pytest_selfslo.promql.astwalk import walk
from pytest_selfslo.promql.semantics import Semantics, SemanticsLike

__all__ = ["DELAYED_NAME_REMOVAL", "EXPERIMENTAL_FUNCTIONS", "FeatureSet", "parse_features",
           "unavailable_function"]

EXPERIMENTAL_FUNCTIONS = "promql-experimental-functions"
DELAYED_NAME_REMOVAL = "promql-delayed-name-removal"

Version = tuple[int, int]

#: name -> (first release that knows it, whether it is experimental there)
#: (functions older than 2.42 are always known and never experimental)
_FUNCTIONS: dict[str, tuple[Version, bool]] = {
    "histogram_stddev": ((2, 47), False),
    "histogram_stdvar": ((2, 47), False),
    "histogram_avg": ((2, 51), False),
    "sort_by_label": ((2, 49), True),
    "sort_by_label_desc": ((2, 49), True),
    "mad_over_time": ((2, 49), True),
    "limitk": ((2, 54), True),
    "limit_ratio": ((2, 54), True),
    "info": ((2, 55), True),
    "double_exponential_smoothing": ((3, 0), True),
    "ts_of_max_over_time": ((3, 5), True),
    "ts_of_min_over_time": ((3, 5), True),
    "ts_of_last_over_time": ((3, 5), True),
    "first_over_time": ((3, 7), True),
    "ts_of_first_over_time": ((3, 7), True),
    "histogram_quantiles": ((3, 11), True),
    "start": ((3, 12), True),
    "end": ((3, 12), True),
    "range": ((3, 12), True),
    "step": ((3, 12), True),
    "min_of": ((3, 13), True),
    "max_of": ((3, 13), True),
}
#: aggregations that promtool reports with their own message
_AGGREGATIONS = frozenset({"limitk", "limit_ratio"})
#: function names that older releases lex as the keywords of ``@ start()`` / ``@ end()``
_KEYWORDS = frozenset({"start", "end"})
#: the first promtool whose --enable-feature can turn experimental functions on
_ENABLE_SINCE: Version = (3, 4)


class FeatureSet:
    """The features enabled for one run, and the warnings promtool would print about the flag."""

    def __init__(self, enabled: Iterable[str] = (), warnings: Iterable[str] = ()) -> None:
        self.enabled = frozenset(enabled)
        self.warnings = tuple(warnings)

    @property
    def experimental_functions(self) -> bool:
        """``promql-experimental-functions`` is on."""
        return EXPERIMENTAL_FUNCTIONS in self.enabled

    @property
    def delayed_name_removal(self) -> bool:
        """``promql-delayed-name-removal`` is on."""
        return DELAYED_NAME_REMOVAL in self.enabled

    def __repr__(self) -> str:
        return f"FeatureSet({sorted(self.enabled)!r}, {list(self.warnings)!r})"


def parse_features(values: Iterable[str], semantics: SemanticsLike = "3") -> FeatureSet:
    """``--enable-feature`` values (repeatable, comma-separated) as promtool of ``semantics`` reads them."""
    sem = Semantics.parse(semantics)
    enabled: list[str] = []
    warnings: list[str] = []
    for value in values:
        for name in value.split(","):
            if not name:
                continue
            if sem.since(*_ENABLE_SINCE):
                if name in (EXPERIMENTAL_FUNCTIONS, DELAYED_NAME_REMOVAL):
                    enabled.append(name)
                else:
                    warnings.append(f"Unknown feature passed to --enable-feature: {name}")
            elif sem.major >= 3:
                warnings.append("--enable-feature is currently a no-op")
            elif name in ("promql-at-modifier", "promql-negative-offset"):
                warnings.append("Option for --enable-feature is a no-op after promotion to a "
                                f'stable feature: "{name}"')
            elif name != "no-default-scrape-port":
                warnings.append(f'Unknown option for --enable-feature: "{name}"')
    return FeatureSet(enabled, warnings)


def _position(query: str, name: str) -> str:
    """``line:col`` of the first call of ``name`` in the query text (Prometheus' position)."""
    match = re.search(rf"(?<![\w:]){re.escape(name)}\s*\(", query)
    offset = match.start() if match else 0
    line = query.count("\n", 0, offset) + 1
    col = offset - (query.rfind("\n", 0, offset) + 1) + 1
    return f"{line}:{col}"


def unavailable_function(node: Any, query: str, semantics: SemanticsLike,
                         features: FeatureSet) -> str | None:
    """promtool's parse error for the first function the release does not offer, else ``None``.

    ``'1:7: parse error: function "sort_by_label" is not enabled'``.
    """
    sem = Semantics.parse(semantics)
    can_enable = sem.since(*_ENABLE_SINCE) and features.experimental_functions
    for n in walk(node):
        if isinstance(n, promql_parser.Call):
            name = str(n.func.name)
        elif isinstance(n, promql_parser.AggregateExpr):
            name = str(n.op)
        else:
            continue
        known = _FUNCTIONS.get(name)
        if known is None:
            continue
        since, experimental = known
        where = _position(query, name)
        if not sem.since(*since):
            if name in _KEYWORDS:  # the ``@ start()`` keywords: the "(" is the surprise
                line, col = where.split(":")
                return f'{line}:{int(col) + len(name)}: parse error: unexpected "("'
            return f'{where}: parse error: unknown function with name "{name}"'
        if experimental and not can_enable:
            if name in _AGGREGATIONS:
                return (f"{where}: parse error: {name}() is experimental and must be enabled "
                        f"with --enable-feature={EXPERIMENTAL_FUNCTIONS}")
            return f'{where}: parse error: function "{name}" is not enabled'
    return None
