"""`POST /api/v1/sap-events`: SAP Event Mesh's webhook delivers S/4HANA business events here."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import marshmallow as ma
import redis
import structlog
from flask import current_app, request
from flask.views import MethodView
from flask_smorest import Blueprint, abort

from app.errors import ErrorSchema
from notifications import EventBus
from notifications import stats as delivery_stats
from notifications.sap_events import (
    CloudEvent,
    InvalidEvent,
    notifications_for,
    parse_batch,
    parse_binary,
    parse_structured,
)
from odata_clients.errors import SapAuthError, SapError, SapLocked, SapUnavailable

log = structlog.get_logger(__name__)

blp = Blueprint(
    "events",
    __name__,
    url_prefix="/api/v1/sap-events",
    description="Events: SAP's business events in (Event Mesh webhook), the live stream out (GET /api/v1/events)",
)

SEEN_FOR = 7 * 24 * 3600  # seconds a delivered event id is remembered (Event Mesh redelivers within hours)
STRUCTURED = "application/cloudevents+json"
BATCH = "application/cloudevents-batch+json"
BASIC_SCHEME = {"type": "http", "scheme": "basic"}


_CLOUD_EVENT = {
    "type": "object",
    "required": ["specversion", "id", "source", "type"],
    "properties": {
        "specversion": {"type": "string", "example": "1.0"},
        "id": {"type": "string", "example": "9c0b3c6e-1f1d-4a51-9c53-58f0d8a2f7a1"},
        "source": {"type": "string", "example": "/default/sap.s4.beh/S4HCLNT100"},
        "type": {"type": "string", "example": "sap.s4.beh.productionorder.v1.ProductionOrder.Released.v1"},
        "time": {"type": "string", "format": "date-time"},
        "datacontenttype": {"type": "string", "example": "application/json"},
        "data": {"type": "object", "example": {"ProductionOrder": "1000123"}},
    },
}
CLOUD_EVENTS_BODY = {
    "required": True,
    "description": "One CloudEvent (structured mode) or a batch. Binary mode is accepted too: the event's data as "
    "application/json, its attributes in ce-id, ce-source, ce-type and ce-specversion headers",
    "content": {
        STRUCTURED: {"schema": _CLOUD_EVENT},
        BATCH: {"schema": {"type": "array", "items": _CLOUD_EVENT, "maxItems": 100}},
    },
}


class ReceiptSchema(ma.Schema):
    received = ma.fields.Integer(required=True, metadata={"description": "Events in this delivery"})
    duplicates = ma.fields.Integer(required=True, metadata={"description": "Of them, already received before"})
    ignored = ma.fields.Integer(
        required=True, metadata={"description": "Of them, of a type this service does not handle, or gone in SAP"}
    )
    published = ma.fields.Integer(required=True, metadata={"description": "Notifications made from them"})


@blp.route("")
class SapEvents(MethodView):
    @blp.doc(operationId="receiveSapEvents", security=[{"eventMeshBasicAuth": []}], requestBody=CLOUD_EVENTS_BODY)
    @blp.response(202, ReceiptSchema)
    @blp.alt_response(400, schema=ErrorSchema, description="Not a CloudEvent (structured, binary or batched mode)")
    @blp.alt_response(401, schema=ErrorSchema, description="Missing or wrong webhook credentials")
    @blp.alt_response(415, schema=ErrorSchema, description="Not a CloudEvents content type")
    @blp.alt_response(503, schema=ErrorSchema, description="SAP or Redis unavailable: deliver again later")
    def post(self) -> dict[str, int]:
        """Receive S/4HANA business events (CloudEvents 1.0) and turn them into notifications

        Send as SAP Event Mesh's webhook subscription does: HTTP Basic credentials (SAP_EVENTS_USER and
        SAP_EVENTS_PASSWORD), one event in structured mode (`application/cloudevents+json`), binary mode
        (`ce-*` headers with a JSON body), or a batch (`application/cloudevents-batch+json`). An event id
        received before is acknowledged again and not repeated. On 503 nothing was lost: deliver again.
        """
        _check_credentials()
        events = _events()
        settings = current_app.extensions["settings"]
        connection: redis.Redis = current_app.extensions["redis"]
        bus = EventBus(connection, retain=settings.events_retain)
        receipt = {"received": len(events), "duplicates": 0, "ignored": 0, "published": 0}
        for event in events:
            outcome, published = _receive(connection, bus, event)
            if outcome != "received":  # "received" counts every event of the delivery already
                receipt[outcome] += 1
            receipt["published"] += published
        return receipt


def _receive(connection: redis.Redis, bus: EventBus, event: CloudEvent) -> tuple[str, int]:
    """("duplicates" | "ignored" | "received", notifications published); aborts 503 when SAP or Redis fail."""
    seen_key = f"sapext:sap-events:seen:{hashlib.sha256(event.key.encode()).hexdigest()}"
    try:
        if not connection.set(seen_key, "1", nx=True, ex=SEEN_FOR):
            delivery_stats.record(connection, "sap_event", "duplicate")
            return "duplicates", 0
    except redis.RedisError as exc:
        abort(
            503,
            message=f"cannot record the event ({type(exc).__name__}); deliver again later",
            headers={"Retry-After": "30"},
        )
    try:
        made = notifications_for(current_app.extensions["sap"], event)
        for notification in made or ():
            bus.publish(notification)
    except (SapUnavailable, SapLocked, SapAuthError, redis.RedisError) as exc:
        # Ours or SAP's for now (down, busy, our credentials): Event Mesh delivers again, and it is handled then.
        _forget(connection, seen_key)
        log.warning("sap_event_not_handled", event_type=event.type, event_id=event.id, error=type(exc).__name__)
        abort(
            503,
            message=f"event {event.id} could not be handled now ({exc}); deliver again later",
            headers={"Retry-After": "30"},
        )
    except (SapError, InvalidEvent) as exc:
        # For good: the object is gone in SAP, SAP refuses the key, or the event lacks it. A redelivery would
        # fail the same way, so it is acknowledged and logged rather than refused forever.
        log.warning(
            "sap_event_ignored", event_type=event.type, event_id=event.id, reason=f"{type(exc).__name__}: {exc}"
        )
        delivery_stats.record(connection, "sap_event", "failed")
        return "ignored", 0
    except Exception:
        _forget(connection, seen_key)  # a bug here must not turn Event Mesh's redelivery into a "duplicate"
        raise
    if made is None:
        log.info("sap_event_type_ignored", event_type=event.type, event_id=event.id)
        return "ignored", 0
    delivery_stats.record(connection, "sap_event", "received")
    log.info("sap_event_received", event_type=event.type, event_id=event.id, notifications=len(made))
    return "received", len(made)


def _forget(connection: redis.Redis, key: str) -> None:
    try:
        connection.delete(key)
    except redis.RedisError:
        pass  # it expires; a redelivery meanwhile is acknowledged as a duplicate


def _events() -> list[CloudEvent]:
    content_type = (request.mimetype or "").lower()
    body = request.get_json(silent=True, force=True)
    if body is None and request.get_data():
        abort(400, message="the body is not valid JSON")
    try:
        if content_type == STRUCTURED:
            return [parse_structured(body)]
        if content_type == BATCH:
            return parse_batch(body)
        if content_type == "application/json" and "ce-id" in request.headers:
            headers = {k.lower(): v for k, v in request.headers.items() if k.lower().startswith("ce-")}
            return [parse_binary(headers, body)]
        if content_type == "application/json" and isinstance(body, dict) and "specversion" in body:
            return [parse_structured(body)]  # a structured event sent as plain JSON (some Event Mesh setups)
    except InvalidEvent as exc:
        abort(400, message=str(exc))
    abort(
        415,
        message=f"send {STRUCTURED}, {BATCH}, or application/json with ce-* headers (binary mode), not "
        f"{content_type or 'no content type'}",
    )
    raise AssertionError("abort() raises")


def _check_credentials() -> None:
    settings = current_app.extensions["settings"]
    challenge = {"WWW-Authenticate": 'Basic realm="sap-events"'}
    if not settings.sap_events_password:
        abort(401, message="this service has no SAP_EVENTS_PASSWORD set: it accepts no events", headers=challenge)
    given = request.authorization
    sent = f"{given.username}:{given.password}" if given and given.type == "basic" else ""
    expected = f"{settings.sap_events_user}:{settings.sap_events_password}"
    if not hmac.compare_digest(sent.encode(), expected.encode()):
        abort(401, message="wrong or missing webhook credentials (HTTP Basic)", headers=challenge)


def document(spec: Any) -> None:
    """The security scheme of this endpoint, in the OpenAPI document."""
    spec.components.security_scheme("eventMeshBasicAuth", BASIC_SCHEME)
