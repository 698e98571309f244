"""Bearer-token authentication and actor identity for the mutating endpoints.

Reads are open (``/self/health`` is what dashboards and load balancers poll);
anything that changes the canary needs ``Authorization: Bearer <token>``.

Where tokens come from, first match wins:

1. ``ApiConfig.token`` (a string handed to the app factory);
2. ``ApiConfig.token_file`` / ``selfslo serve --token-file F``;
3. the environment variable ``SELFSLO_API_TOKEN``.

A token file holds one credential per line, ``TOKEN`` or ``NAME TOKEN``
(blank lines and ``#`` comments ignored), so several operators can hold
their own token and the audit log says who acted.

A token is visible ASCII (``!`` to ``~``), at least 16 characters: what an
``Authorization`` header can carry. Whitespace around a token from
``ApiConfig.token`` or ``SELFSLO_API_TOKEN`` (a newline from ``$(cat file)``)
is **stripped**, with a warning saying so -- the header value is stripped the
same way, so the token still matches; any other character is refused.

Comparison is constant-time: the presented token is hashed and compared with
:func:`hmac.compare_digest` against *every* configured digest, so neither
the position of the first wrong byte nor which credential matched shows in
the timing.

The actor written to the audit record is ``<who>@<credential>``: ``<who>``
is the optional ``X-Actor`` header (self-declared, for humans sharing a
token) or ``api``; ``<credential>`` is ``token:NAME`` for a named token,
``token:<8 hex of its SHA-256>`` for an unnamed one, or ``insecure-no-auth``
when the server runs without authentication.

Alertmanager's webhook (``POST /self/alerts``) may also authenticate with HTTP
basic auth, as its ``http_config.basic_auth`` sends it: the *password* is an
API token, the *username* names the sender in the audit log
(:meth:`TokenAuth.authenticate_webhook`; ``alertmanager`` for a bearer token).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from pytest_selfslo._core.errors import ConfigError, located
from pytest_selfslo._core.safeio import read_regular
from pytest_selfslo.api.errors import ApiError

__all__ = [
    "ACTOR_PATTERN",
    "MIN_TOKEN_LENGTH",
    "TOKEN_ENV",
    "Credential",
    "TokenAuth",
    "parse_token_file",
]

#: environment variable holding the API token
TOKEN_ENV = "SELFSLO_API_TOKEN"
#: shortest token accepted: shorter secrets are guessable
MIN_TOKEN_LENGTH = 16

_NAME_RE = re.compile(r"[A-Za-z0-9_.+-]{1,64}")
#: a token file is a few lines; anything bigger is not one
_MAX_TOKEN_FILE_BYTES = 1 << 20
#: what an ``X-Actor`` header may contain (it ends up in the audit log)
ACTOR_PATTERN = r"^[A-Za-z0-9_.@+-]{1,64}$"
_ACTOR_RE = re.compile(ACTOR_PATTERN)
_log = logging.getLogger("pytest_selfslo.api.auth")


@dataclass(frozen=True)
class Credential:
    """A configured token, kept only as its SHA-256 digest, with a display name."""

    name: str
    digest: bytes

    @classmethod
    def from_token(cls, token: str, name: str | None = None) -> Credential:
        """Hash ``token``; an unnamed token is named by a short digest prefix."""
        digest = hashlib.sha256(token.encode("utf-8")).digest()
        return cls(name or digest.hex()[:8], digest)


def _check_token(token: str, where: str) -> None:
    if len(token) < MIN_TOKEN_LENGTH:
        raise ConfigError(f"{where}: token is too short: expected at least "
                          f"{MIN_TOKEN_LENGTH} characters, got {len(token)}")
    bad = next((ch for ch in token if not "!" <= ch <= "~"), None)
    if bad is not None:
        raise ConfigError(f"{where}: token holds {bad!r}: expected visible ASCII characters "
                          "only ('!' to '~'), which an Authorization header can carry")


def _stripped(token: str, where: str) -> str:
    """``token`` without surrounding whitespace, with a warning when there was some."""
    clean = token.strip()
    if clean != token:
        _log.warning("%s: surrounding whitespace removed from the token (%d characters); "
                     "the token is the text between it", where, len(token) - len(clean))
    return clean


def parse_token_file(path: str | Path) -> list[Credential]:
    """Read ``TOKEN`` / ``NAME TOKEN`` lines; errors say ``path:line`` and why."""
    p = Path(path)
    try:
        text = read_regular(p, _MAX_TOKEN_FILE_BYTES, "the token file").decode("utf-8")
    except OSError as exc:
        raise ConfigError(located(f"cannot read token file: {exc.strerror or exc}", p)) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(located(f"token file is not UTF-8 text (byte {exc.start})", p)) from None
    creds: list[Credential] = []
    names: set[str] = set()
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split()
        if len(parts) > 2:
            raise ConfigError(located(f"expected 'TOKEN' or 'NAME TOKEN', got {len(parts)} "
                                      "whitespace-separated fields", p, lineno))
        name, token = (None, parts[0]) if len(parts) == 1 else (parts[0], parts[1])
        if name is not None and not _NAME_RE.fullmatch(name):
            raise ConfigError(located(f"token name {name!r} must match {_NAME_RE.pattern}",
                                      p, lineno))
        _check_token(token, located("", p, lineno).rstrip(": "))
        cred = Credential.from_token(token, name)
        if cred.name in names:
            raise ConfigError(located(f"duplicate token name {cred.name!r}", p, lineno))
        if any(hmac.compare_digest(c.digest, cred.digest) for c in creds):
            raise ConfigError(located("duplicate token (each operator needs their own)",
                                      p, lineno))
        names.add(cred.name)
        creds.append(cred)
    if not creds:
        raise ConfigError(located("token file holds no token (expected 'TOKEN' or "
                                  "'NAME TOKEN' lines)", p))
    return creds


class TokenAuth:
    """Decides who may mutate, and names them for the audit log.

    >>> auth = TokenAuth([Credential.from_token("s3cret-token-0123456", "ops")])
    >>> auth.authenticate("Bearer s3cret-token-0123456", "alice")
    'alice@token:ops'
    """

    def __init__(self, credentials: Sequence[Credential], *,
                 insecure_no_auth: bool = False) -> None:
        self.credentials = tuple(credentials)
        self.insecure_no_auth = insecure_no_auth

    @classmethod
    def from_sources(cls, *, token: str | None = None, token_file: str | Path | None = None,
                     insecure_no_auth: bool = False,
                     environ: Mapping[str, str] | None = None) -> TokenAuth:
        """Build from the first configured source (see the module docstring)."""
        env = os.environ if environ is None else environ
        if token is not None:
            token = _stripped(token, "ApiConfig.token")
            _check_token(token, "ApiConfig.token")
            creds = [Credential.from_token(token)]
        elif token_file is not None:
            creds = parse_token_file(token_file)
        elif env.get(TOKEN_ENV):
            token = _stripped(env[TOKEN_ENV], TOKEN_ENV)
            _check_token(token, TOKEN_ENV)
            creds = [Credential.from_token(token)]
        else:
            creds = []
        return cls(creds, insecure_no_auth=insecure_no_auth)

    @property
    def mode(self) -> str:
        """``token``, ``insecure-no-auth`` or ``disabled`` (mutations refused)."""
        if self.credentials:
            return "token"
        return "insecure-no-auth" if self.insecure_no_auth else "disabled"

    def _match(self, presented: str) -> Credential | None:
        digest = hashlib.sha256(presented.encode("utf-8")).digest()
        found: Credential | None = None
        for cred in self.credentials:  # no early exit: same work whichever matches
            if hmac.compare_digest(cred.digest, digest):
                found = cred
        return found

    def authenticate(self, authorization: str | None, x_actor: str | None,
                     client: str = "?") -> str:
        """Return the actor for an allowed mutation or raise :class:`ApiError` 401/403/422.

        The credential is checked before ``X-Actor`` is looked at, so an
        unauthenticated caller always gets 401/403, never a hint about headers.
        """
        credential = self._credential(authorization, client)
        who = _actor_name(x_actor)
        default = "anonymous" if credential == "insecure-no-auth" else "api"
        return f"{who or default}@{credential}"

    def _credential(self, authorization: str | None, client: str) -> str:
        if authorization is None:
            if self.insecure_no_auth:
                return "insecure-no-auth"
            if not self.credentials:
                raise _disabled()
            raise _unauthorized("missing 'Authorization: Bearer <token>' header", client)
        scheme, _, presented = authorization.strip().partition(" ")
        if scheme.lower() != "bearer" or not presented.strip():
            raise _unauthorized("Authorization header must be 'Bearer <token>'", client)
        if not self.credentials:
            if self.insecure_no_auth:
                return "insecure-no-auth"
            raise _disabled()
        cred = self._match(presented.strip())
        if cred is None:
            raise _unauthorized("invalid token", client, error="invalid_token")
        return f"token:{cred.name}"


    def authenticate_webhook(self, authorization: str | None, client: str = "?") -> str:
        """The actor for an Alertmanager notification: bearer token or HTTP basic (401/403).

        Basic auth's password is checked as a token exactly like a bearer
        token; its username becomes ``<username>@token:NAME`` (it must be 1-64
        letters, digits or ``_.@+-``).
        """
        who = "alertmanager"
        if authorization is not None:
            scheme, _, rest = authorization.strip().partition(" ")
            if scheme.lower() == "basic":
                who, password = _basic(rest.strip(), client)
                authorization = f"Bearer {password}"
        return f"{who}@{self._credential(authorization, client)}"


def _basic(encoded: str, client: str) -> tuple[str, str]:
    """``(username, password)`` of a basic ``Authorization`` value; 401 when malformed."""
    try:
        text = base64.b64decode(encoded, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise _unauthorized("Authorization: Basic credentials are not base64 of "
                            "'username:password'", client) from None
    user, sep, password = text.partition(":")
    if not sep or not password:
        raise _unauthorized("Authorization: Basic credentials need 'username:password' with "
                            "the API token as the password", client)
    if not _ACTOR_RE.fullmatch(user):
        raise _unauthorized("Authorization: Basic username must be 1-64 letters, digits or "
                            "_.@+-", client)
    return user, password


def _actor_name(x_actor: str | None) -> str | None:
    if x_actor is None:
        return None
    if not _ACTOR_RE.fullmatch(x_actor):
        why = "must be 1-64 letters, digits or _.@+- (pattern " + ACTOR_PATTERN + ")"
        raise ApiError(422, f"X-Actor: {why}",
                       details=[{"field": "X-Actor", "reason": why, "got": x_actor[:80]}])
    return x_actor


def _disabled() -> ApiError:
    return ApiError(403, "mutations are disabled: no API token is configured on the server "
                         f"(set {TOKEN_ENV}, pass --token-file, or start it with "
                         "--insecure-no-auth on a trusted network)", code="auth_not_configured")


def _unauthorized(message: str, client: str, error: str | None = None) -> ApiError:
    _log.warning("refused mutation from %s: %s", client, message)
    challenge = "Bearer" if error is None else f'Bearer error="{error}"'
    return ApiError(401, message, headers={"WWW-Authenticate": challenge})
