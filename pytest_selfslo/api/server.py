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

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

__all__ = ["serve_in_thread"]


@contextmanager
def serve_in_thread(app: Any, *, host: str = "127.0.0.1", start_timeout: float = 10.0,
                    **uvicorn_options: Any) -> Iterator[str]:
    """Serve ``app`` on ``host`` (loopback by default) and yield its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    port = sock.getsockname()[1]
    options: dict[str, Any] = {"log_level": "warning", "lifespan": "off"}
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
