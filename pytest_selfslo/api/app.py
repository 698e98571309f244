"""The operator HTTP API: health, canary steering, metrics -- and ``selfslo serve``.

    >>> from pytest_selfslo.api.app import ApiConfig, create_app
    >>> app = create_app(ApiConfig(heartbeats="data/identity.jsonl", state_dir="data",
    ...                            token_file="ops.tokens"))          # doctest: +SKIP

Endpoints (all JSON; every error in the one shape of :mod:`.errors`):

=======================  =====  ==============================================
``GET /self/health``     open   SELF scores over the last ``window`` heartbeats
``GET /self/canary``     open   canary state, policy, recent audit records
``POST /self/canary``    auth   set the sampling (hot, audited)
``POST /self/canary/pause``  auth   freeze the canary (audited)
``POST /self/canary/resume`` auth   unfreeze it (audited)
``GET /metrics/exp``     open   the SELF exporter's registry (Prometheus text); under
                                ``selfslo serve``: the served log's newest ``self_*`` scores
``GET /healthz``         open   liveness only
=======================  =====  ==============================================

:func:`create_router` is the part to include in an existing FastAPI app; it
renders its own errors, so the host app's handlers do not change the shape.
:func:`create_app` adds the body-size limit, app-level error handlers and the
OpenAPI description. ``configure``/``run`` are the ``selfslo serve`` command.

The heavy lifting is elsewhere: heartbeats are parsed by
:mod:`pytest_selfslo.heartbeat`, SLOs evaluated by :mod:`pytest_selfslo.slo.spec`,
canary changes applied, locked and audited by
:class:`pytest_selfslo.canary.store.CanaryStore`. This module validates,
authenticates and translates errors into HTTP.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from pytest_selfslo._core.version import __version__
from pytest_selfslo.api.config import DEFAULT_MAX_BODY_BYTES, ApiConfig
from pytest_selfslo.api.errors import (
    BodyLimitMiddleware,
    HeadAsGetMiddleware,
    install_error_handlers,
)
from pytest_selfslo.api.routes import build_router

__all__ = ["DEFAULT_MAX_BODY_BYTES", "ApiConfig", "create_app", "create_router"]


def create_router(config: ApiConfig) -> APIRouter:
    """The API's routes as an ``APIRouter`` to include in any FastAPI app."""
    return build_router(config)


def create_app(config: ApiConfig) -> FastAPI:
    """A ready FastAPI app: the router, 413 limit, error shape, OpenAPI metadata."""
    app = FastAPI(
        # "/self/health/" is 404, not a 307 whose Location echoes the request's Host header
        redirect_slashes=False,
        title="pytest-selfslo operator API",
        version=__version__,
        description=(
            "Read SELF health, steer the percentage canary (authenticated, validated, "
            "audited) and expose the SELF metrics. Mutations need "
            "`Authorization: Bearer <token>`; every error has the shape "
            "`{\"error\": {\"status\", \"code\", \"message\", \"details\"}}`."),
    )
    app.include_router(create_router(config))
    install_error_handlers(app)
    app.add_middleware(BodyLimitMiddleware, max_bytes=config.max_body_bytes,
                       per_path={"/self/alerts": config.max_alert_body_bytes})
    app.add_middleware(HeadAsGetMiddleware)
    return app
