"""The flask-smorest Api: OpenAPI document, browsable UI and the one error shape."""

from __future__ import annotations

from typing import Any

from flask_smorest import Api

from app.errors import ErrorSchema, handle_http_exception

API_DESCRIPTION = """\
Role-based mobile backend for SAP S/4HANA. Every read is live from SAP's published OData APIs;
every change is a writeback command applied by workers with retries and an audit trail.

Every error, 4xx or 5xx, has the same JSON body (see `Error`); quote its `request_id` when
reporting a problem. Send `X-Request-ID` to choose the id yourself.
"""


class ExtensionApi(Api):  # type: ignore[misc]
    """Api whose error responses (handled and documented) use our ErrorSchema."""

    ERROR_SCHEMA = ErrorSchema

    def handle_http_exception(self, error: Any) -> Any:
        return handle_http_exception(error)


def openapi_config() -> dict[str, Any]:
    return {
        "API_TITLE": "SAP extension API",
        "API_VERSION": "v1",
        "OPENAPI_VERSION": "3.0.3",
        "OPENAPI_URL_PREFIX": "/",
        "OPENAPI_JSON_PATH": "openapi.json",
        "OPENAPI_SWAGGER_UI_PATH": "/docs",
        "OPENAPI_SWAGGER_UI_URL": "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/",
        "API_SPEC_OPTIONS": {
            "info": {"description": API_DESCRIPTION},
            "components": {"schemas": {}},
        },
    }
