"""/IWPGW/TASKPROCESSING: each SAP user's workflow inbox, decisions, claim, release and forward."""

from __future__ import annotations

from collections.abc import Sequence

from mock_sap.data.approvals import (
    LEAVE_REQUEST,
    LOG_DECIDED,
    LOG_FORWARDED,
    LOG_RELEASED,
    LOG_RESERVED,
    OPEN_STATUSES,
    PR_REFUSED,
    PR_RELEASE,
    PR_RELEASED,
    log_entry,
    user_name,
)
from mock_sap.edm import EntityType, FunctionImport, string, typed
from mock_sap.errors import ODataError, ServiceInfo, bad_request, business_error
from mock_sap.events import PURCHASE_REQUISITION_CHANGED
from mock_sap.services.base import Context, FunctionResult, Service
from mock_sap.services.purchase_requisition_model import ITEM
from mock_sap.services.taskprocessing_model import (
    ATTRIBUTES,
    DEFINITIONS,
    DESCRIPTIONS,
    MODEL,
    TASK_OBJECTS,
    TASKS,
    WORKFLOW_LOGS,
)
from mock_sap.store import Row, Store, Table

# Who may process a task is not part of the OData model; the mock keeps it in a private table.
TASK_META_TYPE = EntityType(
    "_TaskMeta",
    keys=("InstanceID",),
    properties=[
        string("InstanceID", nullable=False),
        typed("Owners", "Edm.String"),  # a tuple of user names
        typed("CommentOnReject", "Edm.Boolean"),
        string("PurchaseRequisition", 10),
        # Users who receive the task as substitutes of its first owner (SAP's substitution rules): their inbox
        # shows it with SubstitutedUserName set to that owner's name; everyone else sees it empty.
        typed("Substitutes", "Edm.String"),  # a tuple of user names
    ],
)
TASK_META = "_TaskMeta"

DECISIONS = {
    # definition: [(key, text, nature)]
    PR_RELEASE: [("0001", "Approve", "POSITIVE"), ("0002", "Reject", "NEGATIVE")],
    LEAVE_REQUEST: [("0001", "Approve", "POSITIVE"), ("0002", "Reject", "NEGATIVE")],
}
DEFAULT_DECISIONS = [("0001", "Approve", "POSITIVE"), ("0002", "Reject", "NEGATIVE")]
# Sets whose rows belong to one task (keys start with SAP__Origin, InstanceID): visible with their task.
PER_TASK_SETS = (ATTRIBUTES, DESCRIPTIONS, WORKFLOW_LOGS, TASK_OBJECTS)


class TaskProcessingService(Service):
    name = "TASKPROCESSING"
    path = "/sap/opu/odata/IWPGW/TASKPROCESSING;mo;v=2"
    aliases = (
        "/sap/opu/odata/IWPGW/TASKPROCESSING;v=2;mo",
        "/sap/opu/odata/IWPGW/TASKPROCESSING;v=2",
        "/sap/opu/odata/IWPGW/TASKPROCESSING",
    )
    model = MODEL
    info = ServiceInfo("TASKPROCESSING", "CA-TGW", namespace="/IWPGW/", version="0002")

    def __init__(self, store: Store, tables: dict[str, Table], meta: Table, known_users: set[str]) -> None:
        super().__init__(store)
        self.tables = dict(tables)
        # Built with the inbox's original tables; the task objects come from the store itself.
        self.tables.setdefault(TASK_OBJECTS, store[TASK_OBJECTS])
        self.meta = meta
        self.known_users = known_users
        self._t = tables[TASKS].entity_type.index
        self._m = meta.entity_type.index

    # -- visibility: an inbox shows what the user may process ---------------------------------
    def _owners(self, instance: object) -> tuple[str, ...]:
        meta = self.meta.get((instance,))
        return meta[self._m["Owners"]] if meta is not None else ()  # type: ignore[return-value]

    def _may_see(self, task: Row, user: str) -> bool:
        return task[self._t["Processor"]] == user or user in self._owners(task[self._t["InstanceID"]])

    def _in_inbox(self, task: Row, user: str) -> bool:
        t = self._t
        if task[t["Status"]] not in OPEN_STATUSES:
            return False
        processor = task[t["Processor"]]
        # A task reserved by someone else disappears from the other potential owners' inboxes.
        return processor == user or (not processor and user in self._owners(task[t["InstanceID"]]))

    def _as_seen_by(self, task: Row, user: str) -> Row:
        """The task as `user`'s inbox shows it: SubstitutedUserName names the owner they substitute, if any."""
        meta = self.meta.get((task[self._t["InstanceID"]],))
        if meta is None or user not in (meta[self._m["Substitutes"]] or ()):  # type: ignore[operator]
            return task
        owners = self._owners(task[self._t["InstanceID"]])
        seen = list(task)
        seen[self._t["SubstitutedUserName"]] = user_name(owners[0]) if owners else ""
        return tuple(seen)

    def _sees_task_of(self, row: Row, user: str) -> bool:
        task = self.tables[TASKS].get((row[0], row[1]))
        return task is not None and self._may_see(task, user)

    def collection(self, set_name: str, ctx: Context) -> Sequence[Row]:
        tasks = self.tables[TASKS].rows
        if set_name == TASKS:
            return [self._as_seen_by(task, ctx.user) for task in tasks if self._in_inbox(task, ctx.user)]
        if set_name in PER_TASK_SETS:
            visible = {task[self._t["InstanceID"]] for task in tasks if self._may_see(task, ctx.user)}
            table = self.tables[set_name]
            position = table.entity_type.index["InstanceID"]
            return [row for row in table.rows if row[position] in visible]
        return super().collection(set_name, ctx)

    def index_lookup(self, set_name: str, ctx: Context):  # type: ignore[no-untyped-def]
        if set_name == TASKS:
            return None
        lookup = super().index_lookup(set_name, ctx)
        if lookup is None or set_name not in PER_TASK_SETS:
            return lookup

        # An indexed $filter (InstanceID eq '...') must not bypass the visibility `collection` applies.
        def visible(column: str, value: object) -> list[Row] | None:
            rows = lookup(column, value)
            return None if rows is None else [row for row in rows if self._sees_task_of(row, ctx.user)]

        return visible

    def get(self, set_name: str, key: tuple[object, ...], ctx: Context) -> Row | None:
        row = super().get(set_name, key, ctx)
        if row is None or set_name == DEFINITIONS:
            return row
        if not self._sees_task_of(row, ctx.user):
            return None
        return self._as_seen_by(row, ctx.user) if set_name == TASKS else row

    # -- actions -------------------------------------------------------------------------------
    def _task(self, params: dict[str, object], ctx: Context) -> Row:
        instance = params.get("InstanceID")
        if not instance:
            raise bad_request("Parameter 'InstanceID' is missing")
        origin = params.get("SAP__Origin") or "LOCAL"
        task = self.tables[TASKS].get((origin, instance))
        if task is None or not self._may_see(task, ctx.user):
            raise ODataError(
                404, "/IWPGW/CM_TGW/004", f"Task {instance} not found or not authorized for user {ctx.user}"
            )
        return task

    def _check_open(self, task: Row, ctx: Context) -> None:
        t = self._t
        instance = task[t["InstanceID"]]
        if task[t["Status"]] not in OPEN_STATUSES:
            raise business_error(
                "SWF_RUN_WIM/011", f"Task {instance} is already completed (status {task[t['Status']]})"
            )
        processor = task[t["Processor"]]
        if processor and processor != ctx.user:
            raise business_error("SWF_RUN_WIM/016", f"Task {instance} is reserved by user {processor}", status=403)

    def options(self, task: Row) -> list[dict[str, object]]:
        t = self._t
        meta = self.meta.get((task[t["InstanceID"]],))
        comment_on_reject = bool(meta[self._m["CommentOnReject"]]) if meta is not None else False
        return [
            {
                "SAP__Origin": task[t["SAP__Origin"]],
                "InstanceID": task[t["InstanceID"]],
                "DecisionKey": key,
                "DecisionText": text,
                "CommentMandatory": nature == "NEGATIVE" and comment_on_reject,
                "Nature": nature,
            }
            for key, text, nature in DECISIONS.get(str(task[t["TaskDefinitionID"]]), DEFAULT_DECISIONS)
        ]

    def call(self, function: FunctionImport, params: dict[str, object], ctx: Context) -> FunctionResult:
        task = self._task(params, ctx)
        t = self._t
        if function.name == "DecisionOptions":
            return FunctionResult(complex_values=self.options(task), single=False)
        self._check_open(task, ctx)
        if function.name == "Decision":
            task = self.decide(task, str(params.get("DecisionKey") or ""), str(params.get("Comments") or ""), ctx)
        elif function.name == "Claim":
            if task[t["Processor"]] == ctx.user:
                raise business_error("SWF_RUN_WIM/017", f"Task {task[t['InstanceID']]} is already reserved by you")
            task = self.replace_row(TASKS, task, Status="RESERVED", Processor=ctx.user)
            self._log(task, ctx, LOG_RESERVED.format(name=user_name(ctx.user)))
        elif function.name == "Release":
            if task[t["Processor"]] != ctx.user:
                raise business_error("SWF_RUN_WIM/018", f"Task {task[t['InstanceID']]} is not reserved by you")
            task = self.replace_row(TASKS, task, Status="READY", Processor="")
            self._log(task, ctx, LOG_RELEASED.format(name=user_name(ctx.user)))
        elif function.name == "Forward":
            target = str(params.get("ForwardTo") or "").upper()
            if target not in self.known_users:
                raise business_error("SWF_RUN_WIM/020", f"User {target or '(empty)'} does not exist")
            meta = self.meta.get((task[t["InstanceID"]],))
            if meta is not None:
                self.replace_row(TASK_META, meta, Owners=(target,), Substitutes=())
            task = self.replace_row(TASKS, task, Status="READY", Processor="")
            self._log(task, ctx, LOG_FORWARDED.format(name=user_name(ctx.user), target=user_name(target)))
            ctx.message("SWF_RUN_WIM/021", f"Task forwarded to {target}", "success")
        else:
            return super().call(function, params, ctx)
        return FunctionResult(entity_set=TASKS, rows=[self._as_seen_by(task, ctx.user)])

    def decide(self, task: Row, key: str, comments: str, ctx: Context) -> Row:
        t = self._t
        option = next((o for o in self.options(task) if o["DecisionKey"] == key), None)
        if option is None:
            raise business_error(
                "SWF_RUN_WIM/030", f"Decision key '{key}' is not valid for task {task[t['InstanceID']]}"
            )
        if option["CommentMandatory"] and not comments.strip():
            raise business_error(
                "SWF_RUN_WIM/031", f"A comment is required to {str(option['DecisionText']).lower()} this task"
            )
        meta = self.meta.get((task[t["InstanceID"]],))
        requisition = meta[self._m["PurchaseRequisition"]] if meta is not None else ""
        if requisition:
            self._set_release_state(str(requisition), option["Nature"] == "POSITIVE", ctx)
        ctx.message("SWF_RUN_WIM/040", f"Decision '{option['DecisionText']}' saved", "success")
        text, nature = str(option["DecisionText"]), str(option["Nature"])
        self._log(task, ctx, LOG_DECIDED.format(name=user_name(ctx.user), text=text), text, nature)
        return self.replace_row(
            TASKS,
            task,
            Status="COMPLETED",
            Processor=ctx.user,
            HasComments=bool(task[t["HasComments"]]) or bool(comments.strip()),
        )

    def _log(
        self, task: Row, ctx: Context, description: str, result: str | None = None, result_type: str | None = None
    ) -> None:
        """Append the next WorkflowLog entry of `task`, performed by the caller (undone with its transaction)."""
        t = self._t
        origin, instance = str(task[t["SAP__Origin"]]), str(task[t["InstanceID"]])
        table = self.tables[WORKFLOW_LOGS]
        ix = table.entity_type.index
        entries = [row for row in table.lookup("InstanceID", instance) or () if row[ix["SAP__Origin"]] == origin]
        order = 1 + max((int(row[ix["EventOrder"]]) for row in entries), default=0)  # type: ignore[call-overload]
        at_ms = int(ctx.now.timestamp() * 1000)
        self.insert_row(
            WORKFLOW_LOGS, log_entry(origin, instance, order, ctx.user, description, at_ms, result, result_type)
        )

    def _set_release_state(self, requisition: str, approved: bool, ctx: Context) -> None:
        items = self.store[ITEM]
        ix = items.entity_type.index
        for row in items.rows:
            if row[ix["PurchaseRequisition"]] != requisition:
                continue
            position = items.position(items.entity_type.key_of(row))
            assert position is not None
            new = list(row)
            new[ix["PurReqnReleaseStatus"]] = PR_RELEASED if approved else PR_REFUSED
            new[ix["ReleaseIsNotCompleted"]] = not approved
            new[ix["PurchaseRequisitionReleaseDate"]] = ctx.today_ms if approved else None
            new[ix["LastChangeDateTime"]] = int(ctx.now.timestamp() * 1000)
            self.store.update(items, position, tuple(new))
        # The decision changed the requisition's release state: the PR object raises its own event.
        self.emit(PURCHASE_REQUISITION_CHANGED, {"PurchaseRequisition": requisition})
