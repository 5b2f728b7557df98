"""Executive use cases, without Flask: the caller's inbox, acting as the caller in SAP."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from access.policy import NotInScope, Principal
from notifications import notices
from odata_clients.connectivity import SapConnectivity
from odata_clients.errors import SapNotFound
from odata_clients.gateways.keyset import KeysetPage, Position
from odata_clients.gateways.tasks import DEFAULT_TASK_SORT, is_overdue
from odata_clients.models import DecisionOption, PurchaseRequisition, Task
from roles.common import SAP_KEY, sap_principal
from roles.executive.identity import as_sap_user
from store import Command
from workers.commands import DECISION_NATURE

# SAP's decision nature back to our approve / reject (a neutral option has neither).
DECISION_OF_NATURE = {nature: decision for decision, nature in DECISION_NATURE.items()}

ID_SEPARATOR = notices.APPROVAL_ID_SEPARATOR


def approval_id(task: Task) -> str:
    """Tasks are keyed by origin system and instance id; one URL-safe id carries both."""
    return notices.approval_id(task.origin, task.task_id)


def split_id(approval: str) -> tuple[str, str]:
    origin, sep, task_id = approval.partition(ID_SEPARATOR)
    if not sep or not SAP_KEY.match(origin) or not SAP_KEY.match(task_id):
        raise NotInScope(f"{approval!r} is not an approval id")
    return origin, task_id


@dataclass(frozen=True)
class Approval:
    """A task with its API id; the attributes of Task are reachable through `task`."""

    task: Task
    purchase_requisition: PurchaseRequisition | None = None
    overdue: bool = False  # open, its completion deadline passed (at the time of reading)

    @property
    def id(self) -> str:
        return approval_id(self.task)

    @property
    def received_as_substitute(self) -> bool:
        return bool(self.task.substituted_user)

    @property
    def outcome(self) -> dict[str, Any] | None:
        """What SAP's workflow log says was decided (read with the task's details); None while undecided."""
        decision = self.task.decision
        if decision is None:
            return None
        return {
            "decision": DECISION_OF_NATURE.get(decision.nature),
            "text": decision.result,
            "nature": decision.nature,
            "decided_by": decision.performed_by,
            "decided_at": decision.at,
        }

    def __getattr__(self, name: str) -> Any:
        return getattr(self.task, name)


@as_sap_user
def list_approvals(
    sap: SapConnectivity,
    principal: Principal,
    *,
    task_types: Sequence[str] = (),
    priorities: Sequence[str] = (),
    search: str = "",
    overdue: bool | None = None,
    escalated: bool | None = None,
    sort: Sequence[str] = DEFAULT_TASK_SORT,
    limit: int,
    after: Position | None = None,
    count: bool = False,
    now: dt.datetime | None = None,
) -> KeysetPage[Approval]:
    """`search` (title or requester name contains it), `overdue` and `escalated` (None: either) are SAP's filters,
    so pages and the total stay SAP's."""
    # One moment for SAP's overdue filter and the rows' flags, so a row never contradicts the filter it passed.
    moment = now or dt.datetime.now(dt.UTC)
    page = sap.tasks.for_user(sap_principal(principal)).list_open(
        task_types=task_types,
        priorities=priorities,
        search=search.strip(),
        overdue=overdue,
        escalated=escalated,
        now=moment,
        sort=sort,
        top=limit,
        after=after,
        count=count,
    )
    return KeysetPage(
        [Approval(task, overdue=is_overdue(task, moment)) for task in page.items], page.total, page.next_after
    )


@as_sap_user
def get_approval(
    sap: SapConnectivity, principal: Principal, approval: str, *, now: dt.datetime | None = None
) -> Approval:
    """The task with its objects and (once completed) its decision and, for a requisition release, a summary
    of the requisition.

    SAP answers the inbox as the caller, so another user's task is not found: existence does not leak.
    """
    origin, task_id = split_id(approval)
    task = sap.tasks.for_user(sap_principal(principal)).get(task_id, origin, details=True)
    requisition = None
    if task.object_id:
        try:
            requisition = sap.purchase_requisitions.for_user(sap_principal(principal)).get(task.object_id)
        except SapNotFound:
            requisition = None  # a task may outlive its requisition; the task itself is still decidable
    return Approval(task, requisition, overdue=is_overdue(task, now or dt.datetime.now(dt.UTC)))


@as_sap_user
def decision_options(sap: SapConnectivity, principal: Principal, approval: str) -> list[DecisionOption]:
    origin, task_id = split_id(approval)
    return sap.tasks.for_user(sap_principal(principal)).decision_options(task_id, origin)


def decided(command: Command) -> dict[str, Any]:
    """One entry of the caller's decision history: a task.decision command that SAP took."""
    payload: Mapping[str, Any] = command.payload
    return {
        "id": command.target_id,
        "title": payload.get("title"),
        "task_type_name": payload.get("task_type_name"),
        "decision": payload.get("decision"),
        "comment": payload.get("comments", ""),
        "decided_at": _iso(command.finished_at or command.updated_at),
        "writeback_id": command.id,
    }


def _iso(moment: dt.datetime) -> str:
    if moment.tzinfo is None:  # the store keeps UTC
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
