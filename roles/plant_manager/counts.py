"""Plant manager badge counts, without Flask: production orders of the caller's plants, counted by SAP."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from access.policy import Principal
from odata_clients.connectivity import SapConnectivity
from odata_clients.gateways.production_orders import RELEASE_HORIZON_DAYS
from roles.badges import DEFAULT_TIME_ZONE, today_in
from roles.plant_manager.service import plants_to_query


@dataclass(frozen=True)
class OrderCounts:
    plants: tuple[str, ...]
    time_zone: str
    today: dt.date
    due_within_days: int
    release_window_end: dt.date
    late_to_start: int
    late_to_finish: int
    due_for_release: int
    missing_components: int
    in_progress: int


def order_counts(
    sap: SapConnectivity,
    principal: Principal,
    *,
    plants: Sequence[str] = (),
    time_zone: str = DEFAULT_TIME_ZONE,
    due_within_days: int = RELEASE_HORIZON_DAYS,
    now: dt.datetime | None = None,
) -> OrderCounts:
    """The same plant rules as the list: the caller's plants, or the requested subset (another plant: Forbidden)."""
    scope = plants_to_query(principal, plants)
    today = today_in(time_zone, now)
    counts = sap.production_orders.counts(scope, today, release_window_days=due_within_days)
    return OrderCounts(
        plants=tuple(scope),
        time_zone=time_zone,
        today=today,
        due_within_days=due_within_days,
        release_window_end=today + dt.timedelta(days=due_within_days - 1),
        late_to_start=counts["late_to_start"],
        late_to_finish=counts["late_to_finish"],
        due_for_release=counts["due_for_release"],
        missing_components=counts["missing_components"],
        in_progress=counts["in_progress"],
    )
