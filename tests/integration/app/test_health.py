"""Health probes against real Redis, a real SQLite store and the live mock SAP."""

from __future__ import annotations

from flask.testing import FlaskClient

from app import create_app
from devenv.redis_server import free_port
from runtime.settings import Settings


def test_live_checks_no_dependency() -> None:
    nothing_listens = f"http://127.0.0.1:{free_port()}"
    client = create_app(Settings(redis_url=f"redis://127.0.0.1:{free_port()}/0", sap_url=nothing_listens))
    response = client.test_client().get("/health/live")
    assert response.status_code == 200
    assert response.json == {"status": "up"}


def test_ready_when_everything_answers(client: FlaskClient) -> None:
    response = client.get("/health/ready")
    assert response.status_code == 200, response.json
    assert response.json == {"status": "ready", "checks": {"redis": "ok", "database": "ok", "sap": "ok"}}


def test_ready_names_what_is_down(settings: Settings) -> None:
    broken = settings.replace(redis_url=f"redis://127.0.0.1:{free_port()}/0", sap_url=f"http://127.0.0.1:{free_port()}")
    response = create_app(broken).test_client().get("/health/ready")
    assert response.status_code == 503
    body = response.json
    assert body["code"] == 503 and body["status"] == "Service Unavailable"
    assert set(body["errors"]) == {"redis", "sap"}
    assert "redis" in body["message"] and "sap" in body["message"]
    assert response.headers["Retry-After"]


def test_ready_reports_refused_sap_credentials(settings: Settings) -> None:
    response = create_app(settings.replace(sap_password="wrong")).test_client().get("/health/ready")
    assert response.status_code == 503
    assert response.json["errors"] == {"sap": "credentials refused (HTTP 401)"}
