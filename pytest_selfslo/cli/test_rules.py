"""``selfslo test-rules``: a drop-in for ``promtool test rules`` on the embedded engine.

``--format text`` is promtool's output; ``json`` the report (plus an
``annotations`` list); ``github``, ``sarif`` and ``checkstyle`` put failures,
invalid files and (with ``--coverage``) untested rules at ``file:line:col``
(:mod:`pytest_selfslo.ruletest.annotate`). ``--changed-since REF`` keeps only
what is about tests and rules changed since a git revision.

promtool's own flags are accepted with promtool's meaning, so CI scripts can
swap one for the other: ``--run``, ``--ignore-unknown-fields``,
``--enable-feature`` (:mod:`pytest_selfslo.promql.features`), ``--junit FILE``
(:mod:`pytest_selfslo.ruletest.junit`), ``--debug``
(:mod:`pytest_selfslo.ruletest.debugdump`), ``--diff``
(:mod:`pytest_selfslo.ruletest.jsondiff`) and the no-op ``--experimental``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from pytest_selfslo._core.limits import DEFAULT_LIMITS, LIMIT_NAMES, Limits
from pytest_selfslo._core.reportformats import FORMATS, render
from pytest_selfslo._core.version import __version__
from pytest_selfslo.cli.args import positive_arg, semantics_arg
from pytest_selfslo.promql.features import parse_features
from pytest_selfslo.ruletest.annotate import filter_changed, report_annotations, rule_test_tool
from pytest_selfslo.ruletest.jsondiff import COLOR, PLAIN
from pytest_selfslo.ruletest.junit import check_writable, junit_xml, write_junit
from pytest_selfslo.ruletest.runner import RuleTestReport, run_rule_tests

__all__ = ["configure", "run"]


def configure(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``selfslo test-rules``."""
    parser.add_argument("files", nargs="+", metavar="FILE", help="Rule unit-test files (globs allowed)")
    parser.add_argument("--run", action="append", metavar="REGEX",
                        help="Only run test groups whose name matches (repeatable, OR-ed)")
    parser.add_argument("--semantics", type=semantics_arg, default="3", metavar="VERSION",
                        help="Prometheus version to imitate, its numerics and its file formats: "
                             "2, 3 (= 2.53, 3.5), 2.42, 3.5... (default 3)")
    parser.add_argument("--ignore-unknown-fields", action=argparse.BooleanOptionalAction,
                        default=False, help="Ignore unknown fields in rule files")
    parser.add_argument("--enable-feature", action="append", default=[], metavar="FEATURES",
                        help="promtool's comma-separated feature names: "
                             "promql-experimental-functions (lets rules and tests call the "
                             "experimental functions; promtool 3.4+), "
                             "promql-delayed-name-removal; other names are warned about, as "
                             "the --semantics release of promtool does")
    parser.add_argument("--junit", metavar="FILE",
                        help="Also write the results as promtool's JUnit XML to FILE")
    parser.add_argument("--debug", action=argparse.BooleanOptionalAction, default=False,
                        help="Print promtool's DEBUG lines: each group's start, a dump of every "
                             "series (input and rule output) and its duration")
    parser.add_argument("--diff", action=argparse.BooleanOptionalAction, default=False,
                        help="Show alert mismatches as promtool's --diff does (coloured on a "
                             "terminal unless NO_COLOR is set)")
    parser.add_argument("--experimental", action=argparse.BooleanOptionalAction, default=False,
                        help="Accepted for promtool compatibility (enables nothing here)")
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
    features = parse_features(args.enable_feature, args.semantics)
    for warning in features.warnings:
        print(f"  WARNING: {warning}", file=sys.stderr)
    if args.junit:
        check_writable(args.junit)
    style = None
    if args.diff:
        style = COLOR if sys.stderr.isatty() and not os.environ.get("NO_COLOR") else PLAIN
    report = run_rule_tests(list(args.files), semantics=args.semantics, run=args.run,
                            ignore_unknown_fields=args.ignore_unknown_fields, limits=limits,
                            features=features, debug=args.debug, diff=style)
    if args.junit:
        write_junit(args.junit, junit_xml(report))
    if args.changed_since:
        return _run_changed(args, report)
    if args.format == "text":
        text = report.format_text(debug=args.debug)
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
