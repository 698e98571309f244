"""``selfslo test-rules``: a drop-in for ``promtool test rules`` on the embedded engine."""

from __future__ import annotations

import argparse
import json
import sys

from pytest_selfslo.ruletest.runner import run_rule_tests

__all__ = ["configure", "run"]


def configure(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``selfslo test-rules``."""
    parser.add_argument("files", nargs="+", metavar="FILE", help="Rule unit-test files (globs allowed)")
    parser.add_argument("--run", action="append", metavar="REGEX",
                        help="Only run test groups whose name matches (repeatable, OR-ed)")
    parser.add_argument("--semantics", choices=("2", "3"), default="3",
                        help="PromQL semantics of Prometheus 2.x or 3.x (default 3)")
    parser.add_argument("--ignore-unknown-fields", action="store_true",
                        help="Ignore unknown fields in rule files")
    parser.add_argument("--format", choices=("text", "json"), default="text",
                        help="Output format")
    parser.add_argument("--coverage", action="store_true", help="Print the rule coverage table")


def run(args: argparse.Namespace) -> int:
    """Entry point of ``selfslo test-rules``: prints the report, returns 0 or 1."""
    report = run_rule_tests(list(args.files), semantics=args.semantics, run=args.run,
                            ignore_unknown_fields=args.ignore_unknown_fields)
    if args.format == "json":
        print(json.dumps(report.to_json(), indent=2))
    else:
        text = report.format_text()
        print(text, file=sys.stdout if report.passed else sys.stderr)
        if args.coverage:
            print(report.coverage.format_table())
    return report.exit_code
