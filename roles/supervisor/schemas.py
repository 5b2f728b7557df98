"""Supervisor schemas: work orders (released production-order operations) with quantities done and to go."""

from __future__ import annotations

from decimal import Decimal

import marshmallow as ma

from app.paging import PageArgsSchema, page_schema, sort_field
from odata_clients.gateways.operations import DEFAULT_OPERATION_SORT, OPERATION_SORT_FIELDS
from roles.common import (
    CleanText,
    FullMatch,
    JsonBoolean,
    QuantitySchema,
    SapQuantity,
    StrictSchema,
    date_field,
    datetime_field,
    free_text,
)

# SAP's VarianceReasonCode: String(4), the reason for variance of Customizing (OPK5).
SCRAP_REASON = r"^[A-Z0-9]{1,4}$"


class WorkOrderQueryArgsSchema(PageArgsSchema):
    work_center = ma.fields.List(
        ma.fields.String(validate=ma.validate.Length(min=1, max=8)),
        metadata={"description": "Narrow to some of the caller's work centres (default: all of them)"},
    )
    order_id = ma.fields.String(validate=FullMatch(r"^[A-Za-z0-9]{1,12}$"))
    include_confirmed = ma.fields.Boolean(
        load_default=False, metadata={"description": "Also list operations already finally confirmed"}
    )
    starts_by = ma.fields.Date(
        metadata={
            "description": "Only operations whose earliest scheduled start is on this day or before: due or overdue. "
            "With the `today` of /work-orders/counts (asked with the same `tz`, and include_confirmed false) it "
            "lists what that answer's `to_confirm_today` counts",
            "example": "2026-11-30",
        }
    )
    sort = sort_field(
        OPERATION_SORT_FIELDS,
        DEFAULT_OPERATION_SORT,
        "earliest_start / earliest_end: the operation's earliest scheduled dates; order_id: order number. "
        "Order and operation number follow",
    )


class WorkOrderSchema(ma.Schema):
    id = ma.fields.String(required=True, metadata={"description": "Order and operation", "example": "1000123-0010"})
    order_id = ma.fields.String(required=True, metadata={"example": "1000123"})
    operation = ma.fields.String(required=True, metadata={"example": "0010"})
    text = ma.fields.String(required=True, metadata={"description": "What to do", "example": "Assemble housing"})
    material = ma.fields.String(
        required=True,
        metadata={"description": "What the order produces (SAP's material number)", "example": "FG-BIKE-100"},
    )
    work_center = ma.fields.String(required=True, metadata={"example": "ASSY1010"})
    plant = ma.fields.String(required=True, metadata={"example": "1010"})
    planned_quantity = ma.fields.Nested(QuantitySchema, required=True)
    confirmed_yield = ma.fields.Nested(QuantitySchema, required=True, metadata={"description": "Done so far"})
    quantity_to_go = ma.fields.Nested(
        QuantitySchema, required=True, metadata={"description": "Planned less confirmed yield; 0 once final"}
    )
    final_shortfall = ma.fields.Nested(
        QuantitySchema,
        allow_none=True,
        required=True,
        metadata={
            "description": "Finally confirmed with less than planned: the quantity that will not be produced "
            "(null otherwise). Nothing is left to go after a final confirmation"
        },
    )
    earliest_start = date_field("Earliest scheduled start")
    earliest_end = date_field("Earliest scheduled end")
    is_released = ma.fields.Boolean(required=True)
    is_confirmed = ma.fields.Boolean(required=True)
    is_partially_confirmed = ma.fields.Boolean(required=True)


WorkOrderPageSchema = page_schema(WorkOrderSchema, "WorkOrderPage")


class ConfirmationSchema(StrictSchema):
    yield_quantity = SapQuantity("Good quantity produced", required=True, example="12.5")
    scrap_quantity = SapQuantity("Scrap quantity", load_default=Decimal("0.000"), example="0")
    unit = ma.fields.String(
        required=True,
        validate=[ma.validate.Length(min=1, max=3), CleanText(3, multiline=False)],
        metadata={"description": "Must be the operation's unit", "example": "PC"},
    )
    final = JsonBoolean(
        load_default=False,
        metadata={
            "description": "Final confirmation: no more work expected on the operation. A JSON boolean only "
            '(true/false; "true", "yes" or 1 are refused)'
        },
    )
    text = free_text(
        40, "Confirmation text (SAP's ConfirmationText, String(40))", load_default="", metadata={"example": "Shift A"}
    )
    scrap_reason = ma.fields.String(
        load_default=None,
        validate=FullMatch(SCRAP_REASON, error="a reason code of 1 to 4 capital letters or digits"),
        metadata={
            "description": "Why the scrap happened: one of GET /api/v1/work-orders/scrap-reasons (SAP's reason for "
            "variance, VarianceReasonCode). Only with a scrap quantity",
            "example": "0002",
        },
    )

    @ma.validates_schema
    def reason_needs_scrap(self, data: dict[str, object], **kwargs: object) -> None:
        if data.get("scrap_reason") and not data.get("scrap_quantity"):
            raise ma.ValidationError("a scrap reason needs a scrap quantity above 0", "scrap_reason")


class ConfirmationRecordSchema(ma.Schema):
    """One confirmation of the operation as SAP keeps it, with who asked for it when it came through the API."""

    id = ma.fields.String(
        required=True,
        metadata={"description": "ConfirmationGroup-ConfirmationCount, SAP's key", "example": "0000012345-00000001"},
    )
    yield_quantity = ma.fields.Nested(QuantitySchema, allow_none=True, required=True)
    scrap_quantity = ma.fields.Nested(QuantitySchema, allow_none=True, required=True)
    scrap_reason = ma.fields.String(
        required=True, metadata={"description": "SAP's VarianceReasonCode ('' when none)", "example": "0002"}
    )
    final = ma.fields.Boolean(required=True, metadata={"description": "A final confirmation"})
    text = ma.fields.String(required=True, metadata={"example": "Shift A"})
    posting_date = date_field("The day the confirmation was posted for")
    entered_at = datetime_field("When SAP recorded it (UTC)")
    confirmed_by = ma.fields.String(
        required=True,
        metadata={
            "description": "Who confirmed (or cancelled): the API user when it came through a writeback of this API, "
            "else the SAP user who entered it",
            "example": "SUP_ASSY1010",
        },
    )
    writeback_id = ma.fields.String(
        allow_none=True,
        required=True,
        metadata={"description": "The writeback that posted it through this API, else null"},
    )
    is_cancelled = ma.fields.Boolean(required=True, metadata={"description": "Cancelled since (IsReversed)"})
    is_cancellation = ma.fields.Boolean(
        required=True,
        metadata={"description": "This record cancels an earlier one (IsReversal); its quantities undo it"},
    )
    cancellable = ma.fields.Boolean(
        required=True,
        metadata={
            "description": "Whether POST .../confirmations/{id}/cancellation may be tried: neither cancelled nor"
            " a cancellation itself (SAP has the last word)"
        },
    )


class ConfirmationHistorySchema(ma.Schema):
    items = ma.fields.List(
        ma.fields.Nested(ConfirmationRecordSchema),
        required=True,
        metadata={"description": "The operation's confirmations, newest first (at most 100)"},
    )


class CancellationSchema(StrictSchema):
    text = free_text(
        40,
        "Why it is cancelled: the reversal's ConfirmationText in SAP (default: the original's text)",
        load_default="",
        metadata={"example": "Wrong quantity typed"},
    )


class ProposalSchema(ma.Schema):
    """SAP's proposal (GetConfProposal): what a confirmation form can be prefilled with."""

    yield_quantity = ma.fields.Nested(
        QuantitySchema,
        allow_none=True,
        required=True,
        metadata={"description": "The quantity still to go, as SAP sees it"},
    )
    scrap_quantity = ma.fields.Nested(QuantitySchema, allow_none=True, required=True)
    work_quantities = ma.fields.List(
        ma.fields.Nested(QuantitySchema),
        required=True,
        metadata={"description": "Activities (OpConfirmedWorkQuantity1..6), e.g. machine minutes for that yield"},
    )
    execution_start = datetime_field("Proposed start of execution")
    execution_end = datetime_field("Proposed end of execution")


class ScrapReasonSchema(ma.Schema):
    code = ma.fields.String(required=True, metadata={"example": "0002"})
    text = ma.fields.String(required=True, metadata={"example": "Material defect"})


class ScrapReasonsSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(ScrapReasonSchema), required=True)
