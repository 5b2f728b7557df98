"""Production-order operations: supervisors' work list at their work centres, with quantities done / to go."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from decimal import Decimal

from odata_clients import convert
from odata_clients.errors import SapNotFound
from odata_clients.gateways.base import Gateway, Row
from odata_clients.gateways.keyset import KeysetPage, Position, sort_keys
from odata_clients.models import Operation, Quantity

OPERATIONS = "A_ProductionOrderOperation_2"
ORDERS = "A_ProductionOrder_2"  # the same service: where an operation's material is
MATERIALS_PER_READ = 40  # order numbers per $filter: the URL stays far below SAP Gateway's limits

OPERATION_FIELDS = (
    "OrderInternalBillOfOperations",
    "OrderIntBillOfOperationsItem",
    "ManufacturingOrder",
    "ManufacturingOrderOperation",
    "ManufacturingOrderSequence",
    "MfgOrderOperationText",
    "WorkCenter",
    "ProductionPlant",
    "OpPlannedTotalQuantity",
    "OpTotalConfirmedYieldQty",
    "OperationUnit",
    "OpErlstSchedldExecStrtDte",
    "OpErlstSchedldExecEndDte",
    "OperationIsReleased",
    "OperationIsConfirmed",
    "OperationIsPartiallyConfirmed",
    "LastChangeDateTime",
)


# Canonical sort names -> (SAP property, inverted).
OPERATION_SORT_FIELDS = {
    "earliest_start": ("OpErlstSchedldExecStrtDte", False),
    "earliest_end": ("OpErlstSchedldExecEndDte", False),
    "order_id": ("ManufacturingOrder", False),
}
DEFAULT_OPERATION_SORT = ("earliest_start",)
# Unique and in the order users read: an order has one routing (OrderInternalBillOfOperations), whose items
# (OrderIntBillOfOperationsItem) are unique within it, so order + item identifies an operation in any sequence.
OPERATION_KEY = ("ManufacturingOrder", "ManufacturingOrderOperation", "OrderIntBillOfOperationsItem")


def operation_from_row(row: Row) -> Operation:
    unit = row.text("OperationUnit")
    planned = row.quantity_or_zero("OpPlannedTotalQuantity", "OperationUnit")
    done = row.quantity_or_zero("OpTotalConfirmedYieldQty", "OperationUnit")
    final = row.flag("OperationIsConfirmed")
    # After a final confirmation nothing is left to go, whatever was planned: SAP expects no more work.
    left = max(Decimal("0"), planned.value - done.value)
    return Operation(
        order_id=row.text("ManufacturingOrder"),
        operation=row.text("ManufacturingOrderOperation"),
        sequence=row.text("ManufacturingOrderSequence"),
        text=row.text("MfgOrderOperationText"),
        work_center=row.text("WorkCenter"),
        plant=row.text("ProductionPlant"),
        planned_quantity=planned,
        confirmed_yield=done,
        quantity_to_go=Quantity(Decimal("0") if final else left, unit),
        earliest_start=row.date("OpErlstSchedldExecStrtDte"),
        earliest_end=row.date("OpErlstSchedldExecEndDte"),
        is_released=row.flag("OperationIsReleased"),
        is_confirmed=final,
        is_partially_confirmed=row.flag("OperationIsPartiallyConfirmed"),
        routing_id=row.text("OrderInternalBillOfOperations"),
        routing_item=row.text("OrderIntBillOfOperationsItem"),
        etag=row.etag,
        final_shortfall=Quantity(left, unit) if final and left else None,
    )


def operation_filter(
    work_centers: Sequence[str],
    *,
    plants: Sequence[str] = (),
    order_id: str | None = None,
    include_confirmed: bool = False,
    starts_by: dt.date | None = None,
) -> str:
    if not work_centers:
        raise ValueError("at least one work centre is required")
    clause = convert.and_all(
        convert.any_of("WorkCenter", work_centers),
        convert.any_of("ProductionPlant", plants) if plants else None,
        "OperationIsReleased eq 'X'",
        None if include_confirmed else "OperationIsConfirmed eq ''",
        convert.eq("ManufacturingOrder", order_id) if order_id else None,
        starts_by_filter(starts_by) if starts_by else None,
    )
    assert clause is not None
    return clause


def starts_by_filter(day: dt.date) -> str:
    """The earliest scheduled start on `day` or before. Before the next day rather than on or before `day`: also
    right should SAP ever send a time of day."""
    return f"OpErlstSchedldExecStrtDte lt {convert.datetime_literal(day + dt.timedelta(days=1))}"


def operation_count_filters(work_centers: Sequence[str], *, plants: Sequence[str], today: dt.date) -> dict[str, str]:
    """The $filter of each supervisor badge, over the operations the work-order list shows.

    - open: released and not finally confirmed, at `work_centers` (mandatory) in `plants`.
    - to_confirm_today: open, with the earliest scheduled start on `today` or before (due or overdue).
    """
    # The list's own filter: a badge counts exactly what its list shows.
    return {
        "open": operation_filter(work_centers, plants=plants),
        "to_confirm_today": operation_filter(work_centers, plants=plants, starts_by=today),
    }


class OperationsGateway(Gateway):
    """Reads A_ProductionOrderOperation_2; work centres are always pushed down to SAP as $filter."""

    def list_released(
        self,
        work_centers: Sequence[str],
        *,
        plants: Sequence[str] = (),
        order_id: str | None = None,
        include_confirmed: bool = False,
        starts_by: dt.date | None = None,
        sort: Sequence[str] = DEFAULT_OPERATION_SORT,
        top: int = 100,
        after: Position | None = None,
        count: bool = False,
    ) -> KeysetPage[Operation]:
        """`top` operations after `after` (a page's `next_after`) in the order of `sort` (OPERATION_SORT_FIELDS
        names, `-` for descending), then by order and operation. `count`: SAP's total of the whole list too."""
        page = self._keyset_query(
            OPERATIONS,
            filter=operation_filter(
                work_centers, plants=plants, order_id=order_id, include_confirmed=include_confirmed, starts_by=starts_by
            ),
            select=OPERATION_FIELDS,
            sort=sort_keys(sort, OPERATION_SORT_FIELDS, OPERATION_KEY),
            limit=top,
            after=after,
            count=count,
        )
        return KeysetPage([operation_from_row(Row(e)) for e in page.items], page.total, page.next_after)

    def get(self, order_id: str, operation: str) -> Operation:
        """One operation by order and operation number (the keys users know)."""
        entities, _ = self._query(
            OPERATIONS,
            filter=convert.and_all(
                convert.eq("ManufacturingOrder", order_id), convert.eq("ManufacturingOrderOperation", operation)
            ),
            select=OPERATION_FIELDS,
            top=1,
        )
        if not entities:
            raise SapNotFound(
                f"operation {operation} of order {order_id} not found",
                status=404,
                destination=self.client.http.destination.name,
                service=self.client.spec.path,
            )
        return operation_from_row(Row(entities[0]))

    def materials_of(self, order_ids: Collection[str]) -> dict[str, str]:
        """The material each order produces (the operation entity has none): one read per 40 orders."""
        found: dict[str, str] = {}
        wanted = sorted(set(order_ids))
        for start in range(0, len(wanted), MATERIALS_PER_READ):
            chunk = wanted[start : start + MATERIALS_PER_READ]
            rows, _ = self._query(
                ORDERS,
                filter=convert.any_of("ManufacturingOrder", chunk),
                select=("ManufacturingOrder", "Material"),
                top=len(chunk),
            )
            found.update((row.get("ManufacturingOrder", ""), row.get("Material") or "") for row in rows)
        return found

    def for_order(self, order_id: str) -> list[Operation]:
        entities, _ = self._query(
            OPERATIONS,
            filter=convert.eq("ManufacturingOrder", order_id),
            select=OPERATION_FIELDS,
            order_by="ManufacturingOrderOperation asc",
            top=500,
        )
        return [operation_from_row(Row(e)) for e in entities]

    def counts(self, work_centers: Sequence[str], *, plants: Sequence[str], today: dt.date) -> dict[str, int]:
        """The supervisor's badges (see operation_count_filters): one `$count` each, side by side."""
        return self._counts(OPERATIONS, operation_count_filters(work_centers, plants=plants, today=today))
