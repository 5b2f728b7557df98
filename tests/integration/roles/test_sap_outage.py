"""SAP down, slow or behind an open breaker: the API answers 503 with Retry-After, never 500."""

from __future__ import annotations

import requests
from flask.testing import FlaskClient

from app import create_app
from devenv.redis_server import free_port
from runtime.settings import Settings
from tests.conftest import MockSap
from tests.integration.roles.conftest import Token, bearer


def test_sap_answering_503_gives_503_with_retry_after(api: FlaskClient, token: Token, trusting_sap: MockSap) -> None:
    fault = {"service": "API_PRODUCTION_ORDER_2_SRV", "status": 503, "rate": 1.0}
    requests.post(f"{trusting_sap.url}/mock-admin/faults", json=fault, timeout=10).raise_for_status()
    response = api.get("/api/v1/production-orders", headers=bearer(token("PlantManager", Plant=["1010"])))
    assert response.status_code == 503
    assert int(response.headers["Retry-After"]) >= 1
    assert {"code", "status", "message", "request_id"} <= set(response.json)


def test_unreachable_sap_gives_503(role_settings: Settings, token: Token) -> None:
    nowhere = create_app(role_settings.replace(sap_url=f"http://127.0.0.1:{free_port()}")).test_client()
    response = nowhere.get("/api/v1/work-orders", headers=bearer(token("Supervisor", Plant=["1010"], WorkCenter=["X"])))
    assert response.status_code == 503
    assert response.headers["Retry-After"]


def test_open_breaker_fails_fast_with_503(role_settings: Settings, token: Token) -> None:
    app = create_app(role_settings.replace(sap_url=f"http://127.0.0.1:{free_port()}"))
    client = app.test_client()
    headers = bearer(token("PlantManager", Plant=["1010"]))
    for _ in range(15):  # enough failures to open the breaker whatever its threshold
        client.get("/api/v1/production-orders", headers=headers)
    response = client.get("/api/v1/production-orders", headers=headers)
    assert response.status_code == 503
    assert "circuit_open" in response.json["message"]
