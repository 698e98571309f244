"""A bounded, caching client of the Prometheus HTTP API for the online checks.

Only ``GET /api/v1/...`` endpoints that Prometheus, Thanos, Mimir and
VictoriaMetrics share are used. Every call is bounded:

* a timeout per request and a time budget for the whole run (``deadline``);
* at most ``concurrency`` requests in flight;
* ``retries`` more attempts, with a short backoff, after a connection error,
  a timeout or a 5xx/429 answer -- never after a 4xx;
* a **circuit breaker**: a server that cannot be reached after the retries is
  *down* and every later call fails at once with the same reason; an endpoint
  that answers 404, 5xx or something that is not a Prometheus API response is
  *broken* and later calls to it fail at once.

Each distinct request (path and parameters) is sent once per run: answers and
failures are cached, and concurrent callers of the same request share one
in-flight call. A failure is an :class:`Unavailable` with the reason and its
scope (``server``, ``endpoint`` or ``query``), never an exception escaping
to the caller of :meth:`PromAPI.fetch`.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx

__all__ = ["ClientStats", "PromAPI", "Request", "Unavailable", "request"]

Request = tuple[str, tuple[tuple[str, str], ...]]
"""(path, parameters) of one GET; parameters in order, repeated keys allowed."""


def request(path: str, **params: str | float | Sequence[str]) -> Request:
    """A :data:`Request`; a list value repeats the key (``match[]``)."""
    items: list[tuple[str, str]] = []
    for key, value in params.items():
        name = "match[]" if key == "match" else key
        if isinstance(value, (list, tuple)):
            items += [(name, str(v)) for v in value]
        else:
            items.append((name, _number(value) if isinstance(value, float) else str(value)))
    return path, tuple(items)


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(value)


class Unavailable(Exception):
    """Why an answer is missing; ``scope`` is ``server``, ``endpoint`` or ``query``."""

    def __init__(self, reason: str, scope: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.scope = scope


@dataclass
class ClientStats:
    """What a run sent: HTTP requests (retries included), distinct requests, and the
    lookups answered from the run's cache instead of the server."""

    sent: int = 0
    distinct: int = 0
    cached: int = 0
    retried: int = 0


class PromAPI:
    """GET requests to one server's HTTP API, bounded and cached (see the module doc).

        >>> api = PromAPI("http://127.0.0.1:9090", timeout=5)          # doctest: +SKIP
        >>> api.fetch([request("/api/v1/targets")])                      # doctest: +SKIP
    """

    def __init__(self, url: str, *, timeout: float = 10.0, concurrency: int = 4,
                 retries: int = 1, deadline: float = 60.0,
                 headers: Sequence[tuple[str, str]] = (),
                 transport: httpx.BaseTransport | None = None) -> None:
        if timeout <= 0 or concurrency < 1 or retries < 0 or deadline <= 0:
            raise ValueError("timeout and deadline must be positive, concurrency at least 1, "
                             "retries at least 0")
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.retries = retries
        self.deadline = time.monotonic() + deadline
        self.budget = deadline
        self.stats = ClientStats()
        self._http = httpx.Client(
            base_url=self.url, timeout=httpx.Timeout(timeout), headers=list(headers),
            limits=httpx.Limits(max_connections=concurrency,
                                max_keepalive_connections=concurrency),
            transport=transport, follow_redirects=True)
        self._pool = ThreadPoolExecutor(max_workers=concurrency,
                                        thread_name_prefix="selfslo-lint-online")
        self._lock = threading.Lock()
        self._cache: dict[Request, Future[Any]] = {}
        self._down: str | None = None
        self._broken: dict[str, str] = {}

    def close(self) -> None:
        """Stop the worker threads and close the connections."""
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._http.close()

    def __enter__(self) -> PromAPI:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- public ------------------------------------------------------------------
    def fetch(self, requests: Iterable[Request]) -> dict[Request, Any]:
        """Answers (``data``, or an :class:`Unavailable`) of ``requests``, sent concurrently."""
        futures: dict[Request, Future[Any]] = {}
        for req in requests:
            if req in futures:
                continue
            with self._lock:
                future = self._cache.get(req)
                if future is None:
                    self.stats.distinct += 1
                    future = self._cache[req] = self._pool.submit(self._call, req)
                else:
                    self.stats.cached += 1
            futures[req] = future
        return {req: _outcome(future) for req, future in futures.items()}

    def get(self, req: Request) -> Any:
        """One answer (``data`` or :class:`Unavailable`)."""
        return self.fetch([req])[req]

    # -- one request -------------------------------------------------------------
    def _call(self, req: Request) -> Any:
        path, params = req
        error = ""
        for attempt in range(self.retries + 1):
            blocked = self._blocked(path)
            if blocked is not None:
                raise blocked
            if attempt:
                with self._lock:
                    self.stats.retried += 1
                pause = min(0.1 * 2 ** (attempt - 1), 1.0)
                if time.monotonic() + pause >= self.deadline:
                    break
                time.sleep(pause)
            with self._lock:
                self.stats.sent += 1
            try:
                response = self._http.get(path, params=list(params),
                                          timeout=self._time_left())
            except httpx.TimeoutException:
                error = f"no answer within {self.timeout:g}s"
                continue
            except httpx.HTTPError as exc:
                error = f"cannot reach {self.url}: {_short(exc)}"
                continue
            except Exception as exc:  # the transport's own (httpcore, h11, ssl)
                # errors, when they are not mapped to httpx's: still a network failure
                error = (f"no answer within {self.timeout:g}s" if "Timeout" in type(exc).__name__
                         else f"cannot reach {self.url}: {type(exc).__name__}: {_short(exc)}")
                continue
            status = response.status_code
            if status >= 500 or status == 429:
                error = f"{path} answered HTTP {status}"
                continue
            return self._answer(path, response)
        if error.startswith(("cannot reach", "no answer")):
            self._mark_down(error)
            raise Unavailable(error, "server")
        self._mark_broken(path, error)
        raise Unavailable(error, "endpoint")

    def _time_left(self) -> httpx.Timeout:
        left = self.deadline - time.monotonic()
        return httpx.Timeout(max(0.05, min(self.timeout, left)))

    def _budget_reason(self) -> str:
        return f"the online checks' time budget ({self.budget:g}s) ran out"

    def _blocked(self, path: str) -> Unavailable | None:
        if self._down is not None:
            return Unavailable(self._down, "server")
        if path in self._broken:
            return Unavailable(self._broken[path], "endpoint")
        if time.monotonic() >= self.deadline:
            self._mark_down(self._budget_reason())
            return Unavailable(self._budget_reason(), "server")
        return None

    def _mark_down(self, reason: str) -> None:
        with self._lock:
            if self._down is None:
                self._down = reason

    def _mark_broken(self, path: str, reason: str) -> None:
        with self._lock:
            self._broken.setdefault(path, reason)

    def _answer(self, path: str, response: httpx.Response) -> Any:
        status = response.status_code
        try:
            body = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError, ValueError):
            body = None
        if not isinstance(body, dict) or body.get("status") not in ("success", "error"):
            if status == 404:
                reason = f"{path} answered HTTP 404: the server has no such endpoint"
            else:
                reason = (f"{path} answered HTTP {status} with something that is not a "
                          f"Prometheus API response: {response.text[:80]!r}")
            self._mark_broken(path, reason)
            raise Unavailable(reason, "endpoint")
        if body["status"] == "error":
            reason = f"{body.get('errorType', 'error')}: {body.get('error', '')}".strip()
            if status == 404:
                self._mark_broken(path, f"{path} answered HTTP 404: {reason}")
                raise Unavailable(f"{path} answered HTTP 404: {reason}", "endpoint")
            raise Unavailable(f"{path} rejected the request: {reason}", "query")
        if status != 200:
            reason = f"{path} answered HTTP {status}"
            self._mark_broken(path, reason)
            raise Unavailable(reason, "endpoint")
        return body.get("data")


def _outcome(future: Future[Any]) -> Any:
    try:
        return future.result()
    except Unavailable as exc:
        return exc


def _short(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) <= 120 else text[:117] + "..."
