"""``selfslo lint PATH... [--format text|json|github|sarif|checkstyle] [--slo FILE] [--policy FILE]
[--prometheus URL ...] [--changed-since REF]``.

Prints one finding per line (``file:line:col CODE message``), a summary on
stderr, and exits 1 when any finding is an error (warnings alone exit 0).
``--slo``/``--policy`` add the drift check against that spec/policy file, or
against the built-in defaults when given the word ``default``. The lint
configuration is the project's (``[tool.selfslo.lint]`` or the
``selfslo_lint_*`` ini keys, found like pytest finds its ini file; see
:mod:`pytest_selfslo.lint.config`), so this command and ``pytest --self-slo``
report the same findings; the options below override single keys.
``--prometheus`` adds the online checks (:mod:`pytest_selfslo.cli.lint_online`),
whose metric types also decide SL030 (SL053 then reports a typed function on the
wrong type, one metadata request per run); a check the server cannot answer
prints one "skipped: why" line on stderr and changes nothing else, so the exit
status is then the offline one.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from pytest_selfslo._core.errors import ConfigError
from pytest_selfslo._core.reportformats import FORMATS as REPORT_FORMATS
from pytest_selfslo.cli import lint_online
from pytest_selfslo.lint.findings import CHECKS, Finding, Severity, resolve_codes
from pytest_selfslo.lint.formats import format_findings as _format
from pytest_selfslo.lint.render import to_seconds

__all__ = ["configure", "format_findings", "run"]

FORMATS = REPORT_FORMATS


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the ``selfslo lint`` arguments."""
    parser.add_argument("paths", nargs="*", metavar="PATH",
                        help="Rule files or directories (searched for *.yml, *.yaml)")
    parser.add_argument("--format", choices=FORMATS, default="text",
                        help="Output format (github: workflow annotations; sarif: SARIF 2.1.0; "
                             "checkstyle: Checkstyle XML)")
    parser.add_argument("--slo", metavar="FILE",
                        help="Check drift against this SLO spec YAML ('default': built-in spec)")
    parser.add_argument("--policy", metavar="FILE",
                        help="Check drift against this canary policy YAML ('default': built-in)")
    parser.add_argument("--disable", metavar="CODE", action="append", default=[],
                        help="Turn a check off (id or name; repeat or comma-separate)")
    parser.add_argument("--scrape-interval", metavar="DURATION", default=None,
                        help="Scrape interval the short-range check assumes (default 1m)")
    parser.add_argument("--severities", metavar="LIST", default=None,
                        help="Allowed severity label values, comma-separated "
                             "(default critical,warning,info)")
    parser.add_argument("--domain", choices=("auto", "on", "off"), default=None,
                        help="SELF domain checks: auto (when the rules use SELF metrics or "
                             "--slo/--policy is given), on, off")
    parser.add_argument("--config", metavar="FILE",
                        help="Read the lint configuration from FILE (pyproject.toml or an "
                             "ini file) instead of the project's")
    parser.add_argument("--sli-plugins", metavar="DIR", action="append", default=[],
                        help="With --slo naming a Sloth spec: directory of its SLI plugins "
                             "ported to Python (repeatable; docs/slo.md)")
    parser.add_argument("--root", metavar="DIR",
                        help="Repository root for runbook links (default: nearest .git/pyproject)")
    parser.add_argument("--cache-dir", metavar="DIR",
                        help="Reuse findings of unchanged files from this cache directory")
    parser.add_argument("--list-checks", action="store_true",
                        help="List the checks with their ids and exit")
    lint_online.add_arguments(parser)


def _load_spec(value: str | None, sli_plugins: Sequence[str] = ()) -> Any:
    if value is None:
        return None
    if value == "default":
        from pytest_selfslo.slo.spec import DEFAULT_SLO_SPEC

        return DEFAULT_SLO_SPEC
    from pytest_selfslo.slo.importers import import_spec, is_service_spec
    from pytest_selfslo.slo.spec import load_slo_spec

    if is_service_spec(value):  # Sloth, OpenSLO, Pyrra or selfslo/v1: drift vs generated rules
        return import_spec(value, sli_plugins)
    return load_slo_spec(value)


def _load_policy(value: str | None) -> Any:
    if value is None:
        return None
    from pytest_selfslo.canary.policy import DEFAULT_POLICY, load_policy

    return DEFAULT_POLICY if value == "default" else load_policy(value)


def format_findings(findings: Sequence[Finding], fmt: str, notes: Sequence[str] = ()) -> str:
    """Render findings in ``fmt`` (one of :data:`FORMATS`), without a trailing newline."""
    return _format(findings, fmt, notes)


def _common_dir(paths: Sequence[str]) -> str:
    """Where to look for the project's configuration: the paths' common directory."""
    import os

    absolute = [os.path.abspath(p) for p in paths]
    try:
        return os.path.commonpath(absolute)
    except ValueError:
        return os.getcwd()


def _list_checks(out: TextIO) -> int:
    for check in CHECKS.values():
        print(f"{check.code}  {check.name:<24} {check.severity.value:<8} {check.summary}",
              file=out)
    return 0


def run(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Lint ``args.paths``; 0 clean (or warnings only), 1 errors found."""
    out = out or sys.stdout
    err = err or sys.stderr
    if args.list_checks:
        return _list_checks(out)
    if not args.paths:
        raise ConfigError("lint: expected at least one PATH (a rule file or directory)")
    try:
        disabled = resolve_codes(c for item in args.disable for c in item.split(","))
    except ValueError as exc:
        raise ConfigError(f"--disable: {exc}") from None
    from pytest_selfslo.lint.config import find_lint_config, load_lint_config
    from pytest_selfslo.lint.runner import has_errors, lint_paths

    config = (load_lint_config(args.config) if args.config
              else find_lint_config(_common_dir(args.paths)))
    if args.domain is not None:
        config = config.replace(domain=args.domain)
    findings = lint_paths(
        args.paths, slo=_load_spec(args.slo, args.sli_plugins), policy=_load_policy(args.policy),
        disabled=disabled, root=args.root,
        scrape_interval=(to_seconds(args.scrape_interval) if args.scrape_interval is not None
                         else None),
        slo_path=args.slo if args.slo not in (None, "default") else None,
        policy_path=args.policy if args.policy not in (None, "default") else None,
        cache_dir=args.cache_dir, config=config,
        severities=([v.strip() for v in args.severities.split(",") if v.strip()]
                    if args.severities is not None else None))
    applied = lint_online.apply(args, findings, disabled)
    findings = applied.findings
    text = format_findings(findings, args.format, applied.notes)
    if text:
        print(text, file=out)
    for note in applied.notes:
        print(f"selfslo lint: {note}", file=err)
    errors = sum(f.severity is Severity.ERROR for f in findings)
    summary = f"selfslo lint: {errors} error(s), {len(findings) - errors} warning(s)"
    if applied.online is not None:
        stats = applied.online.stats
        summary += (f"; online checks against {args.prometheus}: {stats.distinct} request(s), "
                    f"{stats.sent} sent")
    print(summary, file=err)
    return 1 if has_errors(findings) else 0
