"""Supervisor badge counts, without Flask: operations at the caller's work centres, counted by SAP."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from access.policy import Principal
from odata_clients.connectivity import SapConnectivity
from roles.badges import DEFAULT_TIME_ZONE, today_in
from roles.supervisor.service import scope


@dataclass(frozen=True)
class WorkOrderCounts:
    work_centers: tuple[str, ...]
    time_zone: str
    today: dt.date
    open: int
    to_confirm_today: int


def work_order_counts(
    sap: SapConnectivity,
    principal: Principal,
    *,
    work_centers: Sequence[str] = (),
    time_zone: str = DEFAULT_TIME_ZONE,
    now: dt.datetime | None = None,
) -> WorkOrderCounts:
    """The same work-centre rules as the list: the caller's, or the requested subset (another: Forbidden)."""
    plants, centres = scope(principal, work_centers)
    today = today_in(time_zone, now)
    counts = sap.operations.counts(centres, plants=plants, today=today)
    return WorkOrderCounts(
        work_centers=tuple(centres),
        time_zone=time_zone,
        today=today,
        open=counts["open"],
        to_confirm_today=counts["to_confirm_today"],
    )
