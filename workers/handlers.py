"""Applying one command type to SAP: re-check the snapshot, look for an earlier success, then write."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from odata_clients.connectivity import SapConnectivity
from odata_clients.destinations import Principal
from odata_clients.errors import SapError, SapNotFound
from odata_clients.gateways.production_orders import messages_result, operation_dates
from odata_clients.gateways.tasks import TasksGateway
from odata_clients.models import ConfirmationRequest, Quantity, Task, TaskDecision
from runtime.user_assertion import UserAssertionSigner, UserAssertionUnavailable
from store import Command, Status
from workers import snapshot
from workers.commands import DECISION_NATURE, USER_COMMANDS, CommandType
from workers.snapshot import Ending, same_user

OPEN_TASK = ("READY", "RESERVED", "IN_PROGRESS")


class StillInDoubt(Exception):
    """SAP does not show an earlier write yet, and may still be working on it until `settled_at`: ask again."""

    def __init__(self, settled_at: datetime) -> None:
        super().__init__(f"SAP may still be applying an earlier write until {settled_at.isoformat()}")
        self.settled_at = settled_at


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class Attempt:
    """One attempt at one command: what it needs, and what it sent (filled in just before its write)."""

    command: Command
    sap: SapConnectivity
    signer: UserAssertionSigner | None
    # Seconds after a write was sent during which SAP may still be working on it (WRITEBACK_IN_DOUBT_SETTLE).
    settle: float = 0.0
    # Attempts allowed to write (WRITEBACK_MAX_ATTEMPTS); asking SAP about an earlier write is always allowed.
    max_attempts: int | None = None
    # Records "a write is in flight" durably before it leaves (Store.sending); raises if the command was lost.
    on_send: Callable[[], object] = lambda: None
    allow_over_confirmation: bool = False
    now: Callable[[], datetime] = _utcnow
    sent: dict[str, Any] = field(default_factory=dict)

    @property
    def retrying(self) -> bool:
        """An earlier attempt may have reached SAP: ask SAP for its effect before writing again."""
        return self.command.attempts > 1 or self.command.in_doubt_since is not None

    @property
    def payload(self) -> Mapping[str, Any]:
        return self.command.payload

    def write(self, sent: dict[str, Any]) -> None:
        """Call right before the attempt's one write, after asking SAP whether an earlier write landed.

        An earlier write in doubt that SAP does not show may still land while SAP works on it: never
        re-send it before `settle` seconds have passed since it was sent (StillInDoubt: ask again later).
        """
        since = self.command.in_doubt_since
        if since is not None and self.now() < since + timedelta(seconds=self.settle):
            raise StillInDoubt(since + timedelta(seconds=self.settle))
        if self.max_attempts is not None and self.command.attempts > self.max_attempts:
            raise Ending(
                Status.DEAD,
                "out_of_attempts",
                f"{self.command.attempts - 1} attempts made; SAP shows no earlier write, none is sent again",
            )
        self.on_send()
        self.sent = sent


@dataclass(frozen=True)
class Applied:
    """SAP has the change: `result` for the status resource, SAP's message, and whether an earlier attempt did it."""

    result: dict[str, Any]
    sap_message: str | None = None
    earlier: bool = False


def apply(attempt: Attempt) -> Applied:
    """Raises Ending (no retry), SapError (classified by the caller) or UserAssertionUnavailable."""
    kind = snapshot.command_type(attempt.command.type)
    snapshot.check_role(kind, attempt.command.role)
    return HANDLERS[kind](attempt)


# -- tasks (as the executive) ----------------------------------------------------------------------


def _tasks(attempt: Attempt, user: str | None = None) -> TasksGateway:
    """The inbox gateway acting as the requester (or `user`), with a fresh short-lived assertion."""
    if attempt.signer is None:
        raise UserAssertionUnavailable(
            "task commands act as the user in SAP and need SAP_USER_ASSERTION_KEY_FILE (a key SAP trusts)"
        )
    name = user or attempt.command.requested_by
    token = attempt.signer.assertion(name, attempt.command.role)
    return attempt.sap.tasks.for_user(Principal(name, token))


def _task_result(task: Task) -> dict[str, Any]:
    return {"task_id": task.task_id, "origin": task.origin, "status": task.status, "processor": task.processor}


def _visible_task(attempt: Attempt, gateway: TasksGateway) -> Task:
    """The task as the requester sees it now; not visible any more means it is not theirs to act on."""
    p = attempt.payload
    try:
        return gateway.get(p["task_id"], p["origin"])
    except SapNotFound as exc:
        raise Ending(
            Status.REJECTED,
            "not_visible",
            f"task {p['task_id']} is not in {attempt.command.requested_by}'s inbox any more: {exc.message}",
        ) from exc


def _decided_elsewhere(task: Task, user: str) -> None:
    if task.status not in OPEN_TASK:
        who = task.processor or "someone else"
        raise Ending(
            Status.CONFLICT,
            "decided_elsewhere",
            f"task {task.task_id} was already {task.status.lower()} by {who}",
            processor=task.processor,
            task_status=task.status,
        )
    if task.status == "RESERVED" and task.processor and not same_user(task.processor, user):
        raise Ending(
            Status.CONFLICT,
            "reserved_elsewhere",
            f"task {task.task_id} is reserved by {task.processor}",
            processor=task.processor,
            task_status=task.status,
        )


def _write_task(attempt: Attempt, function: str, **extra: str) -> None:
    p = attempt.payload
    attempt.write(
        {
            "service": "TASKPROCESSING",
            "function": function,
            "params": {"SAP__Origin": p["origin"], "InstanceID": p["task_id"], **extra},
            "as_user": attempt.command.requested_by,
        }
    )


def decide(attempt: Attempt) -> Applied:
    p, user = attempt.payload, attempt.command.requested_by
    gateway = _tasks(attempt)
    task = _visible_task(attempt, gateway)
    if attempt.retrying and task.status == "COMPLETED" and same_user(task.processor, user):
        # Completed by this user: ours only if SAP's log shows *this* decision (a reject retried after the
        # user approved elsewhere is a conflict, never a success).
        _our_decision(attempt, gateway.decision(p["task_id"], p["origin"]))
        return Applied(_task_result(task), "decided by an earlier attempt", earlier=True)
    _decided_elsewhere(task, user)
    _write_task(attempt, "Decision", DecisionKey=p["decision_key"], Comments=p.get("comments", ""))
    decided = gateway.decide(p["task_id"], p["origin"], p["decision_key"], p.get("comments", ""))
    return Applied(_task_result(decided))


def _our_decision(attempt: Attempt, decision: TaskDecision | None) -> None:
    p, user = attempt.payload, attempt.command.requested_by
    wanted = DECISION_NATURE.get(str(p.get("decision", "")))
    if decision is not None and same_user(decision.performed_by, user) and decision.nature == wanted:
        return
    taken = (
        f"decided by {decision.performed_by} ({decision.result})" if decision else "completed without a decision log"
    )
    raise Ending(
        Status.CONFLICT,
        "decided_elsewhere",
        f"task {p['task_id']} was already {taken}; {p.get('decision', 'the decision')} was not applied",
        processor=decision.performed_by if decision else None,
        decision=decision.result if decision else None,
        task_status="COMPLETED",
    )


def claim(attempt: Attempt) -> Applied:
    p, user = attempt.payload, attempt.command.requested_by
    gateway = _tasks(attempt)
    task = _visible_task(attempt, gateway)
    if attempt.retrying and task.status == "RESERVED" and same_user(task.processor, user):
        return Applied(_task_result(task), "claimed by an earlier attempt", earlier=True)
    _decided_elsewhere(task, user)
    _write_task(attempt, "Claim")
    return Applied(_task_result(gateway.claim(p["task_id"], p["origin"])))


def release_task(attempt: Attempt) -> Applied:
    p, user = attempt.payload, attempt.command.requested_by
    gateway = _tasks(attempt)
    task = _visible_task(attempt, gateway)
    if attempt.retrying and task.status == "READY" and not task.processor:
        return Applied(_task_result(task), "released by an earlier attempt", earlier=True)
    _decided_elsewhere(task, user)
    _write_task(attempt, "Release")
    return Applied(_task_result(gateway.release(p["task_id"], p["origin"])))


def forward(attempt: Attempt) -> Applied:
    p, user = attempt.payload, attempt.command.requested_by
    gateway = _tasks(attempt)
    try:
        task = gateway.get(p["task_id"], p["origin"])
    except SapNotFound:
        # A forwarded task leaves the requester's inbox: ask the recipient whether it arrived, untouched
        # (a recipient who already holds or decided it got it some other way: not ours to claim).
        if attempt.retrying:
            arrived = _tasks(attempt, p["forward_to"]).get(p["task_id"], p["origin"])
            if arrived.status == "READY" and not arrived.processor:
                return Applied(_task_result(arrived), "forwarded by an earlier attempt", earlier=True)
            raise Ending(
                Status.CONFLICT,
                "moved_elsewhere",
                f"task {p['task_id']} left {user}'s inbox but is {arrived.status.lower()} at {p['forward_to']}"
                + (f" (processor {arrived.processor})" if arrived.processor else ""),
                processor=arrived.processor or None,
                task_status=arrived.status,
            ) from None
        raise
    _decided_elsewhere(task, user)
    _write_task(attempt, "Forward", ForwardTo=p["forward_to"])
    return Applied(_task_result(gateway.forward(p["task_id"], p["origin"], p["forward_to"])))


# -- production orders (technical user, on behalf of the plant manager) ---------------------------


def release_order(attempt: Attempt) -> Applied:
    order_id = attempt.payload["order_id"]
    order = attempt.sap.production_orders.get(order_id, with_operations=False, with_status=False)
    snapshot.check_plant(attempt.command.attributes, order.plant)
    if attempt.retrying and order.is_released:
        return Applied({"order_id": order_id, "released": True}, "released by an earlier attempt", earlier=True)
    attempt.write(
        {
            "service": "API_PRODUCTION_ORDER_2_SRV",
            "function": "ReleaseOrder",
            "params": {"ManufacturingOrder": order_id},
            "on_behalf_of": attempt.command.requested_by,
        }
    )
    messages = attempt.sap.production_orders.release(order_id)
    return Applied(
        # `messages` stays SAP's texts, as before; `message_details` adds each one's severity and code.
        {
            "order_id": order_id,
            "released": True,
            "messages": [m.text for m in messages],
            "message_details": messages_result(messages),
        },
        "; ".join(m.text for m in messages if m.text) or None,
    )


def reschedule(attempt: Attempt) -> Applied:
    p = attempt.payload
    order_id = p["order_id"]
    order = attempt.sap.production_orders.get(order_id, with_operations=False, with_status=False)
    snapshot.check_plant(attempt.command.attributes, order.plant)
    wanted = {k: p[k] for k in ("planned_start", "planned_end") if p.get(k)}
    now = {"planned_start": order.planned_start, "planned_end": order.planned_end}
    if attempt.retrying and all(now[k] == v for k, v in wanted.items()):
        # Our PATCH changed the ETag: re-sending the user's If-Match would be a false 412.
        after = attempt.sap.production_orders.get(order_id, with_status=False)
        result = {"order_id": order_id, **now, "operations": operation_dates(after)}
        return Applied(result, "rescheduled by an earlier attempt", earlier=True)
    if not attempt.command.if_match:
        raise Ending(Status.REJECTED, "precondition_required", "reschedule needs the ETag the user saw (If-Match)")
    attempt.write(
        {
            "service": "API_PRODUCTION_ORDER_2_SRV",
            "method": "PATCH",
            "entity": f"A_ProductionOrder_2('{order_id}')",
            "if_match": attempt.command.if_match,
            "changes": wanted,
            "on_behalf_of": attempt.command.requested_by,
        }
    )
    attempt.sap.production_orders.reschedule(order_id, etag=attempt.command.if_match, **wanted)
    return Applied({"order_id": order_id, **wanted, "operations": _operations_after(attempt, order_id)})


def _operations_after(attempt: Attempt, order_id: str) -> list[dict[str, str | None]] | None:
    """Where SAP scheduled the operations after the change; None if SAP cannot say right now. The change is
    applied either way: a failing read after it must not count as the write's failure."""
    try:
        return operation_dates(attempt.sap.production_orders.get(order_id, with_status=False))
    except SapError:
        return None


# -- confirmations (technical user, on behalf of the supervisor) -----------------------------------


def _quantity(raw: Mapping[str, Any] | None) -> Quantity | None:
    return Quantity(Decimal(str(raw["value"])), str(raw["unit"])) if raw else None


def confirm(attempt: Attempt) -> Applied:
    p, command = attempt.payload, attempt.command
    operation = attempt.sap.operations.get(p["order_id"], p["operation"])
    snapshot.check_work_center(command.attributes, operation.plant, operation.work_center)
    # Only when an earlier attempt may have reached SAP: a first attempt (attempts 1, no write in doubt) has
    # nothing to find, because every write is recorded as sent (Store.sending) before it leaves, and
    # attempts only go back to 0 when a dead letter is requeued, whose open doubt is kept (in_doubt_since).
    # SAP then tells by the ExternalSystemConfirmation (the command id) whether that attempt posted it.
    if attempt.retrying:
        earlier = attempt.sap.confirmations.find_by_external_id(command.id)
        if earlier is not None:
            return Applied(_confirmation_result(earlier), "posted by an earlier attempt", earlier=True)
    yield_quantity = _quantity(p["yield_quantity"])
    assert yield_quantity is not None
    scrap_quantity = _quantity(p.get("scrap_quantity"))
    # Again now, not only when the request came in: commands of one order run one at a time, so the
    # quantity still to go read above already counts every confirmation posted before this one.
    snapshot.check_confirmable(
        operation,
        yield_quantity=yield_quantity,
        scrap_quantity=scrap_quantity,
        allow_over_confirmation=attempt.allow_over_confirmation,
    )
    request = ConfirmationRequest(
        order_id=p["order_id"],
        operation=p["operation"],
        sequence=p.get("sequence") or "0",
        yield_quantity=yield_quantity,
        scrap_quantity=scrap_quantity,
        is_final=bool(p.get("is_final")),
        text=p.get("text", ""),
        work_center=operation.work_center,
        plant=operation.plant,
        external_id=command.id,
        variance_reason=p.get("scrap_reason", ""),
    )
    attempt.write(
        {
            "service": "API_PROD_ORDER_CONFIRMATION_2_SRV",
            "create": "ProdnOrdConf2",
            "values": {k: p[k] for k in sorted(p)} | {"ExternalSystemConfirmation": command.id},
            "on_behalf_of": command.requested_by,
        }
    )
    return Applied(_confirmation_result(attempt.sap.confirmations.create(request)))


def cancel_confirmation(attempt: Attempt) -> Applied:
    """CancelProdnOrdConf: SAP posts a reversal; the operation's confirmed quantities go back."""
    p, command = attempt.payload, attempt.command
    group, count = p["confirmation_group"], p["confirmation_count"]
    original = attempt.sap.confirmations.get(group, count)
    snapshot.check_work_center(command.attributes, original.plant, original.work_center)
    if attempt.retrying:  # as for a confirmation: the reversal carries our command id
        earlier = attempt.sap.confirmations.find_by_external_id(command.id)
        if earlier is not None:
            return Applied(_cancellation_result(earlier, p), "cancelled by an earlier attempt", earlier=True)
    if original.is_reversal:
        raise Ending(Status.REJECTED, "not_cancellable", f"confirmation {group}-{count} is itself a cancellation")
    if original.is_reversed:
        raise Ending(Status.CONFLICT, "already_cancelled", f"confirmation {group}-{count} is cancelled already")
    attempt.write(
        {
            "service": "API_PROD_ORDER_CONFIRMATION_2_SRV",
            "function": "CancelProdnOrdConf",
            "params": {
                "ConfirmationGroup": group,
                "ConfirmationCount": count,
                "ExternalSystemConfirmation": command.id,
            },
            "on_behalf_of": command.requested_by,
        }
    )
    reversal = attempt.sap.confirmations.cancel(group, count, text=p.get("text", ""), external_id=command.id)
    return Applied(_cancellation_result(reversal, p))


def _cancellation_result(reversal: Any, payload: Mapping[str, Any]) -> dict[str, Any]:
    return _confirmation_result(reversal) | {
        "cancelled": f"{payload['confirmation_group']}-{payload['confirmation_count']}"
    }


def _confirmation_result(confirmation: Any) -> dict[str, Any]:
    return {
        "confirmation_group": confirmation.confirmation_group,
        "confirmation_count": confirmation.confirmation_count,
        "order_id": confirmation.order_id,
        "operation": confirmation.operation,
        "external_id": confirmation.external_id,
    }


HANDLERS: Mapping[CommandType, Callable[[Attempt], Applied]] = {
    CommandType.TASK_DECISION: decide,
    CommandType.TASK_CLAIM: claim,
    CommandType.TASK_RELEASE: release_task,
    CommandType.TASK_FORWARD: forward,
    CommandType.ORDER_RELEASE: release_order,
    CommandType.ORDER_RESCHEDULE: reschedule,
    CommandType.OPERATION_CONFIRM: confirm,
    CommandType.CONFIRMATION_CANCEL: cancel_confirmation,
}
assert set(HANDLERS) == set(CommandType)
assert USER_COMMANDS <= set(HANDLERS)
