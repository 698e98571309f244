"""Text that came from a file or a request, made safe to show a human.

A ``reason`` in the audit log, an alert name from Prometheus or a label in a
rule file can hold newlines, ANSI escape sequences or Unicode direction
overrides. Printed raw, they forge extra lines ("a record attributed to
someone else"), recolour or clear the terminal, or reorder what the reader
sees. :func:`printable` escapes exactly those characters and nothing else, so
ordinary text (accents, CJK, emoji) prints unchanged::

    >>> printable("ok\\n2024-01-01  manual  alice: forged\\x1b[2J")
    'ok\\\\n2024-01-01  manual  alice: forged\\\\x1b[2J'

:func:`text_problem` is the input-side check for free text that gets stored
(audit reasons): it must be valid Unicode (no lone surrogates, which no
UTF-8 file can hold) and hold at least one visible character.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["VISIBLE_PATTERN", "has_visible", "printable", "text_problem"]

#: Unicode bidirectional controls (embeddings, overrides, isolates, marks): they
#: reorder the characters around them on screen ("Trojan Source", CVE-2021-42574).
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
#: categories escaped: control characters, lone surrogates, line and paragraph separators
_ESCAPED_CATEGORIES = frozenset({"Cc", "Cs", "Zl", "Zp"})
_SHORT = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
#: One visible character: not whitespace, not a control character and not one
#: of the invisible formatting characters (soft hyphen, zero-width and bidi
#: controls, fillers, variation selectors, BOM). The same pattern is the API
#: schema's ``pattern`` for ``reason``, so clients and fuzzers see the rule the
#: server applies (lone surrogates are refused separately: a regex engine that
#: works on code points, like the schema validators', cannot name them).
VISIBLE_PATTERN = (r"[^\s\x00-\x1f\x7f-\x9f\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5"
                   r"\u180b-\u180f\u200b-\u200f\u2028-\u202f\u205f-\u206f\u3164\ufe00-\ufe0f"
                   r"\ufeff\uffa0\ufff0-\ufffb]")
_VISIBLE_RE = re.compile(VISIBLE_PATTERN)


def _escape(ch: str) -> str:
    short = _SHORT.get(ch)
    if short is not None:
        return short
    code = ord(ch)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def printable(text: str) -> str:
    """``text`` with control characters, lone surrogates, line separators and bidi
    controls written as ``\\n``, ``\\x1b``, ``\\u202e``...: safe on one terminal line."""
    if text.isprintable():  # the common case: nothing to escape (and no copy)
        return text
    return "".join(_escape(ch) if (unicodedata.category(ch) in _ESCAPED_CATEGORIES
                                   or ch in _BIDI) else ch for ch in text)


def has_visible(text: str) -> bool:
    """True if ``text`` holds a visible character (see :data:`VISIBLE_PATTERN`)."""
    return _VISIBLE_RE.search(text) is not None


def text_problem(text: str) -> str | None:
    """Why ``text`` cannot be stored as free text, or None when it can."""
    if not text.isprintable() and any(unicodedata.category(ch) == "Cs" for ch in text):
        return "expected valid Unicode text, got a lone surrogate (not encodable as UTF-8)"
    if not has_visible(text):
        return "expected at least one visible character (not only whitespace, control or " \
               "zero-width characters)"
    return None
