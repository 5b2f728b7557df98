"""Plant manager use cases, without Flask: production orders of the caller's plants only."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from access.policy import Forbidden, NotInScope, Principal, Role, check_plant, require_attributes
from odata_clients.connectivity import SapConnectivity
from odata_clients.gateways.keyset import KeysetPage, Position
from odata_clients.gateways.production_orders import RELEASE_HORIZON_DAYS, MissingComponent
from odata_clients.models import ProductionOrder
from roles.badges import DEFAULT_TIME_ZONE, today_in
from roles.common import SAP_KEY


def plants_to_query(principal: Principal, requested: Sequence[str] = ()) -> tuple[str, ...]:
    """The caller's plants, or the requested subset of them; asking for another plant is refused."""
    require_attributes(principal, Role.PLANT_MANAGER)
    foreign = [plant for plant in requested if plant not in principal.plants]
    if foreign:
        raise Forbidden(f"plant(s) {', '.join(foreign)} are not among yours; query only your own plants")
    return tuple(requested) or principal.plants


def list_orders(
    sap: SapConnectivity,
    principal: Principal,
    *,
    plants: Sequence[str] = (),
    status: str | None = None,
    material: str | None = None,
    start_from: dt.date | None = None,
    start_to: dt.date | None = None,
    changed_since: dt.datetime | None = None,
    sort: Sequence[str] = ("order_id",),
    limit: int,
    after: Position | None = None,
    count: bool = False,
    exception: str | None = None,
    time_zone: str = DEFAULT_TIME_ZONE,
    due_within_days: int | None = None,
    now: dt.datetime | None = None,
) -> KeysetPage[ProductionOrder]:
    """`exception` narrows to one badge's orders by the badge's own rule: today is the day in `time_zone`, as
    for the counts, and `due_within_days` the release window of due_for_release (default 7)."""
    # The gateway closes every sort with the order number, so a page's last order is an exact position.
    return sap.production_orders.search(
        plants_to_query(principal, plants),
        status=status,
        material=material,
        start_from=start_from,
        start_to=start_to,
        changed_since=changed_since.astimezone(dt.UTC) if changed_since and changed_since.tzinfo else changed_since,
        sort=sort,
        top=limit,
        after=after,
        count=count,
        exception=exception,
        today=today_in(time_zone, now) if exception else None,
        release_window_days=due_within_days or RELEASE_HORIZON_DAYS,
    )


def get_order(sap: SapConnectivity, principal: Principal, order_id: str) -> ProductionOrder:
    """One order with operations and status; another plant's order is indistinguishable from none."""
    if not SAP_KEY.match(order_id):
        raise NotInScope(f"{order_id!r} is not an order number")
    plants_to_query(principal)
    order = sap.production_orders.get(order_id)
    check_plant(principal, order.plant)
    return order


@dataclass(frozen=True)
class OrderDetail:
    """An order with its missing parts; the attributes of ProductionOrder are reachable through `order`."""

    order: ProductionOrder
    missing_components: list[MissingComponent]

    def __getattr__(self, name: str) -> Any:
        if name == "order" or name.startswith("__"):  # copy and pickle look before `order` is set
            raise AttributeError(name)
        return getattr(self.order, name)


def order_detail(sap: SapConnectivity, principal: Principal, order_id: str) -> OrderDetail:
    """get_order, and the order's components that miss a part by the missing_components badge's rule.

    The components are a second SAP read, made once the order is known to be the caller's; its failure fails
    the detail as the order's own read would (the detail has no optional parts).
    """
    order = get_order(sap, principal, order_id)
    return OrderDetail(order, sap.production_orders.missing_components(order.order_id))
