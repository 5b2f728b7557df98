"""Bearer tokens are checked like XSUAA does; every failure is a 401 in the one error shape."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from flask.testing import FlaskClient
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from app import create_app
from devenv.redis_server import free_port
from runtime.settings import Settings

ISSUER = "https://tenant.authentication.example.com/oauth/token"
XSAPPNAME = "sapext!t1"


class Jwks:
    """A real JWKS endpoint over HTTP whose keys (and Cache-Control) a test can change; counts fetches."""

    def __init__(self) -> None:
        self.keys: list[RSAKey] = [RSAKey.generate_key(2048, parameters={"kid": "k1"}, private=True)]
        self.fetches = 0
        self.cache_control: str | None = None
        self.failing = False  # answer 503, as an issuer in trouble does
        jwks = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                jwks.fetches += 1
                if jwks.failing:
                    self.send_error(503)
                    return
                body = json.dumps(KeySet([RSAKey.import_key(k.as_dict(private=False)) for k in jwks.keys]).as_dict())
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                if jwks.cache_control:
                    self.send_header("Cache-Control", jwks.cache_control)
                self.end_headers()
                self.wfile.write(body.encode())

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/token_keys"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def sign(self, claims: dict[str, Any], key: RSAKey | None = None, **header: Any) -> str:
        key = key or self.keys[0]
        return jwt.encode({"alg": "RS256", "kid": key.kid, **header}, claims, key)


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base: dict[str, Any] = {
        "iss": ISSUER,
        "aud": [XSAPPNAME, "sb-sapext!t1"],
        "user_name": "pat.manager",
        "scope": ["openid", f"{XSAPPNAME}.PlantManager"],
        "xs.user.attributes": {"Plant": ["1010"]},
        "xs.system.attributes": {"xs.rolecollections": ["PlantManager"]},
        "iat": now,
        "nbf": now,
        "exp": now + 600,
    }
    base.update(overrides)
    return base


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@pytest.fixture
def jwks() -> Iterator[Jwks]:
    server = Jwks()
    yield server
    server.server.shutdown()


@pytest.fixture
def auth_client(jwks: Jwks, redis_url: str, tmp_path: Any) -> FlaskClient:
    settings = Settings(
        redis_url=redis_url,
        database_url=f"sqlite:///{tmp_path / 'db.sqlite'}",
        jwt_issuer=ISSUER,
        jwks_url=jwks.url,
        xsappname=XSAPPNAME,
    )
    return create_app(settings).test_client()


def get_me(client: FlaskClient, token: str | None) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return client.get("/api/v1/me", headers=headers)


def assert_401(response: Any, fragment: str) -> None:
    assert response.status_code == 401, response.json
    body = response.json
    assert {"code", "status", "message", "request_id"} <= set(body)
    assert body["code"] == 401
    assert fragment in body["message"], body["message"]
    assert response.headers["WWW-Authenticate"].startswith("Bearer ")


def test_valid_token_gives_the_principal(auth_client: FlaskClient, jwks: Jwks) -> None:
    response = get_me(auth_client, jwks.sign(claims()))
    assert response.status_code == 200
    assert response.json["user"] == "pat.manager"
    assert response.json["roles"] == ["PlantManager"]
    assert response.json["attributes"]["Plant"] == ["1010"]


def test_no_token(auth_client: FlaskClient) -> None:
    assert_401(get_me(auth_client, None), "missing bearer token")


def test_basic_credentials_are_not_a_bearer_token(auth_client: FlaskClient) -> None:
    response = auth_client.get("/api/v1/me", headers={"Authorization": "Basic dXNlcjpwdw=="})
    assert_401(response, "missing bearer token")


def test_expired(auth_client: FlaskClient, jwks: Jwks) -> None:
    past = int(time.time()) - 3600
    assert_401(get_me(auth_client, jwks.sign(claims(iat=past - 600, nbf=past - 600, exp=past))), "expired")


def test_small_clock_skew_is_tolerated(auth_client: FlaskClient, jwks: Jwks) -> None:
    assert get_me(auth_client, jwks.sign(claims(exp=int(time.time()) - 5))).status_code == 200


def test_not_yet_valid(auth_client: FlaskClient, jwks: Jwks) -> None:
    future = int(time.time()) + 3600
    assert_401(get_me(auth_client, jwks.sign(claims(nbf=future, exp=future + 600))), "not valid yet")


def test_wrong_issuer(auth_client: FlaskClient, jwks: Jwks) -> None:
    assert_401(get_me(auth_client, jwks.sign(claims(iss="https://evil.example.com/oauth/token"))), "issuer")


def test_wrong_audience(auth_client: FlaskClient, jwks: Jwks) -> None:
    assert_401(get_me(auth_client, jwks.sign(claims(aud=["otherapp!t9"]))), "audience")


def test_alg_none(auth_client: FlaskClient) -> None:
    token = f"{_b64(json.dumps({'alg': 'none', 'typ': 'JWT'}).encode())}.{_b64(json.dumps(claims()).encode())}."
    assert_401(get_me(auth_client, token), "'none' is not accepted")


def test_hs256_signed_with_the_public_key(auth_client: FlaskClient, jwks: Jwks) -> None:
    # The classic key-confusion attack: HMAC keyed with the PEM of the issuer's public RSA key.
    public_pem = jwks.keys[0].as_pem(private=False)
    signing_input = f"{_b64(json.dumps({'alg': 'HS256', 'kid': 'k1'}).encode())}.{_b64(json.dumps(claims()).encode())}"
    signature = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    forged = f"{signing_input}.{_b64(signature)}"
    assert_401(get_me(auth_client, forged), "'HS256' is not accepted")


def test_unknown_kid(auth_client: FlaskClient, jwks: Jwks) -> None:
    stranger = RSAKey.generate_key(2048, parameters={"kid": "k-unknown"}, private=True)
    assert_401(get_me(auth_client, jwks.sign(claims(), key=stranger)), "unknown key id")


def test_known_kid_with_a_foreign_signature(auth_client: FlaskClient, jwks: Jwks) -> None:
    impostor = RSAKey.generate_key(2048, parameters={"kid": "k1"}, private=True)
    assert_401(get_me(auth_client, jwks.sign(claims(), key=impostor)), "signature")


def test_tampered_payload(auth_client: FlaskClient, jwks: Jwks) -> None:
    header, _, signature = jwks.sign(claims()).split(".")
    escalated = claims(scope=[f"{XSAPPNAME}.IntegrationAdmin"], **{"xs.user.attributes": {"Plant": ["*"]}})
    tampered = f"{header}.{_b64(json.dumps(escalated).encode())}.{signature}"
    assert_401(get_me(auth_client, tampered), "signature")


def test_garbage(auth_client: FlaskClient) -> None:
    assert_401(get_me(auth_client, "not-a-jwt"), "malformed")


def test_rotated_key_is_fetched_once_on_unknown_kid(auth_client: FlaskClient, jwks: Jwks) -> None:
    assert get_me(auth_client, jwks.sign(claims())).status_code == 200
    fetches = jwks.fetches
    assert get_me(auth_client, jwks.sign(claims())).status_code == 200
    assert jwks.fetches == fetches, "keys must be cached between requests"

    rotated = RSAKey.generate_key(2048, parameters={"kid": "k2"}, private=True)
    jwks.keys.append(rotated)
    # the cache refreshes at most every 30 s: a kid unknown right after a fetch is refused, not re-fetched
    assert get_me(auth_client, jwks.sign(claims(), key=rotated)).status_code == 401
    assert jwks.fetches == fetches


def test_rotated_key_is_picked_up_after_the_refresh_interval(jwks: Jwks, redis_url: str, tmp_path: Any) -> None:
    settings = Settings(
        redis_url=redis_url,
        database_url=f"sqlite:///{tmp_path / 'db.sqlite'}",
        jwt_issuer=ISSUER,
        jwks_url=jwks.url,
        xsappname=XSAPPNAME,
    )
    app = create_app(settings)
    app.extensions["token_validator"].keys.min_refresh_seconds = 0
    client = app.test_client()
    assert get_me(client, jwks.sign(claims())).status_code == 200
    rotated = RSAKey.generate_key(2048, parameters={"kid": "k2"}, private=True)
    jwks.keys.append(rotated)
    assert get_me(client, jwks.sign(claims(), key=rotated)).status_code == 200


def test_scopes_of_other_applications_grant_nothing(auth_client: FlaskClient, jwks: Jwks) -> None:
    token = jwks.sign(claims(scope=["otherapp!t9.PlantManager", "PlantManager", f"{XSAPPNAME}.Nonsense"]))
    response = get_me(auth_client, token)
    assert response.status_code == 200
    assert response.json["roles"] == []


def test_unreachable_identity_provider_is_503_not_401(redis_url: str, tmp_path: Any, jwks: Jwks) -> None:
    settings = Settings(
        redis_url=redis_url,
        database_url=f"sqlite:///{tmp_path / 'db.sqlite'}",
        jwt_issuer=ISSUER,
        jwks_url=f"http://127.0.0.1:{free_port()}/token_keys",
        xsappname=XSAPPNAME,
    )
    response = get_me(create_app(settings).test_client(), jwks.sign(claims()))
    assert response.status_code == 503
    assert response.headers["Retry-After"]
    assert "signing keys" in response.json["message"]
