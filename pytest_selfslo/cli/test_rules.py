"""``selfslo test-rules``: a drop-in for ``promtool test rules`` on the embedded engine.

``--format text`` is promtool's output; ``json`` the report (plus an
``annotations`` list); ``github``, ``sarif`` and ``checkstyle`` put failures,
invalid files and (with ``--coverage``) untested rules at ``file:line:col``
(:mod:`pytest_selfslo.ruletest.annotate`). ``--changed-since REF`` keeps only
what is about tests and rules changed since a git revision.
"""

from __future__ import annotations

import argparse
import json
import sys

from pytest_selfslo._core.limits import DEFAULT_LIMITS, LIMIT_NAMES, Limits
from pytest_selfslo._core.reportformats import FORMATS, render
from pytest_selfslo._core.version import __version__
from pytest_selfslo.cli.args import positive_arg
from pytest_selfslo.promql.semantics import Semantics
from pytest_selfslo.ruletest.annotate import filter_changed, report_annotations, rule_test_tool
from pytest_selfslo.ruletest.runner import RuleTestReport, run_rule_tests

__all__ = ["configure", "run"]


def _semantics_arg(value: str) -> str:
    try:
        return str(Semantics.parse(value))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def configure(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``selfslo test-rules``."""
    parser.add_argument("files", nargs="+", metavar="FILE", help="Rule unit-test files (globs allowed)")
    parser.add_argument("--run", action="append", metavar="REGEX",
                        help="Only run test groups whose name matches (repeatable, OR-ed)")
    parser.add_argument("--semantics", type=_semantics_arg, default="3", metavar="VERSION",
                        help="Prometheus version to imitate, its numerics and its file formats: "
                             "2, 3 (= 2.53, 3.5), 2.42, 3.5... (default 3)")
    parser.add_argument("--ignore-unknown-fields", action="store_true",
                        help="Ignore unknown fields in rule files")
    parser.add_argument("--format", choices=FORMATS, default="text",
                        help="Output format (text: promtool's; json: the report; github, sarif, "
                             "checkstyle: failures and, with --coverage, untested rules at "
                             "file:line:col)")
    parser.add_argument("--coverage", action="store_true", help="Print the rule coverage table")
    parser.add_argument("--changed-since", metavar="REF",
                        help="Report only failures and gaps about what changed since this git "
                             "revision (as file:line:col lines in the text format)")
    for name, what in LIMIT_NAMES.items():
        parser.add_argument(f"--{name.replace('_', '-')}", type=positive_arg, metavar="N",
                            default=getattr(DEFAULT_LIMITS, name),
                            help=f"Limit on {what} (default %(default)s; docs/limits.md)")


def run(args: argparse.Namespace) -> int:
    """Entry point of ``selfslo test-rules``: prints the report, returns 0 or 1."""
    limits = Limits(**{name: getattr(args, name) for name in LIMIT_NAMES})
    report = run_rule_tests(list(args.files), semantics=args.semantics, run=args.run,
                            ignore_unknown_fields=args.ignore_unknown_fields, limits=limits)
    if args.changed_since:
        return _run_changed(args, report)
    if args.format == "text":
        text = report.format_text()
        print(text, file=sys.stdout if report.passed else sys.stderr)
        if args.coverage:
            print(report.coverage.format_table())
        return report.exit_code
    _print(args, report, report_annotations(report, coverage=args.coverage))
    return report.exit_code


def _print(args: argparse.Namespace, report: RuleTestReport, found: list) -> None:  # type: ignore[type-arg]
    if args.format == "json":
        data = report.to_json()
        data["annotations"] = [a.to_dict() for a in found]
        print(json.dumps(data, indent=2))
        return
    text = render(found, args.format, rule_test_tool(__version__))
    if text:
        print(text)


def _run_changed(args: argparse.Namespace, report: RuleTestReport) -> int:
    """``--changed-since``: the annotations about changed tests and rules; 1 if a failure is left."""
    from pytest_selfslo._core.gitdiff import changed_since

    paths = [f.path for f in report.files] + [r for f in report.files for r in f.rule_files]
    changes = changed_since(args.changed_since, paths)
    found = filter_changed(report_annotations(report, coverage=args.coverage), report, changes)
    _print(args, report, found)
    return 1 if any(a.level == "error" for a in found) else 0
