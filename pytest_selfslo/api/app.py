"""The operator HTTP API: health, canary steering, metrics -- and ``selfslo serve``.

    >>> from pytest_selfslo.api.app import ApiConfig, create_app
    >>> app = create_app(ApiConfig(heartbeats="data/identity.jsonl", state_dir="data",
    ...                            token_file="ops.tokens"))          # doctest: +SKIP

Endpoints (all JSON; every error in the one shape of :mod:`.api_errors`):

=======================  =====  ==============================================
``GET /self/health``     open   SELF scores over the last ``window`` heartbeats
``GET /self/canary``     open   canary state, policy, recent audit records
``POST /self/canary``    auth   set the sampling (hot, audited)
``POST /self/canary/pause``  auth   freeze the canary (audited)
``POST /self/canary/resume`` auth   unfreeze it (audited)
``GET /metrics/exp``     open   the SELF exporter's registry (Prometheus text)
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

import argparse
import dataclasses
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from pytest_selfslo._core.errors import ConfigError

if TYPE_CHECKING:
    from fastapi import APIRouter, FastAPI

    from pytest_selfslo.canary.policy import CanaryPolicy
    from pytest_selfslo.metrics.exporter import SelfMetricsExporter
    from pytest_selfslo.slo.spec import SLOSpec

__all__ = ["DEFAULT_MAX_BODY_BYTES", "ApiConfig", "configure", "create_app", "create_router",
           "run"]

#: request bodies above this many bytes are refused with 413
DEFAULT_MAX_BODY_BYTES = 16 * 1024
_FALSY = {"0", "off", "false", "no"}
_log = logging.getLogger("pytest_selfslo.api")


@dataclasses.dataclass
class ApiConfig:
    """Everything the API needs; every collaborator has a default.

    ``slo_spec`` and ``policy`` take an object or a YAML path (``None`` = the
    built-in default). ``token``/``token_file``/``SELFSLO_API_TOKEN`` are
    tried in that order (see :mod:`.api_auth`). ``enabled`` ``None`` reads
    ``AURIS_SELF`` once at start-up. ``exporter`` ``None`` serves the
    process-wide exporter that :func:`~pytest_selfslo.update_self_metrics`
    feeds (:func:`~pytest_selfslo.metrics.exporter.default_exporter`).
    """

    heartbeats: str | Path = Path("data/identity.jsonl")
    window: int = 50
    state_dir: str | Path = Path("data")
    slo_spec: SLOSpec | str | Path | None = None
    policy: CanaryPolicy | str | Path | None = None
    token: str | None = None
    token_file: str | Path | None = None
    insecure_no_auth: bool = False
    exporter: SelfMetricsExporter | None = None
    enabled: bool | None = None
    initial_sampling: float | None = None
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    audit_limit: int = 20

    def __post_init__(self) -> None:
        self.heartbeats = Path(self.heartbeats)
        self.state_dir = Path(self.state_dir)
        checks = (
            ("window", self.window, 1, 1_000_000),
            ("max_body_bytes", self.max_body_bytes, 64, 16 * 1024 * 1024),
            ("audit_limit", self.audit_limit, 1, 10_000),
        )
        for name, value, low, high in checks:
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise ConfigError(f"ApiConfig.{name}: expected an integer in "
                                  f"[{low}, {high}], got {value!r}")

    def resolved_enabled(self) -> bool:
        """``enabled``, or ``AURIS_SELF`` (unset or anything but off/0/false/no = on)."""
        if self.enabled is not None:
            return self.enabled
        return os.environ.get("AURIS_SELF", "on").strip().lower() not in _FALSY


def create_router(config: ApiConfig) -> APIRouter:
    """The API's routes as an ``APIRouter`` to include in any FastAPI app."""
    from pytest_selfslo.api.routes import build_router

    return build_router(config)


def create_app(config: ApiConfig) -> FastAPI:
    """A ready FastAPI app: the router, 413 limit, error shape, OpenAPI metadata."""
    from fastapi import FastAPI

    from pytest_selfslo import __version__
    from pytest_selfslo.api.errors import BodyLimitMiddleware, install_error_handlers

    app = FastAPI(
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
    app.add_middleware(BodyLimitMiddleware, max_bytes=config.max_body_bytes)
    return app


# --- selfslo serve -------------------------------------------------------------------------


def configure(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``selfslo serve``."""
    parser.add_argument("--host", default="127.0.0.1",
                        help="Interface to bind (default 127.0.0.1, loopback only)")
    parser.add_argument("--port", type=int, default=8000, help="TCP port (default 8000)")
    parser.add_argument("--heartbeats", default="data/identity.jsonl",
                        help="Heartbeat JSON Lines log (default data/identity.jsonl)")
    parser.add_argument("--window", type=int, default=50,
                        help="Heartbeats averaged by /self/health (default 50)")
    parser.add_argument("--state-dir", default="data",
                        help="Canary state and audit log directory (default data/)")
    parser.add_argument("--slo-spec", default=None, help="SLO spec YAML (default built in)")
    parser.add_argument("--policy", default=None, help="Canary policy YAML (default built in)")
    parser.add_argument("--token-file", default=None,
                        help="File of 'TOKEN' or 'NAME TOKEN' lines (else SELFSLO_API_TOKEN)")
    parser.add_argument("--insecure-no-auth", action="store_true",
                        help="Allow mutations without a token (trusted networks only)")
    parser.add_argument("--log-level", default="info",
                        choices=["critical", "error", "warning", "info", "debug"],
                        help="uvicorn log level (default info)")


def _auth_mode(args: argparse.Namespace) -> str:
    """One phrase for the start-up line: how mutations are authorised."""
    if args.token_file:
        return f"bearer tokens from {args.token_file}"
    if os.environ.get("SELFSLO_API_TOKEN"):
        return "bearer token from SELFSLO_API_TOKEN"
    if args.insecure_no_auth:
        return "ALLOWED WITHOUT AUTH (--insecure-no-auth)"
    return "refused (no token configured: set SELFSLO_API_TOKEN or --token-file)"


def run(args: argparse.Namespace) -> int:
    """Serve until interrupted; configuration errors exit 2 before binding."""
    import uvicorn

    config = ApiConfig(heartbeats=args.heartbeats, window=args.window,
                       state_dir=args.state_dir, slo_spec=args.slo_spec, policy=args.policy,
                       token_file=args.token_file, insecure_no_auth=args.insecure_no_auth)
    app = create_app(config)
    if args.insecure_no_auth:
        _log.warning("--insecure-no-auth: anyone who can reach %s:%s may change the canary",
                     args.host, args.port)
    print(f"selfslo serve: http://{args.host}:{args.port}  heartbeats {config.heartbeats} "
          f"(window {config.window})  state {config.state_dir}  "
          f"mutations: {_auth_mode(args)}", file=sys.stderr, flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level)
    return 0
