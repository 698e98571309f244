"""Routes of the operator API, bound to one :class:`~pytest_selfslo.api.app.ApiConfig`.

Kept apart from :mod:`pytest_selfslo.api.app` (config, app factory, CLI) so each
file holds one concern. Every route is built by :func:`build_router` around
an :class:`ApiServices` object: the canary store, the authenticator, the
cached heartbeat window and the exporter, created once per router.

Blocking work runs in worker threads, in two lanes that never share threads
(:mod:`.api_workers`): reads of the heartbeat log (``GET /self/health`` after
a file changed) in :attr:`ApiServices.reads` -- one thread, single-flight,
bounded in time (``ApiConfig.read_timeout``: a slow or stuck read answers
503 and the next request waits for it, never a new thread) -- and mutations
in :attr:`ApiServices.writes`. So a blocking heartbeat source can starve
neither ``POST /self/canary`` nor FastAPI's own thread pool. The store does blocking file I/O with fsync; a process-wide lock
in front of it makes writers queue in memory instead of polling the
cross-process file lock, which is what keeps 200 concurrent POSTs quick; the
file lock still serialises this server against the CLI and the tuner.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.routing import Route

from pytest_selfslo._core.errors import (
    AuditChainError,
    CanaryRequestError,
    CanaryStateError,
    ConcurrentModificationError,
    HeartbeatFormatError,
)
from pytest_selfslo.api.alerts import add_alert_route
from pytest_selfslo.api.auth import ACTOR_PATTERN, TokenAuth
from pytest_selfslo.api.errors import ApiError, ErrorShapedRoute, error_response
from pytest_selfslo.api.health import HealthSnapshotter
from pytest_selfslo.api.models import (
    CanaryChangeRequest,
    CanaryChangeResponse,
    CanaryStateOut,
    CanaryView,
    ErrorBody,
    HealthResponse,
    LivenessResponse,
    PolicyOut,
    ReasonRequest,
    change_request_model,
)
from pytest_selfslo.api.workers import Lane
from pytest_selfslo.canary.policy import DEFAULT_POLICY, CanaryPolicy, load_policy
from pytest_selfslo.canary.store import CanaryStore
from pytest_selfslo.metrics.exporter import default_exporter
from pytest_selfslo.slo.spec import DEFAULT_SLO_SPEC, SLOSpec, load_slo_spec

if TYPE_CHECKING:
    from pytest_selfslo.api.config import ApiConfig
    from pytest_selfslo.canary.audit import AuditRecord
    from pytest_selfslo.canary.machine import CanaryState
    from pytest_selfslo.canary.policy import CanaryPolicy
    from pytest_selfslo.canary.store import CanaryStore
    from pytest_selfslo.metrics.exporter import SelfMetricsExporter

__all__ = ["HOT_APPLY_NOTE", "ApiServices", "build_router"]

_T = TypeVar("_T")

#: the ``note`` of a successful change: why no restart is needed
HOT_APPLY_NOTE = ("applied to the canary store; takes effect on the next sampling decision, "
                  "no restart needed")

_E = {"model": ErrorBody}
_READ_ERRORS: dict[int | str, dict[str, Any]] = {503: {**_E, "description": "State unreadable"}}
_WRITE_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {**_E, "description": "Missing or wrong bearer token"},
    403: {**_E, "description": "No token configured on the server"},
    409: {**_E, "description": "expected_old_sampling does not match"},
    413: {**_E, "description": "Body too large"},
    422: {**_E, "description": "Invalid field (the details say which and why)"},
    503: {**_E, "description": "Canary state or audit log unreadable"},
}


@dataclasses.dataclass
class ApiServices:
    """The collaborators one router works with (built from the config once)."""

    config: ApiConfig
    store: CanaryStore
    policy: CanaryPolicy
    auth: TokenAuth
    health: HealthSnapshotter
    exporter: SelfMetricsExporter
    write_lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)
    #: the thread for heartbeat-log reads (one: refreshes are single-flight)
    reads: Lane = dataclasses.field(default_factory=lambda: Lane(1, "selfslo-api-read"))
    #: threads for mutations (they queue on ``write_lock`` anyway)
    writes: Lane = dataclasses.field(default_factory=lambda: Lane(4, "selfslo-api-write"))

    @classmethod
    def from_config(cls, config: ApiConfig) -> ApiServices:
        """Load spec, policy and tokens eagerly so a bad file fails at start-up."""

        spec = config.slo_spec
        spec = DEFAULT_SLO_SPEC if spec is None else (
            spec if isinstance(spec, SLOSpec) else load_slo_spec(spec))
        policy = config.policy
        policy = DEFAULT_POLICY if policy is None else (
            policy if isinstance(policy, CanaryPolicy) else load_policy(policy))
        store = CanaryStore(config.state_dir, policy=policy,
                            initial_sampling=config.initial_sampling,
                            audit_key_file=config.audit_key_file)
        auth = TokenAuth.from_sources(token=config.token, token_file=config.token_file,
                                      insecure_no_auth=config.insecure_no_auth)
        exporter = config.exporter if config.exporter is not None else default_exporter()
        health = HealthSnapshotter(config.heartbeats, config.window, spec, store,
                                   enabled=config.resolved_enabled(),
                                   max_line_bytes=config.max_line_bytes)
        return cls(config, store, policy, auth, health, exporter)

    async def mutate(self, action: Callable[[], _T]) -> _T:
        """Run one store mutation in the write lane, translating store errors into HTTP errors."""
        return await self.writes.run(lambda: self._mutate(action))

    async def read_heartbeats(self) -> bytes:
        """Refresh ``/self/health`` in the read lane, within ``config.read_timeout`` seconds."""
        timeout = self.config.read_timeout
        try:
            return await self.reads.shared(self.health.refresh_body, timeout, "health")
        except TimeoutError:
            raise ApiError(503, f"heartbeat log unusable: reading {self.config.heartbeats} "
                                f"took longer than {timeout:g}s (read_timeout)",
                           code="state_unavailable") from None

    def _mutate(self, action: Callable[[], _T]) -> _T:
        with self.write_lock:
            try:
                return action()
            except ConcurrentModificationError as exc:
                raise ApiError(409, str(exc), code="conflict") from exc
            except CanaryRequestError as exc:
                raise _refused(exc) from exc
            except (CanaryStateError, AuditChainError) as exc:
                raise _unavailable("canary state", exc) from exc


def _unavailable(what: str, exc: Exception) -> ApiError:
    """503: a file we depend on is unusable; the message names it (never silently reset)."""
    return ApiError(503, f"{what} unusable: {exc}", code="state_unavailable")


def _refused(exc: CanaryRequestError) -> ApiError:
    """The store's refusal as HTTP: 422 for a bad field, 409 for a state conflict.

    The store prefixes field errors with the field (``new_sampling: expected
    one of the policy steps [...]``); anything else (``cannot pause: the
    canary is already paused``) is about the current state.
    """
    message = str(exc)
    field, sep, why = message.partition(": ")
    if sep and field in {"new_sampling", "reason", "actor"}:
        return ApiError(422, message, code="validation_failed",
                        details=[{"field": "X-Actor" if field == "actor" else field,
                                  "reason": why}])
    return ApiError(409, message, code="conflict")


def _change_response(record: AuditRecord, state: CanaryState,
                     note: str) -> CanaryChangeResponse:
    return CanaryChangeResponse(
        success=True, old_sampling=record.old, new_sampling=record.new, reason=record.reason,
        note=note, actor=record.actor, action=record.action, version=state.version,
        paused=state.paused)


def build_router(config: ApiConfig) -> APIRouter:
    """Create the services for ``config`` and the routes that use them."""
    svc = ApiServices.from_config(config)
    router = APIRouter(route_class=ErrorShapedRoute)
    bearer = HTTPBearer(auto_error=False, description="API token (SELFSLO_API_TOKEN or token file)")

    async def actor(request: Request,
                    _creds: HTTPAuthorizationCredentials | None = Depends(bearer),  # noqa: B008
              x_actor: Annotated[str | None, Header(
                  alias="X-Actor",
                  description="Who is acting (recorded in the audit log with the token name)",
                  # documented, but checked by TokenAuth *after* the token: an
                  # unauthenticated caller gets 401, never a header complaint
                  json_schema_extra={"pattern": ACTOR_PATTERN, "minLength": 1,
                                     "maxLength": 64},
              )] = None) -> str:
        # dependencies are closures over this router's services, so they are given as
        # default values (evaluated now), not in string annotations (resolved later)
        client = request.client.host if request.client else "?"
        return svc.auth.authenticate(request.headers.get("authorization"), x_actor, client)

    @router.get("/healthz", response_model=LivenessResponse, tags=["ops"],
                summary="Liveness: the process answers")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/self/health", response_model=HealthResponse, tags=["self"],
                responses=_READ_ERRORS, summary="SELF scores over the last heartbeats")
    async def self_health() -> Response:
        body = svc.health.cached_body()
        if body is None:  # a file changed: read the new tail off the event loop
            try:
                body = await svc.read_heartbeats()
            except (CanaryStateError, AuditChainError) as exc:
                raise _unavailable("canary state", exc) from exc
            except (HeartbeatFormatError, OSError) as exc:
                raise _unavailable("heartbeat log", exc) from exc
        return Response(body, media_type="application/json")

    @router.get("/self/canary", response_model=CanaryView, tags=["canary"],
                responses=_READ_ERRORS, summary="Canary state, policy and recent audit records")
    def canary_view(limit: Annotated[int, Query(
            ge=1, le=1000, description="How many newest audit records")] = config.audit_limit,
                    ) -> CanaryView:
        try:
            state = svc.store.load()
            records = svc.store.history(limit=limit)
        except (CanaryStateError, AuditChainError) as exc:
            raise _unavailable("canary state", exc) from exc
        last = state.last_decision or {}
        return CanaryView(state=CanaryStateOut(**state.to_dict()),
                          policy=PolicyOut(steps=list(svc.policy.steps),
                                           enforce_steps=svc.policy.enforce_steps,
                                           compare=svc.policy.compare.to_dict()
                                           if svc.policy.compare is not None else None),
                          audit=[r.to_dict() for r in records],
                          comparison=last.get("comparison"))

    async def canary_change(body: CanaryChangeRequest,
                            who: str = Depends(actor)) -> CanaryChangeResponse:
        def apply() -> tuple[Any, Any]:
            record = svc.store.apply(body.new_sampling, reason=body.reason, actor=who,
                                     action="manual",
                                     expected_old_sampling=body.expected_old_sampling)
            return record, svc.store.load()

        record, state = await svc.mutate(apply)
        return _change_response(record, state, HOT_APPLY_NOTE)

    # The body model lists this policy's steps in the schema, so it is built here and
    # set as a real annotation (a string annotation could not name a per-router class).
    canary_change.__annotations__["body"] = change_request_model(
        svc.policy.steps if svc.policy.enforce_steps else None)
    router.add_api_route("/self/canary", canary_change, methods=["POST"],
                         response_model=CanaryChangeResponse, tags=["canary"],
                         responses=_WRITE_ERRORS, summary="Set the canary sampling (hot, audited)")

    def freeze_route(action: str, note: str) -> Callable[..., Any]:
        """``POST /self/canary/pause`` or ``/resume``: the store call, audited, and its note."""
        async def handler(body: ReasonRequest,
                          who: str = Depends(actor)) -> CanaryChangeResponse:
            change = svc.store.pause if action == "pause" else svc.store.resume
            record, state = await svc.mutate(
                lambda: (change(reason=body.reason, actor=who), svc.store.load()))
            return _change_response(record, state, note)

        handler.__name__ = f"canary_{action}"  # the OpenAPI operation id, as before
        return handler

    for action, summary, note in (
            ("pause", "Freeze the canary (audited)",
             "canary paused: the tuner will not change the sampling until resumed; "
             "no restart needed"),
            ("resume", "Unfreeze the canary (audited)",
             "canary resumed: the tuner may change the sampling again; no restart needed")):
        router.add_api_route(f"/self/canary/{action}", freeze_route(action, note),
                             methods=["POST"], response_model=CanaryChangeResponse,
                             tags=["canary"], responses=_WRITE_ERRORS, summary=summary)

    add_alert_route(router, svc)
    _add_metrics_route(router, svc, config.export_log)
    return router


class _AsgiEndpoint:
    """Wrap an ASGI callable so Starlette mounts it as an app, not a request handler."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)


class _LogExport:
    """Before each scrape, set the exporter's gauges to the newest heartbeat of every token in
    the served log's window, and drop the tokens that left it (``ApiConfig.export_log``)."""

    def __init__(self, exporter: SelfMetricsExporter, health: HealthSnapshotter) -> None:
        self.exporter = exporter
        self.health = health
        self.lock = threading.Lock()
        self.exported: set[str] = set()

    def sync(self) -> None:
        latest = self.health.latest_per_token()
        with self.lock:
            for token, hb in latest.items():
                self.exporter.update(token, hb.coherence, hb.continuity, hb.presence, hb.stress)
            for gone in self.exported - set(latest):
                self.exporter.remove(gone)
            self.exported = set(latest)


class _SyncedEndpoint(_AsgiEndpoint):
    """The exporter's ASGI app, after a :class:`_LogExport` sync.

    The sync reads the heartbeat log, so it runs in the read lane with the read
    timeout, like ``/self/health``: a stuck or unusable log is a 503 in the
    error shape, never a thread of FastAPI's pool held forever.
    """

    def __init__(self, app: Any, export: _LogExport, svc: ApiServices) -> None:
        super().__init__(app)
        self.export = export
        self.svc = svc

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        timeout = self.svc.config.read_timeout
        try:
            await self.svc.reads.shared(self.export.sync, timeout, "metrics")
        except TimeoutError:
            response = error_response(
                503, f"heartbeat log unusable: reading {self.svc.config.heartbeats} took longer "
                     f"than {timeout:g}s (read_timeout)", code="state_unavailable")
            await response(scope, receive, send)
            return
        except (HeartbeatFormatError, OSError) as exc:
            error = _unavailable("heartbeat log", exc)
            await error_response(error.status, error.message, code=error.code)(
                scope, receive, send)
            return
        await self.app(scope, receive, send)


def _add_metrics_route(router: APIRouter, svc: ApiServices, export_log: bool) -> None:
    exporter = svc.exporter
    app = exporter.asgi_app()
    endpoint = (_SyncedEndpoint(app, _LogExport(exporter, svc.health), svc) if export_log
                else _AsgiEndpoint(app))
    router.routes.append(Route("/metrics/exp", endpoint, methods=["GET"],
                               include_in_schema=False))
