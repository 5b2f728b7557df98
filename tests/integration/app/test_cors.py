"""CORS for browser apps: their trace context may come in, the headers they must read go out."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from app import create_app
from runtime.settings import Settings

ORIGIN = "https://app.example.com"
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


@pytest.fixture
def browser(settings: Settings) -> FlaskClient:
    return create_app(settings.replace(cors_origins=(ORIGIN,))).test_client()


def listed(value: str | None) -> set[str]:
    return {name.strip().lower() for name in (value or "").split(",") if name.strip()}


def test_preflight_allows_the_trace_context_of_a_browser_app(browser: FlaskClient) -> None:
    preflight = browser.options(
        "/api/v1/writebacks",
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization,traceparent,tracestate,if-none-match",
        },
    )
    assert preflight.status_code < 300
    assert preflight.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert {"authorization", "traceparent", "tracestate", "if-none-match"} <= listed(
        preflight.headers.get("Access-Control-Allow-Headers")
    )
    assert "get" in listed(preflight.headers.get("Access-Control-Allow-Methods"))


def test_an_actual_request_exposes_what_a_browser_app_must_read(browser: FlaskClient) -> None:
    response = browser.get(
        "/api/v1/me", headers={"Origin": ORIGIN, "traceparent": TRACEPARENT, "Authorization": "Bearer expired.or.bad"}
    )
    assert response.status_code == 401
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert response.headers.get("WWW-Authenticate"), "the 401 says why in WWW-Authenticate"
    exposed = listed(response.headers.get("Access-Control-Expose-Headers"))
    assert {"www-authenticate", "etag", "location", "retry-after", "x-request-id"} <= exposed
    assert "Origin" in response.headers.get("Vary", "")


def test_an_origin_not_listed_gets_no_cors_headers(browser: FlaskClient) -> None:
    response = browser.get("/api/v1/me", headers={"Origin": "https://evil.example.com", "traceparent": TRACEPARENT})
    assert "Access-Control-Allow-Origin" not in response.headers
    assert "Access-Control-Expose-Headers" not in response.headers
