"""Production orders (API_PRODUCTION_ORDER_2_SRV): plant managers list, read, release and reschedule."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from odata_clients import convert
from odata_clients.errors import parse_sap_message_header
from odata_clients.fanout import parallel_limit, run_all
from odata_clients.gateways.base import Gateway, Row, function_messages, property_type, string_param
from odata_clients.gateways.keyset import KeysetPage, Position, SortKey, position_of, sort_keys
from odata_clients.models import OrderStatus, ProductionOrder, Quantity, SapMessageInfo

ORDERS = "A_ProductionOrder_2"
NAV_OPERATIONS = "to_ProductionOrderOperation"
NAV_STATUS = "to_ProductionOrderStatus"
# The RAP-based component set: the only one whose navigation from the order (to_ProductionOrderComponentExt4)
# reaches every component; to_ProductionOrderComponent leads to A_ProductionOrderComponent_2 (no follow-ups).
COMPONENTS = "A_ProductionOrderComponent_4"

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
    "OrderIsCreated",
    "OrderIsPartiallyReleased",
    "OrderIsReleased",
    "OrderIsPartiallyConfirmed",
    "OrderIsConfirmed",
    "OrderIsDelivered",
    "OrderIsTechnicallyCompleted",
    "OrderIsClosed",
    "OrderIsMarkedForDeletion",
    "OrderIsLocked",
    "LastChangeDateTime",
)

# An order's main system status: the first of these flags that is set, in SAP's precedence (a closed order is
# also technically completed, delivered and confirmed). Status code and the abbreviation SAP shows in English.
# DLFL (deletion flag) outranks them all and PREL comes between REL and CRTD: an order is in one of them.
MAIN_STATUSES = (
    ("OrderIsMarkedForDeletion", "I0076", "DLFL"),
    ("OrderIsClosed", "I0046", "CLSD"),
    ("OrderIsTechnicallyCompleted", "I0045", "TECO"),
    ("OrderIsDelivered", "I0012", "DLV"),
    ("OrderIsConfirmed", "I0009", "CNF"),
    ("OrderIsPartiallyConfirmed", "I0010", "PCNF"),
    ("OrderIsReleased", "I0002", "REL"),
    ("OrderIsPartiallyReleased", "I0042", "PREL"),
    ("OrderIsCreated", "I0001", "CRTD"),
)
# SAP's system statuses of production orders in plain words, by status code (the abbreviations depend on the
# logon language: REL in English is FREI in German; the code does not).
STATUS_TEXTS = {
    "I0001": "Created",
    "I0002": "Released",
    "I0007": "Shop papers printed",
    "I0009": "Confirmed",
    "I0010": "Partially confirmed",
    "I0012": "Delivered",
    "I0016": "Pre-costed",
    "I0028": "Settlement rule created",
    "I0042": "Partially released",
    "I0043": "Locked",
    "I0045": "Technically completed",
    "I0046": "Closed",
    "I0076": "Marked for deletion",
}

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
    exception: str | None = None,
) -> str:
    """The $filter for a plant manager's list; plants are mandatory (the attribute rule).

    `exception`: the $filter of one exception badge (an entry of order_count_filters or missing_components_filters
    for the same `plants`), which then stands first in place of the plants: the list holds what the badge counts.
    """
    if not plants:
        raise ValueError("at least one plant is required")
    if status is not None and status not in STATUS_FILTERS:
        raise ValueError(f"unknown status {status!r}; use one of {sorted(STATUS_FILTERS)}")
    clause = convert.and_all(
        exception or convert.any_of("ProductionPlant", plants),
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
                text=status_text(s.text("StatusCode"), s.text("StatusShortName"), s.text("StatusName")),
            )
            for s in row.nav(NAV_STATUS)
        ],
        status=main_status(row),
    )


def main_status(row: Row) -> OrderStatus:
    """The order's main system status from its flags (see MAIN_STATUSES); Created when no flag is set."""
    _, code, short_name = next((s for s in MAIN_STATUSES if row.flag(s[0])), MAIN_STATUSES[-1])
    return OrderStatus(
        code=code, short_name=short_name, name=STATUS_TEXTS[code], is_user_status=False, text=STATUS_TEXTS[code]
    )


def status_text(code: str, short_name: str, name: str) -> str:
    """A status in words: SAP's name (in the logon language) unless it only repeats the abbreviation, else ours."""
    if name and name != short_name:
        return name
    return STATUS_TEXTS.get(code) or short_name or code


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


# -- changes: what the order delta poller reads --------------------------------------------------------------

# Whom to tell, and whether the order is released now ($select of changed_since).
CHANGE_FIELDS = (
    "ManufacturingOrder",
    "ProductionPlant",
    "OrderIsReleased",
    "MfgOrderActualReleaseDate",
    "LastChangeDateTime",
)


@dataclass(frozen=True)
class OrderChange:
    """An order as a delta poll sees it: enough to tell a release from another change, and whom to tell."""

    order_id: str
    plant: str
    is_released: bool
    released_on: str | None  # MfgOrderActualReleaseDate: the day SAP released it (the system's calendar day)
    last_changed: str | None  # LastChangeDateTime as ISO 8601 UTC, to the second


def order_change_from_sap(entity: object) -> OrderChange:
    row = Row(entity)
    return OrderChange(
        order_id=row.text("ManufacturingOrder"),
        plant=row.text("ProductionPlant"),
        is_released=row.flag("OrderIsReleased"),
        released_on=row.date("MfgOrderActualReleaseDate"),
        last_changed=row.timestamp("LastChangeDateTime"),
    )


# -- badge counts: SAP counts, nothing is listed ----------------------------------------------------------

RELEASE_HORIZON_DAYS = 7  # the default release window: today and the 6 days after
MAX_RELEASE_HORIZON_DAYS = 60
# The exceptions a plant manager's list can be narrowed to: each one of the badges.
EXCEPTIONS = ("late_to_start", "late_to_finish", "due_for_release", "missing_components", "in_progress")
# Still to be worked on: not technically completed (TECO), closed or marked for deletion.
_ORDER_ALIVE = "OrderIsTechnicallyCompleted eq '' and OrderIsClosed eq '' and OrderIsMarkedForDeletion eq ''"


def order_count_filters(
    plants: Sequence[str], today: dt.date, *, release_window_days: int = RELEASE_HORIZON_DAYS
) -> dict[str, str]:
    """The $filter of each plant-manager badge on the order itself; dates are SAP's planned (basic) dates, by day.

    - late_to_start: not released, planned start before `today`.
    - late_to_finish: not delivered, planned end before `today` (released or not: an order can be in both).
    - due_for_release: not released, planned start from `today` to `today` + `release_window_days` - 1.
    - in_progress: released, neither finally confirmed nor delivered.
    Each counts only orders still to be worked on (see _ORDER_ALIVE) of `plants` (mandatory). The badge
    missing_components needs the components first: see missing_components_filters.
    """
    if not plants:
        raise ValueError("at least one plant is required")
    if not 1 <= release_window_days <= MAX_RELEASE_HORIZON_DAYS:
        raise ValueError(f"the release window is 1 to {MAX_RELEASE_HORIZON_DAYS} days, not {release_window_days}")
    scope = f"{convert.any_of('ProductionPlant', plants)} and {_ORDER_ALIVE}"
    first_day = convert.datetime_literal(today)
    # The day after the window, with `lt`: also right should SAP ever send a time of day with a date.
    after_window = convert.datetime_literal(today + dt.timedelta(days=release_window_days))
    not_released = "OrderIsReleased eq ''"
    return {
        "late_to_start": f"{scope} and {not_released} and MfgOrderPlannedStartDate lt {first_day}",
        "late_to_finish": f"{scope} and OrderIsDelivered eq '' and MfgOrderPlannedEndDate lt {first_day}",
        "due_for_release": f"{scope} and {not_released} and MfgOrderPlannedStartDate ge {first_day}"
        f" and MfgOrderPlannedStartDate lt {after_window}",
        "in_progress": f"{scope} and OrderIsReleased eq 'X' and OrderIsConfirmed eq '' and OrderIsDelivered eq ''",
    }


# -- missing components -------------------------------------------------------------------------------------
#
# API_PRODUCTION_ORDER_2_SRV has no missing-part flag: not on A_ProductionOrder_2 (its MaterialAvailyIsNotChecked
# only says that no availability check ran), not on the components (A_ProductionOrderComponent_2/_3/_4). What it
# has is the availability check's result per component: ConfirmedAvailableQuantity ("Available Quantity") beside
# RequiredQuantity and WithdrawnQuantity. A $filter comparing two properties is not something SAP's services are
# documented to accept, so only the literal conditions are pushed down (plants, not finally issued, not deleted)
# and the comparison is made here; the orders found then go to SAP as a $filter on their numbers, in chunks.

COMPONENT_KEY = ("Reservation", "ReservationItem", "ReservationRecordType")
COMPONENT_FIELDS = ("ManufacturingOrder", "RequiredQuantity", "WithdrawnQuantity", "ConfirmedAvailableQuantity")
# What an order's detail reads of its components ($select): the key, where the part is drawn from, its quantities.
MISSING_COMPONENT_FIELDS = (
    *COMPONENT_KEY,
    "Material",
    "Plant",
    "StorageLocation",
    "MatlCompRequirementDate",
    "BaseUnit",
    "RequiredQuantity",
    "WithdrawnQuantity",
    "ConfirmedAvailableQuantity",
)
# The literal half of the rule, pushed down; component_shortfall is the other half.
_COMPONENT_OPEN = "ReservationIsFinallyIssued eq false and MatlCompIsMarkedForDeletion eq false"
COMPONENT_PAGE = 2000  # components read per keyset page (SAP still answers in its own server pages)
# Order numbers per $filter: 40 `ManufacturingOrder eq '...'` terms keep a URL near 2 KB, far below SAP's limits.
MISSING_ORDERS_PER_FILTER = 40


def component_filter(plants: Sequence[str]) -> str:
    """The components of `plants`' orders that are still to be issued: the candidates for a missing part."""
    if not plants:
        raise ValueError("at least one plant is required")
    return f"{convert.any_of('ProductionPlant', plants)} and {_COMPONENT_OPEN}"


def order_component_filter(order_id: str) -> str:
    """One order's components that are still to be issued: the candidates for its missing parts."""
    return f"{convert.eq('ManufacturingOrder', order_id)} and {_COMPONENT_OPEN}"


def component_shortfall(row: Row) -> Decimal:
    """What is still needed (required minus withdrawn) beyond what the availability check confirmed; 0 when the
    component is not missing."""
    required = row.decimal("RequiredQuantity") or Decimal(0)
    withdrawn = row.decimal("WithdrawnQuantity") or Decimal(0)
    confirmed = row.decimal("ConfirmedAvailableQuantity") or Decimal(0)
    still_needed = required - withdrawn
    return still_needed - confirmed if still_needed > 0 and confirmed < still_needed else Decimal(0)


def component_is_missing(row: Row) -> bool:
    """Still needed (required minus withdrawn) and not covered by what the availability check confirmed."""
    return component_shortfall(row) > 0


@dataclass(frozen=True)
class MissingComponent:
    """A component of an order that misses a part (component_is_missing); quantities in the component's base unit."""

    reservation: str
    reservation_item: str
    reservation_record_type: str
    material: str
    plant: str
    storage_location: str | None
    required_quantity: Quantity
    withdrawn_quantity: Quantity
    confirmed_available_quantity: Quantity
    missing_quantity: Quantity
    requirement_date: str | None


def missing_component_from_sap(row: Row) -> MissingComponent:
    unit = "BaseUnit"
    return MissingComponent(
        reservation=row.text("Reservation"),
        reservation_item=row.text("ReservationItem"),
        reservation_record_type=row.text("ReservationRecordType"),
        material=row.text("Material"),
        plant=row.text("Plant"),
        storage_location=row.text("StorageLocation") or None,
        required_quantity=row.quantity_or_zero("RequiredQuantity", unit),
        withdrawn_quantity=row.quantity_or_zero("WithdrawnQuantity", unit),
        confirmed_available_quantity=row.quantity_or_zero("ConfirmedAvailableQuantity", unit),
        missing_quantity=Quantity(component_shortfall(row), row.text(unit)),
        requirement_date=row.date("MatlCompRequirementDate"),
    )


def missing_components_filters(plants: Sequence[str], orders: Sequence[str]) -> list[str]:
    """The badge missing_components as $filters on the orders: `orders` (numbers read from the components) that
    are still to be worked on, in chunks of MISSING_ORDERS_PER_FILTER; none when no order misses a part.

    The chunks hold different orders, so their counts add up and their lists merge without repeats.
    """
    if not plants:
        raise ValueError("at least one plant is required")
    scope = f"{convert.any_of('ProductionPlant', plants)} and {_ORDER_ALIVE}"
    unique = sorted(set(orders))
    size = MISSING_ORDERS_PER_FILTER
    return [
        f"{scope} and {convert.any_of('ManufacturingOrder', unique[i : i + size])}" for i in range(0, len(unique), size)
    ]


# -- SAP's messages and the rescheduled dates, as a writeback's result shows them ------------------------------

# SystemMessageType (and the sap-message header's severity) in words.
SEVERITIES = {"S": "success", "I": "info", "W": "warning", "E": "error", "A": "error", "X": "error"}
_TYPES = {"success": "S", "info": "I", "warning": "W", "error": "E"}


def messages_result(messages: Sequence[SapMessageInfo]) -> list[dict[str, str]]:
    """SAP's messages of an action for a writeback's `result`: severity in words, SAP's code and text."""
    return [{"severity": SEVERITIES.get(m.type, "info"), "code": m.code, "text": m.text} for m in messages]


def operation_dates(order: ProductionOrder) -> list[dict[str, str | None]]:
    """Each operation's scheduled dates (SAP's earliest scheduled start and end) for a reschedule's `result`."""
    return [
        {"operation": op.operation, "scheduled_start": op.earliest_start, "scheduled_end": op.earliest_end}
        for op in order.operations
    ]


def _comparable(edm_type: str, value: Any) -> Any:
    if edm_type in ("Edm.DateTime", "Edm.DateTimeOffset") and isinstance(value, str):
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if edm_type == "Edm.Decimal" and isinstance(value, str):
        return Decimal(value)
    return value


def compare_positions(keys: Sequence[SortKey], types: Mapping[str, str], a: Position, b: Position) -> int:
    """SAP's order of two rows' positions: key by key, null first ascending and last descending (as keyset)."""
    for key, left, right in zip(keys, a, b, strict=True):
        if left == right:
            continue
        if left is None or right is None:
            order = -1 if left is None else 1
        else:
            x, y = _comparable(types[key.name], left), _comparable(types[key.name], right)
            if x == y:
                continue
            order = -1 if x < y else 1
        return -order if key.descending else order
    return 0


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
        exception: str | None = None,
        today: dt.date | None = None,
        release_window_days: int = RELEASE_HORIZON_DAYS,
    ) -> KeysetPage[ProductionOrder]:
        """`top` orders after `after` (a page's `next_after`) in the order of `sort` (SORT_FIELDS names, `-` for
        descending); the order number closes every sort. `count`: SAP's total of the whole list too.

        `exception` (one of EXCEPTIONS) narrows the list to what that badge counts, by the badge's own $filter;
        the date badges take `today` (the calendar day at the plant) and due_for_release `release_window_days`.

        Each order holds the LIST_FIELDS only (no operations or statuses either): `get` reads one whole."""
        wheres: list[str | None] = [None]
        if exception is not None:
            wheres = list(self._exception_filters(plants, exception, today, release_window_days))
            if not wheres:
                return KeysetPage([], 0 if count else None, None)
        filters = [
            order_filter(
                plants,
                status=status,
                material=material,
                start_from=start_from,
                start_to=start_to,
                changed_since=changed_since,
                exception=where,
            )
            for where in wheres
        ]
        keys = sort_keys(sort, {name: (prop, False) for name, prop in SORT_FIELDS.items()}, ORDER_KEY)
        if len(filters) == 1:
            page = self._keyset_query(
                ORDERS, filter=filters[0], select=LIST_FIELDS, sort=keys, limit=top, after=after, count=count
            )
        else:
            page = self._merged_query(filters, keys, top, after, count)
        return KeysetPage([order_from_sap(e) for e in page.items], page.total, page.next_after)

    def _exception_filters(
        self, plants: Sequence[str], exception: str, today: dt.date | None, release_window_days: int
    ) -> list[str]:
        if exception == "missing_components":
            return missing_components_filters(plants, self.missing_component_orders(plants))
        if exception not in EXCEPTIONS:
            raise ValueError(f"unknown exception {exception!r}; use one of {list(EXCEPTIONS)}")
        if today is None:
            raise ValueError(f"the exception {exception} needs today's date at the plant")
        return [order_count_filters(plants, today, release_window_days=release_window_days)[exception]]

    def _merged_query(
        self, filters: Sequence[str], keys: Sequence[SortKey], limit: int, after: Position | None, count: bool
    ) -> KeysetPage[dict[str, Any]]:
        """One keyset page over several $filters whose results are disjoint: each filter's page in the same sort,
        merged in SAP's order, cut at `limit`. Each part starts after the same position, so the merge is exact."""
        types = {key.name: property_type(self.client, self.principal, ORDERS, key.name) for key in keys}
        pages = [
            self._keyset_query(ORDERS, filter=f, select=LIST_FIELDS, sort=keys, limit=limit, after=after, count=count)
            for f in filters
        ]
        positioned = [(position_of(item, keys, types), item) for page in pages for item in page.items]

        def by_position(a: tuple[Position, dict[str, Any]], b: tuple[Position, dict[str, Any]]) -> int:
            return compare_positions(keys, types, a[0], b[0])

        positioned.sort(key=functools.cmp_to_key(by_position))
        taken = positioned[:limit]
        more = len(positioned) > limit or any(page.next_after is not None for page in pages)
        total = sum(page.total or 0 for page in pages) if count else None
        return KeysetPage([item for _, item in taken], total, taken[-1][0] if more and taken else None)

    def missing_component_orders(self, plants: Sequence[str]) -> list[str]:
        """Numbers of `plants`' orders with a component the availability check did not confirm (see
        component_is_missing), read from A_ProductionOrderComponent_4 page by page."""
        rows = self._components(component_filter(plants), COMPONENT_FIELDS)
        return sorted({row.text("ManufacturingOrder") for row in rows if component_is_missing(row)})

    def missing_components(self, order_id: str) -> list[MissingComponent]:
        """The order's components that miss a part, by the rule of the badge (component_is_missing), in SAP's
        reservation order: one request to SAP unless SAP pages its answer."""
        rows = self._components(order_component_filter(order_id), MISSING_COMPONENT_FIELDS)
        return [missing_component_from_sap(row) for row in rows if component_is_missing(row)]

    def _components(self, where: str, select: Sequence[str]) -> Iterator[Row]:
        """The components `where` selects, in key order, page by page."""
        keys = [SortKey(name) for name in COMPONENT_KEY]
        after: Position | None = None
        while True:
            page = self._keyset_query(
                COMPONENTS, filter=where, select=select, sort=keys, limit=COMPONENT_PAGE, after=after
            )
            yield from (Row(raw) for raw in page.items)
            if page.next_after is None:
                return
            after = page.next_after

    def get(self, order_id: str, *, with_operations: bool = True, with_status: bool = True) -> ProductionOrder:
        expand = [nav for nav, wanted in ((NAV_OPERATIONS, with_operations), (NAV_STATUS, with_status)) if wanted]
        return order_from_sap(self._get(ORDERS, order_id, expand=expand))

    def changed_since(
        self, since: str | dt.datetime | None, *, top: int = 500, after: Position | None = None
    ) -> KeysetPage[OrderChange]:
        """Orders of every plant changed at or after `since` (None: all), oldest change first, `top` of them after
        `after`: what the order delta poller reads as the technical user. LastChangeDateTime is an ABAP timestamp
        to the second, so the orders changed in `since`'s second come back too."""
        clause = f"LastChangeDateTime ge {string_param(convert.timestamp_to_sap(since))}" if since else None
        keys = sort_keys(("last_changed",), {name: (prop, False) for name, prop in SORT_FIELDS.items()}, ORDER_KEY)
        page = self._keyset_query(ORDERS, filter=clause, select=CHANGE_FIELDS, sort=keys, limit=top, after=after)
        return KeysetPage([order_change_from_sap(e) for e in page.items], page.total, page.next_after)

    def newest_change(self) -> str | None:
        """The newest LastChangeDateTime of all orders (ISO 8601 UTC), SAP's own clock: where a delta poll starts."""
        rows, _ = self._query(ORDERS, select=("LastChangeDateTime",), order_by="LastChangeDateTime desc", top=1)
        return Row(rows[0]).timestamp("LastChangeDateTime") if rows else None

    def release(self, order_id: str) -> list[SapMessageInfo]:
        """ReleaseOrder (POST function import): SAP's messages, in the order SAP issued them.

        The result (one FunctionMessage) holds the release's own message; the availability check's warning about
        missing parts comes in the `sap-message` header with it, so both are read (each message once).
        """
        return self._function_messages("ReleaseOrder", {"ManufacturingOrder": string_param(order_id)})

    def _function_messages(self, name: str, params: Mapping[str, str]) -> list[SapMessageInfo]:
        """Call a function import returning FunctionMessage: the `sap-message` header's messages, then the body's."""
        response, payload = self._function_response(name, params)
        header = [
            SapMessageInfo(type=_TYPES.get(m.severity.lower(), "I"), code=m.code, text=m.message)
            for m in parse_sap_message_header(response.headers.get("sap-message"))
            if m.message or m.code
        ]
        body = function_messages(payload, name) if payload is not None else []
        seen = {(m.code, m.text) for m in header}
        return header + [m for m in body if (m.code, m.text) not in seen]

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

    def counts(
        self, plants: Sequence[str], today: dt.date, *, release_window_days: int = RELEASE_HORIZON_DAYS
    ) -> dict[str, int]:
        """The plant manager's badges, each by SAP's `$count` of its $filter, a few at a time: those of
        order_count_filters, and missing_components (the components read first, then its chunks counted)."""
        filters = order_count_filters(plants, today, release_window_days=release_window_days)
        calls = {name: functools.partial(self._count, ORDERS, clause) for name, clause in filters.items()}
        calls["missing_components"] = functools.partial(self._missing_components_count, plants)
        return run_all(calls, limit=parallel_limit(self.client.http.bulkhead))

    def _missing_components_count(self, plants: Sequence[str]) -> int:
        chunks = missing_components_filters(plants, self.missing_component_orders(plants))
        return sum(self._count(ORDERS, clause) for clause in chunks)
