"""Executive schemas: approval tasks, the requisition behind them, decision options."""

from __future__ import annotations

import marshmallow as ma

from app.api import enum_component
from app.errors import ErrorSchema
from app.paging import PageArgsSchema, page_schema, sort_field
from odata_clients.gateways.tasks import DEFAULT_TASK_SORT, TASK_PRIORITIES, TASK_SORT_FIELDS
from roles.common import (
    AmountSchema,
    CleanText,
    FullMatch,
    QuantitySchema,
    StrictSchema,
    date_field,
    datetime_field,
    free_text,
)
from roles.writebacks.schemas import WritebackSchema

PRIORITIES = TASK_PRIORITIES
# SAP's inbox task statuses (TASKPROCESSING's STATUS filter options); the queue lists the first three (open).
TASK_STATUSES = ("READY", "RESERVED", "IN_PROGRESS", "EXECUTED", "COMPLETED", "FOR_RESUBMISSION", "CANCELLED")
# A decision option's nature in SAP; empty for a neutral one (neither approves nor rejects).
NATURES = ("POSITIVE", "NEGATIVE", "")
MAX_MASS_DECISIONS = 50


class ApprovalQueryArgsSchema(PageArgsSchema):
    task_type = ma.fields.List(
        ma.fields.String(validate=[ma.validate.Length(min=1, max=70), CleanText(70, multiline=False)]),
        metadata={"description": "TaskDefinitionID(s), e.g. the purchase requisition release task"},
    )
    priority = ma.fields.List(
        ma.fields.String(validate=ma.validate.OneOf(PRIORITIES), metadata=enum_component("TaskPriority")),
        metadata={"description": "Only tasks of these priorities", "example": ["VERY_HIGH", "HIGH"]},
    )
    sort = sort_field(
        TASK_SORT_FIELDS,
        DEFAULT_TASK_SORT,
        "created: creation time (CreatedOn); due: completion deadline (CompletionDeadLine), tasks without one "
        "first; priority: LOW to VERY_HIGH, so -priority is the most urgent first",
    )


class ApprovalSchema(ma.Schema):
    id = ma.fields.String(
        required=True, metadata={"description": "Use in /approvals/{id}", "example": "LOCAL~000001129172"}
    )
    origin = ma.fields.String(required=True, metadata={"example": "LOCAL"})
    task_id = ma.fields.String(required=True, metadata={"example": "000001129172"})
    task_type = ma.fields.String(
        required=True,
        attribute="task_definition_id",
        metadata={"description": "SAP's TaskDefinitionID; filter the queue by it", "example": "TS00007986"},
    )
    task_type_name = ma.fields.String(
        required=True, attribute="task_definition_name", metadata={"example": "Release of purchase requisition"}
    )
    title = ma.fields.String(required=True, metadata={"example": "Release purchase requisition 10000123"})
    priority = ma.fields.String(
        required=True,
        validate=ma.validate.OneOf(PRIORITIES),
        metadata={"example": "HIGH", **enum_component("TaskPriority")},
    )
    status = ma.fields.String(
        required=True,
        validate=ma.validate.OneOf(TASK_STATUSES),
        metadata={
            "description": "SAP's task status: READY (anyone may take it), RESERVED (claimed), IN_PROGRESS; "
            "COMPLETED once decided",
            "example": "READY",
            **enum_component("TaskStatus"),
        },
    )
    created_on = datetime_field("When the task was created")
    created_by = ma.fields.String(required=True, metadata={"description": "SAP user", "example": "REQ_DAVID"})
    due = datetime_field("Completion deadline", attribute="completion_deadline")
    is_escalated = ma.fields.Boolean(required=True)
    supports_claim = ma.fields.Boolean(required=True)
    supports_release = ma.fields.Boolean(required=True)
    supports_forward = ma.fields.Boolean(required=True)
    object_id = ma.fields.String(
        required=True, metadata={"description": "Business object key, empty if none", "example": "10000123"}
    )


ApprovalPageSchema = page_schema(ApprovalSchema, "ApprovalPage")


class RequisitionItemSchema(ma.Schema):
    item = ma.fields.String(required=True, metadata={"example": "00010"})
    description = ma.fields.String(required=True, metadata={"example": "Laptop for new engineer"})
    material = ma.fields.String(
        required=True, metadata={"description": "Empty for a text (non-stock) item", "example": "FG-BIKE-100"}
    )
    plant = ma.fields.String(required=True, metadata={"example": "1010"})
    quantity = ma.fields.Nested(QuantitySchema, required=True)
    price = ma.fields.Nested(AmountSchema, allow_none=True)
    net_amount = ma.fields.Nested(AmountSchema, allow_none=True)
    delivery_date = date_field("Requested delivery date")
    requisitioner = ma.fields.String(required=True, metadata={"example": "David Moreau"})
    release_status = ma.fields.String(
        required=True, metadata={"description": "SAP's PurReqnReleaseStatus", "example": "03"}
    )
    is_release_pending = ma.fields.Boolean(required=True)


class RequisitionSummarySchema(ma.Schema):
    requisition_id = ma.fields.String(required=True, metadata={"example": "10000123"})
    requisition_type = ma.fields.String(required=True, metadata={"example": "NB"})
    description = ma.fields.String(required=True)
    total_net_amounts = ma.fields.List(ma.fields.Nested(AmountSchema), required=True)
    items = ma.fields.List(ma.fields.Nested(RequisitionItemSchema), required=True)


class ApprovalDetailSchema(ApprovalSchema):
    attributes = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.String(), required=True)
    purchase_requisition = ma.fields.Nested(
        RequisitionSummarySchema,
        allow_none=True,
        required=True,
        metadata={"description": "The requisition behind a release task; null for other task types"},
    )


class DecisionOptionSchema(ma.Schema):
    key = ma.fields.String(required=True, metadata={"example": "0001"})
    text = ma.fields.String(required=True, metadata={"example": "Approve"})
    comment_mandatory = ma.fields.Boolean(required=True)
    nature = ma.fields.String(
        required=True,
        validate=ma.validate.OneOf(NATURES),
        metadata={
            "description": "POSITIVE (approves), NEGATIVE (rejects), empty: neutral",
            "example": "POSITIVE",
            **enum_component("DecisionNature"),
        },
    )


class DecisionOptionsSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(DecisionOptionSchema), required=True)


class DecisionSchema(StrictSchema):
    decision = ma.fields.String(
        required=True,
        validate=ma.validate.OneOf(["approve", "reject"]),
        metadata={"example": "approve", **enum_component("ApprovalDecision")},
    )
    comment = free_text(
        1000,
        "Mandatory where SAP's decision option says so",
        multiline=True,
        load_default="",
        metadata={"example": "Budget confirmed"},
    )


class MassDecisionItemSchema(DecisionSchema):
    id = ma.fields.String(
        required=True, validate=ma.validate.Length(min=1, max=64), metadata={"example": "LOCAL~000001129172"}
    )


class MassDecisionSchema(StrictSchema):
    items = ma.fields.List(
        ma.fields.Nested(MassDecisionItemSchema),
        required=True,
        validate=ma.validate.Length(min=1, max=MAX_MASS_DECISIONS),
        metadata={"description": f"Up to {MAX_MASS_DECISIONS} decisions; each gets its own result"},
    )


class ForwardSchema(StrictSchema):
    to_user = ma.fields.String(
        required=True,
        validate=FullMatch(r"^[A-Za-z0-9._-]{1,12}$", error="must be an SAP user name: 1-12 of A-Z a-z 0-9 . _ -"),
        metadata={"description": "SAP user name of the new processor", "example": "EXEC_BEN"},
    )


class MassDecisionResultSchema(ma.Schema):
    id = ma.fields.String(required=True)
    status = ma.fields.Integer(
        required=True, metadata={"description": "202 accepted; else the error status for this item", "example": 202}
    )
    writeback = ma.fields.Nested(WritebackSchema, allow_none=True, required=True)
    error = ma.fields.Nested(ErrorSchema, allow_none=True, required=True)


class MassDecisionResultsSchema(ma.Schema):
    results = ma.fields.List(ma.fields.Nested(MassDecisionResultSchema), required=True)
