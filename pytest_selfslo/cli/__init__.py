"""The ``selfslo`` console script.

Each subcommand lives in the module that owns the feature; this file only
knows the table below. A command module exposes ``configure(parser)`` (adds
its arguments) and ``run(args) -> int`` (returns the exit code). Modules are
imported lazily so ``selfslo --help`` stays fast and a broken optional
feature cannot take the others down.

Exit codes are shared: 0 success, 1 the check failed (an SLO, a rule test, a
lint error), 2 usage or input error (one line on stderr, control characters
escaped, never a traceback).

When the reader of the output goes away (``selfslo lint rules | head -1``)
the command stops quietly, as ``cat`` or ``grep`` do when SIGPIPE ends them:
nothing on stderr and exit status 141 (128 + SIGPIPE, what a shell reports
for those). SIGPIPE itself stays ignored (Python's default), so a closed
socket in ``serve`` or a client is an error, not the end of the process.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from pytest_selfslo._core.errors import SelfSloError
from pytest_selfslo._core.safetext import printable

#: what ``selfslo --help`` says first (plain text: argparse prints it as it is)
DESCRIPTION = ("SELF SLO tools: replay heartbeat logs against the SLOs, run and lint "
               "Prometheus rule tests, steer the canary, serve the operator API.")

#: subcommand -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "replay": ("pytest_selfslo.cli.replay", "Analyse the last N heartbeats against the SLOs"),
    "generate": ("pytest_selfslo.cli.generate", "Write a seeded heartbeat scenario as JSON Lines"),
    "test-rules": ("pytest_selfslo.cli.test_rules", "Run promtool-format rule unit tests"),
    "lint": ("pytest_selfslo.cli.lint", "Lint Prometheus rule files (and check SLO drift)"),
    "mutate": ("pytest_selfslo.cli.mutate",
               "Mutation-test alert rules: would the rule tests catch a broken rule?"),
    "canary": ("pytest_selfslo.cli.canary", "Inspect, tune and steer the percentage canary"),
    "serve": ("pytest_selfslo.cli.serve", "Serve the operator API with uvicorn"),
    "demo": ("pytest_selfslo.cli.demo", "Run the whole loop locally with a live status view"),
    "slo": ("pytest_selfslo.cli.slo", "Import SLO specs (Sloth, ...), generate burn-rate rules and tests"),
}


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """Build the parser; with ``only`` set, import just that subcommand's module."""
    parser = argparse.ArgumentParser(prog="selfslo", description=DESCRIPTION,
                                     epilog="Run 'selfslo COMMAND --help' for a command's "
                                            "options. Exit codes: 0 success, 1 a check "
                                            "failed, 2 usage or input error.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name, (module, help_text) in COMMANDS.items():
        sp = sub.add_parser(name, help=help_text, description=help_text)
        if only is None or only == name:
            try:
                importlib.import_module(module).configure(sp)
            except ModuleNotFoundError as exc:  # feature not built in this version
                if exc.name != module:
                    raise
                sp.set_defaults(_missing=module)
    return parser


#: exit status when stdout is a pipe whose reader has gone (128 + SIGPIPE)
EXIT_BROKEN_PIPE = 128 + 13


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``selfslo`` script; returns the process exit code."""
    try:
        code = _main(argv)
        sys.stdout.flush()  # inside the try: buffered output may meet the closed pipe here
    except BrokenPipeError:
        return _broken_pipe()
    return code


def _broken_pipe() -> int:
    """The reader of stdout is gone: stop quietly (no "Broken pipe", no traceback)."""
    # Python flushes stdout again at exit and would print "Exception ignored ...
    # BrokenPipeError": point the descriptor at /dev/null so that flush succeeds
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # stdout without a descriptor (replaced in tests)
        pass
    return EXIT_BROKEN_PIPE


def _main(argv: Sequence[str] | None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    only = next((a for a in args_list if a in COMMANDS), None)
    parser = build_parser(only)
    args = parser.parse_args(args_list)
    missing = getattr(args, "_missing", None)
    if missing:
        print(f"selfslo {args.command}: not available ({missing} is missing)", file=sys.stderr)
        return 2
    module = importlib.import_module(COMMANDS[args.command][0])
    try:
        return int(module.run(args))
    except BrokenPipeError:
        raise  # the reader of stdout has gone: main() stops quietly
    except (SelfSloError, OSError) as exc:
        # one line, whatever the message quotes (a file name with a newline, an ANSI escape)
        print(f"selfslo {args.command}: error: {printable(str(exc))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
