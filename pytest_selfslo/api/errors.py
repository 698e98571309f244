"""One JSON error shape for every error the operator API returns.

Operators script against the API (curl, CI jobs, the tuner's callers), so every
failure -- a bad field, a wrong token, a lost compare-and-set, an unknown path,
an oversized body, even a bug -- comes back as the same document::

    {"error": {"status": 422, "code": "validation_failed",
               "message": "new_sampling: Input should be less than or equal to 1",
               "details": [{"field": "new_sampling",
                            "reason": "Input should be less than or equal to 1",
                            "got": "1.5"}]}}

``status`` repeats the HTTP status, ``code`` is a stable machine-readable word,
``message`` is one readable line and ``details`` lists field-level problems
(empty when the error is not about a field).

The router installs this shape on its own routes through :class:`ErrorShapedRoute`
(so it holds when the router is mounted in someone else's app);
:func:`install_error_handlers` adds it for app-level errors (404, 405, and a
500 from anywhere) and :class:`BodyLimitMiddleware` turns an oversized body
into 413 before anything reads it. Error bodies echo parts of the request
(``got``); text that cannot be encoded as UTF-8 (a lone surrogate sent as
``"\\ud800"``) is shown escaped, so rendering an error never fails.
:class:`HeadAsGetMiddleware` answers ``HEAD`` on every ``GET`` route.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Coroutine, Mapping, Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = [
    "ApiError",
    "BodyLimitMiddleware",
    "ErrorShapedRoute",
    "HeadAsGetMiddleware",
    "error_response",
    "install_error_handlers",
    "validation_details",
]

_log = logging.getLogger("pytest_selfslo.api")

#: HTTP status -> stable ``code`` used when the raiser did not choose one
_DEFAULT_CODES: dict[int, str] = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_failed",
    500: "internal_error",
    503: "unavailable",
}

_GOT_LIMIT = 80


class ApiError(Exception):
    """An error the API means to return, with its status, code and details.

    >>> raise ApiError(409, "expected_old_sampling 0.1 does not match current 0.25",
    ...                code="sampling_mismatch")  # doctest: +SKIP
    """

    def __init__(self, status: int, message: str, *, code: str | None = None,
                 details: Sequence[dict[str, Any]] = (),
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code or _DEFAULT_CODES.get(status, "error")
        self.details = list(details)
        self.headers = headers


class _ErrorJSON(JSONResponse):
    """``JSONResponse`` that never fails to render: unencodable text is escaped."""

    def render(self, content: Any) -> bytes:
        try:
            return super().render(content)
        except UnicodeEncodeError:  # a lone surrogate echoed from the request
            return super().render(_scrub(content))


def _scrub(value: Any) -> Any:
    """``value`` with every string made encodable (a lone surrogate as ``\\udXXX`` text)."""
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, dict):
        return {_scrub(k): _scrub(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_scrub(v) for v in value]
    return value


def error_response(status: int, message: str, *, code: str | None = None,
                   details: Sequence[dict[str, Any]] = (),
                   headers: Mapping[str, str] | None = None) -> JSONResponse:
    """Render the one error document; every error path ends here."""
    body = {"error": {"status": status, "code": code or _DEFAULT_CODES.get(status, "error"),
                      "message": message, "details": list(details)}}
    return _ErrorJSON(body, status_code=status, headers=headers)


def _short(value: Any) -> str:
    """The offending input as bounded JSON text, so ``"0.5"`` (a string) differs from ``0.5``."""
    try:
        text = json.dumps(value, ensure_ascii=False, allow_nan=True, default=repr)
    except (TypeError, ValueError):  # pragma: no cover - circular structures
        text = repr(value)
    return text if len(text) <= _GOT_LIMIT else text[: _GOT_LIMIT - 3] + "..."


def validation_details(errors: Sequence[Any]) -> list[dict[str, Any]]:
    """Turn pydantic/FastAPI error dicts into ``{"field", "reason", "got"}`` items.

    The location drops FastAPI's leading ``body``/``query``/``header`` part so
    ``field`` is what the caller typed (``new_sampling``); a problem with the
    body as a whole is reported as field ``body``.
    """
    out: list[dict[str, Any]] = []
    for err in errors:
        loc = [str(p) for p in err.get("loc", ())]
        where = loc[1:] if loc and loc[0] in {"body", "query", "header", "path"} else loc
        if err.get("type") == "json_invalid":
            field = "body"
            ctx = err.get("ctx") or {}
            reason = f"invalid JSON at character {where[0] if where else 0}: " \
                     f"{ctx.get('error', 'decode error')}"
        else:
            field = ".".join(where) if where else (loc[0] if loc else "body")
            reason = str(err.get("msg", "invalid"))
            if reason.startswith("Value error, "):
                reason = reason[len("Value error, "):]
        item: dict[str, Any] = {"field": field, "reason": reason}
        if "input" in err and err.get("type") not in {"missing", "json_invalid"}:
            item["got"] = _short(err["input"])
        out.append(item)
    return out


def _validation_response(exc: RequestValidationError) -> JSONResponse:
    details = validation_details(exc.errors())
    message = "; ".join(f"{d['field']}: {d['reason']}" for d in details) or "invalid request"
    return error_response(422, message, details=details)


def _http_response(exc: StarletteHTTPException) -> Response:
    if exc.status_code < 400:  # pragma: no cover - we never raise redirects as errors
        return Response(status_code=exc.status_code, headers=exc.headers)
    message = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
    return error_response(exc.status_code, message, headers=exc.headers)


def _api_response(exc: ApiError) -> JSONResponse:
    return error_response(exc.status, exc.message, code=exc.code, details=exc.details,
                          headers=exc.headers)


def _unexpected_response(request: Request, exc: Exception) -> JSONResponse:
    _log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(500, f"internal error ({type(exc).__name__}); see the server log")


class ErrorShapedRoute(APIRoute):
    """An ``APIRoute`` whose every failure is rendered in the one error shape.

    Exception handlers belong to the app, not the router; doing it in the
    route keeps the shape when :func:`pytest_selfslo.api.app.create_router` is
    included in a host application that has handlers of its own.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def shaped(request: Request) -> Response:
            try:
                return await handler(request)
            except ApiError as exc:
                return _api_response(exc)
            except RequestValidationError as exc:
                return _validation_response(exc)
            except StarletteHTTPException as exc:
                if exc.status_code == 400:  # FastAPI could not decode the body at all
                    why = "could not be decoded: expected a UTF-8 JSON object"
                    return error_response(422, f"body: {why}",
                                          details=[{"field": "body", "reason": why}])
                return _http_response(exc)
            except Exception as exc:
                return _unexpected_response(request, exc)

        return shaped


def install_error_handlers(app: FastAPI) -> None:
    """Render app-level errors (unknown path, wrong method, ...) in the one shape."""

    async def on_http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code == 405:  # Starlette names only the first route's methods
            return error_response(405, f"method {request.method} not allowed here",
                                  headers={"Allow": ", ".join(_allowed(app, request))})
        return _http_response(exc)

    async def on_validation(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        return _validation_response(exc)

    async def on_api(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        return _api_response(exc)

    async def on_unexpected(request: Request, exc: Exception) -> Response:
        return _unexpected_response(request, exc)  # outside a route: a middleware's bug

    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(ApiError, on_api)
    app.add_exception_handler(Exception, on_unexpected)


_METHODS = ("DELETE", "GET", "PATCH", "POST", "PUT")


def _allowed(app: FastAPI, request: Request) -> list[str]:
    """Every method some route serves at this path (several routes can share one path).

    Asks the router itself, method by method, so routers that FastAPI nests
    (an included router is one route object holding others) count too.
    """
    methods = {method for method in _METHODS
               if any(route.matches({**request.scope, "method": method})[0] == Match.FULL
                      for route in app.router.routes)}
    if "GET" in methods:
        methods.add("HEAD")  # HeadAsGetMiddleware
    return sorted(methods)


class HeadAsGetMiddleware:
    """Answer ``HEAD`` like ``GET``, with the same headers and no body.

    FastAPI routes declare ``GET`` only (Starlette adds ``HEAD`` to plain
    routes, FastAPI does not), so without this a ``HEAD`` probe gets 405.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") != "HEAD":
            await self.app(scope, receive, send)
            return

        async def headers_only(message: Message) -> None:
            if message["type"] == "http.response.body":
                if message.get("more_body", False):
                    return
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, headers_only)


class BodyLimitMiddleware:
    """Answer 413 (in the one error shape) to a request body over ``max_bytes``.

    Checks ``Content-Length`` up front, then buffers the body (bounded by the
    limit) before the app runs, so a chunked upload cannot make the server
    hold more than ``max_bytes`` and the app never sees a half-read body.
    ``per_path`` gives single paths a limit of their own (Alertmanager's
    notifications carry whole alert groups).
    """

    def __init__(self, app: ASGIApp, max_bytes: int,
                 per_path: Mapping[str, int] | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.per_path = dict(per_path or {})

    def _too_large(self, got: str, limit: int) -> JSONResponse:
        return error_response(
            413, f"request body too large: limit is {limit} bytes, got {got}",
            details=[{"field": "body", "reason": f"at most {limit} bytes",
                      "got": got}])

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.per_path.get(scope.get("path", ""), self.max_bytes)
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                declared = int(value) if value.isdigit() else -1
                if declared < 0:
                    await error_response(400, "Content-Length is not a non-negative integer")(
                        scope, receive, send)
                    return
                if declared > limit:
                    await self._too_large(f"{declared} bytes (Content-Length)", limit)(
                        scope, receive, send)
                    return
        chunks: list[bytes] = []
        seen = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # client went away
                return
            chunk = message.get("body", b"")
            seen += len(chunk)
            if seen > limit:
                await self._too_large(f"more than {limit} bytes (streamed)", limit)(
                    scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)
