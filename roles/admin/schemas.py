"""Integration admin schemas: dead letters, the audit trail and outbound webhooks."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import current_app

from access.policy import Role
from app.api import enum_component
from app.paging import PageArgsSchema, next_cursor_field, total_field
from notifications.egress import not_public
from notifications.types import NOTIFICATION_TYPES, valid_pattern
from roles.common import INSTANT_RANGE, Instant, StrictSchema, free_text, outbound_url
from roles.writebacks.schemas import WritebackSchema
from store import DeliveryStatus


class DeadLetterQueryArgsSchema(PageArgsSchema):
    type = free_text(40, "Command type", metadata={"example": "operation.confirm"})


class DeadLetterSchema(WritebackSchema):
    requested_by = ma.fields.String(required=True)
    role = ma.fields.String(
        required=True,
        validate=ma.validate.OneOf([role.value for role in Role]),
        metadata={
            "description": "The role the command was requested in",
            "example": "Supervisor",
            **enum_component("Role"),
        },
    )
    correlation_id = ma.fields.String(allow_none=True)


class DeadLetterPageSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(DeadLetterSchema), required=True)
    next_cursor = next_cursor_field()
    total = total_field()


class DiscardArgsSchema(ma.Schema):
    reason = free_text(200, "Why, for the audit trail", metadata={"example": "order was deleted in SAP"})


class AuditQueryArgsSchema(PageArgsSchema):
    user = free_text(64, "Actor or the user acted for")
    object = free_text(80, "The object, as `<type>:<id>`", metadata={"example": "ProductionOrder:1000123"})
    since = Instant(require_offset=True, metadata={"description": f"ISO 8601 with offset, {INSTANT_RANGE}"})
    until = Instant(require_offset=True, metadata={"description": f"ISO 8601 with offset, {INSTANT_RANGE}"})


class AuditEventSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    at = ma.fields.DateTime(required=True)
    event = ma.fields.String(required=True, metadata={"example": "attempt_succeeded"})
    actor = ma.fields.String(required=True, metadata={"example": "worker"})
    on_behalf_of = ma.fields.String(allow_none=True)
    role = ma.fields.String(allow_none=True)
    object = ma.fields.String(allow_none=True)
    command_id = ma.fields.String(allow_none=True)
    sent = ma.fields.Raw(allow_none=True, metadata={"description": "What was sent to SAP"})
    detail = ma.fields.Dict(allow_none=True)
    sap_status = ma.fields.Integer(allow_none=True)
    sap_message = ma.fields.String(allow_none=True)
    duration_ms = ma.fields.Integer(allow_none=True)
    correlation_id = ma.fields.String(allow_none=True)
    prev_hash = ma.fields.String(required=True)
    hash = ma.fields.String(required=True)


class AuditPageSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(AuditEventSchema), required=True)
    next_cursor = next_cursor_field()
    total = total_field()


# -- outbound webhooks ----------------------------------------------------------------------------------------

MAX_URL = 2048
MAX_EVENT_TYPES = 50
EVENT_TYPES_HELP = (
    "Notification types to receive: `*` for all (including types added later), a type, or `<prefix>.*` "
    "(e.g. `production-order.*`). The types: "
    + "; ".join(f"`{name}`: {description}" for name, description in NOTIFICATION_TYPES.items())
)
DELIVERY_STATUSES = [status.value for status in DeliveryStatus]


def webhook_url(value: str) -> None:
    """https, or http to this machine outside production; in production only to a public address."""
    production = current_app.extensions["settings"].is_production
    outbound_url(value, production=production)
    if production and (problem := not_public(value)):
        raise ma.ValidationError(f"must reach a public address: {problem}")


def event_type_pattern(value: str) -> None:
    if not valid_pattern(value):
        raise ma.ValidationError(
            f"unknown notification type {value!r}: use `*`, one of {', '.join(NOTIFICATION_TYPES)}, "
            "or a prefix of them followed by `.*`"
        )


class WebhookCreateSchema(StrictSchema):
    url = ma.fields.String(
        required=True,
        validate=[ma.validate.Length(min=1, max=MAX_URL), webhook_url],
        metadata={
            "description": "Where deliveries are POSTed: https (http only to localhost or 127.0.0.1 outside "
            "production). Redirects are not followed",
            "example": "https://mes.example.com/hooks/sap",
        },
    )
    event_types = ma.fields.List(
        ma.fields.String(validate=[ma.validate.Length(max=128), event_type_pattern]),
        required=True,
        validate=ma.validate.Length(min=1, max=MAX_EVENT_TYPES),
        metadata={"description": EVENT_TYPES_HELP, "example": ["production-order.*", "writeback.dead"]},
    )
    description = free_text(255, "What receives them, for the admins", load_default=None, allow_none=True)

    @ma.post_load
    def distinct_types(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        data["event_types"] = list(dict.fromkeys(data["event_types"]))
        return data


class WebhookSchema(ma.Schema):
    id = ma.fields.String(required=True, metadata={"example": "0b7e4a55-6f1c-7c1e-9a0e-2f6a3c1d9b10"})
    url = ma.fields.String(required=True, metadata={"example": "https://mes.example.com/hooks/sap"})
    event_types = ma.fields.List(ma.fields.String(), required=True, metadata={"example": ["production-order.*"]})
    description = ma.fields.String(allow_none=True)
    created_by = ma.fields.String(required=True, metadata={"description": "The admin who registered it"})
    created_at = ma.fields.DateTime(required=True)
    active = ma.fields.Boolean(required=True)


class WebhookCreatedSchema(WebhookSchema):
    secret = ma.fields.String(
        required=True,
        metadata={
            "description": "The signing secret (Standard Webhooks `whsec_<base64>`), shown only in this response: "
            "keep it now. Receivers check each delivery's `webhook-signature` with it",
            "example": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        },
    )


class WebhookListSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(WebhookSchema), required=True)


class WebhookDeliveryQueryArgsSchema(PageArgsSchema):
    status = ma.fields.String(
        validate=ma.validate.OneOf(DELIVERY_STATUSES),
        metadata={"description": "Only deliveries in this status", **enum_component("WebhookDeliveryStatus")},
    )
    webhook_id = ma.fields.String(
        validate=ma.validate.Length(min=1, max=64), metadata={"description": "Only this webhook's deliveries"}
    )


class WebhookDeliveryErrorSchema(ma.Schema):
    kind = ma.fields.String(
        allow_none=True,
        metadata={
            "description": "http (the receiver answered non-2xx), timeout, connection, out_of_attempts",
            "example": "http",
        },
    )
    status = ma.fields.Integer(allow_none=True, metadata={"description": "The receiver's HTTP status", "example": 503})
    message = ma.fields.String(allow_none=True, metadata={"description": "The start of the receiver's answer"})


class WebhookDeliverySchema(ma.Schema):
    id = ma.fields.String(required=True)
    webhook_id = ma.fields.String(required=True)
    event_id = ma.fields.String(
        required=True, metadata={"description": "The notification's id, sent as `webhook-id` on every attempt"}
    )
    event_type = ma.fields.String(required=True, metadata={"example": "production-order.released"})
    payload = ma.fields.Dict(required=True, metadata={"description": "The JSON body sent"})
    status = ma.fields.String(
        required=True,
        validate=ma.validate.OneOf(DELIVERY_STATUSES),
        metadata={
            "description": "pending (waiting for an attempt or a retry), succeeded (2xx), dead (out of attempts, or "
            "the receiver answered 410 Gone), cancelled (its webhook was deleted first)",
            **enum_component("WebhookDeliveryStatus"),
        },
    )
    attempts = ma.fields.Integer(required=True)
    last_error = ma.fields.Nested(WebhookDeliveryErrorSchema, allow_none=True)
    created_at = ma.fields.DateTime(required=True)
    updated_at = ma.fields.DateTime(required=True)
    next_attempt_at = ma.fields.DateTime(allow_none=True, metadata={"description": "When the next attempt is due"})
    finished_at = ma.fields.DateTime(allow_none=True)


class WebhookDeliveryPageSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(WebhookDeliverySchema), required=True)
    next_cursor = next_cursor_field()
    total = total_field()
