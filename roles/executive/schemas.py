"""Executive schemas: approval tasks, the requisition behind them, decision options."""

from __future__ import annotations

import marshmallow as ma

from app.api import enum_component
from app.errors import ErrorSchema
from app.paging import PageArgsSchema, page_schema, sort_field
from odata_clients.gateways.tasks import DEFAULT_TASK_SORT, TASK_PRIORITIES, TASK_SORT_FIELDS
from roles.common import (
    AmountSchema,
    CleanText,
    FullMatch,
    QuantitySchema,
    StrictSchema,
    date_field,
    datetime_field,
    decimal_string,
    free_text,
)
from roles.writebacks.schemas import WritebackSchema

PRIORITIES = TASK_PRIORITIES
# SAP's inbox task statuses (TASKPROCESSING's STATUS filter options); the queue lists the first three (open).
TASK_STATUSES = ("READY", "RESERVED", "IN_PROGRESS", "EXECUTED", "COMPLETED", "FOR_RESUBMISSION", "CANCELLED")
# A decision option's nature in SAP; empty for a neutral one (neither approves nor rejects).
NATURES = ("POSITIVE", "NEGATIVE", "")
MAX_MASS_DECISIONS = 50
MAX_SEARCH = 80
DECISIONS = ["approve", "reject"]


def _not_blank(value: str) -> None:
    if not value.strip():
        raise ma.ValidationError("must contain something other than spaces")


class ApprovalQueryArgsSchema(PageArgsSchema):
    task_type = ma.fields.List(
        ma.fields.String(validate=[ma.validate.Length(min=1, max=70), CleanText(70, multiline=False)]),
        metadata={"description": "TaskDefinitionID(s), e.g. the purchase requisition release task"},
    )
    priority = ma.fields.List(
        ma.fields.String(validate=ma.validate.OneOf(PRIORITIES), metadata=enum_component("TaskPriority")),
        metadata={"description": "Only tasks of these priorities", "example": ["VERY_HIGH", "HIGH"]},
    )
    search = ma.fields.String(
        validate=[ma.validate.Length(min=1, max=MAX_SEARCH), CleanText(MAX_SEARCH, multiline=False), _not_blank],
        metadata={
            "description": f"Only tasks whose title or requester name (`created_by_name`) contains this text, "
            f"1 to {MAX_SEARCH} characters, one line; leading and trailing spaces are ignored. SAP filters "
            "(substringof on TaskTitle and CreatedByName), so paging and `total` cover the matches only; "
            "upper/lower case is matched as SAP matches it",
            "example": "Moreau",
        },
    )
    overdue = ma.fields.Boolean(
        metadata={
            "description": "true: only tasks whose completion deadline (`due`) has passed, exactly those the "
            "`overdue` count of /approvals/counts counts; false: only the others, tasks without a deadline "
            "included. SAP filters (CompletionDeadLine against the time of the request), so paging and `total` "
            "cover the matches only; a task whose deadline passes while you page moves to the overdue list. "
            "Omit it for both",
            "example": True,
        },
    )
    escalated = ma.fields.Boolean(
        metadata={
            "description": "true: only tasks SAP's deadline monitoring escalated (IsEscalated), exactly those "
            "the `escalated` count of /approvals/counts counts; false: only the others. SAP filters, so paging "
            "and `total` cover the matches only. Where that count is null (the SAP system cannot filter on "
            "IsEscalated) this filter fails with a 502. Omit it for both",
            "example": True,
        },
    )
    sort = sort_field(
        TASK_SORT_FIELDS,
        DEFAULT_TASK_SORT,
        "created: creation time (CreatedOn); due: completion deadline (CompletionDeadLine), tasks without one "
        "first; priority: LOW to VERY_HIGH, so -priority is the most urgent first",
    )


class ApprovalSchema(ma.Schema):
    id = ma.fields.String(
        required=True, metadata={"description": "Use in /approvals/{id}", "example": "LOCAL~000001129172"}
    )
    origin = ma.fields.String(required=True, metadata={"example": "LOCAL"})
    task_id = ma.fields.String(required=True, metadata={"example": "000001129172"})
    task_type = ma.fields.String(
        required=True,
        attribute="task_definition_id",
        metadata={"description": "SAP's TaskDefinitionID; filter the queue by it", "example": "TS00007986"},
    )
    task_type_name = ma.fields.String(
        required=True, attribute="task_definition_name", metadata={"example": "Release of purchase requisition"}
    )
    title = ma.fields.String(required=True, metadata={"example": "Release purchase requisition 10000123"})
    priority = ma.fields.String(
        required=True,
        validate=ma.validate.OneOf(PRIORITIES),
        metadata={"example": "HIGH", **enum_component("TaskPriority")},
    )
    status = ma.fields.String(
        required=True,
        validate=ma.validate.OneOf(TASK_STATUSES),
        metadata={
            "description": "SAP's task status: READY (anyone may take it), RESERVED (claimed), IN_PROGRESS; "
            "COMPLETED once decided",
            "example": "READY",
            **enum_component("TaskStatus"),
        },
    )
    created_on = datetime_field("When the task was created")
    created_by = ma.fields.String(required=True, metadata={"description": "SAP user", "example": "REQ_DAVID"})
    created_by_name = ma.fields.String(
        required=True,
        metadata={
            "description": "The requester as SAP names them (CreatedByName); `search` looks here and in the title",
            "example": "David Moreau",
        },
    )
    due = datetime_field("Completion deadline", attribute="completion_deadline")
    overdue = ma.fields.Boolean(
        required=True,
        metadata={
            "description": "Still open and its completion deadline (`due`) has passed; as the `overdue` badge count",
            "example": False,
        },
    )
    is_escalated = ma.fields.Boolean(
        required=True,
        metadata={"description": "SAP's deadline monitoring escalated the task (IsEscalated)", "example": False},
    )
    received_as_substitute = ma.fields.Boolean(
        required=True,
        metadata={
            "description": "The caller has the task as someone's substitute (SAP's SubstitutedUserName is set)",
            "example": False,
        },
    )
    substituted_user = ma.fields.String(
        required=True,
        metadata={
            "description": "Whom the caller substitutes for this task (SubstitutedUserName); empty when it is "
            "the caller's own",
            "example": "Anna Keller",
        },
    )
    supports_claim = ma.fields.Boolean(required=True)
    supports_release = ma.fields.Boolean(required=True)
    supports_forward = ma.fields.Boolean(required=True)
    object_id = ma.fields.String(
        required=True, metadata={"description": "Business object key, empty if none", "example": "10000123"}
    )


ApprovalPageSchema = page_schema(ApprovalSchema, "ApprovalPage")


class AccountAssignmentSchema(ma.Schema):
    number = ma.fields.String(
        required=True, metadata={"description": "SAP's PurchaseReqnAcctAssgmtNumber", "example": "01"}
    )
    cost_center = ma.fields.String(required=True, metadata={"description": "Empty if none", "example": "10101101"})
    wbs_element = ma.fields.String(
        required=True, metadata={"description": "Project (WBS element); empty if none", "example": "PRJ-1010-SVC-01"}
    )
    gl_account = ma.fields.String(required=True, metadata={"description": "G/L account", "example": "0061008000"})
    order_id = ma.fields.String(
        required=True, metadata={"description": "Internal or maintenance order; empty if none", "example": ""}
    )
    asset = ma.fields.String(required=True, metadata={"description": "Fixed asset; empty if none", "example": ""})
    profit_center = ma.fields.String(
        required=True, metadata={"description": "Profit centre the line is booked to", "example": "YB1010"}
    )
    share_percent = ma.fields.Decimal(
        as_string=True,
        allow_none=True,
        required=True,
        metadata={
            **decimal_string("60.0").metadata,
            "description": "Percent of the item on this line when it is split over several; null when it is not",
        },
    )
    net_amount = ma.fields.Nested(
        AmountSchema, allow_none=True, required=True, metadata={"description": "The amount charged on this line"}
    )


class RequisitionItemSchema(ma.Schema):
    item = ma.fields.String(required=True, metadata={"example": "00010"})
    description = ma.fields.String(required=True, metadata={"example": "Laptop for new engineer"})
    material = ma.fields.String(
        required=True, metadata={"description": "Empty for a text (non-stock) item", "example": "FG-BIKE-100"}
    )
    plant = ma.fields.String(required=True, metadata={"example": "1010"})
    quantity = ma.fields.Nested(QuantitySchema, required=True)
    price = ma.fields.Nested(AmountSchema, allow_none=True)
    net_amount = ma.fields.Nested(AmountSchema, allow_none=True)
    delivery_date = date_field("Requested delivery date")
    requisitioner = ma.fields.String(
        required=True, metadata={"description": "Who asked for it (RequisitionerName)", "example": "David Moreau"}
    )
    created_by = ma.fields.String(
        required=True, metadata={"description": "SAP user who entered it (CreatedByUser)", "example": "REQ_DAVID"}
    )
    release_status = ma.fields.String(
        required=True, metadata={"description": "SAP's PurReqnReleaseStatus", "example": "03"}
    )
    is_release_pending = ma.fields.Boolean(required=True)
    fixed_supplier = ma.fields.String(
        required=True,
        metadata={"description": "Supplier number the item is fixed to (FixedSupplier); empty if none", "example": ""},
    )
    desired_supplier = ma.fields.String(
        required=True,
        metadata={
            "description": "Supplier number the requester wishes (Supplier); empty if none",
            "example": "0017300002",
        },
    )
    account_assignment_category = ma.fields.String(
        required=True,
        metadata={
            "description": "What the item is charged to (AccountAssignmentCategory): K cost centre, P project "
            "(WBS element), F order, A asset; empty: to stock, no accounting lines",
            "example": "K",
        },
    )
    account_assignments = ma.fields.List(
        ma.fields.Nested(AccountAssignmentSchema),
        required=True,
        metadata={"description": "The item's accounting lines (to_PurchaseReqnAcctAssgmt); several when it is split"},
    )


class RequisitionSummarySchema(ma.Schema):
    requisition_id = ma.fields.String(required=True, metadata={"example": "10000123"})
    requisition_type = ma.fields.String(required=True, metadata={"example": "NB"})
    description = ma.fields.String(required=True)
    total_net_amounts = ma.fields.List(ma.fields.Nested(AmountSchema), required=True)
    items = ma.fields.List(ma.fields.Nested(RequisitionItemSchema), required=True)


class TaskObjectSchema(ma.Schema):
    object_id = ma.fields.String(
        required=True, metadata={"description": "The object's key (ObjectID)", "example": "0010000101"}
    )
    type = ma.fields.String(
        required=True,
        metadata={"description": "Its business object type (e.g. BUS2105: purchase requisition)", "example": "BUS2105"},
    )
    label = ma.fields.String(
        required=True, metadata={"description": "How SAP names it (Label)", "example": "Purchase Requisition 10000101"}
    )


class TaskDecisionSchema(ma.Schema):
    decision = ma.fields.String(
        required=True,
        allow_none=True,
        validate=ma.validate.OneOf(DECISIONS),
        metadata={
            "description": "approve or reject (from the option's nature); null for a neutral option",
            "example": "approve",
        },
    )
    text = ma.fields.String(
        required=True, metadata={"description": "The chosen option as SAP words it (Result)", "example": "Approve"}
    )
    nature = ma.fields.String(
        required=True,
        validate=ma.validate.OneOf(NATURES),
        metadata={
            "description": "The option's nature in SAP's log (ResultType): POSITIVE, NEGATIVE, empty: neutral",
            "example": "POSITIVE",
            **enum_component("DecisionNature"),
        },
    )
    decided_by = ma.fields.String(required=True, metadata={"description": "SAP user", "example": "EXEC_ANNA"})
    decided_at = datetime_field("When SAP recorded the decision", required=True)


class ApprovalDetailSchema(ApprovalSchema):
    attributes = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.String(), required=True)
    objects = ma.fields.List(
        ma.fields.Nested(TaskObjectSchema),
        required=True,
        metadata={"description": "Business objects attached to the task in SAP (TaskObjects); may be empty"},
    )
    decision = ma.fields.Nested(
        TaskDecisionSchema,
        attribute="outcome",
        allow_none=True,
        required=True,
        metadata={
            "description": "What was decided and by whom, from SAP's workflow log, once the task is COMPLETED "
            "(read it by id after deciding); null while no decision is recorded"
        },
    )
    purchase_requisition = ma.fields.Nested(
        RequisitionSummarySchema,
        allow_none=True,
        required=True,
        metadata={"description": "The requisition behind a release task; null for other task types"},
    )


class DecisionOptionSchema(ma.Schema):
    key = ma.fields.String(required=True, metadata={"example": "0001"})
    text = ma.fields.String(required=True, metadata={"example": "Approve"})
    comment_mandatory = ma.fields.Boolean(required=True)
    nature = ma.fields.String(
        required=True,
        validate=ma.validate.OneOf(NATURES),
        metadata={
            "description": "POSITIVE (approves), NEGATIVE (rejects), empty: neutral",
            "example": "POSITIVE",
            **enum_component("DecisionNature"),
        },
    )


class DecisionOptionsSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(DecisionOptionSchema), required=True)


class DecisionSchema(StrictSchema):
    decision = ma.fields.String(
        required=True,
        validate=ma.validate.OneOf(DECISIONS),
        metadata={"example": "approve", **enum_component("ApprovalDecision")},
    )
    comment = free_text(
        1000,
        "Mandatory where SAP's decision option says so",
        multiline=True,
        load_default="",
        metadata={"example": "Budget confirmed"},
    )


class MassDecisionItemSchema(DecisionSchema):
    id = ma.fields.String(
        required=True, validate=ma.validate.Length(min=1, max=64), metadata={"example": "LOCAL~000001129172"}
    )


class MassDecisionSchema(StrictSchema):
    items = ma.fields.List(
        ma.fields.Nested(MassDecisionItemSchema),
        required=True,
        validate=ma.validate.Length(min=1, max=MAX_MASS_DECISIONS),
        metadata={"description": f"Up to {MAX_MASS_DECISIONS} decisions; each gets its own result"},
    )


class ForwardSchema(StrictSchema):
    to_user = ma.fields.String(
        required=True,
        validate=FullMatch(r"^[A-Za-z0-9._-]{1,12}$", error="must be an SAP user name: 1-12 of A-Z a-z 0-9 . _ -"),
        metadata={"description": "SAP user name of the new processor", "example": "EXEC_BEN"},
    )


class MassDecisionResultSchema(ma.Schema):
    id = ma.fields.String(required=True)
    status = ma.fields.Integer(
        required=True, metadata={"description": "202 accepted; else the error status for this item", "example": 202}
    )
    writeback = ma.fields.Nested(WritebackSchema, allow_none=True, required=True)
    error = ma.fields.Nested(ErrorSchema, allow_none=True, required=True)


class MassDecisionResultsSchema(ma.Schema):
    results = ma.fields.List(ma.fields.Nested(MassDecisionResultSchema), required=True)


class DecidedApprovalSchema(ma.Schema):
    id = ma.fields.String(
        required=True,
        metadata={
            "description": "The task; /approvals/{id} shows it with SAP's decision",
            "example": "LOCAL~000001129172",
        },
    )
    title = ma.fields.String(
        required=True,
        allow_none=True,
        metadata={
            "description": "The task's title when it was decided; null for older decisions",
            "example": "Purchase Requisition 10000101 (1,450.00 EUR)",
        },
    )
    task_type_name = ma.fields.String(
        required=True,
        allow_none=True,
        metadata={
            "description": "The task's type when it was decided; null for older decisions",
            "example": "Release of Purchase Requisition",
        },
    )
    decision = ma.fields.String(
        required=True,
        validate=ma.validate.OneOf(DECISIONS),
        metadata={"description": "What the caller decided", "example": "approve", **enum_component("ApprovalDecision")},
    )
    comment = ma.fields.String(
        required=True,
        metadata={"description": "The comment sent with the decision; empty if none", "example": "Budget confirmed"},
    )
    decided_at = datetime_field("When SAP took the decision (the writeback succeeded)", required=True)
    writeback_id = ma.fields.String(
        required=True,
        metadata={
            "description": "The writeback that applied it: /writebacks/{id}",
            "example": "6f1c7c1e-0b7e-4a55-9a0e-2f6a3c1d9b10",
        },
    )


DecidedApprovalPageSchema = page_schema(DecidedApprovalSchema, "DecidedApprovalPage")
