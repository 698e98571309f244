"""Budgets that keep hostile rule tests from exhausting memory or time.

A rule unit-test file is a small text that can ask for a lot: ``eval_time:
10y`` at ``evaluation_interval: 1s`` is 315 million evaluation steps, eight
series of ``0+1x10000000`` are 80 million samples, ``printf "%09999999d"`` in
an annotation is 10 MB per alert, ``rule_files: [/dev/zero]`` never ends.
Each is checked *before* the work starts, against a :class:`Limits` budget;
exceeding one raises :class:`~pytest_selfslo.errors.LimitError` whose message
starts with ``path:line:col:`` where known and names the limit and the option
and ini key that raise it. The defaults are far above what real tests use
(see ``docs/limits.md`` for the numbers and the reasons).

    >>> Limits().max_steps
    1000000
    >>> Limits(max_steps=10).check("max_steps", 11, "evaluation steps")
    Traceback (most recent call last):
    ...
    pytest_selfslo._core.errors.LimitError: 11 evaluation steps exceed the limit max_steps=10 (raise it with selfslo test-rules --max-steps, pytest --self-slo-max-steps or the ini key selfslo_max_steps)
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from pytest_selfslo._core.errors import LimitError, located
from pytest_selfslo._core.safeio import NotRegularFileError, open_regular

__all__ = ["DEFAULT_LIMITS", "LIMIT_NAMES", "Limits", "read_head", "read_limited_text"]

#: budget -> what it counts (used in help texts and docs/limits.md)
LIMIT_NAMES: dict[str, str] = {
    "max_samples": "input samples, and input series x evaluation steps, per test group",
    "max_steps": "evaluation steps per test group or range query",
    "max_template_bytes": "bytes one alert label/annotation template may produce",
    "max_file_bytes": "bytes of one rule file or rule unit-test file",
}


@dataclasses.dataclass(frozen=True)
class Limits:
    """The resource budgets of a rule-test run (``docs/limits.md``).

    ``max_samples``: input samples a test group may load (counted before the
    series notation is expanded), and also the input series times evaluation
    steps it may evaluate (the engine holds one value per series and step);
    ``max_steps``: evaluation steps of a test group (``max eval_time /
    evaluation_interval``) or of one range query; ``max_template_bytes``: output
    of one label/annotation template, and of any string a template function
    builds on the way; ``max_file_bytes``: size of a rule or unit-test file
    (which must also be a regular file).
    """

    max_samples: int = 10_000_000
    max_steps: int = 1_000_000
    max_template_bytes: int = 1 << 20
    max_file_bytes: int = 16 << 20

    def __post_init__(self) -> None:
        for name in LIMIT_NAMES:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")

    def check(self, name: str, got: int, what: str, where: str | None = None) -> None:
        """Raise :class:`LimitError` if ``got`` exceeds the budget ``name``."""
        limit = getattr(self, name)
        if got > limit:
            raise LimitError(located(f"{got:,} {what} exceed the limit {name}={limit} "
                                     f"({hint(name)})", where))


def hint(name: str) -> str:
    """Where a budget is raised: the ``selfslo test-rules`` option, pytest option and ini key."""
    flag = name.replace("_", "-")
    return (f"raise it with selfslo test-rules --{flag}, pytest --self-slo-{flag} "
            f"or the ini key selfslo_{name}")


DEFAULT_LIMITS = Limits()


def read_limited_text(path: str | Path, what: str, limits: Limits = DEFAULT_LIMITS) -> str:
    """The UTF-8 text of a regular file of at most ``limits.max_file_bytes`` bytes.

    A FIFO, a device (``/dev/zero``) or a socket is refused without blocking
    (:func:`~pytest_selfslo._core.safeio.open_regular`), and so is a file over the
    budget, both with :class:`LimitError`; a missing or unreadable file raises
    :class:`OSError`, bad UTF-8 :class:`UnicodeDecodeError`.
    """
    try:
        fh = open_regular(path)
    except NotRegularFileError as exc:
        raise LimitError(str(exc)) from None
    with fh:
        fd = fh.fileno()
        size = os.fstat(fd).st_size
        where = f"bytes in {what} {path}"
        limits.check("max_file_bytes", size, where)
        # read what fstat promised plus one byte, then on to EOF in chunks: a file that
        # grows (or a /proc file that claims size 0) still stops at the limit
        chunks: list[bytes] = []
        total, want = 0, size + 1
        while True:
            chunk = os.read(fd, want)
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            limits.check("max_file_bytes", total, where)
            want = min(1 << 20, limits.max_file_bytes + 1 - total)
    return b"".join(chunks).decode("utf-8")


def read_head(path: str | Path, max_bytes: int) -> str | None:
    """The first ``max_bytes`` of a regular file as text (bad UTF-8 replaced), without
    blocking; None for a FIFO, device, socket, directory or unreadable path.

    For peeking at files nobody named (what kind of YAML is this?), where a
    FIFO must not hang the run and a huge file must not be read whole.
    """
    try:
        with open_regular(path) as fh:
            chunks: list[bytes] = []
            total = 0
            while total < max_bytes:
                chunk = os.read(fh.fileno(), max_bytes - total)
                if not chunk:
                    break
                chunks.append(chunk)
                total += len(chunk)
    except OSError:
        return None
    return b"".join(chunks).decode("utf-8", "replace")
