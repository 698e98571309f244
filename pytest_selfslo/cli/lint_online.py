"""The ``selfslo lint`` options for the online checks and ``--changed-since``.

    selfslo lint rules/ --prometheus http://127.0.0.1:9090 [--lookback 1d]
                        [--max-series N] [--max-samples N] [--prometheus-timeout 10s]
                        [--prometheus-concurrency 4] [--prometheus-retries 1]
                        [--prometheus-header 'X-Scope-OrgID: team'] [--changed-since REF]

:func:`add_arguments` adds them to the ``lint`` parser; :func:`apply` turns the
offline findings into the run's findings (online ones merged in, then only
those about changed rules) and returns the "skipped: why" notes.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from pytest_selfslo._core.errors import ConfigError
from pytest_selfslo.lint.findings import Finding
from pytest_selfslo.lint.render import to_seconds

if TYPE_CHECKING:
    from pytest_selfslo.lint.online import OnlineResult, OnlineSettings

__all__ = ["Applied", "add_arguments", "apply", "online_settings"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the online and ``--changed-since`` arguments of ``selfslo lint``."""
    group = parser.add_argument_group("online checks (SL050-SL055, against a running server)")
    group.add_argument("--prometheus", metavar="URL",
                       help="Also check the rules against this Prometheus (or Thanos, Mimir, "
                            "VictoriaMetrics) HTTP API")
    group.add_argument("--lookback", metavar="DURATION", default="1d",
                       help="Window a selector must match a series in (default 1d)")
    group.add_argument("--max-series", metavar="N", type=int, default=None,
                       help="Query budget: series a rule's selectors may touch (SL055)")
    group.add_argument("--max-samples", metavar="N", type=int, default=None,
                       help="Query budget: samples a rule's query may load (SL055)")
    group.add_argument("--prometheus-timeout", metavar="DURATION", default="10s",
                       help="Timeout of each request (default 10s)")
    group.add_argument("--prometheus-concurrency", metavar="N", type=int, default=4,
                       help="Requests in flight at once (default 4)")
    group.add_argument("--prometheus-retries", metavar="N", type=int, default=1,
                       help="Retries after a connection error, timeout or 5xx (default 1)")
    group.add_argument("--prometheus-deadline", metavar="DURATION", default="2m",
                       help="Time budget of all online checks (default 2m)")
    group.add_argument("--prometheus-header", metavar="'NAME: VALUE'", action="append",
                       default=[], help="Send this header with every request (repeatable)")
    parser.add_argument("--changed-since", metavar="REF",
                        help="Report only on rules changed since this git revision (like pint ci)")


def online_settings(args: argparse.Namespace, disabled: frozenset[str]) -> OnlineSettings:
    """The :class:`OnlineSettings` of the parsed arguments (ConfigError on a bad value)."""
    from pytest_selfslo.lint.online import OnlineSettings, parse_headers

    url = str(args.prometheus).strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"--prometheus: expected an http(s):// URL, got {args.prometheus!r}")
    for name in ("max_series", "max_samples"):
        value = getattr(args, name)
        if value is not None and value < 0:
            raise ConfigError(f"--{name.replace('_', '-')}: expected a number >= 0, got {value}")
    if args.prometheus_concurrency < 1 or args.prometheus_retries < 0:
        raise ConfigError("--prometheus-concurrency must be at least 1 and "
                          "--prometheus-retries at least 0")
    durations = {}
    for option in ("lookback", "prometheus_timeout", "prometheus_deadline"):
        try:
            seconds = to_seconds(getattr(args, option))
        except ConfigError as exc:
            raise ConfigError(f"--{option.replace('_', '-')}: {exc}") from None
        if seconds <= 0:
            raise ConfigError(f"--{option.replace('_', '-')}: expected a positive duration")
        durations[option] = seconds
    try:
        headers = parse_headers(args.prometheus_header)
    except ValueError as exc:
        raise ConfigError(f"--prometheus-header: {exc}") from None
    return OnlineSettings(
        url=url, lookback=durations["lookback"], max_series=args.max_series,
        max_samples=args.max_samples, timeout=durations["prometheus_timeout"],
        concurrency=args.prometheus_concurrency, retries=args.prometheus_retries,
        deadline=durations["prometheus_deadline"], headers=headers, disabled=disabled)


class Applied:
    """The findings of a run after the online checks and ``--changed-since``, and notes."""

    def __init__(self, findings: list[Finding], notes: list[str],
                 online: OnlineResult | None) -> None:
        self.findings = findings
        self.notes = notes
        self.online = online


def apply(args: argparse.Namespace, findings: Sequence[Finding],
          disabled: frozenset[str]) -> Applied:
    """Merge the online findings (``--prometheus``) and keep changed rules only.

    The online client (httpx, threads) and git are imported only when asked for.
    """
    changed = None
    if args.changed_since:
        from pytest_selfslo._core.gitdiff import changed_since
        from pytest_selfslo.lint.changes import ChangedRules
        from pytest_selfslo.lint.prepare import expand_paths

        changes = changed_since(args.changed_since, [str(p) for p in args.paths])
        changed = ChangedRules.load(changes, expand_paths(args.paths))
    out = list(findings)
    notes: list[str] = []
    online = None
    if args.prometheus:
        from pytest_selfslo.lint.online import lint_online

        settings = online_settings(args, disabled)
        online = lint_online(args.paths, settings, rule_filter=(
            None if changed is None else
            lambda path, rule: changed.rule_changed(path, rule.start_line, rule.end_line)))
        out = online.merge(out)
        notes = online.skip_lines()
    if changed is not None:
        out = changed.filter(out)
    return Applied(out, notes, online)
