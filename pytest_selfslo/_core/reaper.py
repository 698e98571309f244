"""Close the servers we started when our process is told to stop (SIGTERM).

A CI job that times out, or ``kill <pytest pid>``, sends SIGTERM. Python's
default is to die at once, so fixture teardown never runs and a Prometheus
child plus its temp directory outlive the run. While at least one server we own
is alive, a SIGTERM handler closes every registered server first and then
re-delivers SIGTERM with the default action, so the process still ends the way
the sender expects (killed by SIGTERM).

The handler is only installed from the main thread and only when SIGTERM still
has its default action: an application (or uvicorn, or another plugin) that
handles SIGTERM itself keeps its handler.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from types import FrameType
from typing import Protocol

__all__ = ["register", "unregister"]

_log = logging.getLogger(__name__)


class _Closeable(Protocol):
    def close(self) -> None: ...


_live: dict[int, _Closeable] = {}
_lock = threading.Lock()
_installed = False


def register(resource: _Closeable) -> None:
    """Close ``resource`` if the process receives SIGTERM before :func:`unregister`."""
    with _lock:
        _live[id(resource)] = resource
    _install()


def unregister(resource: _Closeable) -> None:
    """``resource`` was closed normally: forget it."""
    with _lock:
        _live.pop(id(resource), None)


def _install() -> None:
    global _installed
    if _installed or threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        return
    signal.signal(signal.SIGTERM, _on_sigterm)
    _installed = True


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    global _installed
    with _lock:
        resources = list(_live.values())
        _live.clear()
    for resource in resources:
        try:
            resource.close()
        except Exception:  # best effort: the process is going down anyway
            _log.exception("could not close %r on SIGTERM", resource)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _installed = False
    os.kill(os.getpid(), signal.SIGTERM)
