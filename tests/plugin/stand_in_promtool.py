"""Stand-in ``promtool`` scripts for the plugin's cross-check tests.

A shell script that answers ``--version`` with the given release and ``test rules
FILE`` with promtool's heading and a fixed verdict, so the tests pin how the plugin
reports an agreeing or disagreeing promtool without a real binary. Imported as
``from stand_in_promtool import ...`` (pytest puts ``tests/plugin`` on ``sys.path``).
"""

from __future__ import annotations

import shutil
from pathlib import Path

#: the line a failing stand-in prints under its ``Unit Testing:`` heading
FAILED_LINE = "  FAILED: stand-in promtool always fails"


def promtool_script(version: str, *, passes: bool) -> str:
    """A ``/bin/sh`` promtool of ``version`` whose every ``test rules`` passes or fails."""
    verdict = 'echo "  SUCCESS"\nexit 0' if passes else f'echo "{FAILED_LINE}"\nexit 1'
    return (f'#!/bin/sh\nif [ "$1" = "--version" ]; then echo "promtool, version {version} '
            f'(stand-in)"; exit 0; fi\necho "Unit Testing:  $3"\n{verdict}\n')


def fake_bin(directory: Path, name: str, script: str) -> Path:
    """``script`` as the executable ``directory/name`` (``directory`` made if missing)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(script)
    path.chmod(0o755)
    return path


def python_only_path(*first: Path) -> str:
    """A ``PATH`` of ``first`` and then only the directory of this Python."""
    return ":".join([*map(str, first), str(Path(shutil.which("python") or "/usr/bin/python").parent)])
