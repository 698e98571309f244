"""``selfslo slo``: import SLO specs (Sloth, ours), generate burn-rate rules and their tests.

* ``selfslo slo import FILE -o slo.yml`` — any supported format → ``selfslo/v1``
* ``selfslo slo generate slo.yml -o rules/slo.yml`` — multiwindow burn-rate rules
* ``selfslo slo tests slo.yml -o rules/tests/slo_test.yml [--rules rules/slo.yml]``

``--sli-plugins DIR`` (repeatable) names directories of Sloth SLI plugins ported
to Python (a Sloth spec's ``sli.plugin``).

Bad specs exit 2 with ``path:line:col: why`` and write nothing.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

import yaml

from pytest_selfslo._core.atomicio import atomic_write_bytes
from pytest_selfslo._core.errors import SLOSpecError
from pytest_selfslo.rulefmt.goyaml import read_document
from pytest_selfslo.slo.burnrate import generate_rules
from pytest_selfslo.slo.importers import import_text
from pytest_selfslo.slo.service import dump_service_slos

__all__ = ["configure", "run"]


def configure(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``selfslo slo``."""
    sub = parser.add_subparsers(dest="slo_command", metavar="SUBCOMMAND")
    sub.required = True
    for name, help_text in (("import", "Convert a Sloth or selfslo spec to selfslo/v1"),
                            ("generate", "Write multiwindow burn-rate rules for a spec"),
                            ("tests", "Write promtool-format tests for the generated rules")):
        sp = sub.add_parser(name, help=help_text, description=help_text)
        sp.add_argument("spec", help="SLO spec file")
        sp.add_argument("-o", "--output", default="-", help="Output file ('-' = stdout)")
        sp.add_argument("--sli-plugins", metavar="DIR", action="append", default=[],
                        help="Directory of Sloth SLI plugins ported to Python, for a Sloth "
                             "spec's sli.plugin (repeatable; Sloth's -p DIR; docs/slo.md)")
        if name == "tests":
            sp.add_argument("--rules", default=None,
                            help="Rule file path written into rule_files (default: "
                                 "../slo.yml relative to the output)")


def run(args: argparse.Namespace) -> int:
    """Read, convert, write atomically; errors propagate as ``SLOSpecError`` (exit 2)."""
    try:  # a regular file of at most MAX_DOCUMENT_BYTES: a FIFO or /dev/zero is refused at once
        text = read_document(args.spec, "the SLO spec")
    except OSError as exc:
        raise SLOSpecError(f"{args.spec}: cannot read the SLO spec: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise SLOSpecError(f"{args.spec}: not UTF-8 text ({exc.reason})") from None
    spec = import_text(text, str(args.spec), args.sli_plugins)
    if args.slo_command == "import":
        text = dump_service_slos(spec)
    elif args.slo_command == "generate":
        text = generate_rules(spec)
    else:
        from pytest_selfslo.slo.testgen import generate_tests

        rules = args.rules
        if rules is None:
            out_dir = Path(args.output).parent if args.output != "-" else Path(".")
            rules = os.path.relpath(Path(out_dir).parent / "slo.yml", out_dir)
        try:
            text = generate_tests(spec, rules)
        except SLOSpecError as exc:  # about one SLO of a valid spec: point at its name
            raise SLOSpecError(f"{_slo_location(text, str(args.spec), str(exc))}: {exc}") from None
    if args.output == "-":
        sys.stdout.write(text)
    else:
        atomic_write_bytes(Path(args.output), text.encode())
        print(f"wrote {args.output}", file=sys.stderr)
    return 0


_SLO_NAMED = re.compile(r"""^slo (?:'([^']*)'|"([^"]*)")""")


def _slo_location(text: str, path: str, message: str) -> str:
    """``path:line:col`` of the ``name`` of the SLO a message starts with (``slo 'x': ...``),
    in any spec format (ours, Sloth, OpenSLO and Pyrra all have a ``name`` key); ``path``
    alone when it names none that the file spells out."""
    match = _SLO_NAMED.match(message)
    if match is None:
        return path
    name = match.group(1) if match.group(1) is not None else match.group(2)
    try:
        docs = list(yaml.compose_all(text, Loader=yaml.SafeLoader))
    except yaml.YAMLError:
        return path
    todo: list[yaml.Node] = [d for d in docs if d is not None]
    while todo:
        node = todo.pop(0)
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if key.value == "name" and isinstance(value, yaml.ScalarNode) \
                        and value.value == name:
                    return f"{path}:{value.start_mark.line + 1}:{value.start_mark.column + 1}"
                todo.append(value)
        elif isinstance(node, yaml.SequenceNode):
            todo.extend(node.value)
    return path
