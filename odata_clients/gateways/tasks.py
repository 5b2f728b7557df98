"""Workflow tasks (TASKPROCESSING, My Inbox): the executive's queue and decisions, always as that user."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from odata_clients import convert
from odata_clients.errors import SapBusinessError
from odata_clients.fanout import parallel_limit, run_all
from odata_clients.gateways.base import Gateway, Row, convert_key, string_param
from odata_clients.gateways.keyset import KeysetPage, Position, sort_keys
from odata_clients.models import DecisionOption, Task, TaskDecision, TaskObject

TASKS = "TaskCollection"
NAV_ATTRIBUTES = "CustomAttributeData"
NAV_WORKFLOW_LOGS = "WorkflowLogs"
NAV_OBJECTS = "TaskObjects"
# A task's details: what one task's page shows beyond a list row (its objects, and what was decided).
DETAIL_NAVS = (NAV_ATTRIBUTES, NAV_OBJECTS, NAV_WORKFLOW_LOGS)
# Text search: what SAP's own inbox UI (sap.uiext.inbox) filters TaskCollection on, `substringof` each.
SEARCH_PROPERTIES = ("TaskTitle", "CreatedByName")
OPEN_STATUSES = ("READY", "RESERVED", "IN_PROGRESS")
# Canonical sort names -> (TaskCollection property, inverted). PriorityNumber counts down (1 is very high), so
# `priority` ascending (lowest first) is PriorityNumber descending.
TASK_SORT_FIELDS = {
    "created": ("CreatedOn", False),
    "due": ("CompletionDeadLine", False),
    "priority": ("PriorityNumber", True),
}
TASK_KEY = ("InstanceID", "SAP__Origin")
DEFAULT_TASK_SORT = ("-created",)
APPROVE = "0001"
REJECT = "0002"


def task_from_sap(entity: object) -> Task:
    row = Row(entity)
    return Task(
        origin=row.text("SAP__Origin"),
        task_id=row.text("InstanceID"),
        task_definition_id=row.text("TaskDefinitionID"),
        task_definition_name=row.text("TaskDefinitionName"),
        title=row.text("TaskTitle"),
        # SAP's scale is exactly TASK_PRIORITIES; a task created without one has SAP's default, MEDIUM.
        priority=row.text("Priority") or "MEDIUM",
        status=row.text("Status"),
        status_text=row.text("StatusText"),
        created_on=row.datetime("CreatedOn"),
        created_by=row.text("CreatedBy"),
        processor=row.text("Processor"),
        completion_deadline=row.datetime("CompletionDeadLine"),
        is_escalated=row.boolean("IsEscalated"),
        supports_claim=row.boolean("SupportsClaim"),
        supports_release=row.boolean("SupportsRelease"),
        supports_forward=row.boolean("SupportsForward"),
        supports_comments=row.boolean("SupportsComments"),
        attributes=(attributes := {a.text("Name"): a.text("Value") for a in row.nav(NAV_ATTRIBUTES)}),
        object_id=_object_id(attributes),
        created_by_name=row.text("CreatedByName"),
        substituted_user=row.text("SubstitutedUserName"),
        objects=[
            TaskObject(object_id=o.text("ObjectID"), type=o.text("Type"), label=o.text("Label"))
            for o in row.nav(NAV_OBJECTS)
        ],
        # Only where the log was read with the task (its details); a list row leaves it None.
        decision=decision_from_log(row.nav(NAV_WORKFLOW_LOGS)),
    )


def search_clause(text: str) -> str:
    """`(substringof('x',TaskTitle) or substringof('x',CreatedByName))`, quotes doubled as OData wants."""
    literal = convert.string_literal(text)
    return "(" + " or ".join(f"substringof({literal},{name})" for name in SEARCH_PROPERTIES) + ")"


def overdue_clause(now: dt.datetime, overdue: bool = True) -> str:
    """Whether an open task's completion deadline passed as of `now`: the one definition for the `overdue` count,
    the list's `overdue` filter and (to the second, as SAP reads the literal) `is_overdue`. Not overdue takes the
    tasks without a deadline too, so the two sides always add up to the open tasks."""
    cutoff = convert.datetime_literal(now)
    if overdue:
        # ne null: Gateway may compare a task without a deadline (ABAP's empty value) as the lowest date.
        return f"CompletionDeadLine ne null and CompletionDeadLine lt {cutoff}"
    return f"(CompletionDeadLine eq null or CompletionDeadLine ge {cutoff})"


def escalated_clause(escalated: bool = True) -> str:
    """SAP's deadline monitoring escalated the task, or not: for the `escalated` count and the list's filter."""
    return f"IsEscalated eq {'true' if escalated else 'false'}"


def is_overdue(task: Task, now: dt.datetime) -> bool:
    """Open with its completion deadline passed, as `overdue_clause` has SAP filter and count it."""
    if task.status not in OPEN_STATUSES or not task.completion_deadline:
        return False
    # The literal SAP compares with has whole seconds: so does this, or a flag could disagree with the filter.
    return dt.datetime.fromisoformat(task.completion_deadline) < now.replace(microsecond=0)


# Custom attribute names under which inbox scenarios expose the business object's key.
OBJECT_ATTRIBUTES = ("PurchaseRequisition", "PurchaseRequisitionNumber", "BusinessObjectKey", "ObjectID", "BANFN")


def _object_id(attributes: Mapping[str, str]) -> str:
    for name in OBJECT_ATTRIBUTES:
        if attributes.get(name):
            return attributes[name]
    return ""


def decision_from_log(entries: Iterable[Row]) -> TaskDecision | None:
    """The latest decision in a task's workflow log: the highest EventOrder whose ResultType is set."""
    decided = [(convert.int_from_sap(e.raw.get("EventOrder")) or 0, e) for e in entries if e.text("ResultType")]
    if not decided:
        return None
    _, entry = max(decided, key=lambda pair: pair[0])
    return TaskDecision(
        performed_by=entry.text("PerformedBy"),
        result=entry.text("Result"),
        nature=entry.text("ResultType"),
        at=entry.datetime("Timestamp") or entry.datetime("EndTimestamp"),
    )


def _task_result(result: Any, function: str) -> Task:
    if isinstance(result, Mapping) and function in result and isinstance(result[function], Mapping):
        result = result[function]
    return task_from_sap(result)


class TasksGateway(Gateway):
    """TaskCollection and its function imports. Bind the caller first: `gateway.for_user(principal)`."""

    def list_open(
        self,
        *,
        task_types: Sequence[str] = (),
        priorities: Sequence[str] = (),
        search: str = "",
        overdue: bool | None = None,
        escalated: bool | None = None,
        now: dt.datetime | None = None,
        sort: Sequence[str] = DEFAULT_TASK_SORT,
        top: int = 100,
        after: Position | None = None,
        count: bool = False,
    ) -> KeysetPage[Task]:
        """The caller's open tasks (SAP scopes TaskCollection to the authenticated user), `top` of them after
        `after` (a page's `next_after`) in the order of `sort` (see TASK_SORT_FIELDS). `search`: only tasks
        whose title or requester name contains it; `overdue` (as of `now`; pass the moment the rows' flags are
        judged at) and `escalated`: only those that are, or are not, as `open_counts` counts them. SAP filters,
        so paging and counts stay SAP's."""
        clause = convert.and_all(
            convert.any_of("Status", OPEN_STATUSES),
            convert.any_of("TaskDefinitionID", task_types) if task_types else None,
            convert.any_of("Priority", priorities) if priorities else None,
            search_clause(search) if search else None,
            overdue_clause(now or dt.datetime.now(dt.UTC), overdue) if overdue is not None else None,
            escalated_clause(escalated) if escalated is not None else None,
        )
        page = self._keyset_query(
            TASKS,
            filter=clause,
            expand=[NAV_ATTRIBUTES],
            sort=sort_keys(sort, TASK_SORT_FIELDS, TASK_KEY),
            limit=top,
            after=after,
            count=count,
        )
        return KeysetPage([task_from_sap(e) for e in page.items], page.total, page.next_after)

    def created_since(
        self, since: dt.datetime | None, *, top: int = 100, after: Position | None = None
    ) -> KeysetPage[Task]:
        """The caller's open tasks created at or after `since` (None: all), oldest first, `top` of them after
        `after`: what a delta poller reads. SAP compares CreatedOn with the literal's whole second, so the tasks
        of `since`'s second come back too; telling those already seen apart is the caller's part."""
        clause = convert.and_all(
            convert.any_of("Status", OPEN_STATUSES),
            f"CreatedOn ge {convert.datetime_literal(since)}" if since is not None else None,
        )
        page = self._keyset_query(
            TASKS, filter=clause, sort=sort_keys(("created",), TASK_SORT_FIELDS, TASK_KEY), limit=top, after=after
        )
        return KeysetPage([task_from_sap(e) for e in page.items], page.total, page.next_after)

    def get(self, task_id: str, origin: str, *, details: bool = False) -> Task:
        """One task of the caller (open, or completed by them); `details` adds its objects and decision (one call)."""
        expand = DETAIL_NAVS if details else (NAV_ATTRIBUTES,)
        return task_from_sap(self._get(TASKS, {"SAP__Origin": origin, "InstanceID": task_id}, expand=expand))

    def decision_options(self, task_id: str, origin: str) -> list[DecisionOption]:
        result = self._function(
            "DecisionOptions", {"SAP__Origin": string_param(origin), "InstanceID": string_param(task_id)}
        )
        if isinstance(result, Mapping):
            result = result.get("results", result.get("DecisionOptions", []))
        options = []
        for item in result if isinstance(result, list) else []:
            row = Row(item)
            options.append(
                DecisionOption(
                    key=row.text("DecisionKey"),
                    text=row.text("DecisionText"),
                    comment_mandatory=row.boolean("CommentMandatory"),
                    nature=row.text("Nature"),
                )
            )
        return options

    def decide(self, task_id: str, origin: str, decision_key: str, comments: str = "") -> Task:
        """Decision (POST). Comments is mandatory for SAP: an empty string when there is none."""
        result = self._function(
            "Decision",
            {
                "SAP__Origin": string_param(origin),
                "InstanceID": string_param(task_id),
                "DecisionKey": string_param(decision_key),
                "Comments": string_param(comments),
            },
        )
        return _task_result(result, "Decision")

    def decision(self, task_id: str, origin: str) -> TaskDecision | None:
        """Who decided the task and how, as SAP's workflow log says; None while the log holds no decision.

        One call (`TaskCollection(...)/WorkflowLogs`), so a retried decision can tell an approve from a
        reject, and ours from a co-approver's, after an answer that never came.
        """
        task = getattr(self.client.builder(self.principal).entity_sets, TASKS).get_entity(
            SAP__Origin=convert_key(origin), InstanceID=convert_key(task_id)
        )
        entries = self._read_feed(task.nav(NAV_WORKFLOW_LOGS).get_entities()).rows
        return decision_from_log(Row(entry) for entry in entries)

    def claim(self, task_id: str, origin: str) -> Task:
        return self._action("Claim", task_id, origin)

    def release(self, task_id: str, origin: str) -> Task:
        return self._action("Release", task_id, origin)

    def forward(self, task_id: str, origin: str, to_user: str) -> Task:
        return self._action("Forward", task_id, origin, ForwardTo=string_param(to_user))

    def _action(self, name: str, task_id: str, origin: str, **extra: str) -> Task:
        params = {"SAP__Origin": string_param(origin), "InstanceID": string_param(task_id), **extra}
        return _task_result(self._function(name, params), name)

    def open_counts(self, *, now: dt.datetime) -> OpenTaskCounts:
        """The caller's open tasks counted by SAP (one `$count` each, a few at a time), never listed.

        Overdue: CompletionDeadLine before `now` (a task without a deadline is never overdue). Escalated: SAP's
        IsEscalated flag; None when SAP refuses to filter on it (400), so the other counts still arrive.
        """
        open_ = convert.any_of("Status", OPEN_STATUSES)
        clauses = {
            "open": open_,
            **{priority: f"{open_} and {convert.eq('Priority', priority)}" for priority in TASK_PRIORITIES},
            "overdue": f"{open_} and {overdue_clause(now)}",
        }
        calls: dict[str, Callable[[], int | None]] = {
            name: functools.partial(self._count, TASKS, clause) for name, clause in clauses.items()
        }
        calls["escalated"] = functools.partial(self._count_if_filterable, f"{open_} and {escalated_clause()}")
        counts = run_all(calls, limit=parallel_limit(self.client.http.bulkhead))
        return OpenTaskCounts(
            open=_required(counts["open"]),
            by_priority={priority: _required(counts[priority]) for priority in TASK_PRIORITIES},
            overdue=_required(counts["overdue"]),
            escalated=counts["escalated"],
        )

    def _count_if_filterable(self, clause: str) -> int | None:
        try:
            return self._count(TASKS, clause)
        except SapBusinessError as exc:
            if exc.status != 400:
                raise
            return None


# Priority values of TaskCollection (My Inbox's PRIORITY filter options), most urgent first.
TASK_PRIORITIES = ("VERY_HIGH", "HIGH", "MEDIUM", "LOW")


@dataclass(frozen=True)
class OpenTaskCounts:
    open: int
    by_priority: Mapping[str, int]  # one count per TASK_PRIORITIES value
    overdue: int
    escalated: int | None


def _required(count: int | None) -> int:
    assert count is not None, "only the escalated count may be unknown"
    return count
