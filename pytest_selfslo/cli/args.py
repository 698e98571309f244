"""argparse helpers shared by the commands."""

from __future__ import annotations

import argparse

from pytest_selfslo.promql.semantics import Semantics

__all__ = ["count_arg", "positive_arg", "semantics_arg"]


def _whole_number(text: str, least: int, what: str, below: str) -> int:
    """``text`` as an int >= ``least``; argparse's error says ``expected what``/``below``."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
    if value < least:
        raise argparse.ArgumentTypeError(f"expected {below}, got {value}")
    return value


def count_arg(text: str) -> int:
    """argparse ``type=`` for a whole number >= 0 (``generate -n``, ``replay --count``)."""
    return _whole_number(text, 0, "a whole number", "a count >= 0")


def positive_arg(text: str) -> int:
    """argparse ``type=`` for a whole number >= 1 (the ``--max-*`` limits of ``test-rules``)."""
    return _whole_number(text, 1, "a positive whole number", "a positive whole number")


def semantics_arg(value: str) -> str:
    """argparse ``type=`` for ``--semantics`` (``2.42``, ``3``...): the normalised release."""
    try:
        return str(Semantics.parse(value))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
