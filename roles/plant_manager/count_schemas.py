"""Plant manager badge counts: query arguments and the response schema."""

from __future__ import annotations

import marshmallow as ma

from odata_clients.gateways.production_orders import RELEASE_HORIZON_DAYS
from roles.badges import DayCountsSchema, count_field, time_zone_field
from roles.plant_manager.schemas import due_within_days_field

NOT_FINISHED = "Only orders still to be worked on count: not technically completed, closed or marked for deletion."


class OrderCountsQueryArgsSchema(ma.Schema):
    plant = ma.fields.List(
        ma.fields.String(validate=ma.validate.Length(min=1, max=4)),
        metadata={"description": "Count some of the caller's plants only (default: all of them); another plant: 403"},
    )
    tz = time_zone_field()
    due_within_days = due_within_days_field(load_default=RELEASE_HORIZON_DAYS)


class OrderCountsSchema(DayCountsSchema):
    plants = ma.fields.List(
        ma.fields.String(), required=True, metadata={"description": "The plants counted", "example": ["1010"]}
    )
    due_within_days = ma.fields.Integer(
        required=True,
        metadata={"description": "The release window in days, today included (`due_within_days`)", "example": 7},
    )
    release_window_end = ma.fields.Date(
        required=True,
        metadata={
            "description": "Last day of the release window: `today` + `due_within_days` - 1 (6 by default)",
            "example": "2026-12-02",
        },
    )
    late_to_start = count_field(
        "Not released, and the planned start date is before `today` (an order due to start today is not late). "
        + NOT_FINISHED,
        4,
    )
    late_to_finish = count_field(
        "Not delivered, and the planned end date is before `today`, released or not (so an order can also be late "
        "to start). " + NOT_FINISHED,
        7,
    )
    due_for_release = count_field(
        "Not released, and the planned start date is from `today` to `release_window_end` (`due_within_days`, "
        "7 by default). " + NOT_FINISHED,
        5,
    )
    missing_components = count_field(
        "A component still to be issued (not finally issued, not deleted, more required than withdrawn) that SAP's "
        "last availability check did not confirm in full (its ConfirmedAvailableQuantity is below what is still "
        "needed): SAP's missing parts. Released orders count too. " + NOT_FINISHED,
        3,
    )
    in_progress = count_field(
        "Released, and neither finally confirmed nor delivered (partially confirmed orders count). " + NOT_FINISHED,
        21,
    )
