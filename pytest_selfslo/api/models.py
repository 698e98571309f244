"""Request and response bodies of the operator API (pydantic models).

Requests are strict on purpose: an operator who types ``"new_smapling"`` or
sends ``"0.5"`` as a string should get a 422 naming the field, not a silently
ignored key or a coerced value in the audit log. So every request model
forbids unknown fields, numbers are strict (no strings, no booleans) and must
be finite, and ``reason`` must say something.

Each model carries an OpenAPI example; the schema at ``/openapi.json`` is
what schemathesis fuzzes in the tests.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, cast

from pydantic import BaseModel, ConfigDict, Field, create_model, field_validator

from pytest_selfslo._core.safetext import VISIBLE_PATTERN, text_problem

__all__ = [
    "REASON_MAX",
    "Averages",
    "CanaryChangeRequest",
    "CanaryChangeResponse",
    "CanaryStateOut",
    "CanaryView",
    "ErrorBody",
    "ErrorDetail",
    "ErrorInfo",
    "HealthResponse",
    "LastHeartbeat",
    "LivenessResponse",
    "PolicyOut",
    "ReasonRequest",
    "SloStatus",
    "change_request_model",
]

#: longest accepted ``reason``; the audit log keeps it verbatim
REASON_MAX = 500

_Fraction = Annotated[float, Field(strict=True, allow_inf_nan=False)]
_Reason = Annotated[str, Field(
    strict=True, min_length=1, max_length=REASON_MAX,
    description="Why: kept verbatim in the audit record; needs a visible character (not "
                "only whitespace, control or zero-width characters) and valid Unicode",
    # documented for clients; enforced by _reason_says_something (the same pattern)
    json_schema_extra={"pattern": VISIBLE_PATTERN})]


def _reason_says_something(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank (say why, it goes into the audit log)")
    problem = text_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CanaryChangeRequest(_Request):
    """A manual canary sampling change."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"new_sampling": 0.25, "reason": "SLOs green for 30m, widening the canary"},
        {"new_sampling": 0.1, "reason": "hold at 10% over the weekend",
         "expected_old_sampling": 0.25},
    ]})

    new_sampling: _Fraction = Field(
        gt=0.0, le=1.0, description="New canary fraction in (0, 1]; a policy step "
                                    "when the policy enforces steps")
    reason: _Reason
    expected_old_sampling: _Fraction | None = Field(
        default=None, ge=0.0, le=1.0,
        description="Optimistic concurrency: refuse with 409 unless the current "
                    "sampling is this value")

    _check_reason = field_validator("reason")(_reason_says_something)


def change_request_model(steps: Sequence[float] | None) -> type[CanaryChangeRequest]:
    """The request model whose schema lists ``steps`` as the only allowed values.

    With ``enforce_steps`` a sampling between steps is refused (422), so the
    OpenAPI schema says so: clients and fuzzers see the real contract. The
    check itself stays in the canary store, which also tolerates float noise.
    """
    if not steps:
        return CanaryChangeRequest
    listed = [float(s) for s in steps]
    field = Field(strict=True, allow_inf_nan=False, gt=0.0, le=1.0,
                  json_schema_extra={"enum": cast(Any, listed)},
                  description="New canary fraction: one of the policy steps "
                              f"{', '.join(f'{s:g}' for s in listed)}")
    model: type[CanaryChangeRequest] = create_model(
        "CanaryChangeRequest", __base__=CanaryChangeRequest,
        new_sampling=(float, field))
    return model


class ReasonRequest(_Request):
    """Body of pause/resume: the reason that goes into the audit log."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"reason": "incident INC-1234: freeze the canary"},
    ]})

    reason: _Reason

    _check_reason = field_validator("reason")(_reason_says_something)


class LastHeartbeat(BaseModel):
    """The newest heartbeat in the log."""

    kind: str
    coherence: float
    continuity: float
    presence: float
    stress: float
    token_id: str | None = None
    ts: float | None = Field(default=None, description="Unix seconds")


class Averages(BaseModel):
    """Mean of each score over the heartbeat window."""

    coherence: float
    continuity: float
    presence: float
    stress: float


class SloStatus(BaseModel):
    """Whether each Phase C SLO holds over the window (stress: lower is better)."""

    coherence_slo: bool
    continuity_slo: bool
    stress_slo: bool


class HealthResponse(BaseModel):
    """``GET /self/health``; the three windowed fields are null before any heartbeat."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "enabled": True, "canary_sampling": 0.05, "canary_paused": False,
        "heartbeat_count": 1250, "window": 50, "window_count": 50, "window_skipped": 0,
        "last_heartbeat": {"kind": "heartbeat", "coherence": 0.91, "continuity": 0.97,
                           "presence": 0.88, "stress": 0.12, "token_id": "tok-1",
                           "ts": 1764000000.0},
        "averages": {"coherence": 0.9, "continuity": 0.96, "presence": 0.87,
                     "stress": 0.14},
        "slo_status": {"coherence_slo": True, "continuity_slo": True, "stress_slo": True},
    }]})

    enabled: bool = Field(description="SELF is switched on (AURIS_SELF)")
    canary_sampling: float = Field(description="Current canary fraction from the store")
    canary_paused: bool = Field(description="The canary is frozen by an operator")
    heartbeat_count: int = Field(description="Heartbeat records in the whole log")
    window: int = Field(description="Configured window (last N heartbeats)")
    window_count: int = Field(description="Heartbeats actually in the window")
    window_skipped: int = Field(description="Records in the window that are not valid "
                                            "heartbeats (left out of the averages)")
    last_heartbeat: LastHeartbeat | None
    averages: Averages | None
    slo_status: SloStatus | None


class LivenessResponse(BaseModel):
    """``GET /healthz``: the process answers; says nothing about the SLOs."""

    status: str = Field(examples=["ok"])


class PolicyOut(BaseModel):
    """The canary policy parts an operator needs to pick a valid sampling."""

    steps: list[float]
    enforce_steps: bool
    compare: dict[str, Any] | None = Field(
        default=None, description="The baseline comparison gate (compare: block), if any")


class CanaryStateOut(BaseModel):
    """The persisted canary state (``audit_count`` = records in the whole audit log)."""

    sampling: float
    since: float
    step: int
    paused: bool
    version: int
    consecutive_successes: int = 0
    failures: int = 0
    last_observed: float | None = None
    last_decision: dict[str, Any] | None = None
    audit_head: str | None = None
    audit_count: int = 0


class CanaryView(BaseModel):
    """``GET /self/canary``: state, policy and the newest audit records (oldest first)."""

    state: CanaryStateOut
    policy: PolicyOut
    audit: list[dict[str, Any]] = Field(description="Newest audit records, oldest first")
    comparison: dict[str, Any] | None = Field(
        default=None, description="The last decision's baseline comparison: verdict, reason, "
                                  "U, p, effect (relative drop), n per cohort (policies with a "
                                  "compare: block)")


class CanaryChangeResponse(BaseModel):
    """Result of a canary change, pause or resume."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "success": True, "old_sampling": 0.1, "new_sampling": 0.25,
        "reason": "SLOs green for 30m, widening the canary",
        "note": "applied to the canary store; takes effect on the next sampling "
                "decision, no restart needed",
        "actor": "alice@token:ops", "action": "manual", "version": 7, "paused": False,
    }]})

    success: bool
    old_sampling: float
    new_sampling: float
    reason: str
    note: str
    actor: str
    action: str
    version: int
    paused: bool


class ErrorDetail(BaseModel):
    """One field-level problem."""

    field: str
    reason: str
    got: str | None = None


class ErrorInfo(BaseModel):
    """The error itself."""

    status: int
    code: str
    message: str
    details: list[ErrorDetail]


class ErrorBody(BaseModel):
    """The one error shape every non-2xx answer uses."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"error": {
        "status": 422, "code": "validation_failed",
        "message": "new_sampling: Input should be less than or equal to 1",
        "details": [{"field": "new_sampling",
                     "reason": "Input should be less than or equal to 1", "got": "1.5"}],
    }}]})

    error: ErrorInfo
