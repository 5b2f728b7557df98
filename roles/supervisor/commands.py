"""Supervisor commands, without Flask: confirm yield and scrap of an operation at the caller's work centre."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from access.confirmation import check_confirmable
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
    return payload
