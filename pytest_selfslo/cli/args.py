"""argparse helpers shared by the commands."""

from __future__ import annotations

import argparse

__all__ = ["count_arg", "positive_arg"]


def count_arg(text: str) -> int:
    """argparse ``type=`` for a whole number >= 0 (``generate -n``, ``replay --count``)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a count >= 0, got {value}")
    return value


def positive_arg(text: str) -> int:
    """argparse ``type=`` for a whole number >= 1 (the ``--max-*`` limits of ``test-rules``)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {value}")
    return value
