"""Which lines of which files changed since a git revision (``--changed-since REF``).

Like ``pint ci``: compare the working tree (committed, staged and unstaged
changes) with ``REF`` and report only on what changed. Lines come from
``git diff --unified=0 REF``: the lines a hunk adds or modifies, and for a
hunk that only deletes, the lines on both sides of the cut. A file git does
not track yet, or one that did not exist at ``REF``, counts as changed
everywhere.

    >>> changes = changed_since("origin/main", ["rules/"])     # doctest: +SKIP
    >>> changes.touches("rules/a.yml", 10, 24)                  # doctest: +SKIP
    True
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass, field

from pytest_selfslo._core.errors import ConfigError

__all__ = ["Changes", "changed_since"]

_HUNK = re.compile(r"^@@ -\d+(?:,\d+)? \+(\d+)(?:,(\d+))? @@")
#: lines changed per file: None means the whole file is new
Lines = set[int] | None


@dataclass
class Changes:
    """Changed lines per file (absolute, normalised paths) since ``ref``."""

    ref: str
    files: dict[str, Lines] = field(default_factory=dict)

    def lines(self, path: str) -> Lines:
        """The changed lines of ``path`` (None: all of it; empty set: none)."""
        return self.files.get(_key(path), set())

    def touches(self, path: str, first: int, last: int) -> bool:
        """Whether any of the lines ``first``..``last`` of ``path`` changed."""
        changed = self.lines(path)
        if changed is None:
            return True
        return any(first <= line <= last for line in changed)


def _key(path: str) -> str:
    return os.path.realpath(path)


def _git(args: list[str], cwd: str) -> str:
    try:
        proc = subprocess.run(["git", "-c", "core.quotePath=false", *args], cwd=cwd,
                              capture_output=True, text=True, timeout=120, check=False)
    except FileNotFoundError:
        raise ConfigError("--changed-since: git is not installed") from None
    except subprocess.TimeoutExpired:
        raise ConfigError(f"--changed-since: `git {' '.join(args)}` timed out") from None
    if proc.returncode != 0:
        raise ConfigError(f"--changed-since: `git {' '.join(args)}` failed: "
                          f"{proc.stderr.strip() or proc.stdout.strip()}")
    return proc.stdout


def changed_since(ref: str, paths: Iterable[str]) -> Changes:
    """The lines of ``paths`` (files or directories) that differ from revision ``ref``.

    Raises :class:`ConfigError` when the paths are not in a git work tree or
    ``ref`` does not name a commit.
    """
    targets = [os.path.abspath(p) for p in paths]
    if not targets:
        return Changes(ref)
    start = targets[0] if os.path.isdir(targets[0]) else os.path.dirname(targets[0])
    top = _git(["rev-parse", "--show-toplevel"], start or ".").strip()
    if ref.startswith("-"):
        raise ConfigError(f"--changed-since: expected a git revision, got {ref!r}")
    _git(["rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"], top)
    changes = Changes(ref)
    diff = _git(["diff", "--no-color", "--no-ext-diff", "--no-renames", "--unified=0", ref,
                 "--", *targets], top)
    current: str | None = None
    for line in diff.splitlines():
        if line.startswith("+++ "):
            name = line[4:].rstrip("\t")
            current = None if name == "/dev/null" else _key(os.path.join(top, name[2:]))
            if current is not None:
                changes.files.setdefault(current, set())
            continue
        m = _HUNK.match(line)
        if m is None or current is None:
            continue
        lines = changes.files[current]
        if lines is None:
            continue
        first, count = int(m.group(1)), int(m.group(2) or 1)
        if count == 0:  # only deletions: the lines around the cut changed
            lines.update({max(first, 1), first + 1})
        else:
            lines.update(range(first, first + count))
    for kind in (["ls-files", "--others", "--exclude-standard", "--", *targets],
                 ["diff", "--name-only", "--no-renames", "--diff-filter=A", ref, "--",
                  *targets]):
        for name in _git(kind, top).splitlines():
            if name:
                changes.files[_key(os.path.join(top, name))] = None
    return changes
