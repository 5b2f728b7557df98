"""Supervisor commands, without Flask: confirm yield and scrap of an operation at the caller's work centre."""

from __future__ import annotations

from decimal import Decimal

from odata_clients.connectivity import SapConnectivity
from roles.errors import StateConflict, Unprocessable
from roles.policy import Principal
from roles.supervisor.service import get_work_order
from workers.commands import ConfirmationPayload


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
        "yield_quantity": {"value": str(yield_quantity), "unit": planned_unit},
        "is_final": is_final,
        "text": text,
    }
    if scrap_quantity > 0:
        payload["scrap_quantity"] = {"value": str(scrap_quantity), "unit": planned_unit}
    return payload
