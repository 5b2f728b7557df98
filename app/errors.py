"""One JSON error shape for every 4xx and 5xx the API answers."""

from __future__ import annotations

from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

import marshmallow as ma
import structlog
from flask import Flask, Response, g, jsonify
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException, InternalServerError

from access.errors import StateConflict, Unprocessable
from access.policy import Forbidden, NotInScope
from access.preconditions import PreconditionFailed
from odata_clients.errors import (
    ConcurrencyLimitError,
    SapAuthError,
    SapDestinationError,
    SapError,
    SapLocked,
    SapNotFound,
    SapPreconditionFailed,
    SapUnavailable,
)
from odata_clients.gateways.keyset import InvalidPosition
from store import InvalidCursor

log = structlog.get_logger(__name__)

DEFAULT_RETRY_AFTER_SECONDS = 30
# This process is busy with SAP calls, SAP itself may be fine: worth trying again soon.
BUSY_RETRY_AFTER_SECONDS = 2


class ErrorSchema(ma.Schema):
    """The body of every error response."""

    code = ma.fields.Integer(required=True, metadata={"description": "HTTP status code", "example": 422})
    status = ma.fields.String(
        required=True, metadata={"description": "HTTP reason phrase", "example": "Unprocessable Entity"}
    )
    message = ma.fields.String(
        required=True,
        metadata={
            "description": "What went wrong, for a developer",
            "example": "the operation is planned in PC; confirm in PC",
        },
    )
    errors = ma.fields.Dict(
        metadata={
            "description": "Details where there are any: invalid fields per location (`json`, `query`, `headers`), "
            "failing checks by name (readiness), or the writeback an Idempotency-Key already stands for",
            "example": {"json": {"unit": ["the operation is planned in PC; confirm in PC"]}},
        }
    )
    request_id = ma.fields.String(
        metadata={"description": "Quote this when reporting the problem", "example": "4bf92f3577b34da6a3ce929d0e0e4736"}
    )


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
    # webargs' validation errors carry werkzeug's generic text; say which fields are wrong instead.
    generic = errors and not data.get("message")
    message = _summary(errors) if generic else data.get("message") or error.description or HTTPStatus(code).phrase
    response = jsonify(error_body(code, str(message), errors))
    response.status_code = code
    for name, value in (data.get("headers") or {}).items():
        response.headers[name] = value
    if code == 405 and (valid_methods := getattr(error, "valid_methods", None)):
        response.headers["Allow"] = ", ".join(valid_methods)
    return response


def _summary(errors: Any) -> str:
    """`{"json": {"unit": ["Missing data"]}}` -> `invalid request: json.unit: Missing data`."""
    problems: list[str] = []

    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict):
            for key, child in node.items():
                walk(child, f"{path}.{key}" if path else str(key))
        elif isinstance(node, list) and all(isinstance(item, str) for item in node):
            problems.append(f"{path}: {' '.join(node)}")
        elif isinstance(node, list):
            for index, child in enumerate(node):
                walk(child, f"{path}[{index}]")
        else:
            problems.append(f"{path}: {node}")

    walk(errors, "")
    return "invalid request: " + "; ".join(problems[:10])


def handle_unexpected(error: Exception) -> ResponseReturnValue:
    """Anything else is a bug: log it with its traceback, answer 500 in the same shape."""
    if isinstance(error, HTTPException):
        return handle_http_exception(error)
    log.exception("unhandled_exception", error_type=type(error).__name__)
    return handle_http_exception(InternalServerError("Internal error; the request id identifies the log"))


@dataclass(frozen=True)
class Problem:
    """How a domain or SAP error is answered: status, message, field errors, extra headers."""

    code: int
    message: str
    errors: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)


# A cursor we did not issue: forged, or one whose position SAP's or the store's keys cannot take.
INVALID_CURSOR = "invalid cursor: pass next_cursor from the previous page unchanged"
CursorError = InvalidPosition | InvalidCursor
DomainError = SapError | NotInScope | Forbidden | Unprocessable | StateConflict | PreconditionFailed | CursorError
DOMAIN_ERRORS = (
    SapError,
    NotInScope,
    Forbidden,
    Unprocessable,
    StateConflict,
    PreconditionFailed,
    InvalidPosition,
    InvalidCursor,
)


def describe(error: DomainError) -> Problem:
    """The one mapping from domain and SAP errors to HTTP; views with per-item results use it too."""
    if isinstance(error, NotInScope | SapNotFound):
        # Outside the caller's plants or work centres is answered exactly like a missing object.
        return Problem(404, "not found")
    if isinstance(error, Forbidden):
        return Problem(403, str(error))
    if isinstance(error, Unprocessable):
        return Problem(422, str(error), error.details())
    if isinstance(error, StateConflict):
        return Problem(409, str(error))
    if isinstance(error, PreconditionFailed):
        return Problem(412, str(error))
    if isinstance(error, InvalidPosition | InvalidCursor):
        return Problem(400, INVALID_CURSOR)
    if isinstance(error, SapUnavailable | SapLocked):
        default = BUSY_RETRY_AFTER_SECONDS if isinstance(error, ConcurrencyLimitError) else DEFAULT_RETRY_AFTER_SECONDS
        retry_after = getattr(error, "retry_after", None) or default
        message = f"SAP is unavailable right now ({error.kind}); try again later"
        return Problem(503, message, headers={"Retry-After": str(max(1, int(retry_after)))})
    if isinstance(error, SapPreconditionFailed):
        return Problem(412, f"the object changed in SAP: {error.message}")
    # Whatever else SAP said to a synchronous call is not the caller's fault and not our crash.
    log.warning("sap_error_answered", kind=error.kind, sap_status=error.status, sap_code=error.code)
    if isinstance(error, SapAuthError):
        return Problem(502, "SAP refused the credentials of this service; an administrator must fix them")
    if isinstance(error, SapDestinationError):
        # What to fix is the operator's business (the log has it); the caller learns whom to ask.
        log.warning("sap_destination_unusable", destination=error.destination, error=error.message)
        return Problem(502, f"the SAP destination {error.destination} cannot be used; an administrator must fix it")
    return Problem(502, f"SAP answered unexpectedly: {error.message}")


def handle_domain_error(error: DomainError) -> ResponseReturnValue:
    problem = describe(error)
    response = _json_error(problem.code, problem.message, problem.errors)
    response.headers.update(problem.headers)
    return response


def _json_error(code: int, message: str, errors: dict[str, Any] | None = None) -> Response:
    response = jsonify(error_body(code, message, errors))
    response.status_code = code
    return response


def register_error_handlers(app: Flask) -> None:
    # HTTPException is answered by ExtensionApi.handle_http_exception (flask-smorest registers it).
    for domain_error in DOMAIN_ERRORS:
        app.register_error_handler(domain_error, handle_domain_error)
    app.register_error_handler(Exception, handle_unexpected)
