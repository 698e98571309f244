"""Worker threads for the operator API's blocking work, one lane per kind of work.

FastAPI runs blocking endpoints in one shared thread pool. If reads of a
heartbeat source that blocks (a FIFO, a hung network file system) take every
thread of it, a ``POST /self/canary`` waits behind them and times out. So the
API gives each kind of blocking work its own :class:`Lane` of daemon threads:

* heartbeat reads: one thread, single-flight (:meth:`Lane.shared`): concurrent
  requests wait for the same read, bounded by a timeout, and a stuck read
  holds that one thread only -- never a new thread per request;
* mutations: a few threads of their own.

The threads are daemons, so a read stuck in the kernel cannot keep the server
from exiting, and an idle thread ends after :data:`IDLE_SECONDS` (the next call
starts another). Calls are awaited through :func:`asyncio.wrap_future`, which
works from any event loop (``TestClient`` runs one per request).
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

__all__ = ["Lane"]

_T = TypeVar("_T")
#: a worker thread with nothing to do for this long ends
IDLE_SECONDS = 60.0
_Job = tuple["Future[Any]", Callable[[], Any]]


class Lane:
    """Up to ``size`` daemon threads running submitted calls in order.

    >>> lane = Lane(1, "selfslo-health-read")                 # doctest: +SKIP
    >>> body = await lane.shared(render, timeout=10.0)        # doctest: +SKIP
    """

    def __init__(self, size: int, name: str) -> None:
        self.size = size
        self.name = name
        self._jobs: queue.SimpleQueue[_Job] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._threads_lock = threading.Lock()
        self._flight_lock = threading.Lock()
        self._inflight: dict[str, Future[Any]] = {}

    def submit(self, fn: Callable[[], _T]) -> Future[_T]:
        """Queue ``fn``; its future resolves in a worker thread."""
        future: Future[_T] = Future()
        self._jobs.put((future, fn))
        with self._threads_lock:
            if len(self._threads) < self.size:
                thread = threading.Thread(target=self._work, daemon=True,
                                          name=f"{self.name}-{len(self._threads)}")
                self._threads.append(thread)
                thread.start()
        return future

    def _work(self) -> None:
        while True:
            try:
                future, fn = self._jobs.get(timeout=IDLE_SECONDS)
            except queue.Empty:
                with self._threads_lock:  # submit() starts a thread under this lock too
                    if self._jobs.empty():
                        self._threads.remove(threading.current_thread())
                        return
                continue
            if not future.set_running_or_notify_cancel():
                continue
            try:
                result = fn()
            except BaseException as exc:  # handed to the awaiting request
                future.set_exception(exc)
            else:
                future.set_result(result)

    async def run(self, fn: Callable[[], _T]) -> _T:
        """Run ``fn`` in this lane and await its result (a cancelled request drops a
        queued call; a running one completes)."""
        result: _T = await asyncio.wrap_future(self.submit(fn))
        return result

    async def shared(self, fn: Callable[[], _T], timeout: float, key: str = "") -> _T:
        """Await the call for ``key`` already in flight, or start ``fn``; at most ``timeout`` s.

        Raises :class:`TimeoutError` after ``timeout``; the call goes on, and the
        next caller with the same ``key`` waits for it instead of starting another.
        """
        with self._flight_lock:
            future = self._inflight.get(key)
            if future is None or future.done():
                future = self.submit(fn)
                future.add_done_callback(_retrieve)
                self._inflight[key] = future
        waited: _T = await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(future)), timeout)
        return waited


def _retrieve(future: Future[Any]) -> None:
    """Mark the outcome as seen (callers that timed out never look at it)."""
    if not future.cancelled():
        future.exception()
