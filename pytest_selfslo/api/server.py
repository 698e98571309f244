"""Run an ASGI app on a real uvicorn server in a background thread, and always stop it.

Tests, the load benchmark and ``selfslo demo`` need the API on a real socket
(HTTP parsing, keep-alive, concurrency of the thread pool), not only through
``TestClient``. :func:`serve_in_thread` binds ``127.0.0.1`` on a free port
*before* uvicorn starts, so there is no race for the port number, waits until
the server accepts connections and, however the ``with`` block ends, asks the
server to exit and joins the thread.

    >>> with serve_in_thread(app) as base_url:           # doctest: +SKIP
    ...     httpx.get(f"{base_url}/healthz").json()
    {'status': 'ok'}
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

__all__ = ["JsonErrorH11Protocol", "serve_in_thread", "uvicorn_options"]


class JsonErrorH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, answering a request it cannot parse in the API's error shape.

    uvicorn replies to a malformed request (bad request line, invalid header,
    oversized headers) itself, before any app code runs, with a plain-text 400.
    ``uvicorn.Config(http=...)`` takes a protocol class, so this subclass sends
    ``{"error": {"status": 400, "code": "bad_request", ...}}`` instead.
    """

    def send_400_response(self, msg: str) -> None:
        body = json.dumps({"error": {
            "status": 400, "code": "bad_request",
            "message": f"invalid HTTP request: {msg.rstrip('.')}", "details": []}},
            ensure_ascii=True).encode("ascii")
        headers = [(b"content-type", b"application/json"),
                   (b"content-length", str(len(body)).encode("ascii")),
                   (b"connection", b"close")]
        for event in (h11.Response(status_code=400, headers=headers, reason=b"Bad Request"),
                      h11.Data(data=body), h11.EndOfMessage()):
            output = self.conn.send(event)
            if output:
                self.transport.write(output)
        self.transport.close()


def uvicorn_options() -> dict[str, Any]:
    """Options for ``uvicorn.run``/``uvicorn.Config`` that keep every answer in the API's
    error shape (see :class:`JsonErrorH11Protocol`)."""
    return {"http": JsonErrorH11Protocol}

__all__ = ["serve_in_thread"]


@contextmanager
def serve_in_thread(app: Any, *, host: str = "127.0.0.1", start_timeout: float = 10.0,
                    **uvicorn_options: Any) -> Iterator[str]:
    """Serve ``app`` on ``host`` (loopback by default) and yield its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    port = sock.getsockname()[1]
    options: dict[str, Any] = {"log_level": "warning", "lifespan": "off",
                               "http": JsonErrorH11Protocol}
    options.update(uvicorn_options)
    server = uvicorn.Server(uvicorn.Config(app, **options))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]},
                              name=f"uvicorn-{port}", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + start_timeout
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError(f"uvicorn on {host}:{port} exited during start-up")
            if time.monotonic() > deadline:
                raise TimeoutError(f"uvicorn on {host}:{port} did not start within "
                                   f"{start_timeout:g}s")
            time.sleep(0.01)
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()
