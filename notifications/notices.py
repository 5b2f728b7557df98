"""The notifications we make, one function per kind, so SAP events and the delta pollers say the same thing."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from access.policy import Role
from notifications.model import Audience, Grant, Notification

APPROVAL_ID_SEPARATOR = "~"


def production_order(
    kind: str,
    order: str,
    plant: str,
    *,
    work_centers: Iterable[tuple[str, str]] = (),
    source_event: str | None = None,
    details: Mapping[str, Any] | None = None,
) -> Notification:
    """`production-order.<kind>` (created, changed, released) for the plant managers of its plant, and for the
    supervisors of `work_centers` ((plant, work centre) of its operations: a release gives them work to confirm)."""
    supervisors = (Grant(role=Role.SUPERVISOR, plant=p, work_center=w) for p, w in dict.fromkeys(work_centers))
    return Notification(
        type=f"production-order.{kind}",
        data={"order": order, "plant": plant, **(details or {})},
        audience=Audience((Grant(role=Role.PLANT_MANAGER, plant=plant), *supervisors)),
        source_event=source_event,
    )


def confirmation(
    kind: str,
    *,
    order: str,
    operation: str | None,
    confirmation_group: str,
    confirmation_count: str,
    plant: str,
    work_center: str | None,
    source_event: str | None = None,
    details: Mapping[str, Any] | None = None,
) -> Notification:
    """`confirmation.<kind>` (created, cancelled) for the work centre's supervisors and the plant's managers."""
    grants = [Grant(role=Role.PLANT_MANAGER, plant=plant)]
    if work_center:
        grants.append(Grant(role=Role.SUPERVISOR, plant=plant, work_center=work_center))
    return Notification(
        type=f"confirmation.{kind}",
        data={
            "order": order,
            "operation": operation,
            "confirmation_group": confirmation_group,
            "confirmation_count": confirmation_count,
            "plant": plant,
            "work_center": work_center,
            **(details or {}),
        },
        audience=Audience(tuple(grants)),
        source_event=source_event,
    )


def approval_id(origin: str, task_id: str) -> str:
    """The API's id of an approval (`/api/v1/approvals/{id}`): SAP keys a task by origin system and instance id."""
    return f"{origin}{APPROVAL_ID_SEPARATOR}{task_id}"


def approval(
    origin: str, task_id: str, user: str, *, title: str | None, created_at: datetime | None, source_event: str
) -> Notification:
    """`approval.created`: a new task in one executive's inbox, for that executive only."""
    return Notification(
        type="approval.created",
        data={
            "approval_id": approval_id(origin, task_id),
            "title": title,
            "created_at": created_at.isoformat() if created_at else None,
            "location": f"/api/v1/approvals/{approval_id(origin, task_id)}",
        },
        audience=Audience.user(user),
        source_event=source_event,
    )


def purchase_requisition(kind: str, requisition: str, *, source_event: str | None = None) -> Notification:
    """`purchase-requisition.<kind>`: for webhooks; executives hear of requisitions through their inbox tasks."""
    return Notification(
        type=f"purchase-requisition.{kind}",
        data={"purchase_requisition": requisition},
        audience=Audience(),
        source_event=source_event,
    )


def writeback(
    status: str,
    *,
    command_id: str,
    command_type: str,
    requested_by: str,
    target_type: str,
    target_id: str,
    error: Mapping[str, Any] | None,
    finished_at: datetime | None,
) -> Notification:
    """`writeback.<status>` (succeeded, rejected, conflict, dead): to the user who asked, wherever they are."""
    message = (error or {}).get("message")
    return Notification(
        type=f"writeback.{status}",
        data={
            "id": command_id,
            "type": command_type,
            "status": status,
            "target": {"type": target_type, "id": target_id},
            "message": message,
            "finished_at": finished_at.isoformat() if finished_at else None,
            "location": f"/api/v1/writebacks/{command_id}",
        },
        audience=Audience.user(requested_by),
        source_event=f"writeback:{command_id}:{status}",
    )
