"""Suggesting the name that was meant: ``did you mean 'X'?`` instead of a list of all names."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = ["unknown_name"]


def unknown_name(what: str, name: str, known: Iterable[str]) -> str:
    """``no <what> named 'X'; did you mean 'Y'?`` (the closest name, by difflib), or a count.

        >>> unknown_name("alerting rule", "AURIS_SELF_Coherence_drop",
        ...              ["AURIS_SELF_Coherence_Drop", "AURIS_SELF_Stress_High"])
        "no alerting rule named 'AURIS_SELF_Coherence_drop'; did you mean 'AURIS_SELF_Coherence_Drop'?"
    """
    names = sorted(set(known))
    if not names:
        return f"no {what} named {name!r} (none is defined)"
    by_case = {n.lower(): n for n in names}
    close = ([by_case[name.lower()]] if name.lower() in by_case
             else difflib.get_close_matches(name, names, n=1, cutoff=0.6))
    if close:
        return f"no {what} named {name!r}; did you mean {close[0]!r}?"
    return f"no {what} named {name!r} ({len(names)} defined, none with a similar name)"
