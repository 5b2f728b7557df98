"""Re-checking a command's stored role and attribute snapshot against what SAP says about the target now."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from store import Status
from workers.commands import CommandType

# The role each command type was accepted under; a command stored with another role is never applied.
REQUIRED_ROLE: Mapping[CommandType, str] = {
    CommandType.TASK_DECISION: "Executive",
    CommandType.TASK_CLAIM: "Executive",
    CommandType.TASK_RELEASE: "Executive",
    CommandType.TASK_FORWARD: "Executive",
    CommandType.ORDER_RELEASE: "PlantManager",
    CommandType.ORDER_RESCHEDULE: "PlantManager",
    CommandType.OPERATION_CONFIRM: "Supervisor",
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


def values(attributes: Mapping[str, Any], name: str) -> tuple[str, ...]:
    raw = attributes.get(name)
    if isinstance(raw, str):
        return (raw,)
    if isinstance(raw, list | tuple):
        return tuple(str(v) for v in raw if v)
    return ()


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
            f"{kind.value} needs the role {REQUIRED_ROLE[kind]}, the command was accepted as {role!r}",
        )


def check_plant(attributes: Mapping[str, Any], plant: str) -> None:
    if plant not in values(attributes, "Plant"):
        raise Ending(
            Status.REJECTED,
            "out_of_scope",
            f"plant {plant!r} is not among the requester's plants {list(values(attributes, 'Plant'))}",
        )


def check_work_center(attributes: Mapping[str, Any], plant: str, work_center: str) -> None:
    check_plant(attributes, plant)
    if work_center not in values(attributes, "WorkCenter"):
        raise Ending(
            Status.REJECTED,
            "out_of_scope",
            f"work centre {work_center!r} is not among the requester's work centres "
            f"{list(values(attributes, 'WorkCenter'))}",
        )


def same_user(a: str, b: str) -> bool:
    # SAP user names are upper case; the token's user_name may not be.
    return a.strip().upper() == b.strip().upper()
