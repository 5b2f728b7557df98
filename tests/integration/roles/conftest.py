"""Role tests run the API in-process against a live mock SAP that trusts the dev identity provider."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient

from app.dev_idp import mint_token
from runtime.settings import Settings
from tests.conftest import MockSap, local_settings, migrated_app

TECH = ("EXT_API_TECH", "tech-pass-1")
PRODORD = "/sap/opu/odata/sap/API_PRODUCTION_ORDER_2_SRV"


@pytest.fixture
def role_settings(redis_url: str, trusting_sap: MockSap, tmp_path: Path, dev_idp_key_file: str) -> Settings:
    # A Redis db of its own: no worker consumes the jobs these tests enqueue.
    return local_settings(redis_url, trusting_sap, tmp_path, dev_idp_key_file, redis_db=2, log_level="WARNING")


@pytest.fixture
def api_app(role_settings: Settings) -> Flask:
    return migrated_app(role_settings)


@pytest.fixture
def api(api_app: Flask) -> FlaskClient:
    return api_app.test_client()


Token = Callable[..., str]


@pytest.fixture
def token(role_settings: Settings) -> Token:
    """`token("PlantManager", user="pm", claims={...}, Plant=["1010"])` -> a dev IdP bearer token.

    The first argument is a role collection, a list of them, or None for a token without scopes.
    """

    def make(
        role_collection: str | list[str] | None,
        user: str = "someone",
        claims: dict[str, Any] | None = None,
        **attrs: Any,
    ) -> str:
        collections = [role_collection] if isinstance(role_collection, str) else list(role_collection or [])
        return mint_token(role_settings, user, collections, attrs, **(claims or {}))

    return make


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def sap_rows(sap: MockSap, path: str, **params: str) -> list[dict[str, Any]]:
    """Every row straight from the mock SAP (technical user, following server-side paging)."""
    rows: list[dict[str, Any]] = []
    url: str | None = f"{sap.url}{PRODORD}/{path}"
    query: dict[str, str] | None = {"$format": "json", **params}
    while url:
        response = requests.get(url, params=query, auth=TECH, timeout=30)
        response.raise_for_status()
        rows += response.json()["d"]["results"]
        url, query = response.json()["d"].get("__next"), None
    return rows
