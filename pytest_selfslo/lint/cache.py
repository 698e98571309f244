"""On-disk cache of lint findings per file, so unchanged files are not re-linted.

The same idea as ruff's and mypy's caches: a file's findings depend on its
bytes, the lint settings, and a few other files (runbooks it links to, the
unit-test files next to it that feed SL036). An entry is keyed by the hash
of the settings, the path and the bytes, and records the size and mtime of
every other file it depended on; any change there is a miss. Drift (which
depends on the SLO spec and policy objects) is never cached.

Entries are small JSON files written atomically (temp file + rename), so a
crashed or concurrent run can leave at most a stale temp file, never a torn
entry.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pytest_selfslo.lint.findings import Finding, Severity

__all__ = ["LintCache", "file_deps"]

_VERSION = 1


def _stat(path: Path) -> list[int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return [st.st_mtime_ns, st.st_size]


def file_deps(path: Path, runbooks: Iterable[Path]) -> dict[str, list[int] | None]:
    """What a rule file's findings depend on besides its bytes: its folder's YAML files
    (unit tests loading it), the folder itself (files added/removed) and its runbooks."""
    deps: dict[str, list[int] | None] = {}
    folder = path.parent
    deps[str(folder)] = _stat(folder)
    for sib in sorted(folder.glob("*.y*ml")):
        if sib != path:
            deps[str(sib)] = _stat(sib)
    for rb in runbooks:
        deps[str(rb)] = _stat(rb)
    return deps


class LintCache:
    """Findings per (settings, path, content); ``get`` returns None on any doubt.

        >>> cache = LintCache(Path(".selfslo_cache"), settings="scrape=60|sev=warning")
    """

    def __init__(self, directory: str | Path, settings: str) -> None:
        self.directory = Path(directory)
        self.settings = f"v{_VERSION}|{settings}"

    def _entry(self, path: Path, data: bytes) -> Path:
        digest = hashlib.sha256()
        digest.update(self.settings.encode())
        digest.update(b"\0" + str(path.resolve()).encode() + b"\0")
        digest.update(data)
        return self.directory / f"{digest.hexdigest()}.json"

    def get(self, path: Path, data: bytes) -> list[Finding] | None:
        """Cached findings for ``path`` with content ``data``, or None (miss or stale)."""
        try:
            entry = json.loads(self._entry(path, data).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        deps = entry.get("deps", {})
        if any(_stat(Path(p)) != (list(v) if v is not None else None) for p, v in deps.items()):
            return None
        folder_now = {str(p) for p in path.parent.glob("*.y*ml") if p != path}
        if not folder_now <= set(deps):
            return None
        try:
            return [Finding(f["path"], int(f["line"]), int(f["column"]), f["code"],
                            Severity(f["severity"]), f["message"]) for f in entry["findings"]]
        except (KeyError, TypeError, ValueError):
            return None

    def put(self, path: Path, data: bytes, findings: Iterable[Finding],
            deps: dict[str, Any]) -> None:
        """Store ``findings`` for ``path``; errors writing the cache are ignored (it is a cache)."""
        body = json.dumps({"findings": [f.to_dict() for f in findings], "deps": deps})
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.directory, suffix=".tmp")
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(body)
            os.replace(tmp, self._entry(path, data))
        except OSError:
            return
