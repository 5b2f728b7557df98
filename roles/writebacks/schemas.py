"""Schemas of writeback commands as their requester sees them."""

from __future__ import annotations

from typing import Any

import marshmallow as ma

from app.api import enum_component
from app.paging import PageArgsSchema, next_cursor_field, total_field
from store import Status
from workers.commands import CommandType

STATUSES = [status.value for status in Status]
COMMAND_TYPES = [command_type.value for command_type in CommandType]


class WritebackErrorSchema(ma.Schema):
    status = ma.fields.Integer(allow_none=True, metadata={"description": "SAP's HTTP status", "example": 412})
    code = ma.fields.String(allow_none=True, metadata={"description": "SAP's message code", "example": "CO/027"})
    message = ma.fields.String(allow_none=True, metadata={"description": "SAP's message, as SAP said it"})
    kind = ma.fields.String(
        allow_none=True,
        metadata={
            "description": "What kind of failure: SAP's (business, precondition_failed, locked, not_found, auth, "
            "unavailable, timeout, ...) or ours (out_of_attempts, configuration, invalid_payload, internal)",
            "example": "precondition_failed",
        },
    )


class TargetSchema(ma.Schema):
    type = ma.fields.String(required=True, attribute="target_type", metadata={"example": "ProductionOrder"})
    id = ma.fields.String(required=True, attribute="target_id", metadata={"example": "1000123"})


class ParentObject(ma.fields.Nested):
    """A Nested field dumped from the object itself: its fields are attributes of the parent (Target here)."""

    def get_value(self, obj: Any, attr: str, accessor: Any = None, default: Any = ma.missing) -> Any:
        return obj


class WritebackSchema(ma.Schema):
    id = ma.fields.String(required=True, metadata={"example": "6f1c7c1e-0b7e-4a55-9a0e-2f6a3c1d9b10"})
    type = ma.fields.String(
        required=True,
        validate=ma.validate.OneOf(COMMAND_TYPES),
        metadata={
            "description": "What the command does in SAP",
            "example": "operation.confirm",
            **enum_component("WritebackType"),
        },
    )
    status = ma.fields.String(
        required=True,
        validate=ma.validate.OneOf(STATUSES),
        metadata={
            "example": "succeeded",
            "description": "accepted (waiting), running, in_doubt (sent to SAP, no answer came back: SAP is being "
            "asked whether it landed; never re-sent blind), then one of succeeded, rejected, conflict, dead "
            "(the dead-letter list: an admin retries or discards it), discarded",
            **enum_component("WritebackStatus"),
        },
    )
    target = ParentObject(TargetSchema, required=True, metadata={"description": "The SAP object it changes"})
    attempts = ma.fields.Integer(required=True, metadata={"example": 1})
    payload = ma.fields.Dict(required=True, metadata={"description": "What will be (or was) sent, in our terms"})
    result = ma.fields.Dict(allow_none=True, metadata={"description": "What SAP answered on success"})
    last_error = ma.fields.Nested(WritebackErrorSchema, allow_none=True)
    created_at = ma.fields.DateTime(required=True)
    updated_at = ma.fields.DateTime(required=True)
    next_attempt_at = ma.fields.DateTime(allow_none=True, metadata={"description": "When a retry is due"})
    finished_at = ma.fields.DateTime(allow_none=True)
    in_doubt_since = ma.fields.Function(
        # Set from the moment a write leaves (a worker may die mid-call); shown once the doubt is real.
        lambda command: command.in_doubt_since.isoformat() if command.status == Status.IN_DOUBT else None,
        allow_none=True,
        metadata={
            "type": "string",
            "format": "date-time",
            "description": "While in_doubt: when the write whose answer never came was sent; else null",
        },
    )


class WritebackQueryArgsSchema(PageArgsSchema):
    status = ma.fields.String(
        validate=ma.validate.OneOf(STATUSES),
        metadata={"description": "Only writebacks in this status", **enum_component("WritebackStatus")},
    )


class WritebackPageSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(WritebackSchema), required=True)
    next_cursor = next_cursor_field()
    total = total_field()
