"""Plant manager commands, without Flask: release and reschedule orders of the caller's plants."""

from __future__ import annotations

import datetime as dt

from access.errors import StateConflict, Unprocessable
from access.policy import Principal
from access.preconditions import PreconditionFailed, weak_match
from odata_clients.connectivity import SapConnectivity
from odata_clients.models import ProductionOrder
from roles.plant_manager.service import get_order
from workers.commands import OrderPayload, ReschedulePayload


def _changeable(order: ProductionOrder) -> ProductionOrder:
    if order.is_technically_completed or order.is_closed or order.is_marked_for_deletion:
        raise StateConflict(f"order {order.order_id} is completed, closed or marked for deletion in SAP")
    if order.is_locked:
        raise StateConflict(f"order {order.order_id} is locked in SAP")
    return order


def prepare_release(sap: SapConnectivity, principal: Principal, order_id: str) -> OrderPayload:
    order = _changeable(get_order(sap, principal, order_id))
    if order.is_released:
        raise StateConflict(f"order {order.order_id} is already released")
    return {"order_id": order.order_id, "plant": order.plant}


def prepare_reschedule(
    sap: SapConnectivity,
    principal: Principal,
    order_id: str,
    planned_start: dt.date | None,
    planned_end: dt.date | None,
    if_match: str,
) -> ReschedulePayload:
    """The new planned dates, checked against the order as SAP has it now (the other date included).

    `if_match` is the order's ETag as the client read it: already stale is a 412 now, not a writeback that
    ends in conflict later (the worker still sends it, for a change in SAP between now and then).
    """
    if planned_start is None and planned_end is None:
        raise Unprocessable("send planned_start, planned_end or both", "planned_start")
    order = _changeable(get_order(sap, principal, order_id))
    if order.etag and not weak_match(if_match, order.etag):
        # Not the new ETag: a client that re-sent with it would overwrite a change its user has not seen.
        raise PreconditionFailed("the order changed in SAP since you read it: reload and try again")
    start = planned_start.isoformat() if planned_start else order.planned_start
    end = planned_end.isoformat() if planned_end else order.planned_end
    if start and end and start > end:
        raise Unprocessable(f"planned start {start} would be after planned end {end}", "planned_start")
    payload: ReschedulePayload = {"order_id": order.order_id, "plant": order.plant}
    if planned_start:
        payload["planned_start"] = planned_start.isoformat()
    if planned_end:
        payload["planned_end"] = planned_end.isoformat()
    return payload
