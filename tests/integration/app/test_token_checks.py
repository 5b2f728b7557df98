"""Token checks beyond the signature: key refresh on a schedule, lifetime cap, issued-in-the-future, odd bytes."""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from gunicorn.http.wsgi import HEADER_VALUE_RE
from joserfc.jwk import RSAKey
from werkzeug.test import EnvironBuilder

from app.auth import JwksKeys
from tests.conftest import MockSap, local_settings, migrated_app
from tests.integration.app.test_auth import ISSUER, XSAPPNAME, Jwks, assert_401, claims, get_me

AppFactory = Callable[..., Flask]


@pytest.fixture
def jwks() -> Iterator[Jwks]:
    server = Jwks()
    yield server
    server.server.shutdown()


@pytest.fixture
def make_app(jwks: Jwks, redis_url: str, mock_sap: MockSap, tmp_path: Path, dev_idp_key_file: str) -> AppFactory:
    """A migrated app with the live mock SAP, trusting `jwks`; `keys=` swaps in a JwksKeys built for the test."""

    def make(keys: JwksKeys | None = None, **overrides: Any) -> Flask:
        trust = {"jwt_issuer": ISSUER, "jwks_url": jwks.url, "xsappname": XSAPPNAME}
        settings = local_settings(redis_url, mock_sap, tmp_path, dev_idp_key_file, **trust, **overrides)
        app = migrated_app(settings)
        if keys is not None:
            app.extensions["token_validator"].keys = keys
        return app

    return make


def until_refused(client: FlaskClient, token: str, timeout: float = 20.0) -> Any:
    """Ask with `token` until it is refused (or `timeout` passes); generous, the interval under test is ~1 s."""
    deadline = time.monotonic() + timeout
    while True:
        response = get_me(client, token)
        if response.status_code != 200 or time.monotonic() > deadline:
            return response
        time.sleep(0.2)


def test_a_withdrawn_key_stops_being_trusted_after_the_refresh_interval(make_app: AppFactory, jwks: Jwks) -> None:
    client = make_app(keys=JwksKeys(jwks.url, refresh_seconds=1.0)).test_client()
    old_token = jwks.sign(claims())
    assert get_me(client, old_token).status_code == 200
    fetches = jwks.fetches
    # The issuer rotates: k1 is withdrawn (say it leaked), k2 signs from now on. k1 is still in our cache,
    # so no unknown kid triggers a refresh: only the schedule can drop it.
    new_key = RSAKey.generate_key(2048, parameters={"kid": "k2"}, private=True)
    jwks.keys = [new_key]
    assert_401(until_refused(client, old_token), "token signed with unknown key id 'k1'")
    assert jwks.fetches > fetches
    assert get_me(client, jwks.sign(claims(), key=new_key)).status_code == 200


def test_the_jwks_max_age_sets_the_interval(make_app: AppFactory, jwks: Jwks) -> None:
    jwks.cache_control = "public, max-age=1"
    keys = JwksKeys(jwks.url, refresh_seconds=3600.0, max_age_bounds=(1.0, 3600.0))
    client = make_app(keys=keys).test_client()
    old_token = jwks.sign(claims())
    assert get_me(client, old_token).status_code == 200
    jwks.keys = [RSAKey.generate_key(2048, parameters={"kid": "k2"}, private=True)]
    assert_401(until_refused(client, old_token), "unknown key id 'k1'")


def test_a_max_age_below_the_lower_bound_does_not_refetch_per_request(make_app: AppFactory, jwks: Jwks) -> None:
    jwks.cache_control = "max-age=0"
    client = make_app().test_client()  # the production wiring: bounds of 1 min to 1 h
    for _ in range(5):
        assert get_me(client, jwks.sign(claims())).status_code == 200
    assert jwks.fetches == 1


def test_a_flood_of_made_up_kids_fetches_the_keys_once(make_app: AppFactory, jwks: Jwks) -> None:
    client = make_app().test_client()
    stranger = RSAKey.generate_key(2048, private=True)
    for _ in range(50):
        kid = uuid.uuid4().hex
        assert_401(get_me(client, jwks.sign(claims(), key=stranger, kid=kid)), f"unknown key id '{kid}'")
    assert jwks.fetches == 1


def test_while_the_issuer_fails_the_last_keys_stay_in_use_for_a_while(make_app: AppFactory, jwks: Jwks) -> None:
    keys = JwksKeys(jwks.url, refresh_seconds=0.5, min_refresh_seconds=0.2, keep_stale_seconds=3600.0)
    client = make_app(keys=keys).test_client()
    token = jwks.sign(claims())
    assert get_me(client, token).status_code == 200
    jwks.failing = True
    fetches, deadline = jwks.fetches, time.monotonic() + 20
    while jwks.fetches < fetches + 2 and time.monotonic() < deadline:  # two failed refreshes, paced
        assert get_me(client, token).status_code == 200
        time.sleep(0.1)
    assert jwks.fetches >= fetches + 2


def test_keys_the_issuer_could_not_confirm_for_too_long_are_dropped(make_app: AppFactory, jwks: Jwks) -> None:
    keys = JwksKeys(jwks.url, refresh_seconds=0.5, min_refresh_seconds=0.2, keep_stale_seconds=0.5)
    client = make_app(keys=keys).test_client()
    token = jwks.sign(claims())
    assert get_me(client, token).status_code == 200
    jwks.failing = True
    response = until_refused(client, token)
    assert response.status_code == 503
    assert response.json["message"] == "the identity provider's signing keys are unavailable; try again shortly"
    jwks.failing = False
    deadline = time.monotonic() + 20
    while get_me(client, token).status_code != 200:  # the issuer is back: so are its keys
        assert time.monotonic() < deadline
        time.sleep(0.1)


def test_a_token_minted_to_live_too_long_is_refused(make_app: AppFactory, jwks: Jwks) -> None:
    client = make_app().test_client()
    now = int(time.time())
    response = get_me(client, jwks.sign(claims(iat=now, nbf=now, exp=now + 25 * 3600)))
    assert_401(response, "")
    assert response.json["message"] == "token lifetime of 90000 s (exp - iat) exceeds the accepted maximum of 86400 s"
    assert get_me(client, jwks.sign(claims(iat=now, nbf=now, exp=now + 24 * 3600))).status_code == 200


def test_the_lifetime_cap_is_a_setting(make_app: AppFactory, jwks: Jwks) -> None:
    client = make_app(jwt_max_lifetime=600).test_client()
    now = int(time.time())
    response = get_me(client, jwks.sign(claims(iat=now, exp=now + 601)))
    assert_401(response, "token lifetime of 601 s (exp - iat) exceeds the accepted maximum of 600 s")
    assert get_me(client, jwks.sign(claims(iat=now, exp=now + 600))).status_code == 200


def test_a_token_issued_in_the_future_says_so(make_app: AppFactory, jwks: Jwks) -> None:
    client = make_app().test_client()
    now = int(time.time())
    response = get_me(client, jwks.sign(claims(iat=now + 3600, nbf=now, exp=now + 4000)))
    assert_401(response, "token was issued in the future (iat is ")
    message = response.json["message"]
    assert message.endswith(
        " s ahead of this server's clock, more than the 30 s leeway): check the clocks of the identity provider "
        "and of this server"
    )
    ahead = int(message.removeprefix("token was issued in the future (iat is ").split(" ")[0])
    assert 3590 <= ahead <= 3600
    # within the leeway a clock a little ahead is tolerated
    assert get_me(client, jwks.sign(claims(iat=now + 10, nbf=now, exp=now + 600))).status_code == 200


def test_a_token_without_iat_is_refused(make_app: AppFactory, jwks: Jwks) -> None:
    token_claims = claims()
    del token_claims["iat"]
    assert_401(get_me(make_app().test_client(), jwks.sign(token_claims)), "token lacks a required claim (iat)")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def bearer_with(header: dict[str, Any]) -> bytes:
    """An Authorization value: a compact JWS whose protected header is `header` as UTF-8 JSON (unsigned)."""
    encoded = _b64(json.dumps(header, ensure_ascii=False).encode())
    return f"Bearer {encoded}.{_b64(json.dumps(claims()).encode())}.c2lnbmF0dXJl".encode()


def call_as_gunicorn(app: Flask, authorization: bytes) -> tuple[str, list[tuple[str, str]], bytes]:
    """Call the WSGI app with the environ gunicorn builds: header bytes decoded as latin-1 (PEP 3333).

    The response headers are checked the way gunicorn checks them before sending; where it refuses
    one it answers its own HTML 500 instead of ours.
    """
    environ = EnvironBuilder(path="/api/v1/me", headers={"X-Request-ID": "odd-bytes"}).get_environ()
    environ["HTTP_AUTHORIZATION"] = authorization.decode("latin-1")
    captured: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        captured.update(status=status, headers=headers)

    body = b"".join(app(environ, start_response))
    for name, value in captured["headers"]:
        assert HEADER_VALUE_RE.fullmatch(value), f"gunicorn would refuse the {name} header: {value!r}"
        value.encode("latin-1")
    return captured["status"], captured["headers"], body


@pytest.mark.parametrize(
    ("authorization", "message"),
    [
        (
            bearer_with({"alg": "RS256", "kid": "ä€"}),
            "token signed with unknown key id '\\xe4\\u20ac'",
        ),
        (bearer_with({"alg": "ä€"}), "token algorithm '\\xe4\\u20ac' is not accepted (RS256 only)"),
        (bearer_with({"alg": "RS256", "kid": "k\x01\r\n"}), "unknown key id 'k\\x01\\r\\n'"),
        (bearer_with({"alg": "RS256", "kid": "€" * 100}), "unknown key id '\\u20ac\\u20ac\\u20ac"),
        (bearer_with({"alg": "RS256", "kid": 7}), "token header's kid is not a string"),
        (b"Bearer eyJ" + "ä€".encode() + b".eyJ.sig", "malformed token: not a compact JWS"),
        (b"Bearer eyJhbGciOiJSUzI1NiJ9.eyJ\xff\xfe.sig", "malformed token: not a compact JWS"),
        ("Bearer ä€".encode(), "malformed token: not a compact JWS"),
    ],
)
def test_non_latin1_tokens_are_a_401_in_the_one_error_shape(
    make_app: AppFactory, authorization: bytes, message: str
) -> None:
    status, headers, body = call_as_gunicorn(make_app(), authorization)
    assert status.startswith("401 ")
    error = json.loads(body)
    assert error["code"] == 401 and error["status"] == "Unauthorized" and error["request_id"] == "odd-bytes"
    assert message in error["message"], error["message"]
    assert len(error["message"]) < 200, "a token's value is echoed shortened"
    challenge = dict(headers)["WWW-Authenticate"]
    assert challenge.startswith('Bearer error="invalid_token", error_description="')
    assert challenge.isascii()
