"""The writeback command types and their payloads: the contract between the web layer and the jobs.

Payloads are plain JSON (the store hashes them; no floats: quantities are decimal strings).
"""

from __future__ import annotations

from enum import StrEnum
from typing import NotRequired, TypedDict


class CommandType(StrEnum):
    TASK_DECISION = "task.decision"
    TASK_CLAIM = "task.claim"
    TASK_RELEASE = "task.release"
    TASK_FORWARD = "task.forward"
    ORDER_RELEASE = "order.release"
    ORDER_RESCHEDULE = "order.reschedule"
    OPERATION_CONFIRM = "operation.confirm"
    CONFIRMATION_CANCEL = "confirmation.cancel"


# approve / reject, as SAP's DecisionOptions and WorkflowLogs name a decision's nature.
DECISION_NATURE = {"approve": "POSITIVE", "reject": "NEGATIVE"}

# Commands act as the requesting user in SAP (the inbox belongs to the executive) ...
USER_COMMANDS = frozenset(
    {CommandType.TASK_DECISION, CommandType.TASK_CLAIM, CommandType.TASK_RELEASE, CommandType.TASK_FORWARD}
)
# ... the others go through the technical user, with the requester recorded as on-behalf-of.


class TaskPayload(TypedDict):
    """task.claim and task.release; target: ("Task", "<origin>~<instance id>")."""

    origin: str
    task_id: str


class DecisionPayload(TaskPayload):
    """task.decision: SAP's DecisionKey (mapped from approve/reject via DecisionOptions) and the comment."""

    decision_key: str
    decision: str  # "approve" | "reject", for people reading the audit trail
    comments: str


class ForwardPayload(TaskPayload):
    forward_to: str  # SAP user name


class OrderPayload(TypedDict):
    """order.release; target: ("ProductionOrder", order id); the plant is re-checked before applying."""

    order_id: str
    plant: str


class ReschedulePayload(OrderPayload):
    """order.reschedule; the client's If-Match is the command's `if_match`, sent to SAP unchanged."""

    planned_start: NotRequired[str]  # ISO date
    planned_end: NotRequired[str]  # ISO date


class QuantityPayload(TypedDict):
    value: str  # decimal string, e.g. "12.500"
    unit: str


class ConfirmationPayload(TypedDict):
    """operation.confirm; target: ("ProductionOrder", order id) so confirmations of one order run serially.

    The command id is sent as ExternalSystemConfirmation: the idempotency check before any retry.
    """

    order_id: str
    operation: str
    sequence: str
    plant: str
    work_center: str
    yield_quantity: QuantityPayload
    scrap_quantity: NotRequired[QuantityPayload]
    scrap_reason: NotRequired[str]  # SAP's VarianceReasonCode
    is_final: bool
    text: str


class CancellationPayload(TypedDict):
    """confirmation.cancel; target: ("ProductionOrder", order id), in line with the order's confirmations.

    The command id is sent as the reversal's ExternalSystemConfirmation: how a retry finds an earlier success.
    """

    order_id: str
    operation: str
    plant: str
    work_center: str
    confirmation_group: str
    confirmation_count: str
    text: str
