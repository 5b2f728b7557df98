"""Destinations from plain values and from BTP-style destination entries."""

from __future__ import annotations

import pytest

from odata_clients.destinations import (
    AuthKind,
    BasicAuth,
    OAuth2ClientCredentials,
    Principal,
    UserPropagation,
    build_destination,
    destination_from_entry,
)


def test_build_basic_destination_with_defaults() -> None:
    dest = build_destination("s4", "https://sap.example.com/", user="TECH", password="secret", read_timeout=5)
    assert dest.url == "https://sap.example.com"
    assert dest.client == "100"
    assert dest.auth == BasicAuth("TECH", "secret")
    assert dest.auth_kind is AuthKind.BASIC
    assert dest.read_timeout == 5
    assert dest.max_attempts == 3
    assert "secret" not in repr(dest)


def test_build_rejects_missing_credentials_unknown_tuning_and_bad_urls() -> None:
    with pytest.raises(ValueError, match="user and password"):
        build_destination("s4", "https://sap", user="TECH")
    with pytest.raises(ValueError, match="unknown"):
        build_destination("s4", "https://sap", user="u", password="p", read_timout=3)
    with pytest.raises(ValueError, match="credentials"):
        build_destination("s4", "https://u:p@sap", user="u", password="p")
    with pytest.raises(ValueError, match="http"):
        build_destination("s4", "sap.example.com", user="u", password="p")


def test_oauth_and_user_propagation() -> None:
    oauth = build_destination(
        "s4",
        "https://sap",
        auth_kind="oauth2_client_credentials",
        token_url="https://uaa/oauth/token",
        client_id="cid",
        client_secret="csecret",
    )
    assert isinstance(oauth.auth, OAuth2ClientCredentials)
    assert "csecret" not in repr(oauth)
    user = build_destination("s4-user", "https://sap", auth_kind=AuthKind.USER_PROPAGATION)
    assert isinstance(user.auth, UserPropagation)
    assert user.auth_kind is AuthKind.USER_PROPAGATION


def test_destination_from_btp_entry() -> None:
    entry = {
        "Name": "S4HANA",
        "Type": "HTTP",
        "URL": "https://my-s4.example.com",
        "Authentication": "BasicAuthentication",
        "ProxyType": "OnPremise",
        "User": "EXT_API_TECH",
        "Password": "tech-pass-1",
        "sap-client": "200",
        "read_timeout": "12.5",
        "max_attempts": "4",
    }
    dest = destination_from_entry(entry)
    assert (dest.name, dest.url, dest.client) == ("S4HANA", "https://my-s4.example.com", "200")
    assert dest.auth == BasicAuth("EXT_API_TECH", "tech-pass-1")
    assert dest.read_timeout == 12.5
    assert dest.max_attempts == 4
    pp = destination_from_entry({"name": "S4USER", "url": "https://s4", "Authentication": "PrincipalPropagation"})
    assert pp.auth_kind is AuthKind.USER_PROPAGATION
    cc = destination_from_entry(
        {
            "Name": "S4CC",
            "URL": "https://s4",
            "Authentication": "OAuth2ClientCredentials",
            "tokenServiceURL": "https://uaa/token",
            "clientId": "c",
            "clientSecret": "s",
        },
        connect_timeout=1.0,
    )
    assert cc.auth_kind is AuthKind.OAUTH2_CLIENT_CREDENTIALS
    assert cc.connect_timeout == 1.0
    with pytest.raises(ValueError, match="unsupported"):
        destination_from_entry({"Name": "x", "URL": "https://s4", "Authentication": "ClientCertificateAuthentication"})


def test_principal_hides_its_token() -> None:
    principal = Principal("EXEC_ANNA", "eyJ.secret.token")
    assert "eyJ" not in repr(principal)
    with pytest.raises(ValueError):
        Principal("", "t")
