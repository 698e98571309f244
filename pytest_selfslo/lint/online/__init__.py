"""Online lint: check rules against a running Prometheus (``selfslo lint --prometheus URL``).

The offline linter sees the files; the questions users value most need the
server: does this series exist, does this label exist on it, is this ``rate``
window long enough for the real scrape interval, is this counter really a
counter, what does this query cost. Only the Prometheus HTTP API is used, so
Thanos, Mimir and VictoriaMetrics work too (an endpoint they lack turns the
checks that need it into "skipped: why" lines).

    >>> result = lint_online(["rules/"], OnlineSettings("http://127.0.0.1:9090"))  # doctest: +SKIP
    >>> findings = result.merge(lint_paths(["rules/"]))     # doctest: +SKIP
    >>> for line in result.skip_lines(): print(line)        # doctest: +SKIP

Checks (ids in :mod:`..findings`, docs in ``docs/lint.md``): SL050
series-missing, SL051 label-missing, SL052 rate-window, SL053 metric-type,
SL054 recording-rule-missing, SL055 query-cost; they also decide two offline
guesses (SL030, SL035) with what the server knows.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from pytest_selfslo.lint.documents import load_files
from pytest_selfslo.lint.findings import CHECKS, Finding, resolve_codes
from pytest_selfslo.lint.model import Rule
from pytest_selfslo.lint.online.checks import ONLINE_CHECKS, Key, OnlineLinter, RuleInfo
from pytest_selfslo.lint.online.client import ClientStats, PromAPI
from pytest_selfslo.lint.online.exprs import selector_uses
from pytest_selfslo.lint.online.facts import ServerFacts
from pytest_selfslo.lint.prepare import expand_paths
from pytest_selfslo.lint.promql_walk import PromQLSyntaxError, parse_promql

__all__ = ["ONLINE_CHECKS", "OnlineResult", "OnlineSettings", "lint_online"]

#: the default lookback window: a selector must match a series in the last day
DEFAULT_LOOKBACK = 86_400.0


@dataclass(frozen=True)
class OnlineSettings:
    """Where the server is and how hard to ask it.

    ``lookback`` (seconds) is the window a series must appear in; ``max_series``
    and ``max_samples`` are the query budget (SL055 runs only with one of them);
    ``timeout`` is per request, ``deadline`` for the whole run; ``headers`` are
    sent with every request (``Authorization``, ``X-Scope-OrgID`` for Mimir).
    """

    url: str
    lookback: float = DEFAULT_LOOKBACK
    max_series: int | None = None
    max_samples: int | None = None
    timeout: float = 10.0
    concurrency: int = 4
    retries: int = 1
    deadline: float = 120.0
    headers: tuple[tuple[str, str], ...] = ()
    disabled: frozenset[str] = frozenset()


@dataclass
class OnlineResult:
    """Findings of the online checks, the offline findings they decide, and what was skipped."""

    findings: list[Finding] = field(default_factory=list)
    #: (path, line, column, code) of offline findings the server's answers replace
    superseded: set[Key] = field(default_factory=set)
    #: check code -> why it was skipped (whole check), or "for N rule(s): why"
    skipped: dict[str, str] = field(default_factory=dict)
    stats: ClientStats = field(default_factory=ClientStats)
    #: check codes that ran (and were not skipped as a whole)
    ran: list[str] = field(default_factory=list)

    def merge(self, offline: Iterable[Finding]) -> list[Finding]:
        """``offline`` findings, less those the online checks decided, plus the online ones."""
        kept = [f for f in offline if (f.path, f.line, f.column, f.code) not in self.superseded]
        return sorted(set(kept) | set(self.findings))

    def skip_lines(self) -> list[str]:
        """One ``SLxxx name skipped: why`` line per check that was skipped."""
        return [f"{code} {CHECKS[code].name} skipped{why}"
                for code, why in sorted(self.skipped.items())]


RuleFilter = Callable[[str, Rule], bool]


def lint_online(paths: Iterable[str | Path], settings: OnlineSettings, *,
                rule_filter: RuleFilter | None = None,
                transport: httpx.BaseTransport | None = None,
                now: float | None = None) -> OnlineResult:
    """Run the online checks on the rule files at ``paths`` against ``settings.url``.

    Never raises for anything the server does: an unreachable server, a missing
    endpoint or a garbage answer skips the checks that need it (see
    :meth:`OnlineResult.skip_lines`). ``rule_filter(path, rule)`` limits the
    checks to some rules (``--changed-since``); every rule still counts as a
    definition of what it records.
    """
    off = resolve_codes(settings.disabled)
    enabled = frozenset(ONLINE_CHECKS) - off
    files = [rf for p in expand_paths(paths) for rf in load_files(p)]
    parsed: dict[str, Any] = {}
    rules: list[RuleInfo] = []
    defined: dict[str, list[RuleInfo]] = {}
    for rf in files:
        if rf.kind != "rules":
            continue
        for rule in rf.rules():
            text = rule.expr.value
            if text not in parsed:
                try:
                    parsed[text] = parse_promql(text)
                except PromQLSyntaxError:
                    parsed[text] = None  # SL003 of the offline lint
            ast = parsed[text]
            if ast is None:
                continue
            info = RuleInfo(rf, rule, ast, list(selector_uses(ast)))
            if rule.kind == "record":
                defined.setdefault(rule.name.value, []).append(info)
            if rule_filter is None or rule_filter(rf.path, rule):
                rules.append(info)
    result = OnlineResult()
    if not rules or not enabled:
        return result
    with PromAPI(settings.url, timeout=settings.timeout, concurrency=settings.concurrency,
                 retries=settings.retries, deadline=settings.deadline,
                 headers=settings.headers, transport=transport) as api:
        # whole seconds (stable cache keys), rounded up: a sample scraped a moment ago is in
        facts = ServerFacts(api, float(math.ceil(now if now is not None else time.time())),
                            settings.lookback)
        linter = OnlineLinter(rules, facts, defined=dict(defined), lookback=settings.lookback,
                              max_series=settings.max_series, max_samples=settings.max_samples,
                              enabled=enabled)
        outcomes = linter.run()
        result.stats = api.stats
    for code, outcome in outcomes.items():
        if outcome.skipped is not None:
            result.skipped[code] = f": {outcome.skipped}"
            continue
        result.ran.append(code)
        result.findings += outcome.findings
        result.superseded |= outcome.superseded
        if outcome.partial:
            result.skipped[code] = (f" for {outcome.partial} rule(s): "
                                    f"{outcome.partial_reason}")
    result.findings = sorted(f for f in result.findings if f.code not in off)
    return result


def parse_headers(values: Sequence[str]) -> tuple[tuple[str, str], ...]:
    """``Name: value`` strings as header pairs; ValueError for one without a colon."""
    out = []
    for raw in values:
        name, sep, value = raw.partition(":")
        if not sep or not name.strip():
            raise ValueError(f"expected a header as 'Name: value', got {raw!r}")
        out.append((name.strip(), value.strip()))
    return tuple(out)
