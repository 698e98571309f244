"""Go regular expressions (Prometheus' ``regexp`` package) on RE2: linear time, Go's errors.

Prometheus is written in Go, whose ``regexp`` package implements RE2 syntax
with a guarantee of linear-time matching. Python's ``re`` backtracks
(``x{job=~"(a+)+b"}`` on a 40-character value runs for minutes) and accepts
syntax Go rejects (backreferences, lookarounds), so every pattern a user
supplies -- label matchers, ``label_replace``, the template functions
``match``/``reReplaceAll``, canary ``rollback_alerts``, ``test-rules --run``,
promqltest ``expect ... regex:`` -- is compiled here with Google's RE2
(``google-re2``), the library Go's package is a port of.

Semantics, as in Prometheus (``model/labels/regexp.go``, ``promql/functions.go``):

* label matchers and ``label_replace`` are fully anchored: Prometheus 2.x
  compiles ``^(?:pattern)$``, 3.x ``^(?s:pattern)$`` (``.`` also matches a
  newline; since v3.0.0, commit 5814920601 "optimize .* regexp performance").
  :func:`matcher_regex` and :func:`label_replace_regex` take ``dotall`` (the
  engine passes its semantics' ``regex_dotall``);
* a label matcher pattern is also checked on its own before it is wrapped
  (2.53 and 3.x ``syntax.Parse(v, ...)`` first), so ``a)(b`` is refused there
  while ``label_replace`` accepts it, exactly like Prometheus;
* errors read like Go's: ``error parsing regexp: missing closing ): `(a```
  (RE2's own wording, e.g. ``missing ): (a``, is translated).

RE2 and Go accept the same syntax, with exceptions: RE2's ``\\C`` (any byte)
is refused here as Go refuses it; Go's limit of 1000 on the *height* of the
parsed expression is not reproduced (RE2 matches such patterns in linear time
anyway); and RE2's 8 MiB program budget refuses a few huge patterns Go accepts
(``\\pL{1000}``). See docs/limits.md.

    >>> matcher_regex("api|web").fullmatch("api")
    True
    >>> matcher_regex("a.b").fullmatch("a\\nb"), matcher_regex("a.b", dotall=False).fullmatch("a\\nb")
    (True, False)
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

import re2

__all__ = ["GoRegexError", "Groups", "Regexp", "compile_go", "go_parse_error",
           "label_replace_regex", "matcher_regex", "must_compile_message"]

#: capture groups 0..n of one match (``None``: the group did not participate)
Groups = tuple[str | None, ...]

# The pybind11 core of google-re2: the documented ``re2.compile`` wrapper adds ~10 us of
# Python per match (it maps offsets back to str indices); label matching needs only a
# yes/no, so we call RE2::Match directly.
_RE2 = re2._re2.RE2
_ANCHOR_BOTH = _RE2.Anchor.ANCHOR_BOTH
_UNANCHORED = _RE2.Anchor.UNANCHORED
_NO_SPAN = (-1, -1)
#: RE2's memory budget per compiled pattern (its default). It also bounds compile time:
#: RE2 expands Unicode classes into UTF-8 automata (\pL{300} is 360,000 instructions,
#: about a second), so a bigger budget would let one pattern cost tens of seconds; Go
#: accepts some patterns over it (\pL{1000}), refused here as "expression too large"
_MAX_MEM = 8 << 20
#: results remembered per pattern (label values repeat across series)
_MEMO_SIZE = 4096
#: a group name in ``$name``: Go's ``extract`` takes letters, digits and ``_``
_NAME = re.compile(r"\w+")

# RE2 error text (re2/regexp.cc CodeText) -> Go's regexp/syntax ErrorCode text
_GO_CODES = {
    "missing )": "missing closing )",
    "missing ]": "missing closing ]",
    "unexpected )": "unexpected )",
    "invalid perl operator": "invalid or unsupported Perl syntax",
    "invalid repetition size": "invalid repeat count",
    "bad repetition operator": "invalid nested repetition operator",
    "no argument for repetition operator": "missing argument to repetition operator",
    "invalid escape sequence": "invalid escape sequence",
    "invalid character class range": "invalid character class range",
    "invalid character class": "invalid character class",
    "invalid named capture group": "invalid named capture",
    "invalid UTF-8": "invalid UTF-8",
}


class GoRegexError(ValueError):
    """A pattern Go's ``regexp`` rejects; the message is Go's (``error parsing regexp: ...``)."""


def _options() -> re2.Options:
    options = re2.Options()
    options.log_errors = False  # RE2 would print every bad pattern to stderr
    options.max_mem = _MAX_MEM
    return options


_OPTIONS = _options()


def _encode(text: str) -> bytes:
    # a lone surrogate cannot come from YAML, but can from JSON: match its bytes, never crash
    return text.encode("utf-8", "surrogatepass")


def _go_error(message: str) -> GoRegexError:
    """Translate RE2's ``code: arg`` into Go's ``error parsing regexp: code: `arg```."""
    code, _, arg = message.partition(": ")
    if code == "trailing \\":
        return GoRegexError("error parsing regexp: trailing backslash at end of expression: ``")
    if code.startswith("pattern too large"):
        return GoRegexError("error parsing regexp: expression too large")
    if code == "bad repetition operator" and arg.count("{") == 1 and arg.startswith("{"):
        code = "invalid repetition size"  # (a{1000}){1000}: Go counts the nested repeat
    return GoRegexError(f"error parsing regexp: {_GO_CODES.get(code, code)}: `{arg}`")


def _check_go_only(pattern: str) -> None:
    """Refuse what RE2 accepts but Go does not: ``\\C`` (match any byte)."""
    i = pattern.find("\\")
    while i >= 0:
        if pattern[i + 1:i + 2] == "C":
            raise GoRegexError("error parsing regexp: invalid escape sequence: `\\C`")
        i = pattern.find("\\", i + 2)


class Regexp:
    """One compiled Go regular expression.

    ``fullmatch(text)`` (the whole text) and ``search(text)`` (anywhere) answer
    yes/no; ``groups(text)`` returns the capture groups of a full match (``None``:
    no match) and ``group_names`` maps names to group numbers; ``replace_all(text,
    template)`` is Go's ``ReplaceAllString``, ``replace_all_func(text, fn)`` the
    same with ``fn(groups)`` building each replacement; ``expand(template,
    groups)`` is Go's ``Expand``.
    """

    __slots__ = ("_memo", "_re", "group_count", "group_names", "pattern")

    def __init__(self, pattern: str, compiled: str | None = None) -> None:
        self.pattern = pattern
        self._re = _RE2(_encode(pattern if compiled is None else compiled), _OPTIONS)
        if not self._re.ok():
            raise _go_error(self._re.error().decode("utf-8", "replace"))
        #: number of capture groups
        self.group_count: int = self._re.NumberOfCapturingGroups()
        #: capture-group name -> number
        self.group_names: dict[str, int] = {
            name.decode("utf-8", "surrogatepass"): index
            for name, index in self._re.NamedCapturingGroups()}
        self._memo: dict[str, bool] = {}

    def __repr__(self) -> str:
        return f"Regexp({self.pattern!r})"

    def fullmatch(self, text: str) -> bool:
        """Whether the whole of ``text`` matches."""
        hit = self._memo.get(text)
        if hit is None:
            data = _encode(text)
            hit = self._re.Match(_ANCHOR_BOTH, data, 0, len(data))[0] != _NO_SPAN
            if len(self._memo) >= _MEMO_SIZE:
                self._memo.clear()
            self._memo[text] = hit
        return hit

    def search(self, text: str) -> bool:
        """Whether the pattern matches anywhere in ``text`` (Go's ``MatchString``)."""
        data = _encode(text)
        return bool(self._re.Match(_UNANCHORED, data, 0, len(data))[0] != _NO_SPAN)

    def groups(self, text: str) -> Groups | None:
        """Group 0..n of a match of the whole ``text`` (unmatched groups: ``None``)."""
        data = _encode(text)
        spans = self._re.Match(_ANCHOR_BOTH, data, 0, len(data))
        return None if spans[0] == _NO_SPAN else _texts(data, spans)

    def replace_all(self, text: str, template: str) -> str:
        """Go's ``ReplaceAllString(text, template)``: ``$1``/``${name}`` expand per match."""
        return self.replace_all_func(text, lambda groups: self.expand(template, groups))

    def replace_all_func(self, text: str, replace: Callable[[Groups], str]) -> str:
        """Replace every leftmost-first, non-overlapping match, stepping like Go's ``replaceAll``."""
        data = _encode(text)
        end = len(data)
        out: list[bytes] = []
        last_end = search = 0
        while search <= end:
            spans = self._re.Match(_UNANCHORED, data, search, end)
            start, stop = spans[0]
            if start < 0:
                break
            out.append(data[last_end:start])
            # no replacement for an empty match right after the previous match
            if stop > last_end or start == 0:
                out.append(_encode(replace(_texts(data, spans))))
            last_end = stop
            width = _rune_width(data, search)
            if search + width > stop:
                search += width
            elif search + 1 > stop:
                search += 1
            else:
                search = stop
        out.append(data[last_end:])
        return b"".join(out).decode("utf-8", "surrogatepass")

    def expand(self, template: str, groups: Groups) -> str:
        """Go's ``Regexp.Expand``: ``$1``, ``${1}``, ``$name``, ``${name}``, ``$$``.

        As in Go, ``$1x`` names the (usually missing) group ``1x`` and expands to
        nothing, ``$01`` is no group number, and a ``$`` not followed by a valid
        name is kept literally.
        """
        out: list[str] = []
        i = 0
        while i < len(template):
            dollar = template.find("$", i)
            if dollar < 0 or dollar + 1 >= len(template):
                out.append(template[i:])
                break
            out.append(template[i:dollar])
            nxt = template[dollar + 1]
            if nxt == "$":
                out.append("$")
                i = dollar + 2
                continue
            if nxt == "{":
                close = template.find("}", dollar + 2)
                name = template[dollar + 2:close] if close >= 0 else ""
                if close < 0 or not _NAME.fullmatch(name):
                    out.append("$")
                    i = dollar + 1
                    continue
                i = close + 1
            else:
                word = _NAME.match(template, dollar + 1)
                if word is None:
                    out.append("$")
                    i = dollar + 1
                    continue
                name = word.group(0)
                i = word.end()
            out.append(self._group(groups, name))
        return "".join(out)

    def _group(self, groups: Groups, name: str) -> str:
        if name.isdigit() and not (name[0] == "0" and len(name) > 1) and len(name) <= 8:
            index = int(name)
            return (groups[index] or "") if index < len(groups) else ""
        index = self.group_names.get(name, -1)
        return (groups[index] or "") if 0 <= index < len(groups) else ""


def _rune_width(data: bytes, pos: int) -> int:
    """Bytes of the UTF-8 character at ``pos`` (0 at the end), like ``utf8.DecodeRune``."""
    if pos >= len(data):
        return 0
    lead = data[pos]
    size = 1 if lead < 0xC0 else 2 if lead < 0xE0 else 3 if lead < 0xF0 else 4
    tail = data[pos + 1:pos + size]
    if len(tail) != size - 1 or any(b & 0xC0 != 0x80 for b in tail):
        return 1  # invalid UTF-8: Go steps one byte
    return size


def _texts(data: bytes, spans: list[tuple[int, int]]) -> Groups:
    return tuple(None if a < 0 else data[a:b].decode("utf-8", "surrogatepass") for a, b in spans)


def must_compile_message(pattern: str, error: GoRegexError) -> str:
    """The panic text of Go's ``regexp.MustCompile`` (what ``reReplaceAll`` reports)."""
    quoted = f"`{pattern}`" if "`" not in pattern and pattern.isprintable() else \
        '"' + pattern.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return f"regexp: Compile({quoted}): {error}"


@lru_cache(maxsize=2048)
def compile_go(pattern: str) -> Regexp:
    """Go's ``regexp.Compile(pattern)`` (unanchored), cached; raises :class:`GoRegexError`."""
    _check_go_only(pattern)
    return Regexp(pattern)


@lru_cache(maxsize=2048)
def matcher_regex(pattern: str, dotall: bool = True) -> Regexp:
    """A label matcher's regex as Prometheus builds it (``labels.NewFastRegexMatcher``).

    The pattern is parsed on its own first (Prometheus' ``syntax.Parse``), then
    compiled anchored: ``^(?s:pattern)$`` (3.x, ``dotall``), ``^(?:pattern)$`` (2.x).
    """
    _check_go_only(pattern)
    Regexp(pattern)  # errors name the user's pattern, not the anchored wrapper
    return Regexp(pattern, ("^(?s:" if dotall else "^(?:") + pattern + ")$")


def go_parse_error(message: str) -> str:
    """``promql-parser``'s ``illegal regex for PATTERN`` as Prometheus words it.

    The Rust parser validates matcher patterns with Rust's ``regex`` crate; for a
    pattern Go rejects too the message becomes Go's (``error parsing regexp:
    ...``); for one Go accepts (``\\Q...\\E``, octal ``\\101``) it says that
    Prometheus would accept it. Other messages are returned unchanged.
    """
    prefix = "illegal regex for "
    if not message.startswith(prefix):
        return message
    pattern = message[len(prefix):]
    try:
        matcher_regex(pattern)
    except GoRegexError as exc:
        return str(exc)
    return (f"{message} (promql-parser refuses this pattern although Prometheus accepts it; "
            "see docs/limits.md)")


@lru_cache(maxsize=512)
def label_replace_regex(pattern: str, dotall: bool = True) -> Regexp:
    """``label_replace``'s regex: only the anchored form is compiled, as in Prometheus
    (``^(?s:pattern)$`` with ``dotall``, 3.x; ``^(?:pattern)$``, 2.x)."""
    _check_go_only(pattern)
    return Regexp(pattern, ("^(?s:" if dotall else "^(?:") + pattern + ")$")
