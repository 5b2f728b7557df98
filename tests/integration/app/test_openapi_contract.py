"""The served OpenAPI document is a contract a client can be generated from; this check fails the build otherwise."""

# Rules: the document is valid OpenAPI (openapi-spec-validator); every operation has a unique operationId; every
# documented response has a schema for each media type, except 204 and 304, which have no body by definition
# (RFC 9110) and so must document none; every error response (4xx, 5xx, default) is the one Error shape.

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient
from openapi_spec_validator import validate

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
BODYLESS = {"204", "304"}
ERROR_REF = "#/components/schemas/Error"
CONDITIONAL_GETS = {
    "GET /api/v1/me",
    "GET /api/v1/approvals",
    "GET /api/v1/approvals/{approval_id}",
    "GET /api/v1/production-orders",
    "GET /api/v1/production-orders/{order_id}",
    "GET /api/v1/work-orders",
    "GET /api/v1/work-orders/{work_order_id}",
    "GET /api/v1/writebacks",
    "GET /api/v1/writebacks/{writeback_id}",
}
# camelCase verb + noun, as a generator turns it into list_approvals / decideApproval
VERBS = "|".join(
    ("get", "list", "decide", "claim", "release", "forward", "reschedule", "confirm", "cancel", "retry", "discard")
    + ("create", "delete", "register", "receive", "stream")
)
OPERATION_ID = re.compile(rf"({VERBS})[A-Z][A-Za-z]+")


def operations(spec: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for path, item in spec.get("paths", {}).items():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                yield f"{method.upper()} {path}", operation


def resolve(spec: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        section, name = node["$ref"].removeprefix("#/components/").split("/")
        node = spec["components"][section][name]
    return node


def contract_problems(spec: dict[str, Any]) -> list[str]:
    """Every way the document breaks the rules above, one line each."""
    problems: list[str] = []
    seen: dict[str, str] = {}
    for name, operation in operations(spec):
        operation_id = operation.get("operationId")
        if not operation_id:
            problems.append(f"{name}: no operationId")
        elif operation_id in seen:
            problems.append(f"{name}: operationId {operation_id} is also {seen[operation_id]}'s")
        else:
            seen[operation_id] = name
        for status, documented in operation.get("responses", {}).items():
            response = resolve(spec, documented)
            content = response.get("content") or {}
            if str(status) in BODYLESS:
                if content:
                    problems.append(f"{name} {status}: documents a body, but a {status} has none")
                continue
            if not content:
                problems.append(f"{name} {status}: no schema (no content documented)")
            for media_type, media in content.items():
                if "schema" not in media:
                    problems.append(f"{name} {status} {media_type}: no schema")
                elif (str(status) == "default" or str(status)[0] in "45") and media["schema"] != {"$ref": ERROR_REF}:
                    problems.append(f"{name} {status}: not the Error shape: {media['schema']}")
    return problems


@pytest.fixture
def spec(client: FlaskClient) -> dict[str, Any]:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json
    return document


def test_document_is_valid_openapi(spec: dict[str, Any]) -> None:
    validate(spec)
    assert spec["servers"], "servers: a generated client and Swagger UI's 'Try it out' need a base"


def test_every_response_has_a_schema_and_every_operation_an_id(spec: dict[str, Any]) -> None:
    assert len(list(operations(spec))) >= 25
    assert contract_problems(spec) == []


def test_the_check_catches_what_it_is_for() -> None:
    error = {"content": {"application/json": {"schema": {"$ref": ERROR_REF}}}}
    broken = {
        "components": {"schemas": {"Error": {"type": "object"}}, "responses": {"NOT_FOUND": {"description": "x"}}},
        "paths": {
            "/a": {
                "get": {"operationId": "getA", "responses": {"200": {"description": "no schema"}, "404": error}},
                "post": {"responses": {"204": error, "409": {"$ref": "#/components/responses/NOT_FOUND"}}},
            },
            "/b": {
                "get": {
                    "operationId": "getA",
                    "responses": {
                        "200": {"content": {"text/plain": {}}},
                        "400": {"content": {"application/json": {"schema": {"type": "object"}}}},
                        "304": {"description": "fine"},
                    },
                }
            },
        },
    }
    assert contract_problems(broken) == [
        "GET /a 200: no schema (no content documented)",
        "POST /a: no operationId",
        "POST /a 204: documents a body, but a 204 has none",
        "POST /a 409: no schema (no content documented)",
        "GET /b: operationId getA is also GET /a's",
        "GET /b 200 text/plain: no schema",
        "GET /b 400: not the Error shape: {'type': 'object'}",
    ]


def test_operation_ids_read_well_in_generated_code(spec: dict[str, Any]) -> None:
    ids = {name: operation["operationId"] for name, operation in operations(spec)}
    assert [f"{name}: {op}" for name, op in ids.items() if not OPERATION_ID.fullmatch(op)] == []
    assert {
        "GET /api/v1/approvals": "listApprovals",
        "GET /api/v1/approvals/{approval_id}": "getApproval",
        "POST /api/v1/approvals/{approval_id}/decision": "decideApproval",
        "GET /api/v1/production-orders": "listProductionOrders",
        "POST /api/v1/production-orders/{order_id}/release": "releaseProductionOrder",
        "PATCH /api/v1/production-orders/{order_id}": "rescheduleProductionOrder",
        "GET /api/v1/work-orders": "listWorkOrders",
        "POST /api/v1/work-orders/{work_order_id}/confirmations": "confirmWorkOrder",
        "GET /api/v1/writebacks/{writeback_id}": "getWritebackStatus",
        "GET /api/v1/me": "getMe",
    }.items() <= ids.items()


def test_headers_are_documented(spec: dict[str, Any]) -> None:
    headers = spec["components"]["headers"]
    for name, operation in operations(spec):
        responses = {str(status): resolve(spec, response) for status, response in operation["responses"].items()}
        if "202" in responses:
            assert resolve(spec, responses["202"]["headers"]["Location"]) == headers["LOCATION"], name
        for status in ("429", "503"):
            if status in responses:
                assert "Retry-After" in responses[status].get("headers", {}), f"{name} {status}"
        if "401" in responses:
            assert "WWW-Authenticate" in responses["401"].get("headers", {}), name
        parameters = {resolve(spec, parameter)["name"] for parameter in operation.get("parameters", [])}
        if "If-None-Match" in parameters or name in CONDITIONAL_GETS:
            # Conditional GETs: If-None-Match in, ETag out, 304 while nothing changed.
            assert "If-None-Match" in parameters, name
            assert "ETag" in responses["200"].get("headers", {}), name
            assert "ETag" in responses["304"].get("headers", {}), name
        if name.startswith(("POST /api/v1/approvals", "POST /api/v1/production-orders", "POST /api/v1/work-orders")):
            assert "Idempotency-Key" in parameters, name
        # Any operation answers 400 to a query parameter it does not take (app/query_args).
        assert "400" in responses, name
    reschedule = spec["paths"]["/api/v1/production-orders/{order_id}"]["patch"]
    assert {"Idempotency-Key", "If-Match"} <= {p["name"] for p in reschedule["parameters"]}


def test_nullable_objects_and_status_fields_are_typed(spec: dict[str, Any]) -> None:
    schemas = spec["components"]["schemas"]
    # A nullable nested object is "X or null" (allOf + nullable), never "an empty object or X" (anyOf).
    assert schemas["ProductionOrder"]["properties"]["confirmed_yield"] == {
        "allOf": [{"$ref": "#/components/schemas/Quantity"}],
        "nullable": True,
    }
    # apispec's own form for a nullable Nested is an anyOf; none may be left.
    assert "anyOf" not in json.dumps(spec)
    assert schemas["Writeback"]["properties"]["target"]["allOf"] == [{"$ref": "#/components/schemas/Target"}]

    def enum_of(schema: str, field: str) -> list[str]:
        prop = schemas[schema]["properties"][field]
        return list(resolve(spec, prop["allOf"][0])["enum"])

    assert "succeeded" in enum_of("Writeback", "status") and "in_doubt" in enum_of("Writeback", "status")
    assert enum_of("Writeback", "type") == enum_of("Flow", "type")
    assert enum_of("Approval", "priority") == ["VERY_HIGH", "HIGH", "MEDIUM", "LOW"]
    assert {"READY", "RESERVED", "IN_PROGRESS"} <= set(enum_of("Approval", "status"))
    assert enum_of("Decision", "decision") == ["approve", "reject"]
    assert {"POSITIVE", "NEGATIVE"} <= set(enum_of("DecisionOption", "nature"))
    assert enum_of("DeadLetter", "role") == ["Executive", "PlantManager", "Supervisor", "IntegrationAdmin"]
