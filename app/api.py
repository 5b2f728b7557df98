"""The flask-smorest Api: OpenAPI document, browsable UI and the one error shape."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from apispec import APISpec, BasePlugin
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Blueprint
from flask_smorest import Api

from app.docs import register_swagger_ui
from app.errors import ErrorSchema, handle_http_exception

API_DESCRIPTION = """\
Role-based mobile backend for SAP S/4HANA. Every read is live from SAP's published OData APIs;
every change is a writeback command applied by workers with retries and an audit trail.

Every error, 4xx or 5xx, has the same JSON body (see `Error`); quote its `request_id` when
reporting a problem. Send `X-Request-ID` to choose the id yourself.

Every `/api/` operation honours `Accept-Language` (e.g. `de-DE,de;q=0.9,en;q=0.5`): texts that come from
SAP (status names, SAP's messages) are in the most preferred language SAP has them in, else in the SAP
user's default language; an unusable header is ignored, never an error.

**Trying it here:** press *Authorize* and paste a bearer token. In development the local identity
provider signs one: `flask --app wsgi dev-token --user EXEC_ANNA --role-collection Executive`
(see the README for the other roles and their attributes).
"""

# Response headers every operation of a kind has; referenced from components.headers.
RESPONSE_HEADERS = {
    "LOCATION": {
        "description": "Where to poll the writeback this request became",
        "schema": {"type": "string", "format": "uri-reference"},
        "example": "/api/v1/writebacks/6f1c7c1e-0b7e-4a55-9a0e-2f6a3c1d9b10",
    },
    "RETRY_AFTER": {
        "description": "Seconds to wait before trying again",
        "schema": {"type": "integer", "minimum": 1},
        "example": 30,
    },
    "WWW_AUTHENTICATE": {
        "description": "The bearer challenge (RFC 6750) naming the token problem",
        "schema": {"type": "string"},
        "example": 'Bearer error="invalid_token", error_description="token has expired"',
    },
}
# flask-smorest's own ETag header and If-None-Match parameter, with descriptions a client developer can act on.
ETAG_HEADER = {
    "description": "Tag of this response: send it back as If-None-Match and get a 304 (no body) until it changes",
    "schema": {"type": "string"},
    "example": '"9a0364b9e99bb480dd25e1f0284c8555"',
}
IF_NONE_MATCH_PARAMETER = {
    "name": "If-None-Match",
    "in": "header",
    "description": "The ETag of the copy you have: 304 with no body while it is still current (poll with it)",
    "schema": {"type": "string"},
}
NOT_MODIFIED = "Not Modified: the copy whose ETag you sent in If-None-Match is current (no body)"
HEADERS_BY_STATUS = {
    "202": {"Location": "LOCATION"},
    "401": {"WWW-Authenticate": "WWW_AUTHENTICATE"},
    "429": {"Retry-After": "RETRY_AFTER"},
    "503": {"Retry-After": "RETRY_AFTER"},
}
BAD_REQUEST = (
    "Malformed request: `message` names what to fix (an unknown query parameter, a cursor not issued for "
    "this query, a body that is not JSON, ...)"
)
IDENTITY_PROVIDER_DOWN = "The identity provider's signing keys are unavailable; see Retry-After"
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


class ContractPlugin(BasePlugin):
    """What holds for every operation, documented once where the machinery that makes it true lives.

    Location on 202 (app/writebacks.accepted), Retry-After on 503, WWW-Authenticate on 401 (app/auth),
    a 400 on every operation (an unknown query parameter is one anywhere: app/query_args; a body that is
    not JSON: app/web_security), and a 503 wherever a token is checked (the identity provider's keys may
    be unreachable). A view's own description of these statuses is kept.
    """

    def init_spec(self, spec: APISpec) -> None:
        super().init_spec(spec)
        self.marshmallow = next(plugin for plugin in spec.plugins if isinstance(plugin, MarshmallowPlugin))

    def operation_helper(self, path: str | None = None, operations: dict[str, Any] | None = None, **_: Any) -> None:
        for method, operation in (operations or {}).items():
            if method not in HTTP_METHODS:
                continue
            responses = operation.setdefault("responses", {})
            documented = {str(code) for code in responses}
            if operation.get("security") and "503" not in documented:
                responses[503] = {"description": IDENTITY_PROVIDER_DOWN, "content": self._error_content()}
            if "400" not in documented:
                responses[400] = {"description": BAD_REQUEST, "content": self._error_content()}
            for code, response in responses.items():
                headers = HEADERS_BY_STATUS.get(str(code))
                if headers and isinstance(response, dict):
                    for name, component in headers.items():
                        response.setdefault("headers", {}).setdefault(name, component)

    def _error_content(self) -> dict[str, Any]:
        # The marshmallow plugin has turned the views' schemas into references already; this one too.
        converter = self.marshmallow.converter
        assert converter is not None, "set by the marshmallow plugin's init_spec, which runs before ours"
        return {"application/json": {"schema": converter.resolve_nested_schema(ErrorSchema)}}  # type: ignore[no-untyped-call]


def nullable_reference(self: Any, field: ma.fields.Field[Any], ret: dict[str, Any], **_: Any) -> dict[str, Any]:
    """A nullable Nested as `allOf: [$ref]` + `nullable`, the OpenAPI 3.0 form generators read as "X or null".

    apispec writes `anyOf: [{type: object, nullable: true}, $ref]`, which generated clients type as
    "an empty object or X" (openapi-python-client makes a model with no fields for the first branch).
    """
    any_of = ret.get("anyOf")
    if field.allow_none and isinstance(any_of, list) and len(any_of) == 2:
        refs = [branch for branch in any_of if "$ref" in branch]
        if len(refs) == 1 and {"type": "object", "nullable": True} in any_of:
            del ret["anyOf"]
            ret["allOf"] = refs
            ret["nullable"] = True
    return {}


# Field metadata naming the enum a field's choices (its OneOf) are: one shared schema component per name, so
# generated clients have one WritebackStatus type, not one per model and query parameter that holds a status.
ENUM_COMPONENT = "x-enum-component"


def enum_component(name: str) -> dict[str, str]:
    """Metadata for a field whose OneOf choices are the enum `name` (a components/schemas entry)."""
    return {ENUM_COMPONENT: name}


def named_enum(self: Any, field: ma.fields.Field[Any], ret: dict[str, Any], **_: Any) -> dict[str, Any]:
    """Replace a field's inline `enum` by a reference to the named component (registered on first use)."""
    name = ret.pop(ENUM_COMPONENT, None)
    if name is None or "enum" not in ret:
        return {}
    component = {"type": ret.pop("type"), "enum": ret.pop("enum")}
    schemas = self.spec.components.schemas
    if name not in schemas:
        self.spec.components.schema(name, component)
    elif schemas[name] != component:
        raise ValueError(f"enum {name} is declared with two sets of values: {schemas[name]} and {component}")
    ret["allOf"] = [self.spec.components.get_ref("schema", name)]
    return {}


class ExtensionApi(Api):  # type: ignore[misc]
    """Api whose error responses (handled and documented) use our ErrorSchema."""

    ERROR_SCHEMA = ErrorSchema

    def handle_http_exception(self, error: Any) -> Any:
        return handle_http_exception(error)

    def _init_spec(self, *, extra_plugins: Any = None, **kwargs: Any) -> None:
        super()._init_spec(extra_plugins=[*(extra_plugins or ()), ContractPlugin()], **kwargs)
        self.ma_plugin.converter.add_attribute_function(nullable_reference)
        self.ma_plugin.converter.add_attribute_function(named_enum)
        for name, header in RESPONSE_HEADERS.items():
            self.spec.components.header(name, header)
        # Lazy, as flask-smorest registers these (in components only once an operation uses them): ours replace its.
        self.spec.components.header("ETAG", ETAG_HEADER, lazy=True)
        self.spec.components.parameter("IF_NONE_MATCH", "header", IF_NONE_MATCH_PARAMETER, lazy=True)
        not_modified = {"description": NOT_MODIFIED, "headers": {"ETag": "ETAG"}}  # RFC 9110: a 304 repeats it
        self.spec.components.response("NOT_MODIFIED", not_modified, lazy=True)

    def _register_swagger_ui_rule(self, blueprint: Blueprint) -> None:
        # flask-smorest's own page loads Swagger UI from a URL (a CDN); ours serves the packaged copy.
        if path := self.config.get("OPENAPI_SWAGGER_UI_PATH"):
            register_swagger_ui(blueprint, path, spec_endpoint=f"{self._make_doc_blueprint_name()}.openapi_json")


def openapi_config() -> dict[str, Any]:
    return {
        "API_TITLE": "SAP extension API",
        "API_VERSION": "v1",
        "OPENAPI_VERSION": "3.0.3",
        "OPENAPI_URL_PREFIX": "/",
        "OPENAPI_JSON_PATH": "openapi.json",
        "OPENAPI_SWAGGER_UI_PATH": "/docs",
        "API_SPEC_OPTIONS": {
            "info": {"description": API_DESCRIPTION},
            # Relative: the API is wherever this document was fetched from (local, Cloud Foundry route, ...).
            "servers": [{"url": "/", "description": "This API, where this document is served"}],
            "components": {"schemas": {}},
        },
    }
