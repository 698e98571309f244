"""The existing names closest to a missing one, by edit distance (Levenshtein).

    >>> nearest("http_requests_totl", ["http_requests_total", "up", "http_errors_total"])
    ['http_requests_total']
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["edit_distance", "nearest"]


def edit_distance(a: str, b: str, limit: int | None = None) -> int:
    """Insertions, deletions and substitutions turning ``a`` into ``b``.

    With ``limit``, any distance above it is reported as ``limit + 1`` (and
    found sooner: a row whose minimum passes the limit ends the search).
    """
    if len(a) < len(b):
        a, b = b, a
    cap = limit + 1 if limit is not None else None
    if cap is not None and len(a) - len(b) >= cap:
        return cap
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        current = [i]
        for j, cb in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1,
                               previous[j - 1] + (ca != cb)))
        if cap is not None and min(current) >= cap:
            return cap
        previous = current
    distance = previous[-1]
    return distance if cap is None else min(distance, cap)


def nearest(name: str, candidates: Iterable[str], *, count: int = 3,
            limit: int | None = None) -> list[str]:
    """Up to ``count`` candidates within ``limit`` edits of ``name``, closest first.

    The default limit grows with the name: a third of its length, at least 2.
    """
    if limit is None:
        limit = max(2, len(name) // 3)
    scored = []
    for candidate in set(candidates):
        if candidate == name or abs(len(candidate) - len(name)) > limit:
            continue
        distance = edit_distance(name, candidate, limit)
        if distance <= limit:
            scored.append((distance, candidate))
    return [c for _d, c in sorted(scored)[:count]]
