"""Integration admin schemas: dead letters and the audit trail."""

from __future__ import annotations

import marshmallow as ma

from access.policy import Role
from app.api import enum_component
from app.paging import PageArgsSchema, next_cursor_field, total_field
from roles.common import INSTANT_RANGE, Instant, free_text
from roles.writebacks.schemas import WritebackSchema


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
