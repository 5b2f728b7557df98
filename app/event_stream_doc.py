"""The OpenAPI description of `GET /api/v1/events`, which the event stream process serves (app/event_stream.py)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import marshmallow as ma
from werkzeug.routing import Rule

from runtime.settings import Settings

PATH = "/api/v1/events"


class NotificationSchema(ma.Schema):
    """The `data` of each event on the stream (and the body of Web Push messages and webhooks)."""

    id = ma.fields.String(
        required=True, metadata={"description": "Event id: send it back as Last-Event-ID", "example": "1764480000000-0"}
    )
    type = ma.fields.String(required=True, metadata={"example": "writeback.succeeded"})
    time = ma.fields.DateTime(required=True, metadata={"description": "When it happened (UTC)"})
    data = ma.fields.Dict(
        required=True,
        metadata={"description": "What happened, by type", "example": {"order": "1000123", "plant": "1010"}},
    )
    source_event = ma.fields.String(
        allow_none=True, metadata={"description": "The SAP event (source|id) or poller key it came from"}
    )


DESCRIPTION = """A live stream of what concerns the caller, as Server-Sent Events (text/event-stream).

Each event has `id:` (resume from it with the Last-Event-ID header, or `last_event_id` for clients that cannot
set headers), `event:` (the type, e.g. `writeback.succeeded`, `production-order.released`,
`confirmation.created`, `approval.created`) and `data:` (a Notification, JSON). The same read rules as the
lists apply: a plant manager hears of their plants' orders only, a supervisor of their work centres, a user of
their own writebacks and inbox. Comments (`: keep-alive`) come every EVENTS_HEARTBEAT seconds. The stream
ends when the token expires (event `token-expired`): reconnect with a fresh token and Last-Event-ID. An event
`reset` says more was missed than the server keeps: reload what you show.

Browsers' EventSource cannot send a bearer token: read the stream with fetch() (the reference app does), or
through the application router, which adds the user's token."""


def document_event_stream(spec: Any, settings: Settings) -> None:
    """Add the path; with EVENTS_URL on another origin (local runs), a path-level server says where it is."""
    spec.components.schema("Notification", schema=NotificationSchema)
    operation: dict[str, Any] = {
        "operationId": "streamEvents",
        "summary": "Live events for the caller (Server-Sent Events)",
        "description": DESCRIPTION,
        "tags": ["events"],
        "security": [{"bearerAuth": []}],
        "parameters": [
            {
                "name": "Last-Event-ID",
                "in": "header",
                "required": False,
                "schema": {"type": "string", "pattern": r"^\d+-\d+$"},
                "description": "Resume after this event id (what the stream sent last)",
            },
            {
                "name": "last_event_id",
                "in": "query",
                "required": False,
                "schema": {"type": "string", "pattern": r"^\d+-\d+$"},
                "description": "The same, for clients that cannot set headers",
            },
        ],
        "responses": {
            "200": {
                "description": "The stream; each event's data is a Notification",
                "content": {
                    "text/event-stream": {
                        "schema": {"type": "string"},
                        "example": 'id: 1764480000000-0\nevent: writeback.succeeded\ndata: {"id": "1764480000000-0", '
                        '"type": "writeback.succeeded", ...}\n\n',
                    }
                },
            },
            "400": {"description": "Last-Event-ID is not an id this stream sent", "content": _error()},
            "401": {"description": "Missing or invalid token", "content": _error()},
            "403": {"description": "The token has none of this API's roles", "content": _error()},
            "503": {
                "description": "The event bus (Redis) or the identity provider's keys are unreachable: reconnect after "
                "Retry-After",
                "content": _error(),
                "headers": {"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait"}},
            },
        },
    }
    origin = _origin(settings.events_url)
    if origin:
        operation["servers"] = [{"url": origin, "description": "the event stream process (EVENTS_URL)"}]
    # flask-smorest's plugin derives paths from Flask rules: hand it one (no view is registered for it).
    spec.path(path=PATH, operations={"get": operation}, rule=Rule(PATH))


def _error() -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}


def _origin(url: str) -> str | None:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else None
