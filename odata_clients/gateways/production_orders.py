"""Production orders (API_PRODUCTION_ORDER_2_SRV): plant managers list, read, release and reschedule."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from odata_clients import convert
from odata_clients.gateways.base import Gateway, Row, function_messages, string_param
from odata_clients.gateways.keyset import KeysetPage, Position, sort_keys
from odata_clients.models import OrderStatus, ProductionOrder, SapMessageInfo

ORDERS = "A_ProductionOrder_2"
NAV_OPERATIONS = "to_ProductionOrderOperation"
NAV_STATUS = "to_ProductionOrderStatus"

# What a list of orders reads ($select): the fields the plant manager's list returns (the ProductionOrder of a
# list row leaves the others empty; `get` reads an order whole). Less to send, parse and convert per row.
LIST_FIELDS = (
    "ManufacturingOrder",
    "ManufacturingOrderType",
    "Material",
    "ProductionPlant",
    "TotalQuantity",
    "MfgOrderConfirmedYieldQty",
    "ProductionUnit",
    "MfgOrderPlannedStartDate",
    "MfgOrderPlannedEndDate",
    "OrderIsReleased",
    "OrderIsPartiallyConfirmed",
    "OrderIsConfirmed",
    "OrderIsTechnicallyCompleted",
    "OrderIsLocked",
    "LastChangeDateTime",
)

# Canonical status names -> the SAP flag clause pushed down as $filter.
STATUS_FILTERS = {
    "created": "OrderIsReleased eq ''",
    "released": "OrderIsReleased eq 'X'",
    "partially_confirmed": "OrderIsPartiallyConfirmed eq 'X'",
    "confirmed": "OrderIsConfirmed eq 'X'",
    "delivered": "OrderIsDelivered eq 'X'",
    "technically_completed": "OrderIsTechnicallyCompleted eq 'X'",
    "closed": "OrderIsClosed eq 'X'",
    "locked": "OrderIsLocked eq 'X'",
}

# Canonical sort keys -> SAP properties.
SORT_FIELDS = {
    "order_id": "ManufacturingOrder",
    "planned_start": "MfgOrderPlannedStartDate",
    "planned_end": "MfgOrderPlannedEndDate",
    "material": "Material",
    "plant": "ProductionPlant",
    "last_changed": "LastChangeDateTime",
}


ORDER_KEY = ("ManufacturingOrder",)


def order_by_clause(sort: Sequence[str]) -> str | None:
    """`["-planned_start", "order_id"]` -> `MfgOrderPlannedStartDate desc,ManufacturingOrder asc`."""
    parts = []
    for key in sort:
        descending = key.startswith("-")
        name = key.lstrip("-+")
        if name not in SORT_FIELDS:
            raise ValueError(f"cannot sort production orders by {name!r}; use one of {sorted(SORT_FIELDS)}")
        parts.append(f"{SORT_FIELDS[name]} {'desc' if descending else 'asc'}")
    return ",".join(parts) or None


def order_filter(
    plants: Sequence[str],
    *,
    status: str | None = None,
    material: str | None = None,
    start_from: str | dt.date | None = None,
    start_to: str | dt.date | None = None,
    changed_since: str | dt.datetime | None = None,
) -> str:
    """The $filter for a plant manager's list; plants are mandatory (the attribute rule)."""
    if not plants:
        raise ValueError("at least one plant is required")
    if status is not None and status not in STATUS_FILTERS:
        raise ValueError(f"unknown status {status!r}; use one of {sorted(STATUS_FILTERS)}")
    clause = convert.and_all(
        convert.any_of("ProductionPlant", plants),
        STATUS_FILTERS[status] if status else None,
        convert.eq("Material", material) if material else None,
        f"MfgOrderPlannedStartDate ge {convert.datetime_literal(start_from)}" if start_from else None,
        f"MfgOrderPlannedStartDate le {convert.datetime_literal(start_to)}" if start_to else None,
        # LastChangeDateTime is a String(14) ABAP timestamp: fixed width, so string order is time order.
        f"LastChangeDateTime ge {string_param(convert.timestamp_to_sap(changed_since))}" if changed_since else None,
    )
    assert clause is not None
    return clause


def order_from_sap(entity: object) -> ProductionOrder:
    from odata_clients.gateways.operations import operation_from_row

    row = Row(entity)
    unit = "ProductionUnit"
    return ProductionOrder(
        order_id=row.text("ManufacturingOrder"),
        order_type=row.text("ManufacturingOrderType"),
        material=row.text("Material"),
        plant=row.text("ProductionPlant"),
        planning_plant=row.text("Plant"),
        mrp_controller=row.text("MRPController"),
        production_supervisor=row.text("ProductionSupervisor"),
        planned_quantity=row.quantity_or_zero("TotalQuantity", unit),
        planned_scrap=row.quantity("MfgOrderPlannedScrapQty", unit),
        confirmed_yield=row.quantity("MfgOrderConfirmedYieldQty", unit),
        planned_start=row.date("MfgOrderPlannedStartDate"),
        planned_start_time=row.time("MfgOrderPlannedStartTime"),
        planned_end=row.date("MfgOrderPlannedEndDate"),
        planned_end_time=row.time("MfgOrderPlannedEndTime"),
        scheduled_start=row.date("MfgOrderScheduledStartDate"),
        scheduled_end=row.date("MfgOrderScheduledEndDate"),
        is_created=row.flag("OrderIsCreated"),
        is_released=row.flag("OrderIsReleased"),
        is_partially_confirmed=row.flag("OrderIsPartiallyConfirmed"),
        is_confirmed=row.flag("OrderIsConfirmed"),
        is_delivered=row.flag("OrderIsDelivered"),
        is_technically_completed=row.flag("OrderIsTechnicallyCompleted"),
        is_closed=row.flag("OrderIsClosed"),
        is_locked=row.flag("OrderIsLocked"),
        is_marked_for_deletion=row.flag("OrderIsMarkedForDeletion"),
        last_changed=row.timestamp("LastChangeDateTime"),
        etag=row.etag,
        operations=[operation_from_row(op) for op in row.nav(NAV_OPERATIONS)],
        statuses=[
            OrderStatus(
                code=s.text("StatusCode"),
                short_name=s.text("StatusShortName"),
                name=s.text("StatusName"),
                is_user_status=s.boolean("IsUserStatus"),
            )
            for s in row.nav(NAV_STATUS)
        ],
    )


def reschedule_to_sap(
    *,
    planned_start: str | dt.date | None = None,
    planned_end: str | dt.date | None = None,
    planned_start_time: str | None = None,
    planned_end_time: str | None = None,
) -> dict[str, object]:
    """Canonical reschedule values -> the SAP properties PATCHed (only those given)."""
    changes: dict[str, object] = {}
    if planned_start is not None:
        changes["MfgOrderPlannedStartDate"] = convert.date_to_sap(planned_start)
    if planned_end is not None:
        changes["MfgOrderPlannedEndDate"] = convert.date_to_sap(planned_end)
    if planned_start_time is not None:
        changes["MfgOrderPlannedStartTime"] = convert.time_to_sap(planned_start_time)
    if planned_end_time is not None:
        changes["MfgOrderPlannedEndTime"] = convert.time_to_sap(planned_end_time)
    if not changes:
        raise ValueError("reschedule needs at least one new date or time")
    return changes


# -- badge counts: SAP counts, nothing is listed ----------------------------------------------------------

RELEASE_HORIZON_DAYS = 7
# Still to be worked on: not technically completed (TECO), closed or marked for deletion.
_ORDER_ALIVE = "OrderIsTechnicallyCompleted eq '' and OrderIsClosed eq '' and OrderIsMarkedForDeletion eq ''"


def order_count_filters(plants: Sequence[str], today: dt.date) -> dict[str, str]:
    """The $filter of each plant-manager badge; dates are SAP's planned (basic) dates, compared by day.

    - late_to_start: not released, planned start before `today`.
    - late_to_finish: not delivered, planned end before `today` (released or not: an order can be in both).
    - due_for_release: not released, planned start from `today` to `today` + 6 days.
    - in_progress: released, neither finally confirmed nor delivered.
    Each counts only orders still to be worked on (see _ORDER_ALIVE) of `plants` (mandatory).
    """
    if not plants:
        raise ValueError("at least one plant is required")
    scope = f"{convert.any_of('ProductionPlant', plants)} and {_ORDER_ALIVE}"
    first_day = convert.datetime_literal(today)
    # The day after the window, with `lt`: also right should SAP ever send a time of day with a date.
    after_window = convert.datetime_literal(today + dt.timedelta(days=RELEASE_HORIZON_DAYS))
    not_released = "OrderIsReleased eq ''"
    return {
        "late_to_start": f"{scope} and {not_released} and MfgOrderPlannedStartDate lt {first_day}",
        "late_to_finish": f"{scope} and OrderIsDelivered eq '' and MfgOrderPlannedEndDate lt {first_day}",
        "due_for_release": f"{scope} and {not_released} and MfgOrderPlannedStartDate ge {first_day}"
        f" and MfgOrderPlannedStartDate lt {after_window}",
        "in_progress": f"{scope} and OrderIsReleased eq 'X' and OrderIsConfirmed eq '' and OrderIsDelivered eq ''",
    }


class ProductionOrdersGateway(Gateway):
    """Reads and writes A_ProductionOrder_2; plants are always pushed down to SAP as $filter."""

    def search(
        self,
        plants: Sequence[str],
        *,
        status: str | None = None,
        material: str | None = None,
        start_from: str | dt.date | None = None,
        start_to: str | dt.date | None = None,
        changed_since: str | dt.datetime | None = None,
        sort: Sequence[str] = ("planned_start",),
        top: int = 50,
        after: Position | None = None,
        count: bool = False,
    ) -> KeysetPage[ProductionOrder]:
        """`top` orders after `after` (a page's `next_after`) in the order of `sort` (SORT_FIELDS names, `-` for
        descending); the order number closes every sort. `count`: SAP's total of the whole list too.

        Each order holds the LIST_FIELDS only (no operations or statuses either): `get` reads one whole."""
        page = self._keyset_query(
            ORDERS,
            filter=order_filter(
                plants,
                status=status,
                material=material,
                start_from=start_from,
                start_to=start_to,
                changed_since=changed_since,
            ),
            select=LIST_FIELDS,
            sort=sort_keys(sort, {name: (prop, False) for name, prop in SORT_FIELDS.items()}, ORDER_KEY),
            limit=top,
            after=after,
            count=count,
        )
        return KeysetPage([order_from_sap(e) for e in page.items], page.total, page.next_after)

    def get(self, order_id: str, *, with_operations: bool = True, with_status: bool = True) -> ProductionOrder:
        expand = [nav for nav, wanted in ((NAV_OPERATIONS, with_operations), (NAV_STATUS, with_status)) if wanted]
        return order_from_sap(self._get(ORDERS, order_id, expand=expand))

    def release(self, order_id: str) -> list[SapMessageInfo]:
        """ReleaseOrder (POST function import); SAP's messages come back for the audit trail."""
        result = self._function("ReleaseOrder", {"ManufacturingOrder": string_param(order_id)})
        return function_messages(result, "ReleaseOrder")

    def reschedule(
        self,
        order_id: str,
        *,
        etag: str,
        planned_start: str | dt.date | None = None,
        planned_end: str | dt.date | None = None,
        planned_start_time: str | None = None,
        planned_end_time: str | None = None,
    ) -> None:
        """PATCH the planned dates with If-Match: a stale `etag` raises SapPreconditionFailed."""
        if not etag:
            raise ValueError("reschedule needs the ETag the user saw (If-Match)")
        changes = reschedule_to_sap(
            planned_start=planned_start,
            planned_end=planned_end,
            planned_start_time=planned_start_time,
            planned_end_time=planned_end_time,
        )
        proxy = self._service().entity_sets.A_ProductionOrder_2
        request = proxy.update_entity(order_id.replace("'", "''"), method="PATCH")
        request.set(**changes)
        request.add_headers({"If-Match": etag})
        self._run(request)

    def counts(self, plants: Sequence[str], today: dt.date) -> dict[str, int]:
        """The plant manager's badges (see order_count_filters): one `$count` each, a few at a time."""
        return self._counts(ORDERS, order_count_filters(plants, today))
