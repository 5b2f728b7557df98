"""Request ids, the one error shape, request size limit and the OpenAPI document."""

from __future__ import annotations

import logging

import pytest
from flask.testing import FlaskClient
from openapi_spec_validator import validate

from app import create_app
from runtime.settings import Settings

ERROR_KEYS = {"code", "status", "message", "request_id"}


def test_request_id_is_generated_and_returned(client: FlaskClient) -> None:
    first = client.get("/health/live").headers["X-Request-ID"]
    second = client.get("/health/live").headers["X-Request-ID"]
    assert first and second and first != second


def test_caller_request_id_is_kept_and_bound_to_every_log_line(
    client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    response = client.get("/health/ready", headers={"X-Request-ID": "mobile-42.a"})
    assert response.headers["X-Request-ID"] == "mobile-42.a"
    # structlog hands the stdlib handler its event dict as the record's msg
    events = [r.msg for r in caplog.records if isinstance(r.msg, dict)]
    request_events = [event for event in events if event.get("event") == "request"]
    assert request_events, "no request event was logged"
    assert all(line["request_id"] == "mobile-42.a" for line in request_events)


@pytest.mark.parametrize("unsafe", ["has spaces; and=more", "x" * 200, 'quote"d', ""])
def test_unsafe_request_id_is_replaced(client: FlaskClient, unsafe: str) -> None:
    returned = client.get("/health/live", headers={"X-Request-ID": unsafe}).headers["X-Request-ID"]
    assert returned != unsafe
    assert len(returned) == 32 and returned.isalnum()


def test_unknown_route_gets_the_error_shape(client: FlaskClient) -> None:
    response = client.get("/no/such/thing", headers={"X-Request-ID": "r1"})
    assert response.status_code == 404
    assert ERROR_KEYS <= set(response.json)
    assert response.json["request_id"] == "r1"


def test_wrong_method_gets_the_error_shape(client: FlaskClient) -> None:
    response = client.post("/health/live")
    assert response.status_code == 405
    assert ERROR_KEYS <= set(response.json)
    assert "GET" in response.headers["Allow"]


def test_oversized_body_is_refused(client: FlaskClient) -> None:
    response = client.post("/health/live", data=b"x" * 2_000_000, content_type="application/json")
    assert response.status_code == 413
    assert ERROR_KEYS <= set(response.json)


def test_openapi_document_is_valid_openapi_3(client: FlaskClient) -> None:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    spec = response.json
    validate(spec)
    assert spec["openapi"].startswith("3.")
    assert {"/health/live", "/health/ready"} <= set(spec["paths"])
    assert set(spec["components"]["schemas"]["Error"]["properties"]) >= {"code", "status", "message"}


def test_docs_ui_is_served(client: FlaskClient) -> None:
    response = client.get("/docs")
    assert response.status_code == 200
    assert b"swagger-ui" in response.data


def test_security_headers_on_every_response(client: FlaskClient) -> None:
    response = client.get("/api/v1/me")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Cache-Control"] == "private, no-cache"
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]


def test_cors_allows_only_listed_origins(settings: Settings) -> None:
    client = create_app(settings.replace(cors_origins=("https://app.example.com",))).test_client()
    preflight = client.options(
        "/api/v1/me",
        headers={"Origin": "https://app.example.com", "Access-Control-Request-Method": "GET"},
    )
    assert preflight.headers["Access-Control-Allow-Origin"] == "https://app.example.com"
    assert "Authorization" in preflight.headers["Access-Control-Allow-Headers"]
    assert "Idempotency-Key" in preflight.headers["Access-Control-Allow-Headers"]
    foreign = client.get("/api/v1/me", headers={"Origin": "https://evil.example.com"})
    assert "Access-Control-Allow-Origin" not in foreign.headers


def test_non_json_body_is_415(client: FlaskClient) -> None:
    response = client.post(
        "/api/v1/work-orders/1000000-0010/confirmations", data='{"yield_quantity": "1"}', content_type="text/plain"
    )
    assert response.status_code == 415
    assert "application/json" in response.json["message"]
