"""A small Prometheus HTTP API of our own on 127.0.0.1 that can misbehave on purpose.

It answers the read endpoints the online lint uses from a fixed list of
series (selectors are parsed with promql-parser and matched here), and each
path can be switched to a fault: ``404``, ``500``, ``garbage`` (200, not JSON),
``shape`` (200, ``success`` with data of the wrong type), ``hang`` (answers
after ``hang_seconds``) or ``close`` (drops the connection). ``stop_after``
shuts the whole server down after that many requests: a server stopped in the
middle of a run. Every request is counted by path.
"""

from __future__ import annotations

import json
import re
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import promql_parser as pp

SERIES: list[dict[str, str]] = [
    {"__name__": "app_requests_total", "job": "app", "instance": "a:1", "code": "200"},
    {"__name__": "app_requests_total", "job": "app", "instance": "a:1", "code": "500"},
    {"__name__": "app_queue_depth", "job": "app", "instance": "a:1", "queue": "q1"},
    {"__name__": "up", "job": "app", "instance": "a:1"},
]
METADATA = {"app_requests_total": [{"type": "counter", "help": "", "unit": ""}],
            "app_queue_depth": [{"type": "gauge", "help": "", "unit": ""}]}
TARGETS = {"activeTargets": [{"labels": {"job": "app", "instance": "a:1"},
                              "scrapeInterval": "30s", "health": "up"}]}


def _matches(selector: str, series: dict[str, str]) -> bool:
    node = pp.parse(selector)
    if node.name and series.get("__name__") != node.name:
        return False
    for m in node.matchers.matchers:
        value = series.get(m.name, "")
        if m.op == pp.MatchOp.Equal and value != m.value:
            return False
        if m.op == pp.MatchOp.NotEqual and value == m.value:
            return False
        if m.op in (pp.MatchOp.Re, pp.MatchOp.NotRe) and \
                (re.fullmatch(m.value, value) is not None) != (m.op == pp.MatchOp.Re):
            return False
    return True


class FakePrometheus:
    """``with FakePrometheus(faults={"/api/v1/targets": "404"}) as fake: fake.url``"""

    def __init__(self, faults: dict[str, str] | None = None, *, stop_after: int | None = None,
                 hang_seconds: float = 30.0) -> None:
        self.faults = dict(faults or {})
        self.stop_after = stop_after
        self.hang_seconds = hang_seconds
        self.requests: Counter[str] = Counter()
        self.queries: list[str] = []
        self._lock = threading.Lock()
        self._release = threading.Event()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                fake.handle(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakePrometheus:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._release.set()
        if self._thread.is_alive():
            self.server.shutdown()
        self.server.server_close()

    # -- answers --------------------------------------------------------------------
    def handle(self, handler: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(handler.path)
        path, params = parts.path, parse_qs(parts.query)
        with self._lock:
            self.requests[path] += 1
            self.queries.append(handler.path)
            total = sum(self.requests.values())
        if self.stop_after is not None and total > self.stop_after:
            handler.close_connection = True
            threading.Thread(target=self.stop, daemon=True).start()
            return
        fault = self.faults.get(path) or self.faults.get("*")
        if fault == "hang":
            self._release.wait(self.hang_seconds)
            return self._send(handler, 503, b"")
        if fault == "close":
            handler.close_connection = True
            handler.wfile.flush()
            handler.connection.shutdown(2)
            return None
        if fault == "404":
            return self._send(handler, 404, b"404 page not found\n", "text/plain")
        if fault == "500":
            return self._send(handler, 500, b"internal error\n", "text/plain")
        if fault == "garbage":
            return self._send(handler, 200, b"<html>login required</html>", "text/html")
        if fault == "shape":
            return self._json(handler, {"status": "success", "data": "surprise"})
        try:
            data = self.data(path, params)
        except KeyError:
            return self._send(handler, 404, b"404 page not found\n", "text/plain")
        return self._json(handler, {"status": "success", "data": data})

    def data(self, path: str, params: dict[str, list[str]]) -> Any:
        matched = [s for s in SERIES if all(_matches(m, s) for m in params.get("match[]", []))]
        if path == "/api/v1/labels":
            return sorted({k for s in matched for k in s})
        if path.startswith("/api/v1/label/") and path.endswith("/values"):
            label = path.split("/")[4]
            return sorted({s[label] for s in matched if label in s})
        if path == "/api/v1/targets":
            return TARGETS
        if path == "/api/v1/metadata":
            return METADATA
        if path == "/api/v1/rules":
            return {"groups": []}
        if path == "/api/v1/query":
            return {"resultType": "vector", "result": [{"metric": {}, "value": [0, "1"]}]}
        raise KeyError(path)

    @staticmethod
    def _json(handler: BaseHTTPRequestHandler, body: Any) -> None:
        FakePrometheus._send(handler, 200, json.dumps(body).encode(), "application/json")

    @staticmethod
    def _send(handler: BaseHTTPRequestHandler, status: int, body: bytes,
              kind: str = "application/json") -> None:
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", kind)
            handler.send_header("Content-Length", str(len(body)))
            handler.end_headers()
            handler.wfile.write(body)
        except OSError:
            pass
