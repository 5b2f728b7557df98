"""Supervisor commands, without Flask: confirm yield and scrap of an operation at the caller's work centre."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from access.errors import StateConflict, Unprocessable
from access.policy import Principal
from odata_clients.connectivity import SapConnectivity
from roles.supervisor.service import get_work_order
from workers.commands import ConfirmationPayload, QuantityPayload


def _quantity(value: Decimal, unit: str) -> QuantityPayload:
    return {"value": str(value), "unit": unit}


def asked_fields(operation: str, body: Mapping[str, Any]) -> dict[str, Any]:
    """What the supervisor asked for, as the payload records it (to recognise a re-sent request)."""
    unit = str(body["unit"]).upper()
    scrap = body["scrap_quantity"]
    return {
        "operation": operation,
        "yield_quantity": _quantity(body["yield_quantity"], unit),
        "scrap_quantity": _quantity(scrap, unit) if scrap > 0 else None,
        "is_final": body["final"],
        "text": body["text"],
    }


def prepare_confirmation(
    sap: SapConnectivity,
    principal: Principal,
    work_order: str,
    *,
    yield_quantity: Decimal,
    scrap_quantity: Decimal,
    unit: str,
    is_final: bool,
    text: str,
    allow_over_confirmation: bool,
) -> ConfirmationPayload:
    """Validated against the operation as SAP has it now: released, same unit, not over-confirmed."""
    operation = get_work_order(sap, principal, work_order).operation_record
    if not operation.is_released:
        raise StateConflict(f"operation {operation.operation} of order {operation.order_id} is not released")
    if operation.is_confirmed:
        raise StateConflict(f"operation {operation.operation} of order {operation.order_id} is already final")
    planned_unit = operation.planned_quantity.unit
    if unit.upper() != planned_unit.upper():
        raise Unprocessable(f"the operation is planned in {planned_unit}; confirm in {planned_unit}", "unit")
    if yield_quantity <= 0 and scrap_quantity <= 0:
        raise Unprocessable("confirm a yield or a scrap quantity above zero", "yield_quantity")
    remaining = operation.quantity_to_go.value
    if yield_quantity > remaining and not allow_over_confirmation:
        raise Unprocessable(
            f"yield {yield_quantity} {planned_unit} is more than the {remaining} {planned_unit} still to go",
            "yield_quantity",
        )
    payload: ConfirmationPayload = {
        "order_id": operation.order_id,
        "operation": operation.operation,
        "sequence": operation.sequence,
        "plant": operation.plant,
        "work_center": operation.work_center,
        "yield_quantity": _quantity(yield_quantity, planned_unit),
        "is_final": is_final,
        "text": text,
    }
    if scrap_quantity > 0:
        payload["scrap_quantity"] = _quantity(scrap_quantity, planned_unit)
    return payload
