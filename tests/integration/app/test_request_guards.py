"""Bodies that would crash the JSON parser are refused first, and odd methods and paths cannot bloat /metrics."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.dev_idp import mint_token

CONFIRM = "/api/v1/work-orders/1000000-0010/confirmations"
TOO_DEEP = "JSON body nested deeper than 32 levels"


@pytest.fixture
def supervisor(app: Flask) -> dict[str, str]:
    token = mint_token(app.extensions["settings"], "SUP_ASSY1010", ["Supervisor"], {"Plant": ["1010"]})
    return {"Authorization": f"Bearer {token}", "Idempotency-Key": str(uuid.uuid4())}


def post_json(client: FlaskClient, body: bytes, headers: dict[str, str]) -> Any:
    return client.post(CONFIRM, data=body, content_type="application/json", headers=headers)


def test_a_100000_deep_body_is_a_400_naming_the_limit(client: FlaskClient, supervisor: dict[str, str]) -> None:
    # Parsed, it would be a RecursionError inside the json module: a 500.
    body = b"[" * 100_000 + b"]" * 100_000
    response = post_json(client, body, {**supervisor, "X-Request-ID": "deep-1"})
    assert response.status_code == 400
    assert response.json == {"code": 400, "status": "Bad Request", "message": TOO_DEEP, "request_id": "deep-1"}


def test_the_depth_limit_is_exact_and_checked_before_anything_else(client: FlaskClient) -> None:
    nested = b'{"a":' * 31 + b"1" + b"}" * 31  # 31 objects around a number
    as_deep_as_allowed = b"[" + nested + b"]"
    too_deep = b"[[" + nested + b"]]"
    assert post_json(client, too_deep, {}).json["message"] == TOO_DEEP
    # one level less passes the guard and meets the next check: no token
    assert post_json(client, as_deep_as_allowed, {}).status_code == 401


def test_brackets_inside_strings_do_not_count(client: FlaskClient, supervisor: dict[str, str]) -> None:
    # 40 brackets and an escaped quote inside the text: 41 characters, not 40 levels
    body = b'{"yield_quantity": "1", "unit": "PC", "text": "' + b"[{" * 20 + b'\\""}'
    response = post_json(client, body, supervisor)
    assert response.status_code == 422
    assert response.json["message"] == "invalid request: json.text: Longer than maximum length 40."


def test_a_number_python_cannot_parse_is_a_400(client: FlaskClient, supervisor: dict[str, str]) -> None:
    # Python's json raises ValueError past 4300 digits (int conversion limit), which webargs does not catch.
    body = b'{"yield_quantity": ' + b"1" * 5000 + b', "unit": "PC"}'
    response = post_json(client, body, supervisor)
    assert response.status_code == 400
    assert response.json["message"] == "JSON body has a number of more than 100 digits"


def test_invalid_json_is_still_the_parser_s_400(client: FlaskClient, supervisor: dict[str, str]) -> None:
    response = post_json(client, b'{"yield_quantity": "1", [}', supervisor)
    assert response.status_code == 400
    assert response.json["errors"] == {"json": ["Invalid JSON body."]}


def series(client: FlaskClient, metric: str) -> list[str]:
    return [line for line in client.get("/metrics").text.splitlines() if line.startswith(metric + "{")]


def test_unknown_methods_count_as_other(client: FlaskClient, supervisor: dict[str, str]) -> None:
    methods = ["FOO", "PROPFIND", f"X{uuid.uuid4().hex[:8].upper()}"]
    for method in methods:
        response = client.open("/api/v1/me", method=method, headers=supervisor)
        assert response.status_code == 405
        assert response.json["message"] == "The method is not allowed for the requested URL."
    lines = series(client, "http_requests_total")
    labels = set(re.findall(r'method="([^"]*)"', "\n".join(lines)))
    assert not labels & set(methods), labels
    assert 'method="other"' in "\n".join(lines)
    assert labels <= {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE", "other"}
    durations = "\n".join(series(client, "http_request_duration_seconds_count"))
    assert not set(re.findall(r'method="([^"]*)"', durations)) & set(methods)


def test_unknown_paths_share_one_route_label(client: FlaskClient) -> None:
    probe = uuid.uuid4().hex
    for path in (f"/{probe}", f"/api/v1/{probe}/x", f"/wp-admin/{probe}.php"):
        assert client.get(path).status_code == 404
    lines = series(client, "http_requests_total")
    assert not [line for line in lines if probe in line]
    assert any('route="<unmatched>"' in line and 'status="404"' in line for line in lines)
    # a matched route is labelled by its rule, never by the id in the URL
    client.get(f"/api/v1/writebacks/{probe}")
    assert not [line for line in series(client, "http_requests_total") if probe in line]
