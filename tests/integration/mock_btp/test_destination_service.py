"""The Destination service stand-in: its OAuth token endpoint, "find a destination" per authentication, admin."""

from __future__ import annotations

import base64
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
import requests
from joserfc.jwk import RSAKey

from runtime.settings import DEV_ISSUER, DEV_SAP_PASSWORD, DEV_SAP_USER
from runtime.user_assertion import sign, user_claims
from tests.conftest import ROOT, MockBtp

from .conftest import CONNECTIVITY_CLIENT, DESTINATION_CLIENT, SAP_CLIENT, SECRETS, Btp, destinations, verified_claims

NOT_FOUND = "Configuration with the specified name was not found"


def the_only_token(response: requests.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    tokens = response.json()["authTokens"]
    assert len(tokens) == 1, tokens
    return dict(tokens[0])


# --- /oauth/token ---------------------------------------------------------------------------------


def test_token_for_a_client_with_basic_credentials_is_verifiable_against_token_keys(btp: Btp):
    response = requests.post(
        f"{btp.url}/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(DESTINATION_CLIENT, SECRETS[DESTINATION_CLIENT]),
        timeout=10,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 3600
    assert body["scope"] == "uaa.resource"
    claims = verified_claims(btp, body["access_token"])
    assert claims["client_id"] == DESTINATION_CLIENT
    assert claims["jti"] == body["jti"]
    assert claims["exp"] - claims["iat"] == 3600
    assert "user_name" not in claims


def test_token_for_a_client_with_form_credentials_carries_its_user_name(btp: Btp):
    form = {"grant_type": "client_credentials", "client_id": SAP_CLIENT, "client_secret": SECRETS[SAP_CLIENT]}
    response = requests.post(f"{btp.url}/oauth/token", data=form, timeout=10)
    assert response.status_code == 200, response.text
    claims = verified_claims(btp, response.json()["access_token"])
    assert (claims["client_id"], claims["user_name"]) == (SAP_CLIENT, DEV_SAP_USER)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"auth": (DESTINATION_CLIENT, "wrong secret")},
        {"auth": ("unknown-client", "x")},
        {"data": {"grant_type": "client_credentials", "client_id": DESTINATION_CLIENT, "client_secret": "nope"}},
        {},
    ],
    ids=["wrong-secret", "unknown-client", "wrong-form-secret", "no-credentials"],
)
def test_token_refused_to_a_bad_client(btp: Btp, kwargs: dict[str, Any]):
    kwargs.setdefault("data", {"grant_type": "client_credentials"})
    response = requests.post(f"{btp.url}/oauth/token", timeout=10, **kwargs)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert btp.server.admin("stats")["token_requests"] == {}


def test_token_refuses_other_grant_types(btp: Btp):
    response = requests.post(
        f"{btp.url}/oauth/token",
        data={"grant_type": "password", "username": "u", "password": "p"},
        auth=(DESTINATION_CLIENT, SECRETS[DESTINATION_CLIENT]),
        timeout=10,
    )
    assert response.status_code == 400
    assert response.json() == {"error": "unsupported_grant_type"}


# --- find a destination ---------------------------------------------------------------------------


def test_basic_destination_comes_verbatim_with_a_basic_auth_token(btp: Btp):
    response = btp.lookup("S4_BASIC")
    body = response.json()
    configured = next(d for d in destinations(btp.url) if d["Name"] == "S4_BASIC")
    assert body["destinationConfiguration"] == configured
    assert body["owner"]["InstanceId"] is None
    uuid.UUID(body["owner"]["SubaccountId"])
    expected = base64.b64encode(f"{DEV_SAP_USER}:{DEV_SAP_PASSWORD}".encode()).decode()
    assert the_only_token(response) == {
        "type": "Basic",
        "value": expected,
        "http_header": {"key": "Authorization", "value": f"Basic {expected}"},
    }


def test_client_credentials_destination_gets_a_token_from_its_token_service(btp: Btp):
    token = the_only_token(btp.lookup("S4_OAUTH"))
    assert token["type"] == "bearer"
    assert token["http_header"] == {"key": "Authorization", "value": f"Bearer {token['value']}"}
    assert token["expires_in"] == "3600"
    assert token["scope"] == "uaa.resource"
    claims = verified_claims(btp, token["value"])
    assert (claims["client_id"], claims["user_name"]) == (SAP_CLIENT, DEV_SAP_USER)
    assert btp.server.admin("stats")["token_requests"][SAP_CLIENT] == 1  # fetched at its token service URL


def test_client_credentials_destination_with_an_unknown_client_answers_the_error_in_auth_tokens(btp: Btp):
    assert the_only_token(btp.lookup("S4_OAUTH_BAD_CLIENT")) == {
        "type": "",
        "value": "",
        "error": "Retrieval of OAuthToken failed due to: invalid_client",
    }


@pytest.mark.parametrize("name", ["S4_JWT_BEARER", "S4_SAML_BEARER"])
def test_user_token_destination_exchanges_the_user_jwt_for_a_sap_token_of_that_user(btp: Btp, name: str):
    token = the_only_token(btp.lookup(name, **{"X-user-token": btp.user_token("Exec_Anna")}))
    assert token["type"] == "Bearer"
    assert token["http_header"] == {"key": "Authorization", "value": f"Bearer {token['value']}"}
    assert token["expires_in"] == "3600"
    assert verified_claims(btp, token["value"])["user_name"] == "Exec_Anna"  # as given


def untrusted_token(btp: Btp) -> str:
    """Right issuer and claims, signed by a key the issuer never published."""
    key = RSAKey.generate_key(2048, parameters={"kid": "forged", "use": "sig"}, private=True)
    claims = user_claims(
        issuer=DEV_ISSUER,
        xsappname="sap-extension-api",
        user="EXEC_ANNA",
        scopes=[],
        attributes={},
        role_collections=[],
        lifetime=600,
        origin="test",
        grant_type="authorization_code",
    )
    return sign(key, claims)


@pytest.mark.parametrize(
    ("make_token", "error"),
    [
        (lambda btp: None, "missing X-user-token"),
        (lambda btp: "not-a-jwt", "user token invalid: "),
        (untrusted_token, "user token invalid: "),
        (lambda btp: btp.user_token("EXEC_ANNA", issuer="https://someone-else.example.com"), "user token invalid: "),
        (lambda btp: btp.user_token("EXEC_ANNA", lifetime=-60), "user token expired"),
    ],
    ids=["missing", "garbage", "forged", "untrusted-issuer", "expired"],
)
def test_user_token_destination_without_a_valid_user_jwt_answers_the_error_in_auth_tokens(
    btp: Btp, make_token: Callable[[Btp], str | None], error: str
):
    user_token = make_token(btp)
    headers = {} if user_token is None else {"X-user-token": user_token}
    token = the_only_token(btp.lookup("S4_JWT_BEARER", **headers))
    assert (token["type"], token["value"]) == ("", "")
    assert token["error"].startswith(error), token


@pytest.mark.parametrize("name", ["S4_PP", "NO_AUTH"])
def test_principal_propagation_and_no_authentication_have_no_auth_tokens(btp: Btp, name: str):
    response = btp.lookup(name, **{"X-user-token": btp.user_token("EXEC_ANNA")})
    assert response.status_code == 200
    body = response.json()
    assert "authTokens" not in body
    assert body["destinationConfiguration"]["Authentication"] in ("PrincipalPropagation", "NoAuthentication")


@pytest.mark.parametrize(
    "authorization",
    ["", "Basic ZGVzdDpzZWNyZXQ=", "Bearer not-a-jwt", "Bearer {user_token}"],
    ids=["none", "basic", "garbage", "foreign-jwt"],
)
def test_lookup_without_a_valid_token_is_401(btp: Btp, authorization: str):
    authorization = authorization.format(user_token=btp.user_token("EXEC_ANNA"))
    response = requests.get(
        f"{btp.url}/destination-configuration/v1/destinations/S4_BASIC",
        headers={"Authorization": authorization} if authorization else {},
        timeout=10,
    )
    assert response.status_code == 401
    assert response.json()["ErrorMessage"]
    assert btp.server.admin("stats")["destination_lookups"] == {}


def test_lookup_with_a_token_of_another_client_is_403(btp: Btp):
    response = btp.lookup("S4_BASIC", token=btp.token(CONNECTIVITY_CLIENT))
    assert response.status_code == 403
    assert response.json()["ErrorMessage"]


def test_unknown_destination_is_404(btp: Btp):
    response = btp.lookup("NO_SUCH_DESTINATION")
    assert response.status_code == 404
    assert response.json() == {"ErrorMessage": NOT_FOUND}


def test_revoked_tokens_are_refused_and_a_new_one_works(btp: Btp):
    token = btp.token(DESTINATION_CLIENT)
    assert btp.lookup("S4_BASIC", token=token).status_code == 200
    assert btp.server.admin("revoke-tokens", "POST")["revoked"] >= 1
    refused = btp.lookup("S4_BASIC", token=token)
    assert refused.status_code == 401
    assert "revoked" in refused.json()["ErrorMessage"]
    assert btp.lookup("S4_BASIC").status_code == 200  # a token fetched afterwards
    assert btp.server.admin("revoke-tokens", "POST") == {"revoked": 1}


def test_expired_token_is_401(mock_btp_factory: Callable[..., MockBtp]):
    config = {
        "clients": {"dest": {"secret": "s"}, "conn": {"secret": "c"}},
        "destination_client": "dest",
        "connectivity_client": "conn",
        "destinations": [{"Name": "X", "Type": "HTTP", "URL": "http://x", "Authentication": "NoAuthentication"}],
    }
    server = mock_btp_factory(config, "--token-ttl", "3")
    form = {"grant_type": "client_credentials"}
    answer = requests.post(f"{server.url}/oauth/token", data=form, auth=("dest", "s"), timeout=10).json()
    issued_at = time.monotonic()  # at or after the token's iat
    assert answer["expires_in"] == 3
    url = f"{server.url}/destination-configuration/v1/destinations/X"
    headers = {"Authorization": f"Bearer {answer['access_token']}"}
    assert requests.get(url, headers=headers, timeout=10).status_code == 200
    time.sleep(max(0.0, issued_at + 3.1 - time.monotonic()))  # exp is whole seconds: 3 s later it has passed
    response = requests.get(url, headers=headers, timeout=10)
    assert response.status_code == 401
    assert "expired" in response.json()["ErrorMessage"]


def test_stats_count_tokens_and_lookups_until_reset(btp: Btp):
    token = btp.token(DESTINATION_CLIENT)
    btp.token(CONNECTIVITY_CLIENT)
    for name in ("S4_BASIC", "S4_BASIC", "NO_AUTH"):
        btp.lookup(name, token=token)
    assert btp.server.admin("stats") == {
        "token_requests": {DESTINATION_CLIENT: 1, CONNECTIVITY_CLIENT: 1},
        "destination_lookups": {"S4_BASIC": 2, "NO_AUTH": 1},
        "proxy_requests": 0,
    }
    btp.server.admin("reset-stats", "POST")
    assert btp.server.admin("stats") == {"token_requests": {}, "destination_lookups": {}, "proxy_requests": 0}


def test_admin_adds_replaces_and_removes_destinations(btp: Btp):
    name = f"ADDED_{uuid.uuid4().hex[:6]}"
    url = f"{btp.url}/mock-admin/destinations/{name}"
    configuration = {"Name": name, "Type": "HTTP", "URL": "https://a.example.com", "Authentication": "NoAuthentication"}
    assert requests.put(url, json=configuration, timeout=10).status_code == 201
    assert btp.lookup(name).json()["destinationConfiguration"] == configuration
    replaced = {**configuration, "URL": "https://b.example.com"}
    assert requests.put(url, json=replaced, timeout=10).status_code == 200
    assert btp.lookup(name).json()["destinationConfiguration"]["URL"] == "https://b.example.com"
    assert requests.delete(url, timeout=10).status_code == 204
    assert btp.lookup(name).status_code == 404
    assert requests.delete(url, timeout=10).status_code == 404


def test_a_config_naming_an_unknown_client_is_refused_at_start(tmp_path):
    config = tmp_path / "btp.json"
    config.write_text('{"clients": {}, "destination_client": "dest", "connectivity_client": "conn"}')
    result = subprocess.run(
        [sys.executable, "-m", "mock_btp", "--port", "0", "--proxy-port", "0", "--config", str(config)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "destination_client 'dest' is not one of the clients" in result.stderr
