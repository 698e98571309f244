"""Bearer auth for mutations: sources, 401/403, actor names, refused attempts change nothing."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings, strategies as st

from pytest_selfslo._core.errors import ConfigError
from pytest_selfslo.api.app import ApiConfig
from pytest_selfslo.api.auth import Credential, TokenAuth, parse_token_file
from pytest_selfslo.api.errors import ApiError
from pytest_selfslo.canary.store import CanaryStore

CHANGE = {"new_sampling": 0.1, "reason": "widen"}
GOOD = "good-token-0123456789"


def audit_len(config: ApiConfig) -> int:
    return len(CanaryStore(config.state_dir).history())


def files_of(directory: str | Path) -> dict[str, bytes]:
    """Every file under ``directory`` with its bytes (the lock file is content-free)."""
    root = Path(directory)
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file()} if root.exists() else {}


@pytest.mark.parametrize("headers", [
    {},
    {"Authorization": "Bearer wrong-token-0123456789"},
    {"Authorization": "Bearer "},
    {"Authorization": "Basic dXNlcjpwYXNz"},
    {"Authorization": "test-token-0123456789abcdef"},  # the right token, no scheme
    {"Authorization": "Bearer wrong-token-0123456789", "X-Actor": "not valid!"},
])
@pytest.mark.parametrize("path", ["/self/canary", "/self/canary/pause", "/self/canary/resume"])
def test_missing_or_wrong_token_is_401_and_changes_nothing(
        api_config: ApiConfig, client: TestClient, auth: dict[str, str],
        headers: dict[str, str], path: str) -> None:
    assert client.post("/self/canary", json={"new_sampling": 0.25, "reason": "setup"},
                       headers=auth).status_code == 200
    before = files_of(api_config.state_dir)
    body = CHANGE if path == "/self/canary" else {"reason": "r"}
    resp = client.post(path, json=body, headers=headers)
    assert resp.status_code == 401, resp.text
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")
    assert resp.json()["error"]["code"] == "unauthorized"
    assert files_of(api_config.state_dir) == before
    assert audit_len(api_config) == 1


def test_refused_attempts_are_logged_without_the_token(
        client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="pytest_selfslo.api.auth"):
        client.post("/self/canary", json=CHANGE,
                    headers={"Authorization": "Bearer secret-guess-0123456789"})
    assert "refused mutation" in caplog.text and "invalid token" in caplog.text
    assert "secret-guess" not in caplog.text


def test_no_token_configured_refuses_mutations_with_403(
        tmp_path: Path, make_client: Callable[..., TestClient],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SELFSLO_API_TOKEN", raising=False)
    config = ApiConfig(heartbeats=tmp_path / "hb", state_dir=tmp_path)
    client = make_client(config)
    for headers in ({}, {"Authorization": f"Bearer {GOOD}"}):
        resp = client.post("/self/canary", json=CHANGE, headers=headers)
        assert resp.status_code == 403
        assert "--insecure-no-auth" in resp.json()["error"]["message"]
    assert client.get("/self/health").status_code == 200  # reads stay open
    assert audit_len(config) == 0


def test_insecure_no_auth_allows_and_records_who(tmp_path: Path,
                                                 make_client: Callable[..., TestClient],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SELFSLO_API_TOKEN", raising=False)
    config = ApiConfig(heartbeats=tmp_path / "hb", state_dir=tmp_path, insecure_no_auth=True)
    client = make_client(config)
    assert client.post("/self/canary", json=CHANGE).json()["actor"] == "anonymous@insecure-no-auth"
    resp = client.post("/self/canary/pause", json={"reason": "r"}, headers={"X-Actor": "carol"})
    assert resp.json()["actor"] == "carol@insecure-no-auth"
    assert [r.actor for r in CanaryStore(tmp_path).history()] == [
        "anonymous@insecure-no-auth", "carol@insecure-no-auth"]


def test_env_token_is_used(tmp_path: Path, make_client: Callable[..., TestClient],
                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SELFSLO_API_TOKEN", GOOD)
    client = make_client(ApiConfig(heartbeats=tmp_path / "hb", state_dir=tmp_path))
    assert client.post("/self/canary", json=CHANGE,
                       headers={"Authorization": f"Bearer {GOOD}"}).status_code == 200
    assert client.post("/self/canary", json=CHANGE,
                       headers={"Authorization": "Bearer other-token-0123456"}).status_code == 401


def test_invalid_x_actor_is_422_once_authenticated(client: TestClient,
                                                   auth: dict[str, str]) -> None:
    resp = client.post("/self/canary", json=CHANGE, headers={**auth, "X-Actor": "bob smith"})
    assert resp.status_code == 422
    assert resp.json()["error"]["details"][0]["field"] == "X-Actor"


def test_sources_in_order_token_then_file_then_env(tmp_path: Path) -> None:
    tokens = tmp_path / "t"
    tokens.write_text(f"ops {GOOD}\n")
    env = {"SELFSLO_API_TOKEN": "env-token-0123456789"}
    first = TokenAuth.from_sources(token="cfg-token-0123456789", token_file=tokens, environ=env)
    assert first.authenticate("Bearer cfg-token-0123456789", None).startswith("api@token:")
    second = TokenAuth.from_sources(token_file=tokens, environ=env)
    assert second.authenticate(f"Bearer {GOOD}", "al") == "al@token:ops"
    third = TokenAuth.from_sources(environ=env)
    assert third.mode == "token"
    assert TokenAuth.from_sources(environ={}).mode == "disabled"
    assert TokenAuth.from_sources(environ={}, insecure_no_auth=True).mode == "insecure-no-auth"


def test_each_credential_is_matched_by_name() -> None:
    auth = TokenAuth([Credential.from_token("a" * 20, "ann"), Credential.from_token("b" * 20)])
    assert auth.authenticate("Bearer " + "a" * 20, None) == "api@token:ann"
    unnamed = auth.authenticate("bearer " + "b" * 20, None)  # scheme is case-insensitive
    assert unnamed == "api@token:" + Credential.from_token("b" * 20).name
    with pytest.raises(ApiError) as exc:
        auth.authenticate("Bearer " + "c" * 20, None)
    assert exc.value.status == 401


@pytest.mark.parametrize(("text", "says"), [
    ("", "holds no token"),
    ("# only a comment\n\n", "holds no token"),
    ("short\n", ":1: token is too short: expected at least 16 characters, got 5"),
    ("ops aaaaaaaaaaaaaaaaaaaa extra\n", ":1: expected 'TOKEN' or 'NAME TOKEN', got 3"),
    ("b@d! aaaaaaaaaaaaaaaaaaaa\n", ":1: token name 'b@d!' must match"),
    ("ops aaaaaaaaaaaaaaaaaaaa\nops bbbbbbbbbbbbbbbbbbbb\n", ":2: duplicate token name 'ops'"),
    ("x aaaaaaaaaaaaaaaaaaaa\ny aaaaaaaaaaaaaaaaaaaa\n", ":2: duplicate token"),
])
def test_bad_token_files_name_path_line_and_why(tmp_path: Path, text: str, says: str) -> None:
    path = tmp_path / "tokens"
    path.write_text(text)
    with pytest.raises(ConfigError) as exc:
        parse_token_file(path)
    assert str(exc.value).startswith(str(path))
    assert says in str(exc.value)


def test_missing_token_file_and_short_env_token_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read token file"):
        parse_token_file(tmp_path / "absent")
    with pytest.raises(ConfigError, match="SELFSLO_API_TOKEN: token is too short"):
        TokenAuth.from_sources(environ={"SELFSLO_API_TOKEN": "abc"})


def test_bad_config_values_are_refused_eagerly(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"ApiConfig.window: expected an integer in \[1, "):
        ApiConfig(window=0)
    with pytest.raises(ConfigError, match="max_body_bytes"):
        ApiConfig(max_body_bytes=True)


_TOKEN_CHARS = st.characters(min_codepoint=33, max_codepoint=0x2FFF,
                             blacklist_categories=("Cs", "Zs", "Zl", "Zp", "Cc"))


@settings(max_examples=60, deadline=None)
@given(configured=st.text(_TOKEN_CHARS, min_size=16, max_size=40), data=st.data())
def test_only_the_exact_token_authenticates(configured: str, data: st.DataObject) -> None:
    presented = data.draw(st.one_of(st.just(configured),
                                    st.text(_TOKEN_CHARS, min_size=1, max_size=40),
                                    st.just(configured[:-1]), st.just(configured + "x")))
    auth = TokenAuth([Credential.from_token(configured, "ops")])
    if presented == configured:
        assert auth.authenticate(f"Bearer {presented}", None) == "api@token:ops"
    else:
        with pytest.raises(ApiError) as exc:
            auth.authenticate(f"Bearer {presented}", None)
        assert exc.value.status == 401
