"""``selfslo mutate [--rules GLOB] [--tests GLOB] [--only ID,...] [--format text|json|github]
[--fail-under PCT] [--enable-feature NAME,...]``: mutation testing of alert rules.

Every rule of the rule files is mutated (``docs/mutation.md`` lists the
operators) and each mutant runs against the promtool-format unit tests that
load its file, on the embedded engine. Prints every surviving mutant with its
position, operator, diff and a verified test to paste, then the score. Exit
status: 0 the score reaches ``--fail-under`` (default 100), 1 below it, 2 usage
or input error (an invalid rule or test file, a bad marker, a test that fails
without mutation).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TextIO

from pytest_selfslo._core.errors import ConfigError
from pytest_selfslo.cli.args import semantics_arg
from pytest_selfslo.mutate import OPERATORS, MutationSuite, resolve_operators
from pytest_selfslo.promql.features import parse_features

__all__ = ["configure", "percentage", "run"]

FORMATS = ("text", "json", "github")


def percentage(text: str) -> float:
    """argparse ``type=`` for a percentage from 0 to 100 (a trailing ``%`` is allowed)."""
    try:
        value = float(text.strip().removesuffix("%"))
    except ValueError:
        value = float("nan")
    if not 0.0 <= value <= 100.0:
        raise argparse.ArgumentTypeError(f"expected a percentage between 0 and 100, got {text!r}")
    return value


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the ``selfslo mutate`` arguments."""
    parser.add_argument("--rules", metavar="GLOB", action="append",
                        help="Rule files to mutate (repeatable; default rules/*.yml)")
    parser.add_argument("--tests", metavar="GLOB", action="append",
                        help="promtool-format rule unit tests (repeatable; default "
                             "rules/tests/*.yml)")
    parser.add_argument("--only", metavar="ID,...", action="append", default=[],
                        help="Only these operators (ids or names, comma-separated)")
    parser.add_argument("--format", choices=FORMATS, default="text",
                        help="Output format (github: workflow annotations)")
    parser.add_argument("--fail-under", metavar="PCT", type=percentage, default=100.0,
                        help="Exit 1 when the mutation score is below PCT (default 100)")
    parser.add_argument("--semantics", type=semantics_arg, default="3", metavar="VERSION",
                        help="Prometheus version to imitate: 2, 3 (= 2.53, 3.5), 2.42, 3.5... "
                             "(default 3)")
    parser.add_argument("--enable-feature", action="append", default=[], metavar="FEATURES",
                        help="promtool's comma-separated feature names, as for test-rules: "
                             "promql-experimental-functions (lets rules and tests call the "
                             "experimental functions; promtool 3.4+), "
                             "promql-delayed-name-removal; other names are warned about")
    parser.add_argument("--list-operators", action="store_true",
                        help="List the mutation operators with their ids and exit")


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Mutate, run, print; 0 when the score reaches ``--fail-under``, else 1."""
    out = out or sys.stdout
    if args.list_operators:
        for op in OPERATORS:
            print(f"{op.code}  {op.name:<24} {op.description}", file=out)
        return 0
    try:
        only = resolve_operators(c for item in args.only for c in item.split(",")) or None
    except ValueError as exc:
        raise ConfigError(f"--only: {exc}") from None
    features = parse_features(args.enable_feature, args.semantics)
    for warning in features.warnings:  # as test-rules (and promtool) print them
        print(f"  WARNING: {warning}", file=sys.stderr)
    suite = MutationSuite.load(args.rules or ["rules/*.yml"], args.tests or ["rules/tests/*.yml"],
                               semantics=args.semantics, only=only, features=features)
    if not suite.sites:
        raise ConfigError(f"no rule file matches {' '.join(args.rules or ['rules/*.yml'])}")
    report = suite.run()
    root = Path.cwd()
    if args.format == "json":
        data = report.to_json(root)
        data["fail_under"] = args.fail_under
        print(json.dumps(data, indent=2), file=out)
    elif args.format == "github":
        print(report.format_github(root), file=out)
    else:
        print(report.format_text(root), file=out)
    return report.exit_code(args.fail_under)
