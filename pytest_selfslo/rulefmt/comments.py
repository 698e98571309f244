"""Where a directive comment in a YAML file applies.

Lint disables (``# selfslo-lint disable=...``) and mutation-testing markers
(``# selfslo-mutate equivalent=...``) follow one rule, like pint's comments: a
comment at the end of a line applies to that line; a comment on a line of its
own applies to the next line with content (the ``- alert:`` line of the rule
below it).
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["comment_target"]


def comment_target(lines: Sequence[str], line_no: int) -> int:
    """The 1-based line the comment on 1-based ``line_no`` of ``lines`` applies to.

    >>> comment_target(["a: 1  # x", "# y", "", "b: 2"], 1)
    1
    >>> comment_target(["a: 1  # x", "# y", "", "b: 2"], 2)
    4
    """
    if not lines[line_no - 1].lstrip().startswith("#"):
        return line_no
    for nxt in range(line_no, len(lines)):
        stripped = lines[nxt].lstrip()
        if stripped and not stripped.startswith("#"):
            return nxt + 1
    return line_no
