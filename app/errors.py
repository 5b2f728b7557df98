"""One JSON error shape for every 4xx and 5xx the API answers."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import marshmallow as ma
import structlog
from flask import Flask, Response, g, jsonify
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException, InternalServerError

from odata_clients.errors import (
    SapAuthError,
    SapError,
    SapLocked,
    SapNotFound,
    SapPreconditionFailed,
    SapUnavailable,
)
from roles.policy import Forbidden, NotInScope

log = structlog.get_logger(__name__)

DEFAULT_RETRY_AFTER_SECONDS = 30


class ErrorSchema(ma.Schema):
    """The body of every error response."""

    code = ma.fields.Integer(required=True, metadata={"description": "HTTP status code", "example": 404})
    status = ma.fields.String(required=True, metadata={"description": "HTTP reason phrase"})
    message = ma.fields.String(required=True, metadata={"description": "What went wrong, for a developer"})
    errors = ma.fields.Dict(metadata={"description": "Details: invalid fields per location, or failing checks by name"})
    request_id = ma.fields.String(metadata={"description": "Quote this when reporting the problem"})


def error_body(code: int, message: str, errors: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code, "status": HTTPStatus(code).phrase, "message": message}
    if errors:
        body["errors"] = errors
    if request_id := g.get("request_id"):
        body["request_id"] = request_id
    return body


def handle_http_exception(error: HTTPException) -> ResponseReturnValue:
    """Werkzeug/flask-smorest HTTP errors (404, 405, 413, 422 with webargs messages, ...)."""
    code = error.code or 500
    data = getattr(error, "data", None) or {}
    errors = data.get("messages") or data.get("errors")
    message = data.get("message") or error.description or HTTPStatus(code).phrase
    response = jsonify(error_body(code, str(message), errors))
    response.status_code = code
    for name, value in (data.get("headers") or {}).items():
        response.headers[name] = value
    if code == 405 and (valid_methods := getattr(error, "valid_methods", None)):
        response.headers["Allow"] = ", ".join(valid_methods)
    return response


def handle_unexpected(error: Exception) -> ResponseReturnValue:
    """Anything else is a bug: log it with its traceback, answer 500 in the same shape."""
    if isinstance(error, HTTPException):
        return handle_http_exception(error)
    log.exception("unhandled_exception", error_type=type(error).__name__)
    return handle_http_exception(InternalServerError("Internal error; the request id identifies the log"))


def handle_sap_error(error: SapError) -> ResponseReturnValue:
    """SAP trouble seen by a synchronous read: never a 500, and never SAP's internals beyond its message."""
    if isinstance(error, SapNotFound):
        return _json_error(404, "not found")
    if isinstance(error, SapUnavailable | SapLocked):
        retry_after = getattr(error, "retry_after", None) or DEFAULT_RETRY_AFTER_SECONDS
        response = _json_error(503, f"SAP is unavailable right now ({error.kind}); try again later")
        response.headers["Retry-After"] = str(max(1, int(retry_after)))
        return response
    if isinstance(error, SapPreconditionFailed):
        return _json_error(412, f"the object changed in SAP: {error.message}")
    log.warning("sap_error_on_read", kind=error.kind, sap_status=error.status, sap_code=error.code)
    if isinstance(error, SapAuthError):
        return _json_error(502, "SAP refused the credentials of this service; an administrator must fix them")
    return _json_error(502, f"SAP answered unexpectedly: {error.message}")


def handle_not_in_scope(_: NotInScope) -> ResponseReturnValue:
    """Outside the caller's plants or work centres: answered exactly like a missing object."""
    return _json_error(404, "not found")


def handle_forbidden(error: Forbidden) -> ResponseReturnValue:
    return _json_error(403, str(error))


def _json_error(code: int, message: str, errors: dict[str, Any] | None = None) -> Response:
    response = jsonify(error_body(code, message, errors))
    response.status_code = code
    return response


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(SapError, handle_sap_error)
    app.register_error_handler(NotInScope, handle_not_in_scope)
    app.register_error_handler(Forbidden, handle_forbidden)
    app.register_error_handler(Exception, handle_unexpected)
