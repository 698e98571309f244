"""``selfslo test-rules --junit FILE``: the JUnit XML ``promtool test rules --junit`` writes.

promtool 2.55+ (``util/junitxml``) writes one ``<testsuite>`` per test file
(``name`` = the path as given, ``tests``, ``failures``, ``errors``,
``skipped="0"``, ``timestamp`` = local time the groups started, ``%Y-%m-%dT%H:%M:%S``)
and in it one ``<testcase name="GROUP">`` per test group that ``--run``
selected (``unnamed#N`` for a group without a name), holding one
``<failure>`` element per failure message. ``failures`` counts messages, not
test cases. A test file that cannot be read or parsed gets a single
``<testcase name="unknown">`` with an ``<error>`` and an empty timestamp; a
rule file that cannot be loaded fails every selected group with its problems,
one ``<failure>`` each. The text is Go's ``encoding/xml`` output byte for
byte: no declaration, no whitespace between elements, ``"`` ``'`` tab, CR and
newline escaped as character references. Failure texts are ours (promtool's
lines first, then our diff and explanation), without colour sequences.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from pytest_selfslo._core.errors import InputError
from pytest_selfslo.ruletest.jsondiff import strip_ansi

if TYPE_CHECKING:
    from pytest_selfslo.ruletest.runner import FileResult, RuleTestReport

__all__ = ["check_writable", "junit_xml", "write_junit"]

_ESCAPES = {'"': "&#34;", "'": "&#39;", "&": "&amp;", "<": "&lt;", ">": "&gt;",
            "\t": "&#x9;", "\n": "&#xA;", "\r": "&#xD;"}
#: what XML 1.0 does not allow (Go writes U+FFFD instead)
_INVALID = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _escape(text: str) -> str:
    """Go's ``xml.EscapeText``."""
    text = _INVALID.sub("\ufffd", strip_ansi(text))
    return "".join(_ESCAPES.get(ch, ch) for ch in text)


def _suite(f: FileResult) -> str:
    cases: list[tuple[str, list[str], str]] = []  # name, failures, error
    timestamp = f.started
    if f.error is not None and not f.rule_error:
        cases.append(("unknown", [], f.error))
        timestamp = ""
    elif f.error is not None:
        problems = f.error.splitlines()
        cases.extend((name, problems, "") for name in f.failed_groups)
    else:
        cases.extend((g.name, list(g.failures), "") for g in f.groups)
    failures = sum(len(c[1]) for c in cases)
    errors = sum(1 for c in cases if c[2])
    out = [f'<testsuite name="{_escape(f.path)}" tests="{len(cases)}" failures="{failures}" '
           f'errors="{errors}" skipped="0" timestamp="{_escape(timestamp)}">']
    for name, failed, error in cases:
        out.append(f'<testcase name="{_escape(name)}">')
        out.extend(f"<failure>{_escape(text)}</failure>" for text in failed)
        if error:
            out.append(f"<error>{_escape(error)}</error>")
        out.append("</testcase>")
    out.append("</testsuite>")
    return "".join(out)


def junit_xml(report: RuleTestReport) -> str:
    """The report as promtool's JUnit XML."""
    return "<testsuites>" + "".join(_suite(f) for f in report.files) + "</testsuites>"


def check_writable(path: str) -> None:
    """Fail early (:class:`InputError`, exit 2) when ``path`` cannot be written."""
    target = Path(path)
    if target.is_dir():
        raise InputError(f"--junit: cannot write {path}: is a directory")
    folder = target.parent
    if not folder.is_dir():
        raise InputError(f"--junit: cannot write {path}: no such directory {str(folder)!r}")
    if not os.access(folder, os.W_OK | os.X_OK) or (target.exists()
                                                    and not os.access(target, os.W_OK)):
        raise InputError(f"--junit: cannot write {path}: permission denied")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_junit(path: str, text: str) -> None:
    """Write ``text`` to ``path`` atomically: a reader sees the old file or the whole new one."""
    check_writable(path)
    target = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, target.stat().st_mode & 0o7777 if target.exists() else 0o644 & ~_umask())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
