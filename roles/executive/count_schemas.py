"""Executive badge counts: the response schema."""

from __future__ import annotations

import marshmallow as ma

from odata_clients.gateways.tasks import TASK_PRIORITIES
from roles.badges import count_field

PRIORITY_EXAMPLES = (1, 4, 6, 2)  # VERY_HIGH, HIGH, MEDIUM, LOW


PriorityCountsSchema = ma.Schema.from_dict(
    {
        priority: count_field(f"Open tasks of priority {priority} (the `priority` of the approval list)", example)
        for priority, example in zip(TASK_PRIORITIES, PRIORITY_EXAMPLES, strict=True)
    },
    name="ApprovalPriorityCounts",
)


class ApprovalCountsSchema(ma.Schema):
    open = count_field(
        "Open tasks of the caller (status READY, RESERVED or IN_PROGRESS): what the approval list holds", 13
    )
    by_priority = ma.fields.Nested(
        PriorityCountsSchema,
        required=True,
        metadata={"description": "Open tasks per priority (SAP's four priorities)"},
    )
    overdue = count_field(
        "Open tasks whose completion deadline (`due`) has passed; a task without one is never overdue", 3
    )
    escalated = count_field(
        "Open tasks SAP marks as escalated (IsEscalated); null when the SAP system cannot filter on it",
        1,
        allow_none=True,
    )
