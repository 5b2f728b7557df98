"""Supervisor badge counts: query arguments and the response schema."""

from __future__ import annotations

import marshmallow as ma

from roles.badges import DayCountsSchema, count_field, time_zone_field

OPEN = "released and not finally confirmed, at the counted work centres (what the work-order list shows)"


class WorkOrderCountsQueryArgsSchema(ma.Schema):
    work_center = ma.fields.List(
        ma.fields.String(validate=ma.validate.Length(min=1, max=8)),
        metadata={"description": "Count some of the caller's work centres only (default: all of them); another: 403"},
    )
    tz = time_zone_field()


class WorkOrderCountsSchema(DayCountsSchema):
    work_centers = ma.fields.List(
        ma.fields.String(), required=True, metadata={"description": "The work centres counted", "example": ["ASSY1010"]}
    )
    open = count_field(f"Operations {OPEN}", 12)
    to_confirm_today = count_field(
        f"Operations {OPEN}, whose earliest scheduled start is `today` or before: due or overdue for confirmation",
        5,
    )
