"""Size and nesting bounds on PromQL text, checked before it reaches the parser.

``promql-parser`` (Rust, through pyo3) recurses once per nesting level and per
operator of a chain, and builds its Python objects by copying each subtree, so
memory grows with the square of the depth: 2,000 nested parentheses take
290 MB, a flat ``up + up + ...`` of 2,000 terms 630 MB, and 10,000 levels
overflow the native stack (a segfault no ``try`` can catch). Our evaluator and
linter then walk the tree recursively in Python.

Prometheus' own parser has no such limits (a goroutine stack grows to 1 GB), so
the bounds are ours, set far above anything real (of the 12,320 expressions in
Prometheus' test data and our rules, the deepest nests 8 brackets, the longest
operator chain has 9 operators, the longest text 291 characters):

* :data:`MAX_LENGTH` characters;
* :data:`MAX_NESTING` levels of ``( [ {``;
* :data:`MAX_OPERATORS` operators (binary and unary ``+ - * / % ^``, comparisons,
  ``and``/``or``/``unless``/``atan2``), counted outside strings and comments;
  matcher operators inside ``{...}`` do not count.

Together they bound the depth of the syntax tree (at most nesting + operators
+ 2), which :func:`check_expr` returns so the caller can make room for the
recursion (:func:`ensure_recursion`). At the limits parsing takes ~0.1 s and
~80 MB. Exceeding one raises :class:`~pytest_selfslo.errors.LimitError`; the
limits are fixed (``docs/limits.md``).

    >>> check_expr("sum(rate(x[5m])) > 0")  # short text: its length + 2, no scan
    22
    >>> check_expr(" + ".join(["sum(rate(http_requests_total[5m]))"] * 4))  # counted
    17
    >>> check_expr("(" * 200 + "up" + ")" * 200)
    Traceback (most recent call last):
    ...
    pytest_selfslo._core.errors.LimitError: PromQL expression nests more than 128 brackets deep; the limit is 128 (see docs/limits.md)
"""

from __future__ import annotations

import re
import sys

from pytest_selfslo.errors import LimitError, located

__all__ = ["MAX_LENGTH", "MAX_NESTING", "MAX_OPERATORS", "check_expr", "ensure_recursion"]

#: characters in one expression
MAX_LENGTH = 262_144
#: nesting depth of ( [ {
MAX_NESTING = 128
#: operators in one expression
MAX_OPERATORS = 500

#: strings (unterminated ones run to the end) and comments are skipped whole;
#: brackets and operators are what the scan counts
_TOKEN = re.compile(
    r'"(?:[^"\\]|\\.)*"?|\'(?:[^\'\\]|\\.)*\'?|`[^`]*`?|#[^\n]*'
    r"|(?P<open>[(\[{])|(?P<close>[)\]}])"
    r"|(?P<op>==|!=|<=|>=|=~|!~|[-+*/%^<>=])"
    r"|(?P<word>(?<![\w:.])(?:and|or|unless|atan2)(?![\w:]))",
    re.DOTALL)
_MATCHER_OPS = frozenset(("=", "!=", "=~", "!~"))
#: every operator contains one of these (``and`` etc. also count inside identifiers)
_OPERATOR_TEXTS = ("+", "-", "*", "/", "%", "^", "<", ">", "=", "and", "or", "unless", "atan2")
#: Python frames per syntax-tree level in the deepest recursive walk (evaluator, linter)
_FRAMES_PER_LEVEL = 4
_BASE_FRAMES = 1_000
#: trees up to this deep fit in Python's default recursion limit (1000) with room to spare
_SHALLOW = 100


def check_expr(text: str, where: str | None = None) -> int:
    """Raise :class:`LimitError` if ``text`` is too long, too deep or has too many operators.

    Returns an upper bound on the depth of its syntax tree (for text of at most
    :data:`MAX_NESTING` characters, which cannot exceed a limit, its length + 2). ``where``
    (``path:line:col``) prefixes the message.
    """
    if len(text) <= MAX_NESTING:  # cannot exceed any limit: the common case, no scan
        return len(text) + 2
    if len(text) > MAX_LENGTH:
        raise _error(f"PromQL expression is {len(text):,} characters long; the limit is "
                     f"{MAX_LENGTH:,}", where)
    # upper bounds by counting characters (C speed); the exact scan only when one is over
    opens = text.count("(") + text.count("[") + text.count("{")
    ops = sum(map(text.count, _OPERATOR_TEXTS))
    if opens <= MAX_NESTING and ops <= MAX_OPERATORS:
        return opens + ops + 2
    depth = deepest = braces = operators = 0
    for token in _TOKEN.finditer(text):
        kind = token.lastgroup
        if kind == "open":
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > MAX_NESTING:
                    raise _error(f"PromQL expression nests more than {MAX_NESTING} brackets "
                                 f"deep; the limit is {MAX_NESTING}", where)
            braces += token.group() == "{"
        elif kind == "close":
            depth = max(depth - 1, 0)
            braces = max(braces - (token.group() == "}"), 0)
        elif kind == "word" or (kind == "op" and not (braces and token.group() in _MATCHER_OPS)):
            operators += 1
    if operators > MAX_OPERATORS:
        raise _error(f"PromQL expression has {operators:,} operators; the limit is "
                     f"{MAX_OPERATORS}", where)
    return deepest + operators + 2


def _error(message: str, where: str | None) -> LimitError:
    return LimitError(located(f"{message} (see docs/limits.md)", where))


def ensure_recursion(tree_depth: int) -> None:
    """Make room in Python's recursion limit for walking a tree ``tree_depth`` levels deep.

    Only ever raises the limit (never lowers it, so a concurrent deeper walk is
    not cut short); a no-op for ordinary expressions.
    """
    if tree_depth <= _SHALLOW:
        return
    needed = _BASE_FRAMES + _FRAMES_PER_LEVEL * tree_depth
    if sys.getrecursionlimit() < needed:
        sys.setrecursionlimit(needed)
