"""Record what real promtool binaries say about the YAML-dialect corpus.

    python tests/rulefmt/record_yaml_dialect.py [PROMTOOL ...]

Each directory under ``tests/rulefmt/yaml_dialect/`` is one case: a
``rules.yml`` (checked with ``promtool check rules rules.yml``) and, when
present, a ``test.yml`` (then ``promtool test rules test.yml`` runs instead,
loading ``rules.yml``). The binaries default to every promtool
:func:`promtool_runs.available` finds
(``$SELFSLO_PROMTOOLS``). The verdicts (exit code and promtool's output) are
written to ``manifest.json`` keyed by ``major.minor``; a case's ``note`` is
kept. ``test_yaml_dialect.py`` holds our loader to these verdicts and checks
them against every binary present.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from promtool_runs import Promtool, available  # noqa: E402

from pytest_selfslo.prometheus.client import binary_version  # noqa: E402

CORPUS = Path(__file__).resolve().parent / "yaml_dialect"
MANIFEST = CORPUS / "manifest.json"
#: promtool prints these around every result; they carry no verdict
_NOISE = ("Checking ", "Unit Testing: ")


def command(case: Path) -> list[str]:
    """The promtool arguments for one case directory."""
    if (case / "test.yml").is_file():
        return ["test", "rules", "test.yml"]
    return ["check", "rules", "rules.yml"]


def run(promtool: str, case: Path) -> tuple[int, list[str]]:
    """promtool's exit code and its output lines (without the noise) for ``case``."""
    proc = subprocess.run([promtool, *command(case)], cwd=case, capture_output=True,
                          text=True, timeout=120, check=False)
    lines = [line.rstrip() for line in (proc.stdout + proc.stderr).splitlines()
             if line.strip() and not line.startswith(_NOISE)]
    return proc.returncode, lines[:8]


def version_key(binary: Promtool) -> str:
    """``2.53`` for promtool 2.53.3."""
    return f"{binary.version[0]}.{binary.version[1]}"


def main(argv: list[str]) -> int:
    binaries = ([Promtool(p, binary_version(p)) for p in argv] if argv else available())
    if not binaries:
        print("no promtool binary found", file=sys.stderr)
        return 2
    manifest = json.loads(MANIFEST.read_text()) if MANIFEST.is_file() else {"cases": {}}
    cases = manifest.setdefault("cases", {})
    for case in sorted(p for p in CORPUS.iterdir() if p.is_dir()):
        entry = cases.setdefault(case.name, {"note": ""})
        entry["command"] = " ".join(command(case))
        verdicts = entry.setdefault("verdicts", {})
        for binary in binaries:
            code, lines = run(binary.path, case)
            verdicts[version_key(binary)] = {"exit": code, "output": lines}
        print(f"{case.name:45s} " + " ".join(f"{v}={r['exit']}" for v, r in sorted(verdicts.items())))
    manifest["cases"] = dict(sorted(cases.items()))
    MANIFEST.write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
