"""Executive schemas: approval tasks, the requisition behind them, decision options."""

from __future__ import annotations

import marshmallow as ma

from app.errors import ErrorSchema
from app.paging import PageArgsSchema, page_schema
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

PRIORITIES = ("VERY_HIGH", "HIGH", "MEDIUM", "LOW")
MAX_MASS_DECISIONS = 50


class ApprovalQueryArgsSchema(PageArgsSchema):
    task_type = ma.fields.List(
        ma.fields.String(validate=[ma.validate.Length(min=1, max=70), CleanText(70, multiline=False)]),
        metadata={"description": "TaskDefinitionID(s), e.g. the purchase requisition release task"},
    )
    priority = ma.fields.List(ma.fields.String(validate=ma.validate.OneOf(PRIORITIES)))


class ApprovalSchema(ma.Schema):
    id = ma.fields.String(
        required=True, metadata={"description": "Use in /approvals/{id}", "example": "LOCAL~000001129172"}
    )
    origin = ma.fields.String(required=True, metadata={"example": "LOCAL"})
    task_id = ma.fields.String(required=True, metadata={"example": "000001129172"})
    task_type = ma.fields.String(required=True, attribute="task_definition_id")
    task_type_name = ma.fields.String(required=True, attribute="task_definition_name")
    title = ma.fields.String(required=True, metadata={"example": "Release purchase requisition 10000123"})
    priority = ma.fields.String(required=True, metadata={"example": "HIGH"})
    status = ma.fields.String(required=True, metadata={"example": "READY"})
    created_on = datetime_field("When the task was created")
    created_by = ma.fields.String(required=True)
    due = datetime_field("Completion deadline", attribute="completion_deadline")
    is_escalated = ma.fields.Boolean(required=True)
    supports_claim = ma.fields.Boolean(required=True)
    supports_release = ma.fields.Boolean(required=True)
    supports_forward = ma.fields.Boolean(required=True)
    object_id = ma.fields.String(required=True, metadata={"description": "Business object key, empty if none"})


ApprovalPageSchema = page_schema(ApprovalSchema, "ApprovalPage")


class RequisitionItemSchema(ma.Schema):
    item = ma.fields.String(required=True, metadata={"example": "00010"})
    description = ma.fields.String(required=True)
    material = ma.fields.String(required=True)
    plant = ma.fields.String(required=True)
    quantity = ma.fields.Nested(QuantitySchema, required=True)
    price = ma.fields.Nested(AmountSchema, allow_none=True)
    net_amount = ma.fields.Nested(AmountSchema, allow_none=True)
    delivery_date = date_field("Requested delivery date")
    requisitioner = ma.fields.String(required=True)
    release_status = ma.fields.String(required=True)
    is_release_pending = ma.fields.Boolean(required=True)


class RequisitionSummarySchema(ma.Schema):
    requisition_id = ma.fields.String(required=True, metadata={"example": "10000123"})
    requisition_type = ma.fields.String(required=True)
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
    nature = ma.fields.String(required=True, metadata={"example": "POSITIVE"})


class DecisionOptionsSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(DecisionOptionSchema), required=True)


class DecisionSchema(StrictSchema):
    decision = ma.fields.String(
        required=True, validate=ma.validate.OneOf(["approve", "reject"]), metadata={"example": "approve"}
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
