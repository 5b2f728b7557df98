"""Canonical dataclasses: our names, ISO 8601 dates, Decimal quantities always beside their unit."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeVar

T = TypeVar("T")


def to_dict(obj: Any) -> Any:
    """JSON-ready plain data: Decimals become strings (never floats), nested dataclasses dicts."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj) if f.repr}
    if isinstance(obj, Decimal):
        return format(obj, "f")
    if isinstance(obj, list | tuple):
        return [to_dict(item) for item in obj]
    if isinstance(obj, dict):
        return {key: to_dict(value) for key, value in obj.items()}
    return obj


@dataclass(frozen=True)
class Quantity:
    value: Decimal
    unit: str

    def __post_init__(self) -> None:
        if not isinstance(self.value, Decimal):
            raise TypeError("Quantity.value must be a Decimal")


@dataclass(frozen=True)
class Amount:
    value: Decimal
    currency: str

    def __post_init__(self) -> None:
        if not isinstance(self.value, Decimal):
            raise TypeError("Amount.value must be a Decimal")


@dataclass(frozen=True)
class SapMessageInfo:
    """A message SAP returned with a successful action (FunctionMessage, sap-message)."""

    type: str
    code: str
    text: str


# -- workflow tasks (TASKPROCESSING) --------------------------------------------------------------------


@dataclass(frozen=True)
class Task:
    origin: str
    task_id: str
    task_definition_id: str
    task_definition_name: str
    title: str
    priority: str
    status: str
    status_text: str
    created_on: str | None
    created_by: str
    processor: str
    completion_deadline: str | None
    is_escalated: bool
    supports_claim: bool
    supports_release: bool
    supports_forward: bool
    supports_comments: bool
    # The task's custom attributes, and the business object behind it when one of them names it.
    attributes: dict[str, str] = field(default_factory=dict)
    object_id: str = ""
    created_by_name: str = ""  # CreatedByName: the requester as SAP names them
    substituted_user: str = ""  # SubstitutedUserName: set when the caller receives the task as a substitute
    # Read with the task's details only (TaskObjects, WorkflowLogs); empty/None in lists.
    objects: list[TaskObject] = field(default_factory=list)
    decision: TaskDecision | None = None


@dataclass(frozen=True)
class TaskObject:
    """A business object attached to a task (TASKPROCESSING's TaskObjects)."""

    object_id: str
    type: str
    label: str


@dataclass(frozen=True)
class DecisionOption:
    key: str
    text: str
    comment_mandatory: bool
    nature: str


@dataclass(frozen=True)
class TaskDecision:
    """A task's decision as SAP's workflow log records it: who decided, the option's text and its nature."""

    performed_by: str
    result: str  # the chosen option's DecisionText, e.g. "Approve"
    nature: str  # POSITIVE / NEGATIVE
    at: str | None


# -- purchase requisitions --------------------------------------------------------------------------------


@dataclass(frozen=True)
class PurchaseRequisitionItem:
    requisition_id: str
    item: str
    description: str
    material: str
    plant: str
    quantity: Quantity
    price: Amount | None
    net_amount: Amount | None
    delivery_date: str | None
    purchasing_group: str
    requisitioner: str
    release_status: str
    is_release_pending: bool
    created_by: str = ""  # CreatedByUser: the SAP user who entered the requisition
    fixed_supplier: str = ""  # FixedSupplier (Fixed Vendor)
    desired_supplier: str = ""  # Supplier (Desired Supplier)
    account_assignment_category: str = ""  # AccountAssignmentCategory: K cost centre, P project, ...
    account_assignments: list[PurchaseRequisitionAccountAssignment] = field(default_factory=list)


@dataclass(frozen=True)
class PurchaseRequisitionAccountAssignment:
    """One accounting line of a requisition item (A_PurReqnAcctAssgmt)."""

    number: str
    cost_center: str
    wbs_element: str
    gl_account: str
    order_id: str
    asset: str
    profit_center: str
    share_percent: Decimal | None
    net_amount: Amount | None


@dataclass(frozen=True)
class PurchaseRequisition:
    requisition_id: str
    requisition_type: str
    description: str
    items: list[PurchaseRequisitionItem]
    # Sum of item net amounts per currency (usually one entry).
    total_net_amounts: list[Amount] = field(default_factory=list)


# -- production orders ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OrderStatus:
    code: str
    short_name: str
    name: str
    is_user_status: bool
    text: str = ""  # in words: SAP's name unless it only repeats the abbreviation


@dataclass(frozen=True)
class Operation:
    order_id: str
    operation: str
    sequence: str
    text: str
    work_center: str
    plant: str
    planned_quantity: Quantity
    confirmed_yield: Quantity
    quantity_to_go: Quantity
    earliest_start: str | None
    earliest_end: str | None
    is_released: bool
    is_confirmed: bool
    is_partially_confirmed: bool
    routing_id: str
    routing_item: str
    etag: str | None = field(default=None, compare=False)
    # Finally confirmed with less than planned: what will never be produced (quantity_to_go is 0 then).
    final_shortfall: Quantity | None = None


@dataclass(frozen=True)
class ProductionOrder:
    order_id: str
    order_type: str
    material: str
    plant: str
    planning_plant: str
    mrp_controller: str
    production_supervisor: str
    planned_quantity: Quantity
    planned_scrap: Quantity | None
    confirmed_yield: Quantity | None
    planned_start: str | None
    planned_start_time: str | None
    planned_end: str | None
    planned_end_time: str | None
    scheduled_start: str | None
    scheduled_end: str | None
    is_created: bool
    is_released: bool
    is_partially_confirmed: bool
    is_confirmed: bool
    is_delivered: bool
    is_technically_completed: bool
    is_closed: bool
    is_locked: bool
    is_marked_for_deletion: bool
    last_changed: str | None
    etag: str | None = field(default=None, compare=False)
    operations: list[Operation] = field(default_factory=list)
    statuses: list[OrderStatus] = field(default_factory=list)
    status: OrderStatus | None = None  # the main system status, from the order's flags (lists have it too)


# -- confirmations ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConfirmationRequest:
    """What a supervisor confirms; `external_id` makes the posting idempotent (ExternalSystemConfirmation)."""

    order_id: str
    operation: str
    yield_quantity: Quantity
    external_id: str
    scrap_quantity: Quantity | None = None
    rework_quantity: Quantity | None = None
    is_final: bool = False
    sequence: str = "0"
    posting_date: str | None = None
    text: str = ""
    personnel: str = ""
    work_center: str = ""
    plant: str = ""
    variance_reason: str = ""
    execution_start: str | None = None
    execution_end: str | None = None


@dataclass(frozen=True)
class Confirmation:
    confirmation_group: str
    confirmation_count: str
    order_id: str
    operation: str
    sequence: str
    plant: str
    work_center: str
    yield_quantity: Quantity | None
    scrap_quantity: Quantity | None
    rework_quantity: Quantity | None
    is_final: bool
    is_reversed: bool
    is_reversal: bool
    posting_date: str | None
    text: str
    personnel: str
    external_id: str | None
    entered_by: str
    variance_reason: str = ""  # SAP's VarianceReasonCode, e.g. the reason for scrap
    entered_at: str | None = None  # ConfirmationEntryDate + ConfirmationEntryTime, ISO 8601 UTC


@dataclass(frozen=True)
class ConfirmationProposal:
    order_id: str
    operation: str
    sequence: str
    yield_quantity: Quantity | None
    scrap_quantity: Quantity | None
    rework_quantity: Quantity | None
    work_quantities: list[Quantity]
    execution_start: str | None
    execution_end: str | None
