"""Supervisor use cases, without Flask: released operations at the caller's work centres only."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from access.policy import Forbidden, NotInScope, Principal, Role, check_work_center, require_attributes
from odata_clients.connectivity import SapConnectivity
from odata_clients.gateways.keyset import KeysetPage, Position
from odata_clients.gateways.operations import DEFAULT_OPERATION_SORT
from odata_clients.models import Operation
from roles.common import SAP_KEY

ID_SEPARATOR = "-"


@dataclass(frozen=True)
class WorkOrder:
    """An operation seen as a work order; its API id is `<order>-<operation>`."""

    operation_record: Operation

    @property
    def id(self) -> str:
        return f"{self.operation_record.order_id}{ID_SEPARATOR}{self.operation_record.operation}"

    def __getattr__(self, name: str) -> Any:
        return getattr(self.operation_record, name)


def split_id(work_order: str) -> tuple[str, str]:
    order_id, sep, operation = work_order.rpartition(ID_SEPARATOR)
    if not sep or not SAP_KEY.match(order_id) or not operation.isalnum() or len(operation) > 4:
        raise NotInScope(f"{work_order!r} is not a work order id")
    return order_id, operation


def scope(principal: Principal, requested: Sequence[str] = ()) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(plants, work centres) to query: the caller's, or the requested subset of their work centres."""
    require_attributes(principal, Role.SUPERVISOR)
    foreign = [centre for centre in requested if centre not in principal.work_centers]
    if foreign:
        raise Forbidden(f"work centre(s) {', '.join(foreign)} are not among yours; query only your own")
    return principal.plants, tuple(requested) or principal.work_centers


def list_work_orders(
    sap: SapConnectivity,
    principal: Principal,
    *,
    work_centers: Sequence[str] = (),
    order_id: str | None = None,
    include_confirmed: bool = False,
    sort: Sequence[str] = DEFAULT_OPERATION_SORT,
    limit: int,
    after: Position | None = None,
    count: bool = False,
) -> KeysetPage[WorkOrder]:
    plants, centres = scope(principal, work_centers)
    page = sap.operations.list_released(
        centres,
        plants=plants,
        order_id=order_id,
        include_confirmed=include_confirmed,
        sort=sort,
        top=limit,
        after=after,
        count=count,
    )
    return KeysetPage([WorkOrder(op) for op in page.items], page.total, page.next_after)


def get_work_order(sap: SapConnectivity, principal: Principal, work_order: str) -> WorkOrder:
    """One operation at the caller's work centres; elsewhere it is indistinguishable from none."""
    scope(principal)
    order_id, operation = split_id(work_order)
    record = sap.operations.get(order_id, operation)
    check_work_center(principal, record.plant, record.work_center)
    return WorkOrder(record)
