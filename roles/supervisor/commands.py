"""Supervisor commands, without Flask: confirm yield and scrap of an operation at the caller's work centre."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from access.confirmation import check_confirmable
from access.errors import StateConflict
from access.policy import NotInScope, Principal
from odata_clients.connectivity import SapConnectivity
from odata_clients.errors import SapNotFound
from roles.supervisor.service import operation_in_scope, split_confirmation_id
from workers.commands import CancellationPayload, ConfirmationPayload, QuantityPayload


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
        "scrap_reason": body["scrap_reason"],
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
    scrap_reason: str | None,
    allow_over_confirmation: bool,
) -> ConfirmationPayload:
    """Validated against the operation as SAP has it now: released, same unit, not over-confirmed."""
    operation = operation_in_scope(sap, principal, work_order)
    check_confirmable(
        operation,
        yield_quantity=yield_quantity,
        scrap_quantity=scrap_quantity,
        unit=unit,
        allow_over_confirmation=allow_over_confirmation,
    )
    planned_unit = operation.planned_quantity.unit
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
    if scrap_reason:
        payload["scrap_reason"] = scrap_reason
    return payload


def prepare_cancellation(
    sap: SapConnectivity, principal: Principal, work_order: str, confirmation_id: str, *, text: str
) -> CancellationPayload:
    """Undo a confirmation of an operation at the caller's work centres: any supervisor of that work centre may,
    not only the one who confirmed (shifts hand over); the audit trail keeps who did. SAP has the last word."""
    operation = operation_in_scope(sap, principal, work_order)
    group, count = split_confirmation_id(confirmation_id)
    try:
        confirmation = sap.confirmations.get(group, count)
    except SapNotFound:
        raise NotInScope(f"confirmation {confirmation_id}") from None
    if (confirmation.order_id, confirmation.operation) != (operation.order_id, operation.operation):
        raise NotInScope(f"confirmation {confirmation_id} of work order {work_order}")
    if confirmation.is_reversal:
        raise StateConflict(f"confirmation {confirmation_id} is itself a cancellation; it cannot be cancelled")
    if confirmation.is_reversed:
        raise StateConflict(f"confirmation {confirmation_id} is cancelled already")
    return {
        "order_id": operation.order_id,
        "operation": operation.operation,
        "plant": operation.plant,
        "work_center": operation.work_center,
        "confirmation_group": group,
        "confirmation_count": count,
        "text": text,
    }
