"""Executive commands, without Flask: check against SAP now, build the payload the worker applies."""

from __future__ import annotations

from typing import NotRequired

from access.errors import StateConflict, Unprocessable
from access.policy import Principal
from odata_clients.connectivity import SapConnectivity
from odata_clients.models import Task
from roles.common import sap_principal
from roles.executive.identity import as_sap_user
from roles.executive.service import split_id
from workers.commands import DECISION_NATURE, DecisionPayload, ForwardPayload, TaskPayload

OPEN = ("READY", "RESERVED", "IN_PROGRESS")


class DecisionRecord(DecisionPayload):
    """The decision payload with what the task was called when decided: the caller's decision history lists it
    from our store without asking SAP once per row (the worker sends none of it)."""

    title: NotRequired[str]
    task_type_name: NotRequired[str]


def _open_task(sap: SapConnectivity, principal: Principal, approval: str) -> Task:
    """The task as the caller sees it in SAP; not theirs is not found, already decided is a conflict."""
    origin, task_id = split_id(approval)
    task = sap.tasks.for_user(sap_principal(principal)).get(task_id, origin)
    if task.status not in OPEN:
        raise StateConflict(f"the task is {task.status.lower()} in SAP; it can no longer be decided")
    return task


@as_sap_user
def prepare_decision(
    sap: SapConnectivity, principal: Principal, approval: str, decision: str, comment: str
) -> DecisionRecord:
    task = _open_task(sap, principal, approval)
    options = sap.tasks.for_user(sap_principal(principal)).decision_options(task.task_id, task.origin)
    matching = [option for option in options if option.nature == DECISION_NATURE[decision]]
    if not matching:
        offered = ", ".join(f"{o.text} ({o.nature})" for o in options) or "none"
        raise Unprocessable(f"this task offers no {decision} decision; SAP offers: {offered}", "decision")
    option = matching[0]
    if option.comment_mandatory and not comment.strip():
        raise Unprocessable(f"SAP requires a comment to {decision} this task", "comment")
    return {
        "origin": task.origin,
        "task_id": task.task_id,
        "decision_key": option.key,
        "decision": decision,
        "comments": comment,
        "title": task.title,
        "task_type_name": task.task_definition_name,
    }


@as_sap_user
def prepare_task_action(sap: SapConnectivity, principal: Principal, approval: str, action: str) -> TaskPayload:
    """claim or release: refused early when SAP says the task does not support it."""
    task = _open_task(sap, principal, approval)
    supported = {"claim": task.supports_claim, "release": task.supports_release}[action]
    if not supported:
        raise StateConflict(f"SAP does not allow to {action} this task")
    return {"origin": task.origin, "task_id": task.task_id}


@as_sap_user
def prepare_forward(sap: SapConnectivity, principal: Principal, approval: str, to_user: str) -> ForwardPayload:
    task = _open_task(sap, principal, approval)
    if not task.supports_forward:
        raise StateConflict("SAP does not allow to forward this task")
    if to_user.upper() == principal.user_name.upper():
        raise Unprocessable("forward the task to someone else", "to_user")
    return {"origin": task.origin, "task_id": task.task_id, "forward_to": to_user.upper()}
