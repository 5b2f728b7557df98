"""Supervisor schemas: work orders (released production-order operations) with quantities done and to go."""

from __future__ import annotations

from decimal import Decimal

import marshmallow as ma

from app.paging import PageArgsSchema, page_schema
from roles.common import QuantitySchema, StrictSchema, date_field


class WorkOrderQueryArgsSchema(PageArgsSchema):
    work_center = ma.fields.List(
        ma.fields.String(validate=ma.validate.Length(min=1, max=8)),
        metadata={"description": "Narrow to some of the caller's work centres (default: all of them)"},
    )
    order_id = ma.fields.String(validate=ma.validate.Regexp(r"^[A-Za-z0-9]{1,12}$"))
    include_confirmed = ma.fields.Boolean(
        load_default=False, metadata={"description": "Also list operations already finally confirmed"}
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


MAX_QUANTITY = Decimal("9999999999.999")  # SAP's Decimal(13,3)


def _in_range(value: Decimal) -> None:
    # A callable, not ma.validate.Range: apispec would document Decimal bounds as strings.
    if not Decimal(0) <= value <= MAX_QUANTITY:
        raise ma.ValidationError(f"must be between 0 and {MAX_QUANTITY}")


def _quantity(description: str, **kwargs: object) -> ma.fields.Decimal:
    return ma.fields.Decimal(
        places=3,
        validate=_in_range,
        metadata={"description": description, "type": "string", "format": "decimal", "example": "12.000"},
        **kwargs,  # type: ignore[arg-type]
    )


class ConfirmationSchema(StrictSchema):
    yield_quantity = _quantity("Good quantity produced", required=True)
    scrap_quantity = _quantity("Scrap quantity", load_default=Decimal("0"))
    unit = ma.fields.String(
        required=True,
        validate=ma.validate.Length(min=1, max=3),
        metadata={"description": "Must be the operation's unit", "example": "PC"},
    )
    final = ma.fields.Boolean(
        load_default=False, metadata={"description": "Final confirmation: no more work expected on the operation"}
    )
    text = ma.fields.String(load_default="", validate=ma.validate.Length(max=40), metadata={"example": "Shift A"})
