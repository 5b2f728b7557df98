"""Who you are in SAP: a propagated user SAP does not know is the caller's 403; our refused credentials a 502."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask.testing import FlaskClient

from runtime.settings import Settings
from tests.conftest import migrated_app
from tests.integration.roles.conftest import Token, bearer

UNKNOWN = "EXEC_ZOE"  # an executive of the identity provider who has no user in the mock SAP
NOT_KNOWN = (
    f"SAP does not know the user {UNKNOWN}: ask your SAP administrator to create the user or map your identity "
    "(principal propagation)"
)
OUR_CREDENTIALS = "SAP refused the credentials of this service"


def api_with(role_settings: Settings, tmp_path: Path, name: str, **changes: object) -> FlaskClient:
    folder = tmp_path / name
    folder.mkdir()
    settings = role_settings.replace(database_url=f"sqlite:///{folder / 'store.db'}", **changes)
    return migrated_app(settings).test_client()


@pytest.mark.parametrize("path", ["/api/v1/approvals", "/api/v1/approvals/LOCAL~000000000001"])
def test_an_executive_sap_does_not_know_gets_403_naming_the_user(api: FlaskClient, token: Token, path: str) -> None:
    zoe = bearer(token("Executive", user=UNKNOWN.lower()))
    response = api.get(path, headers=zoe)
    assert response.status_code == 403, response.json
    assert response.json["message"] == NOT_KNOWN
    assert {"code", "status", "message", "request_id"} <= response.json.keys()


def test_an_executive_sap_knows_is_served_as_before(api: FlaskClient, token: Token) -> None:
    response = api.get("/api/v1/approvals?limit=3", headers=bearer(token("Executive", user="EXEC_ANNA")))
    assert response.status_code == 200, response.json


def test_our_refused_credentials_stay_a_502_and_do_not_touch_propagated_users(
    role_settings: Settings, tmp_path: Path, token: Token
) -> None:
    api = api_with(role_settings, tmp_path, "wrong-password", sap_password="not-the-password")
    pm = bearer(token("PlantManager", user="PM_1010", Plant=["1010"]))
    technical = api.get("/api/v1/production-orders/1000001", headers=pm)
    assert technical.status_code == 502, technical.json
    assert technical.json["message"].startswith(OUR_CREDENTIALS)
    # The inbox acts as the executive with their own token: our technical password is not involved.
    inbox = api.get("/api/v1/approvals?limit=3", headers=bearer(token("Executive", user="EXEC_ANNA")))
    assert inbox.status_code == 200, inbox.json


def test_without_user_propagation_the_inbox_runs_on_our_credentials_and_their_refusal_is_ours(
    role_settings: Settings, tmp_path: Path, token: Token
) -> None:
    api = api_with(
        role_settings, tmp_path, "no-propagation", sap_password="not-the-password", sap_inbox_user_propagation=False
    )
    response = api.get("/api/v1/approvals?limit=3", headers=bearer(token("Executive", user="EXEC_ANNA")))
    assert response.status_code == 502, response.json
    assert response.json["message"].startswith(OUR_CREDENTIALS)
