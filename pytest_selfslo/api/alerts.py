"""``POST /self/alerts``: Alertmanager's webhook receiver -- roll the canary back on a push.

Alertmanager sends a notification per alert group to a ``webhook_configs``
receiver (``docs/alertmanager.yml``). This endpoint

* authenticates it like every mutation, also accepting HTTP basic auth as
  Alertmanager's ``http_config.basic_auth`` sends it (password = an API token;
  :meth:`~pytest_selfslo.api.auth.TokenAuth.authenticate_webhook`): 401 without
  or with wrong credentials, 403 when the server has no token configured;
* validates the payload against the webhook format version 4 with pydantic
  (:class:`AlertmanagerWebhook`): any other version, a missing field or a
  wrongly typed one is a 422 naming the field (unknown extra fields are
  ignored, as senders such as Grafana add their own); a body over the API's
  limit is a 413 before it is read;
* hands the alerts to :func:`pytest_selfslo.canary.push.rollback_on_alerts`:
  a *firing* alert matching the policy's ``rollback_alerts`` rolls the canary
  back at once through ``decide()`` and the audited store (the alert names in
  the reason, the notification in the record); a repeated notification finds
  the canary at the floor and writes nothing; a resolved one never advances.

Nothing is audited and no state changes for a refused request.
"""

from __future__ import annotations

import datetime as _dt
import time
from typing import Annotated, Any, Literal, Protocol

from fastapi import APIRouter, Depends, Request
from fastapi.security import (
    HTTPAuthorizationCredentials,
    HTTPBasic,
    HTTPBasicCredentials,
    HTTPBearer,
)
from pydantic import BaseModel, ConfigDict, Field

from pytest_selfslo.api.auth import TokenAuth
from pytest_selfslo.api.models import ErrorBody
from pytest_selfslo.canary.policy import CanaryPolicy
from pytest_selfslo.canary.push import rollback_on_alerts
from pytest_selfslo.canary.store import CanaryStore

__all__ = ["AlertmanagerAlert", "AlertmanagerWebhook", "AlertsResponse", "add_alert_route"]

_Labels = dict[Annotated[str, Field(strict=True, max_length=1024)],
               Annotated[str, Field(strict=True, max_length=4096)]]
_Text = Annotated[str, Field(strict=True, max_length=4096)]


class AlertmanagerAlert(BaseModel):
    """One alert of a notification (Alertmanager webhook format, version 4)."""

    model_config = ConfigDict(extra="ignore")

    # field names are Alertmanager's (camelCase), so the model reads its JSON as sent
    status: Literal["firing", "resolved"]
    labels: _Labels
    annotations: _Labels
    startsAt: _dt.datetime
    endsAt: _dt.datetime
    generatorURL: _Text
    fingerprint: _Text = ""


class AlertmanagerWebhook(BaseModel):
    """The JSON body Alertmanager POSTs to a webhook receiver (format version 4).

    Every field Alertmanager documents is required except ``truncatedAlerts``
    (0 when absent) and each alert's ``fingerprint``; unknown extra fields are
    ignored.
    """

    model_config = ConfigDict(extra="ignore", json_schema_extra={"examples": [{
        "version": "4", "groupKey": '{}:{alertname="AURIS_SELF_Coherence_Drop"}',
        "truncatedAlerts": 0, "status": "firing", "receiver": "selfslo-canary",
        "groupLabels": {"alertname": "AURIS_SELF_Coherence_Drop"},
        "commonLabels": {"alertname": "AURIS_SELF_Coherence_Drop", "severity": "warning"},
        "commonAnnotations": {}, "externalURL": "http://alertmanager:9093",
        "alerts": [{"status": "firing",
                    "labels": {"alertname": "AURIS_SELF_Coherence_Drop", "severity": "warning",
                               "token_id": "tok-a"},
                    "annotations": {"summary": "coherence below 0.80"},
                    "startsAt": "2025-01-01T12:00:00Z", "endsAt": "0001-01-01T00:00:00Z",
                    "generatorURL": "http://prometheus:9090/graph", "fingerprint": "a1b2c3d4"}],
    }]})

    version: Literal["4"] = Field(description="Webhook format version; only \"4\" is accepted")
    groupKey: _Text
    truncatedAlerts: Annotated[int, Field(ge=0)] = 0
    status: Literal["firing", "resolved"]
    receiver: _Text
    groupLabels: _Labels
    commonLabels: _Labels
    commonAnnotations: _Labels
    externalURL: _Text
    alerts: list[AlertmanagerAlert] = Field(max_length=10_000)


class AlertsResponse(BaseModel):
    """What a notification did: ``rollback`` (applied), ``hold`` or ``ignored`` (nothing written)."""

    action: str = Field(examples=["rollback"])
    applied: bool
    current_canary: float
    next_canary: float
    reasons: list[str]
    rollback_alerts: list[dict[str, str]] = Field(
        description="The firing alerts that matched the policy's rollback_alerts")
    audit_seq: int | None = Field(description="The audit record written, if any")
    actor: str


class _Services(Protocol):
    """What the route needs from the router's services (:class:`~pytest_selfslo.api.routes.ApiServices`)."""

    store: CanaryStore
    policy: CanaryPolicy
    auth: TokenAuth

    async def mutate(self, action: Any) -> Any:
        """Run one store mutation in the write lane (never shared with reads)."""


_E = {"model": ErrorBody}
_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {**_E, "description": "Missing or wrong credentials (bearer token or basic auth)"},
    403: {**_E, "description": "No token configured on the server"},
    409: {**_E, "description": "The canary state kept changing; retry"},
    413: {**_E, "description": "Body too large"},
    422: {**_E, "description": "Not an Alertmanager webhook payload of version 4"},
    503: {**_E, "description": "Canary state or audit log unreadable"},
}


def add_alert_route(router: APIRouter, svc: _Services) -> None:
    """Add ``POST /self/alerts`` to ``router``, working on ``svc``'s store and policy."""

    bearer = HTTPBearer(auto_error=False, description="An API token")
    basic = HTTPBasic(auto_error=False, description="Any username; an API token as the password")

    def webhook_actor(request: Request,
                      _bearer: HTTPAuthorizationCredentials | None = Depends(bearer),  # noqa: B008
                      _basic: HTTPBasicCredentials | None = Depends(basic),  # noqa: B008
                      ) -> str:
        # the two schemes are declared for the OpenAPI description; the header is checked here
        client = request.client.host if request.client else "?"
        return svc.auth.authenticate_webhook(request.headers.get("authorization"), client)

    async def receive_alerts(body: AlertmanagerWebhook,
                             who: str = Depends(webhook_actor)) -> AlertsResponse:
        context = {"receiver": body.receiver, "group_key": body.groupKey, "status": body.status,
                   "external_url": body.externalURL, "truncated_alerts": body.truncatedAlerts,
                   "alerts": [{"status": a.status, "labels": a.labels,
                               "starts_at": a.startsAt.isoformat(), "fingerprint": a.fingerprint}
                              for a in body.alerts[:20]]}
        alerts = [(a.status, a.labels) for a in body.alerts]
        outcome = await svc.mutate(lambda: rollback_on_alerts(svc.store, svc.policy, alerts, actor=who,
                                                        now=time.time(), context=context))
        return AlertsResponse(**outcome.to_dict(), actor=who)

    router.add_api_route(
        "/self/alerts", receive_alerts, methods=["POST"], response_model=AlertsResponse,
        tags=["canary"], responses=_ERRORS,
        summary="Alertmanager webhook: roll the canary back on a firing rollback alert")
