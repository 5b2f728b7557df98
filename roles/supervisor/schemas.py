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
    free_text,
)


class WorkOrderQueryArgsSchema(PageArgsSchema):
    work_center = ma.fields.List(
        ma.fields.String(validate=ma.validate.Length(min=1, max=8)),
        metadata={"description": "Narrow to some of the caller's work centres (default: all of them)"},
    )
    order_id = ma.fields.String(validate=FullMatch(r"^[A-Za-z0-9]{1,12}$"))
    include_confirmed = ma.fields.Boolean(
        load_default=False, metadata={"description": "Also list operations already finally confirmed"}
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
    text = ma.fields.String(required=True, metadata={"example": "Assemble housing"})
    work_center = ma.fields.String(required=True, metadata={"example": "ASSY1010"})
    plant = ma.fields.String(required=True, metadata={"example": "1010"})
    planned_quantity = ma.fields.Nested(QuantitySchema, required=True)
    confirmed_yield = ma.fields.Nested(QuantitySchema, required=True, metadata={"description": "Done so far"})
    quantity_to_go = ma.fields.Nested(QuantitySchema, required=True)
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
