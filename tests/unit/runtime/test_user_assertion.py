"""User assertions: how the worker acts as the executive in SAP without ever storing their token."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from joserfc import jwt

from runtime.settings import ConfigError, Settings, from_env
from runtime.user_assertion import (
    UserAssertionUnavailable,
    load_key,
    load_or_create_key,
    public_key_set,
    user_assertion_signer,
)


def test_key_is_created_once_and_shared(tmp_path: Path) -> None:
    path = str(tmp_path / "keys" / "key.json")
    first, second = load_or_create_key(path), load_or_create_key(path)
    assert first.kid == second.kid
    assert Path(path).stat().st_mode & 0o077 == 0, "a private key must not be readable by others"


def test_assertion_is_short_lived_signed_and_names_the_user(tmp_path: Path) -> None:
    settings = Settings(dev_idp_key_file=str(tmp_path / "key.json"), sap_user_assertion_lifetime=120)
    signer = user_assertion_signer(settings)
    assert signer is not None
    token = signer.assertion("EXEC_ANNA", "Executive")
    decoded = jwt.decode(token, public_key_set(load_or_create_key(settings.dev_idp_key_file)), algorithms=["RS256"])
    claims = decoded.claims
    assert claims["user_name"] == "EXEC_ANNA"
    assert claims["iss"] == settings.sap_user_assertion_issuer
    assert claims["scope"] == ["openid", f"{settings.xsappname}.Executive"]
    assert claims["exp"] - claims["iat"] == 120
    assert "email" not in claims, "SAP may map users by e-mail: an assertion must not invent one"


def test_production_without_a_trusted_key_has_no_signer(tmp_path: Path) -> None:
    production = Settings(env="production", dev_idp_key_file=str(tmp_path / "never.json"))
    assert user_assertion_signer(production) is None
    assert not (tmp_path / "never.json").exists(), "production must never create a development key"


def test_configured_key_must_exist(tmp_path: Path) -> None:
    with pytest.raises(UserAssertionUnavailable, match="cannot read"):
        load_key(str(tmp_path / "missing.json"))
    (tmp_path / "bad.json").write_text(json.dumps({"kty": "nonsense"}))
    with pytest.raises(UserAssertionUnavailable):
        load_key(str(tmp_path / "bad.json"))


def test_production_refuses_to_start_without_an_assertion_key() -> None:
    environ = {
        "APP_ENV": "production",
        "SAP_URL": "https://s4",
        "SAP_USER": "T",
        "SAP_PASSWORD": "p",
        "JWT_ISSUER": "https://idp",
        "JWKS_URL": "https://idp/keys",
    }
    with pytest.raises(ConfigError, match="SAP_USER_ASSERTION_KEY"):
        from_env(environ)


def test_key_from_the_environment_and_only_a_private_one(tmp_path: Path) -> None:
    key = load_or_create_key(str(tmp_path / "k.json"))
    settings = Settings(env="production", sap_user_assertion_key=json.dumps(key.as_dict(private=True)))
    signer = user_assertion_signer(settings)
    assert signer is not None and signer.assertion("EXEC_BEN", "Executive").count(".") == 2
    public_only = Settings(env="production", sap_user_assertion_key=json.dumps(key.as_dict(private=False)))
    with pytest.raises(UserAssertionUnavailable, match="no private part"):
        user_assertion_signer(public_only)
    assert "sap_user_assertion_key=" not in repr(settings), "the key must not show in the settings' repr"
