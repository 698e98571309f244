"""Hot-path helpers a service calls: the current canary sampling and per-token activation.

Changes apply without a restart: :func:`current_sampling` re-reads the state
file only when its ``stat`` changes (mtime, size or inode -- the atomic rename
gives every write a new inode), so the steady-state cost is one ``os.stat``.

Flags come from the environment and are read once per process, as service
configuration is; call :func:`reload` after changing ``os.environ`` in-process
(tests do):

* ``AURIS_SELF=off|0|false`` -- SELF is never active;
* ``AURIS_SELF_CANARY`` -- the sampling used while no state file exists yet;
* ``SELFSLO_STATE_DIR`` -- where the state lives (default ``data/``).

>>> should_activate_self("token-42", sampling=0.25)   # doctest: +SKIP
False
"""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path

import mmh3

from pytest_selfslo._core.errors import CanaryError
from pytest_selfslo.canary.bucketing import SEED
from pytest_selfslo.canary.machine import CanaryState
from pytest_selfslo.canary.policy import AdaptivePolicy
from pytest_selfslo.canary.store import STATE_FILE, CanaryStore, resolve_state_dir

__all__ = [
    "SELF_ENV",
    "AdaptiveActivation",
    "current_sampling",
    "current_state",
    "reload",
    "self_enabled",
    "should_activate_self",
]

SELF_ENV = "AURIS_SELF"
_OFF = {"off", "0", "false", "no"}
_SPACE = 4294967296.0
_log = logging.getLogger(__name__)


def _read_enabled() -> bool:
    return os.environ.get(SELF_ENV, "on").strip().lower() not in _OFF


#: AURIS_SELF, read at import and by reload() (a module global: the hot path reads it per call)
_enabled = _read_enabled()
_paths: dict[str | None, tuple[str, str]] = {}
_cache: dict[str, tuple[tuple[int, int, int], CanaryState]] = {}
_lock = threading.Lock()
_last_warning = 0.0
_hash = mmh3.hash
_MISSING = (-1, -1, -1)


def reload() -> None:
    """Re-read the environment flags and forget every cached state."""
    global _enabled
    with _lock:
        _paths.clear()
        _cache.clear()
        _enabled = _read_enabled()


def self_enabled() -> bool:
    """False when ``AURIS_SELF`` is ``off``/``0``/``false``/``no`` (read once; see :func:`reload`)."""
    return _enabled


def _resolve(state_dir: str | Path | None) -> tuple[str, str]:
    key = None if state_dir is None else str(state_dir)
    found = _paths.get(key)
    if found is None:
        directory = resolve_state_dir(state_dir)
        found = (str(directory), str(directory / STATE_FILE))
        _paths[key] = found
    return found


def current_state(state_dir: str | Path | None = None) -> CanaryState:
    """The stored canary state, re-read only when the state file changed on disk."""
    directory, path = _resolve(state_dir)
    try:
        st = os.stat(path)
    except FileNotFoundError:  # nothing written yet: the seed, cached until the file appears
        cached = _cache.get(path)
        if cached is not None and cached[0] == _MISSING:
            return cached[1]
        state = CanaryStore(directory).load()
        _cache[path] = (_MISSING if not os.path.exists(path) else (0, 0, -1), state)
        return state
    key = (st.st_mtime_ns, st.st_size, st.st_ino)
    cached = _cache.get(path)
    if cached is not None and cached[0] == key:
        return cached[1]
    state = CanaryStore(directory).load()
    _cache[path] = (key, state)
    return state


def current_sampling(state_dir: str | Path | None = None) -> float:
    """The canary sampling fraction now in force (hot: no restart needed after a change)."""
    return current_state(state_dir).sampling


def _warn(exc: Exception) -> None:
    global _last_warning
    now = time.monotonic()
    if now - _last_warning > 60.0:
        _last_warning = now
        _log.warning("canary state unusable, SELF stays inactive: %s", exc)


def should_activate_self(token_id: str | bytes, sampling: float | None = None) -> bool:
    """Whether SELF is active for ``token_id``: sticky murmur3 bucketing, monotone in sampling.

    ``sampling`` defaults to :func:`current_sampling`. Fails closed: when the
    state is corrupt the token is inactive and a (rate-limited) warning is logged.
    """
    if not _enabled:
        return False
    if sampling is None:
        try:
            sampling = current_sampling()
        except CanaryError as exc:
            _warn(exc)
            return False
    return _hash(token_id, SEED, False) < sampling * _SPACE  # bucketing.is_active, inlined


class AdaptiveActivation:
    """Scales the effective sampling down while SELF stress is high, with hysteresis.

    Throttling starts once ``stress > stress_high`` and ends only once
    ``stress <= stress_low``; in between the previous mode holds, so stress
    hovering at one threshold cannot flap activation. At a fixed effective
    sampling bucketing stays monotone and sticky.

    >>> gate = AdaptiveActivation(AdaptivePolicy(stress_high=0.3, stress_low=0.2, factor=0.5))
    >>> gate.effective_sampling(0.5, stress=0.35)
    0.25
    """

    def __init__(self, policy: AdaptivePolicy) -> None:
        self.policy = policy
        self.throttled = False
        self.flips = 0

    def observe(self, stress: float | None) -> bool:
        """Update the mode from the current stress (``None`` keeps it); returns ``throttled``."""
        if stress is None or stress != stress:  # no reading / NaN: keep the mode
            return self.throttled
        before = self.throttled
        if stress > self.policy.stress_high:
            self.throttled = True
        elif stress <= self.policy.stress_low:
            self.throttled = False
        self.flips += before != self.throttled
        return self.throttled

    def effective_sampling(self, sampling: float, stress: float | None = None) -> float:
        """``sampling`` scaled by ``factor`` while throttled."""
        return sampling * self.policy.factor if self.observe(stress) else sampling

    def should_activate(self, token_id: str | bytes, sampling: float | None = None,
                        stress: float | None = None) -> bool:
        """:func:`should_activate_self` at the effective sampling for the current stress.

        ``sampling`` defaults to :func:`current_sampling` (fails closed like
        :func:`should_activate_self` when the state is unusable).
        """
        if sampling is None:
            if not _enabled:
                return False
            try:
                sampling = current_sampling()
            except CanaryError as exc:
                _warn(exc)
                return False
        return should_activate_self(token_id, self.effective_sampling(sampling, stress))
