"""The development identity provider speaks XSUAA's OAuth: authorization code + PKCE, refresh, client credentials.

Driven over real HTTP with `requests`, as a native app's OAuth library would: the login page, the redirect with
the code, the token endpoint, and the access token used on the API. Each misuse gets the RFC's error.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from flask import Flask
from joserfc import jws

from app import dev_oauth

REDIRECT = "sapextensionapi://oauth/callback"  # the native app's, from xs-security.json


@pytest.fixture
def client_id(app: Flask) -> str:
    return f"sb-{app.extensions['settings'].xsappname}"


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def sign_in(
    base: str,
    client_id: str,
    user: str,
    challenge: str | None,
    redirect_uri: str = REDIRECT,
    scope: str | None = None,
    browser: requests.Session | None = None,
) -> str:
    """The browser part: authorize, pick `user` on the login page, come back with a code (state checked)."""
    browser = browser or requests.Session()
    state = secrets.token_urlsafe(8)
    params = {"response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri, "state": state}
    if challenge:
        params |= {"code_challenge": challenge, "code_challenge_method": "S256"}
    if scope:
        params["scope"] = scope
    page = browser.get(f"{base}/dev-idp/oauth/authorize", params=params, allow_redirects=False, timeout=10)
    assert page.status_code == 200 and "Sign in" in page.text
    form = dict(re.findall(r'name="(continue|login_token)" value="([^"]*)"', page.text))
    assert f'value="{user}"' in page.text  # the user is offered
    form["continue"] = form["continue"].replace("&amp;", "&")
    after = browser.post(f"{base}/dev-idp/login", data={**form, "user": user}, allow_redirects=False, timeout=10)
    assert after.status_code == 303
    back = browser.get(base + after.headers["Location"], allow_redirects=False, timeout=10)
    assert back.status_code == 302
    location = back.headers["Location"]
    assert location.startswith(redirect_uri + "?")
    query = parse_qs(urlsplit(location).query)
    assert query["state"] == [state]
    return query["code"][0]


def exchange(base: str, **form: str) -> requests.Response:
    return requests.post(f"{base}/dev-idp/oauth/token", data=form, timeout=10)


def redeem(base: str, client_id: str, code: str, verifier: str) -> requests.Response:
    """A public client's code exchange: the code, its redirect URI and the PKCE verifier, no secret."""
    return exchange(
        base,
        grant_type="authorization_code",
        code=code,
        redirect_uri=REDIRECT,
        client_id=client_id,
        code_verifier=verifier,
    )


def test_pkce_flow_gives_an_xsuaa_token_that_calls_the_api(served: str, client_id: str) -> None:
    verifier, challenge = pkce()
    code = sign_in(served, client_id, "PM_1010_1020", challenge)
    answer = redeem(served, client_id, code, verifier)
    assert answer.status_code == 200, answer.text
    assert answer.headers["Cache-Control"] == "no-store"
    body = answer.json()
    assert body["token_type"] == "bearer" and body["refresh_token"] and body["id_token"]
    assert 0 < body["expires_in"] <= 3600  # short-lived: apps refresh
    header = jws.extract_compact(body["access_token"].encode()).protected
    assert header["jku"] == f"{served}/dev-idp/token_keys" and header["kid"]
    claims = json.loads(jws.extract_compact(body["access_token"].encode()).payload)
    assert claims["user_name"] == "PM_1010_1020"
    assert claims["cid"] == claims["azp"] == client_id and claims["zid"]
    assert "sap-extension-api.PlantManager" in claims["scope"]
    assert claims["xs.user.attributes"] == {"Plant": ["1010", "1020"]}
    assert claims["xs.system.attributes"] == {"xs.rolecollections": ["PlantManager"]}

    me = requests.get(f"{served}/api/v1/me", headers={"Authorization": f"Bearer {body['access_token']}"}, timeout=10)
    assert me.status_code == 200, me.text
    assert me.json()["user"] == "PM_1010_1020"
    assert me.json()["roles"] == ["PlantManager"]
    assert me.json()["attributes"]["Plant"] == ["1010", "1020"]


def test_wrong_verifier_and_replayed_code_are_invalid_grant(served: str, client_id: str) -> None:
    verifier, challenge = pkce()
    code = sign_in(served, client_id, "SUP_ASSY1010", challenge)
    wrong = redeem(served, client_id, code, pkce()[0])
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
    # The code is spent by the failed attempt too: a guesser gets one try per code.
    again = redeem(served, client_id, code, verifier)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"

    code = sign_in(served, client_id, "SUP_ASSY1010", challenge)
    first = redeem(served, client_id, code, verifier)
    assert first.status_code == 200
    replay = redeem(served, client_id, code, verifier)
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
    # A replayed code revokes what it gave (RFC 6749 4.1.2): its refresh token no longer works.
    refreshed = exchange(
        served, grant_type="refresh_token", refresh_token=first.json()["refresh_token"], client_id=client_id
    )
    assert refreshed.status_code == 400 and refreshed.json()["error"] == "invalid_grant"


def test_public_client_must_use_pkce(served: str, client_id: str) -> None:
    code = sign_in(served, client_id, "EXEC_ANNA", challenge=None)
    answer = exchange(served, grant_type="authorization_code", code=code, redirect_uri=REDIRECT, client_id=client_id)
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_grant"
    assert "PKCE" in answer.json()["error_description"]


def test_unregistered_redirect_uri_is_refused_without_redirecting(served: str, client_id: str) -> None:
    params = {"response_type": "code", "client_id": client_id, "redirect_uri": "https://evil.example/cb"}
    page = requests.get(f"{served}/dev-idp/oauth/authorize", params=params, allow_redirects=False, timeout=10)
    assert page.status_code == 400 and "Location" not in page.headers  # RFC 6749 4.1.2.1: never to that URI
    assert "is not registered" in page.text
    params = {**params, "client_id": "nope", "redirect_uri": REDIRECT}
    unknown = requests.get(f"{served}/dev-idp/oauth/authorize", params=params, timeout=10)
    assert unknown.status_code == 400 and "unknown client_id" in unknown.text


def test_plain_pkce_is_refused_at_the_redirect_uri(served: str, client_id: str) -> None:
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": REDIRECT,
        "state": "s1",
        "code_challenge": "x" * 43,
        "code_challenge_method": "plain",
    }
    answer = requests.get(f"{served}/dev-idp/oauth/authorize", params=params, allow_redirects=False, timeout=10)
    assert answer.status_code == 302
    query = parse_qs(urlsplit(answer.headers["Location"]).query)
    assert query["error"] == ["invalid_request"] and query["state"] == ["s1"]


def test_refresh_tokens_rotate_and_a_reused_one_revokes_the_family(served: str, client_id: str) -> None:
    verifier, challenge = pkce()
    code = sign_in(served, client_id, "EXEC_ANNA", challenge)
    tokens = redeem(served, client_id, code, verifier).json()
    first = tokens["refresh_token"]
    rotated = exchange(served, grant_type="refresh_token", refresh_token=first, client_id=client_id)
    assert rotated.status_code == 200
    second = rotated.json()["refresh_token"]
    assert second != first
    me = requests.get(
        f"{served}/api/v1/me", headers={"Authorization": f"Bearer {rotated.json()['access_token']}"}, timeout=10
    )
    assert me.json()["user"] == "EXEC_ANNA"

    reused = exchange(served, grant_type="refresh_token", refresh_token=first, client_id=client_id)
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"
    # The thief's reuse costs the legitimate holder too: the whole family is revoked.
    after = exchange(served, grant_type="refresh_token", refresh_token=second, client_id=client_id)
    assert after.status_code == 400 and after.json()["error"] == "invalid_grant"


def test_revoked_refresh_token_stops_working(served: str, client_id: str) -> None:
    verifier, challenge = pkce()
    code = sign_in(served, client_id, "OPS_ADMIN", challenge)
    refresh = redeem(served, client_id, code, verifier).json()["refresh_token"]
    form = {"token": refresh, "client_id": client_id}
    revoked = requests.post(f"{served}/dev-idp/oauth/revoke", data=form, timeout=10)
    assert revoked.status_code == 200
    answer = exchange(served, grant_type="refresh_token", refresh_token=refresh, client_id=client_id)
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_grant"


def test_client_credentials_needs_the_secret(app: Flask, served: str, client_id: str) -> None:
    secret = dev_oauth.client_for(app.extensions["settings"]).secret
    anonymous = exchange(served, grant_type="client_credentials", client_id=client_id)
    assert anonymous.status_code == 400 and anonymous.json()["error"] == "unauthorized_client"
    grant = {"grant_type": "client_credentials"}
    wrong = requests.post(f"{served}/dev-idp/oauth/token", data=grant, auth=(client_id, "wrong"), timeout=10)
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
    assert wrong.headers["WWW-Authenticate"].startswith("Basic")
    ok = requests.post(
        f"{served}/dev-idp/oauth/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret), timeout=10
    )
    assert ok.status_code == 200 and "refresh_token" not in ok.json()
    unsupported = exchange(served, grant_type="password", client_id=client_id, username="x", password="y")
    assert unsupported.status_code == 400 and unsupported.json()["error"] == "unsupported_grant_type"


def test_discovery_and_logout(served: str, client_id: str) -> None:
    config = requests.get(f"{served}/dev-idp/.well-known/openid-configuration", timeout=10).json()
    assert config["authorization_endpoint"] == f"{served}/dev-idp/oauth/authorize"
    assert config["token_endpoint"] == f"{served}/dev-idp/oauth/token"
    assert config["code_challenge_methods_supported"] == ["S256"]
    keys = requests.get(config["jwks_uri"], timeout=10).json()
    assert keys["keys"][0]["kty"] == "RSA"

    # Signed in once, the next authorize skips the login page (the session); logout ends that.
    browser = requests.Session()
    verifier, challenge = pkce()
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": REDIRECT,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    sign_in(served, client_id, "EXEC_BEN", challenge, browser=browser)  # the login page, once
    again = browser.get(config["authorization_endpoint"], params=params, allow_redirects=False, timeout=10)
    assert again.status_code == 302 and "code=" in again.headers["Location"]
    code = parse_qs(urlsplit(again.headers["Location"]).query)["code"][0]
    refresh = redeem(served, client_id, code, verifier).json()["refresh_token"]

    out = browser.get(config["end_session_endpoint"], params={"redirect": REDIRECT}, allow_redirects=False, timeout=10)
    assert out.status_code == 302 and out.headers["Location"] == REDIRECT
    login_again = browser.get(config["authorization_endpoint"], params=params, allow_redirects=False, timeout=10)
    assert login_again.status_code == 200 and "Sign in" in login_again.text
    # Logout also revoked the refresh tokens issued in that session.
    answer = exchange(served, grant_type="refresh_token", refresh_token=refresh, client_id=client_id)
    assert answer.json()["error"] == "invalid_grant"


@pytest.mark.parametrize(
    ("pattern", "uri", "allowed"),
    [
        (
            "https://*.cfapps.*.hana.ondemand.com/login/callback",
            "https://app.cfapps.eu10.hana.ondemand.com/login/callback",
            True,
        ),
        (
            "https://*.cfapps.*.hana.ondemand.com/login/callback",
            "https://app.cfapps.eu10.hana.ondemand.com/x/login/callback",
            False,
        ),
        (
            "https://*.cfapps.*.hana.ondemand.com/login/callback",
            "https://evil.example/.cfapps.x.hana.ondemand.com/login/callback",
            False,
        ),
        ("http://localhost:*/**", "http://localhost:5001/login/callback", True),
        ("http://localhost:*/**", "http://localhost:5001@evil.example/cb", False),
        ("http://localhost:*/**", "http://localhost.evil.example/cb", False),
        ("sapextensionapi://oauth/callback", "sapextensionapi://oauth/callback", True),
        ("sapextensionapi://oauth/callback", "sapextensionapi://oauth/callback#x", False),
        # A backslash ends the host for a browser, not for Python's URL parser: never a match.
        ("https://*.cfapps.*.example.com/cb", "https://evil.com\\.cfapps.x.example.com/cb", False),
        ("https://*.cfapps.*.example.com/cb", "https://evil.com.x.cfapps.x.example.com/cb", False),  # * is one label
        ("http://localhost:*/**", "http://localhost:5001/cb\r\nSet-Cookie: x=1", False),
        ("http://localhost:*/**", "http://localhost:5001/a b", False),
    ],
)
def test_redirect_uri_patterns(pattern: str, uri: str, allowed: bool) -> None:
    assert dev_oauth.redirect_matches(pattern, uri) is allowed


def test_a_confidential_clients_refresh_token_needs_its_secret(app: Flask, served: str, client_id: str) -> None:
    secret = dev_oauth.client_for(app.extensions["settings"]).secret
    code = sign_in(served, client_id, "PM_1010", challenge=None)  # as the router does: no PKCE, the secret
    tokens = requests.post(
        f"{served}/dev-idp/oauth/token",
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT},
        auth=(client_id, secret),
        timeout=10,
    ).json()
    stolen = exchange(served, grant_type="refresh_token", refresh_token=tokens["refresh_token"], client_id=client_id)
    assert stolen.status_code == 400 and stolen.json()["error"] == "invalid_grant"
    assert "confidential" in stolen.json()["error_description"]


def test_a_refresh_cannot_widen_the_grant(served: str, client_id: str) -> None:
    verifier, challenge = pkce()
    code = sign_in(served, client_id, "EXEC_ANNA", challenge, scope="openid")
    tokens = redeem(served, client_id, code, verifier).json()
    assert tokens["scope"] == "openid"
    wider = exchange(
        served,
        grant_type="refresh_token",
        refresh_token=tokens["refresh_token"],
        client_id=client_id,
        scope="sap-extension-api.Executive",
    )
    assert wider.status_code == 400 and wider.json()["error"] == "invalid_scope"


def test_a_code_dies_with_its_session(served: str, client_id: str) -> None:
    verifier, challenge = pkce()
    browser = requests.Session()
    code = sign_in(served, client_id, "EXEC_BEN", challenge, browser=browser)
    browser.get(f"{served}/dev-idp/logout.do", timeout=10)
    answer = redeem(served, client_id, code, verifier)
    assert answer.status_code == 400 and "session" in answer.json()["error_description"]


def test_an_odd_login_token_is_a_400_not_a_500(served: str) -> None:
    form = {"login_token": "é", "user": "PM_1010", "continue": "/dev-idp/oauth/authorize?x=1"}
    answer = requests.post(f"{served}/dev-idp/login", data=form, cookies={"dev_idp_login": "abc"}, timeout=10)
    assert answer.status_code == 400
