"""Property-based fuzzing from the app's own OpenAPI schema (schemathesis): never a 5xx.

Every operation gets generated requests (valid and invalid bodies, query
values, headers), sent with a valid token so the mutating endpoints are
exercised beyond the auth check. Responses must not be server errors and must
conform to the documented status codes, content types and schemas.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from prometheus_client import CollectorRegistry
from schemathesis.config import SchemathesisConfig
from schemathesis.openapi import from_asgi

from pytest_selfslo.api import ApiConfig, create_app
from pytest_selfslo.metrics import SelfMetricsExporter

TOKEN = "fuzz-token-0123456789abcdef"


@pytest.fixture
def api_schema(tmp_path_factory: pytest.TempPathFactory) -> schemathesis.BaseSchema:
    """The running app's schema; one state dir for all examples of an operation."""
    root: Path = tmp_path_factory.mktemp("fuzz")
    (root / "identity.jsonl").write_text(
        '{"ts": 1700000000.0, "token_id": "t", "kind": "heartbeat", "coherence": 0.9, '
        '"continuity": 0.95, "presence": 0.8, "stress": 0.1}\n')
    config = ApiConfig(heartbeats=root / "identity.jsonl", state_dir=root / "state",
                       token=TOKEN,
                       exporter=SelfMetricsExporter(registry=CollectorRegistry(), enabled=True))
    # ~100 generated requests in all (25 per operation with inputs): the deterministic coverage
    # phase alone would add ~150 more, too slow for every CI run
    settings_ = SchemathesisConfig.from_dict({"phases": {"coverage": {"enabled": False}}})
    return from_asgi("/openapi.json", create_app(config), config=settings_)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.filter_too_much])
def test_no_input_makes_a_server_error(case: schemathesis.Case[Any]) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    response = case.call(headers=headers)
    assert response.status_code < 500, (response.status_code, response.text)
    case.validate_response(response)
