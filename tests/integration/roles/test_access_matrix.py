"""Every endpoint x every role, and every way a token can be wrong: the right status, the one error shape."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient
from joserfc import jwt
from joserfc.jwk import RSAKey

from app.dev_idp import load_or_create_key
from runtime.settings import Settings
from tests.integration.roles.conftest import Token, bearer

EXECUTIVE_USER = "EXEC_ANNA"
ATTRIBUTES = {"Plant": ["1010"], "WorkCenter": ["ASSY1010"]}

# (path template, the role that may call it; None = any authenticated caller)
ENDPOINTS = [
    ("/api/v1/me", None),
    ("/api/v1/approvals", "Executive"),
    ("/api/v1/approvals/{approval}", "Executive"),
    ("/api/v1/approvals/{approval}/decision-options", "Executive"),
    ("/api/v1/production-orders", "PlantManager"),
    ("/api/v1/production-orders/{order}", "PlantManager"),
    ("/api/v1/work-orders", "Supervisor"),
    ("/api/v1/work-orders/{work_order}", "Supervisor"),
]
ROLES = ["Executive", "PlantManager", "Supervisor", "IntegrationAdmin"]
ERROR_KEYS = {"code", "status", "message", "request_id"}


@pytest.fixture
def ids(api: FlaskClient, token: Token) -> dict[str, str]:
    """Real ids the callers below may see, discovered through the API itself."""

    def first(path: str, role: str, key: str = "id") -> str:
        response = api.get(f"{path}?limit=1", headers=bearer(token(role, user=EXECUTIVE_USER, **ATTRIBUTES)))
        assert response.status_code == 200, response.json
        return str(response.json["items"][0][key])

    return {
        "approval": first("/api/v1/approvals", "Executive"),
        "order": first("/api/v1/production-orders", "PlantManager", "order_id"),
        "work_order": first("/api/v1/work-orders", "Supervisor"),
    }


def assert_error(response: Any, status: int) -> None:
    assert response.status_code == status, (response.status_code, response.json)
    assert ERROR_KEYS <= set(response.json)
    assert response.json["code"] == status


@pytest.mark.parametrize(("template", "allowed"), ENDPOINTS)
@pytest.mark.parametrize("role", ROLES)
def test_role_matrix(
    api: FlaskClient, token: Token, ids: dict[str, str], template: str, allowed: str | None, role: str
) -> None:
    response = api.get(template.format(**ids), headers=bearer(token(role, user=EXECUTIVE_USER, **ATTRIBUTES)))
    if allowed is None or allowed == role:
        assert response.status_code == 200, response.json
    else:
        assert_error(response, 403)
        assert allowed in response.json["message"]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@pytest.fixture(scope="module")
def stranger_key() -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": "not-ours"}, private=True)


def _bad_tokens(settings: Settings, good: Callable[..., str], stranger: RSAKey) -> dict[str, str | None]:
    now = int(time.time())
    valid = good()
    header, payload, signature = valid.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    public_pem = load_or_create_key(settings.dev_idp_key_file).as_pem(private=False)
    hs_input = f"{_b64(json.dumps({'alg': 'HS256', 'typ': 'JWT'}).encode())}.{payload}"
    hs_signature = hmac.new(public_pem, hs_input.encode(), hashlib.sha256).digest()
    escalated = {**claims, "xs.user.attributes": {"Plant": ["1010", "1020", "1030", "1710"]}}
    return {
        "no token": None,
        "expired": good(claims={"iat": now - 7200, "nbf": now - 7200, "exp": now - 3600}),
        "not yet valid": good(claims={"nbf": now + 3600, "exp": now + 7200}),
        "wrong issuer": good(claims={"iss": "https://evil.example.com/oauth/token"}),
        "wrong audience": good(claims={"aud": ["some-other-app"]}),
        "alg none": f"{_b64(json.dumps({'alg': 'none'}).encode())}.{payload}.",
        "HS256 with the public key": f"{hs_input}.{_b64(hs_signature)}",
        "unknown kid": jwt.encode({"alg": "RS256", "kid": stranger.kid}, claims, stranger),
        "tampered payload": f"{header}.{_b64(json.dumps(escalated).encode())}.{signature}",
    }


BAD_TOKEN_KINDS = [
    "no token",
    "expired",
    "not yet valid",
    "wrong issuer",
    "wrong audience",
    "alg none",
    "HS256 with the public key",
    "unknown kid",
    "tampered payload",
]


@pytest.mark.parametrize(("template", "allowed"), ENDPOINTS)
@pytest.mark.parametrize("kind", BAD_TOKEN_KINDS)
def test_bad_tokens_get_401(
    api: FlaskClient,
    token: Token,
    role_settings: Settings,
    stranger_key: RSAKey,
    ids: dict[str, str],
    template: str,
    allowed: str | None,
    kind: str,
) -> None:
    role = allowed or "Executive"

    def good(claims: dict[str, Any] | None = None) -> str:
        return token(role, user=EXECUTIVE_USER, claims=claims, **ATTRIBUTES)

    bad = _bad_tokens(role_settings, good, stranger_key)[kind]
    response = api.get(template.format(**ids), headers=bearer(bad) if bad is not None else {})
    assert_error(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(("template", "allowed"), ENDPOINTS)
def test_token_without_scope(
    api: FlaskClient, token: Token, ids: dict[str, str], template: str, allowed: str | None
) -> None:
    response = api.get(template.format(**ids), headers=bearer(token(None, user=EXECUTIVE_USER, **ATTRIBUTES)))
    if allowed is None:
        assert response.status_code == 200
        assert response.json["roles"] == []
    else:
        assert_error(response, 403)
