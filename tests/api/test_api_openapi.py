"""The OpenAPI document (examples, security, error shape) and mounting the router elsewhere."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import PlainTextResponse
from fastapi.testclient import TestClient

import pytest_selfslo
from pytest_selfslo.api.app import ApiConfig, create_app, create_router
from pytest_selfslo.canary.policy import DEFAULT_POLICY


def test_schema_has_examples_security_and_error_shape(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    paths = schema["paths"]
    assert {"/self/health", "/self/canary", "/self/canary/pause", "/self/canary/resume",
            "/healthz"} <= paths.keys()
    comps = schema["components"]["schemas"]
    change = comps["CanaryChangeRequest"]
    assert change["additionalProperties"] is False
    assert change["examples"][0]["new_sampling"] == 0.25
    assert change["properties"]["new_sampling"]["enum"] == list(DEFAULT_POLICY.steps)
    assert comps["HealthResponse"]["examples"][0]["slo_status"]["coherence_slo"] is True
    assert comps["ErrorBody"]["examples"][0]["error"]["code"] == "validation_failed"
    post = paths["/self/canary"]["post"]
    assert {"401", "403", "409", "413", "422"} <= post["responses"].keys()
    assert post["responses"]["409"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/ErrorBody")
    assert post["security"] == [{"HTTPBearer": []}]
    assert "security" not in paths["/self/health"]["get"]
    actor = next(p for p in post["parameters"] if p["name"] == "X-Actor")
    assert actor["in"] == "header"
    assert actor["schema"]["pattern"] == "^[A-Za-z0-9_.@+-]{1,64}$"


def test_steps_not_enforced_means_no_enum(tmp_path: Path) -> None:
    import dataclasses

    policy = dataclasses.replace(DEFAULT_POLICY, enforce_steps=False)
    app = create_app(ApiConfig(heartbeats=tmp_path / "hb", state_dir=tmp_path, policy=policy,
                               insecure_no_auth=True))
    with TestClient(app) as client:
        schema = client.get("/openapi.json").json()
        field = schema["components"]["schemas"]["CanaryChangeRequest"]["properties"][
            "new_sampling"]
        assert "enum" not in field
        resp = client.post("/self/canary", json={"new_sampling": 0.3, "reason": "free"})
        assert resp.status_code == 200 and resp.json()["new_sampling"] == 0.3


def test_router_keeps_its_error_shape_in_a_host_app(tmp_path: Path) -> None:
    host = FastAPI()

    @host.exception_handler(RequestValidationError)
    async def plain(request: Request, exc: Exception) -> Any:  # the host's own style
        return PlainTextResponse("host says no", status_code=400)

    host.include_router(create_router(ApiConfig(heartbeats=tmp_path / "hb", state_dir=tmp_path,
                                                token="host-token-0123456789")),
                        prefix="/ops")
    with TestClient(host) as client:
        resp = client.post("/ops/self/canary", json={"new_sampling": 7, "reason": "r"},
                           headers={"Authorization": "Bearer host-token-0123456789"})
        assert resp.status_code == 422
        assert resp.json()["error"]["details"][0]["field"] == "new_sampling"
        assert client.post("/ops/self/canary", json={}).json()["error"]["code"] == \
            "unauthorized"
        assert client.get("/ops/self/health").status_code == 200
        assert client.get("/ops/metrics/exp").status_code == 200


def test_package_exports_the_factories() -> None:
    assert pytest_selfslo.create_app is create_app
    assert pytest_selfslo.create_router is create_router
    assert pytest_selfslo.ApiConfig is ApiConfig
    assert {"ApiConfig", "create_app", "create_router"} <= set(pytest_selfslo.__all__)
