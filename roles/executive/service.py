"""Executive use cases, without Flask: the caller's inbox, acting as the caller in SAP."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from access.policy import NotInScope, Principal
from odata_clients.connectivity import SapConnectivity
from odata_clients.errors import SapNotFound
from odata_clients.gateways.keyset import KeysetPage, Position
from odata_clients.gateways.tasks import DEFAULT_TASK_SORT
from odata_clients.models import DecisionOption, PurchaseRequisition, Task
from roles.common import SAP_KEY, sap_principal
from roles.executive.identity import as_sap_user

ID_SEPARATOR = "~"


def approval_id(task: Task) -> str:
    """Tasks are keyed by origin system and instance id; one URL-safe id carries both."""
    return f"{task.origin}{ID_SEPARATOR}{task.task_id}"


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

    @property
    def id(self) -> str:
        return approval_id(self.task)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.task, name)


@as_sap_user
def list_approvals(
    sap: SapConnectivity,
    principal: Principal,
    *,
    task_types: Sequence[str] = (),
    priorities: Sequence[str] = (),
    sort: Sequence[str] = DEFAULT_TASK_SORT,
    limit: int,
    after: Position | None = None,
    count: bool = False,
) -> KeysetPage[Approval]:
    page = sap.tasks.for_user(sap_principal(principal)).list_open(
        task_types=task_types, priorities=priorities, sort=sort, top=limit, after=after, count=count
    )
    return KeysetPage([Approval(task) for task in page.items], page.total, page.next_after)


@as_sap_user
def get_approval(sap: SapConnectivity, principal: Principal, approval: str) -> Approval:
    """The task and, for a requisition release, a summary of the requisition.

    SAP answers the inbox as the caller, so another user's task is not found: existence does not leak.
    """
    origin, task_id = split_id(approval)
    task = sap.tasks.for_user(sap_principal(principal)).get(task_id, origin)
    requisition = None
    if task.object_id:
        try:
            requisition = sap.purchase_requisitions.for_user(sap_principal(principal)).get(task.object_id)
        except SapNotFound:
            requisition = None  # a task may outlive its requisition; the task itself is still decidable
    return Approval(task, requisition)


@as_sap_user
def decision_options(sap: SapConnectivity, principal: Principal, approval: str) -> list[DecisionOption]:
    origin, task_id = split_id(approval)
    return sap.tasks.for_user(sap_principal(principal)).decision_options(task_id, origin)
