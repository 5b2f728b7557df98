"""What may be confirmed on an operation now: SAP's state and our over-confirmation rule, in one place.

The supervisor's view checks it when the request comes in; the worker checks it again just before it posts,
with the operation as SAP has it then, so confirmations accepted together cannot add up past the quantity.
"""

from __future__ import annotations

from decimal import Decimal

from access.errors import StateConflict, Unprocessable
from odata_clients.models import Operation


def check_confirmable(
    operation: Operation,
    *,
    yield_quantity: Decimal,
    scrap_quantity: Decimal,
    unit: str,
    allow_over_confirmation: bool,
) -> None:
    """Raise StateConflict (the operation's state forbids it) or Unprocessable (the quantities do)."""
    if not operation.is_released:
        raise StateConflict(f"operation {operation.operation} of order {operation.order_id} is not released")
    if operation.is_confirmed:
        raise StateConflict(f"operation {operation.operation} of order {operation.order_id} is already final")
    planned_unit = operation.planned_quantity.unit
    if unit.upper() != planned_unit.upper():
        raise Unprocessable(f"the operation is planned in {planned_unit}; confirm in {planned_unit}", "unit")
    if yield_quantity <= 0 and scrap_quantity <= 0:
        raise Unprocessable("confirm a yield or a scrap quantity above zero", "yield_quantity")
    if allow_over_confirmation:
        return  # SAP's own over-delivery tolerance still applies when it posts
    remaining = operation.quantity_to_go.value
    if yield_quantity > remaining:
        raise Unprocessable(
            f"yield {yield_quantity} {planned_unit} is more than the {remaining} {planned_unit} still to go",
            "yield_quantity",
        )
    # Scrap is bounded like yield: what is produced, good or bad, cannot exceed what is still to go.
    if yield_quantity + scrap_quantity > remaining:
        raise Unprocessable(
            f"yield {yield_quantity} and scrap {scrap_quantity} {planned_unit} together are more than the "
            f"{remaining} {planned_unit} still to go",
            "scrap_quantity",
        )
