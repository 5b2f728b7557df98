"""Re-checking a command's stored role and attribute snapshot against what SAP says about the target now."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from access import confirmation, policy
from access.errors import StateConflict, Unprocessable
from access.policy import NotInScope, Principal, Role, attributes_from_claim
from odata_clients.models import Operation, Quantity
from store import Status
from workers.commands import CommandType

# The role each command type was accepted under; a command stored with another role is never applied.
REQUIRED_ROLE: Mapping[CommandType, Role] = {
    CommandType.TASK_DECISION: Role.EXECUTIVE,
    CommandType.TASK_CLAIM: Role.EXECUTIVE,
    CommandType.TASK_RELEASE: Role.EXECUTIVE,
    CommandType.TASK_FORWARD: Role.EXECUTIVE,
    CommandType.ORDER_RELEASE: Role.PLANT_MANAGER,
    CommandType.ORDER_RESCHEDULE: Role.PLANT_MANAGER,
    CommandType.OPERATION_CONFIRM: Role.SUPERVISOR,
    CommandType.CONFIRMATION_CANCEL: Role.SUPERVISOR,
}


class Ending(Exception):
    """The command ends now, without (further) writes to SAP: `rejected` or `conflict`, with a reason."""

    def __init__(self, status: Status, code: str, message: str, **facts: Any) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.facts = facts

    def as_dict(self) -> dict[str, Any]:
        """The canonical error shape (like SapError.as_dict) for the store and the status resource."""
        return {"kind": self.code, "status": None, "code": self.code, "message": self.message, **self.facts}


def command_type(raw: str) -> CommandType:
    try:
        return CommandType(raw)
    except ValueError:
        raise Ending(Status.REJECTED, "unknown_command", f"unknown command type {raw!r}") from None


def check_role(kind: CommandType, role: str) -> None:
    if REQUIRED_ROLE[kind] != role:
        raise Ending(
            Status.REJECTED,
            "role_mismatch",
            f"{kind.value} needs the role {REQUIRED_ROLE[kind].value}, the command was accepted as {role!r}",
        )


def _requester(attributes: Mapping[str, Any]) -> Principal:
    """The stored attribute snapshot as the policy sees a caller (the rule itself lives in access.policy)."""
    return Principal(user_name="", roles=frozenset(), attributes=attributes_from_claim(dict(attributes)))


def check_plant(attributes: Mapping[str, Any], plant: str) -> None:
    try:
        policy.check_plant(_requester(attributes), plant)
    except NotInScope as exc:
        raise Ending(Status.REJECTED, "out_of_scope", f"{exc} (requester's snapshot)") from exc


def check_work_center(attributes: Mapping[str, Any], plant: str, work_center: str) -> None:
    try:
        policy.check_work_center(_requester(attributes), plant, work_center)
    except NotInScope as exc:
        raise Ending(Status.REJECTED, "out_of_scope", f"{exc} (requester's snapshot)") from exc


def check_confirmable(
    operation: Operation,
    *,
    yield_quantity: Quantity,
    scrap_quantity: Quantity | None,
    allow_over_confirmation: bool,
) -> None:
    """The supervisor view's rule again, at apply time: what passed then may not pass now (a conflict)."""
    try:
        confirmation.check_confirmable(
            operation,
            yield_quantity=yield_quantity.value,
            scrap_quantity=scrap_quantity.value if scrap_quantity else Decimal(0),
            unit=yield_quantity.unit,
            allow_over_confirmation=allow_over_confirmation,
        )
    except (StateConflict, Unprocessable) as exc:
        raise Ending(
            Status.CONFLICT,
            "no_longer_confirmable",
            f"{exc} (SAP now; it was confirmable when the request was accepted)",
            quantity_to_go=str(operation.quantity_to_go.value),
            unit=operation.quantity_to_go.unit,
        ) from exc


def same_user(a: str, b: str) -> bool:
    # SAP user names are upper case; the token's user_name may not be.
    return a.strip().upper() == b.strip().upper()
