"""The development identity provider: `flask dev-token` mints tokens the API accepts; off in production."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import requests
from flask import Flask

from app import create_app
from runtime.settings import Settings

ROOT = Path(__file__).resolve().parents[3]


def test_cli_token_is_accepted_by_the_api(app: Flask) -> None:
    result = app.test_cli_runner().invoke(
        args=["dev-token", "--user", "pat", "--role-collection", "Supervisor", "--attribute", "Plant=1010",
              "--attribute", "WorkCenter=ASSY1010", "--attribute", "WorkCenter=PACK1010"]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    token = result.output.strip()
    me = app.test_client().get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200
    assert me.json["roles"] == ["Supervisor"]
    assert me.json["attributes"] == {"Plant": ["1010"], "WorkCenter": ["ASSY1010", "PACK1010"]}
    assert me.json["role_collections"] == ["Supervisor"]


def test_cli_refuses_unknown_role_collection_and_bad_attribute(app: Flask) -> None:
    runner = app.test_cli_runner()
    unknown = runner.invoke(args=["dev-token", "--user", "x", "--role-collection", "Emperor"])
    assert unknown.exit_code != 0 and "Emperor" in unknown.output
    malformed = runner.invoke(
        args=["dev-token", "--user", "x", "--role-collection", "Executive", "--attribute", "Plant"]
    )
    assert malformed.exit_code != 0 and "NAME=VALUE" in malformed.output


def test_jwks_endpoint_serves_only_the_public_key(app: Flask) -> None:
    keys = app.test_client().get("/dev-idp/token_keys").json["keys"]
    assert len(keys) == 1 and keys[0]["kty"] == "RSA"
    assert "d" not in keys[0] and "p" not in keys[0]


def test_not_registered_when_a_real_identity_provider_is_configured(settings: Settings) -> None:
    app = create_app(settings.replace(jwt_issuer="https://idp.example.com", jwks_url="https://idp.example.com/keys"))
    assert app.test_client().get("/dev-idp/token_keys").status_code == 404
    assert "dev-token" not in app.cli.commands
    assert "/dev-idp/token_keys" not in app.test_client().get("/openapi.json").json["paths"]


def test_flask_cli_command_from_the_readme(tmp_path: Path) -> None:
    env = dict(os.environ, DEV_IDP_KEY_FILE=str(tmp_path / "key.json"), DATABASE_URL=f"sqlite:///{tmp_path}/x.db")
    command = ["flask", "--app", "wsgi", "dev-token", "--user", "anna", "--role-collection", "Executive"]
    result = subprocess.run(
        [sys.executable, "-m", *command], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip().splitlines()[-1]
    assert token.count(".") == 2
    assert requests.utils.quote(token) == token  # URL-safe: pastes into a curl header as is
