"""Exactly once and truthful under subtle faults: a slow SAP, a lost answer, racing confirmations, bad credentials.

Real worker processes, a real Redis, the mock SAP with its fault injection; every count is read back from SAP.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from odata_clients.models import ConfirmationRequest, Quantity
from store import Command, Status
from tests.conftest import MockSap
from tests.e2e.writeback_env import Workers, poll, workers
from tests.integration.workers.conftest import (
    PRODORD,
    clear_faults,
    confirm_payload,
    confirmations_with,
    decide_in_sap,
    decision_key,
    inbox,
    mock_faults,
    released_operation,
    sap_get,
    supervisor_attributes,
)
from workers.enqueue import enqueue_command

__all__ = ["workers"]
CONFIRMATION_SERVICE = "API_PROD_ORDER_CONFIRMATION_2_SRV"
INBOX_SERVICE = "TASKPROCESSING"
SETTLE = 6.0
# The worker gives up on SAP's answer after 1 s, asks SAP every second while a write is in doubt, and re-sends
# a write SAP still does not show only SETTLE seconds after it was sent.
IN_DOUBT_WORKER = {"SAP_READ_TIMEOUT": "1", "WRITEBACK_IN_DOUBT_SETTLE": str(SETTLE), "WRITEBACK_IN_DOUBT_CHECK": "1"}


def _events(workers: Workers, command_id: str) -> list[Any]:
    return list(reversed(workers.context.store.list_audit(command_id=command_id, limit=200).items))


def _operation_now(sap: MockSap, operation: dict[str, Any]) -> dict[str, Any]:
    rows = sap_get(
        sap,
        f"{PRODORD}/A_ProductionOrderOperation_2",
        **{
            "$filter": f"ManufacturingOrder eq '{operation['ManufacturingOrder']}' and "
            f"ManufacturingOrderOperation eq '{operation['ManufacturingOrderOperation']}'"
        },
    )["results"]
    assert rows
    return dict(rows[0])


def test_a_confirmation_sap_answers_after_the_timeout_is_posted_exactly_once(
    workers: Workers, trusting_sap: MockSap
) -> None:
    # SAP takes 4 s to post (and answer) the confirmation; the worker stops waiting after 1 s.
    mock_faults(trusting_sap, service=CONFIRMATION_SERVICE, methods=["POST"], latency_ms=4000)
    command = workers.confirm(released_operation(trusting_sap, skip=30))
    workers.start(**IN_DOUBT_WORKER)

    in_doubt = poll(
        lambda: (c := workers.context.store.get(command.id)) is not None and c.status == Status.IN_DOUBT and c,
        30,
        "the confirmation to be in doubt after the read timeout",
        interval=0.1,
    )
    assert in_doubt.in_doubt_since is not None and in_doubt.last_error is not None
    assert in_doubt.last_error["kind"] == "timeout" and in_doubt.last_error["may_have_applied"] is True

    done = workers.ended(command.id)
    assert done.status == Status.SUCCEEDED
    assert done.result is not None and done.result["applied_by_earlier_attempt"] is True
    assert len(confirmations_with(trusting_sap, command.id)) == 1
    events = [e.event for e in _events(workers, command.id)]
    assert "in_doubt" in events and events[-1] == "attempt_succeeded"
    # SAP showed it before the settle time was up: reported as soon as SAP had it, not after SETTLE.
    sent_at = datetime.fromisoformat(
        next(e.detail["write_sent_at"] for e in _events(workers, command.id) if e.event == "in_doubt")
    )
    assert (done.finished_at - sent_at).total_seconds() < SETTLE  # type: ignore[operator]
    assert workers.context.store.verify_chain().ok


def test_a_write_lost_before_sap_saw_it_is_resent_only_after_the_settle_time(
    workers: Workers, trusting_sap: MockSap
) -> None:
    # The connection drops before SAP processes the POST: SAP never has it, but we cannot know that.
    mock_faults(trusting_sap, service=CONFIRMATION_SERVICE, methods=["POST"], drop=True)
    command = workers.confirm(released_operation(trusting_sap, skip=31))
    workers.start(**IN_DOUBT_WORKER)
    poll(
        lambda: (c := workers.context.store.get(command.id)) is not None and c.status == Status.IN_DOUBT,
        30,
        "the confirmation to be in doubt after the dropped connection",
    )
    clear_faults(trusting_sap)

    done = workers.ended(command.id)
    assert done.status == Status.SUCCEEDED
    assert done.result is not None and "applied_by_earlier_attempt" not in done.result
    assert len(confirmations_with(trusting_sap, command.id)) == 1
    events = _events(workers, command.id)
    doubts = [e for e in events if e.event == "in_doubt"]
    assert doubts[0].detail["asked_only"] is False  # the lost write
    assert any(e.detail["asked_only"] for e in doubts[1:])  # SAP asked, nothing there yet, not re-sent
    sent_at = datetime.fromisoformat(doubts[0].detail["write_sent_at"])
    succeeded_at = next(e.at for e in events if e.event == "attempt_succeeded")
    assert (succeeded_at - sent_at).total_seconds() >= SETTLE


def test_a_confirmation_applied_but_unanswered_succeeds_as_soon_as_sap_shows_it(
    workers: Workers, trusting_sap: MockSap
) -> None:
    # SAP posts the confirmation, then the connection drops before the answer.
    mock_faults(trusting_sap, service=CONFIRMATION_SERVICE, methods=["POST"], phase="after", drop=True)
    command = workers.confirm(released_operation(trusting_sap, skip=35))
    workers.start(**IN_DOUBT_WORKER)
    done = workers.ended(command.id)
    assert done.status == Status.SUCCEEDED
    assert done.result is not None and done.result["applied_by_earlier_attempt"] is True
    assert len(confirmations_with(trusting_sap, command.id)) == 1
    events = _events(workers, command.id)
    sent_at = datetime.fromisoformat(next(e.detail["write_sent_at"] for e in events if e.event == "in_doubt"))
    assert (done.finished_at - sent_at).total_seconds() < SETTLE  # type: ignore[operator]


def _decision_command(workers: Workers, task: dict[str, Any], user: str, decision: str, key: str) -> Command:
    return workers.submit(
        "task.decision",
        {
            "origin": task["SAP__Origin"],
            "task_id": task["InstanceID"],
            "decision_key": key,
            "decision": decision,
            "comments": "not in this quarter's budget" if decision == "reject" else "",
        },
        requested_by=user,
        role="Executive",
        target_type="Task",
        target_id=f"{task['SAP__Origin']}~{task['InstanceID']}",
    )


def _decisions_in_sap(sap: MockSap, user: str, task: dict[str, Any]) -> list[str]:
    logs = sap_get(
        sap,
        f"/sap/opu/odata/IWPGW/TASKPROCESSING;mo;v=2/TaskCollection(SAP__Origin='{task['SAP__Origin']}',"
        f"InstanceID='{task['InstanceID']}')/WorkflowLogs",
        auth=(user, "user-pass-1"),
    )["results"]
    return [str(entry["Result"]) for entry in logs if entry["ResultType"]]


def test_a_reject_retried_after_the_user_approved_in_sap_ends_conflict_never_succeeded(
    workers: Workers, trusting_sap: MockSap
) -> None:
    task = inbox(trusting_sap, "EXEC_BEN")[3]
    reject = decision_key(trusting_sap, "EXEC_BEN", task, "NEGATIVE")
    # The reject never reaches SAP (the connection drops before SAP reads it) ...
    mock_faults(trusting_sap, service=INBOX_SERVICE, methods=["POST"], drop=True)
    command = _decision_command(workers, task, "EXEC_BEN", "reject", reject)
    workers.start(**IN_DOUBT_WORKER)
    poll(
        lambda: (c := workers.context.store.get(command.id)) is not None and c.status == Status.IN_DOUBT,
        30,
        "the reject to be in doubt",
    )
    clear_faults(trusting_sap)
    # ... and meanwhile the same executive approves the task in SAP's own inbox.
    decide_in_sap(trusting_sap, "EXEC_BEN", task, decision_key(trusting_sap, "EXEC_BEN", task, "POSITIVE"))

    done = workers.ended(command.id)
    assert done.status == Status.CONFLICT and done.last_error is not None
    assert done.last_error["decision"] == "Approve" and "EXEC_BEN" in done.last_error["message"]
    assert "reject was not applied" in done.last_error["message"]
    assert _decisions_in_sap(trusting_sap, "EXEC_BEN", task) == ["Approve"]


def test_a_reject_applied_but_unanswered_succeeds_because_sap_shows_that_reject(
    workers: Workers, trusting_sap: MockSap
) -> None:
    task = inbox(trusting_sap, "EXEC_BEN")[4]
    reject = decision_key(trusting_sap, "EXEC_BEN", task, "NEGATIVE")
    mock_faults(trusting_sap, service=INBOX_SERVICE, methods=["POST"], phase="after", drop=True)
    command = _decision_command(workers, task, "EXEC_BEN", "reject", reject)
    workers.start(**IN_DOUBT_WORKER)
    done = workers.ended(command.id)
    assert done.status == Status.SUCCEEDED
    assert done.result is not None and done.result["applied_by_earlier_attempt"] is True
    assert _decisions_in_sap(trusting_sap, "EXEC_BEN", task) == ["Reject"]


def test_ten_concurrent_confirmations_with_three_to_go_confirm_three(workers: Workers, trusting_sap: MockSap) -> None:
    operation = released_operation(trusting_sap, skip=32)
    to_go = Decimal(operation["OpPlannedTotalQuantity"]) - Decimal(operation["OpTotalConfirmedYieldQty"])
    assert to_go > 3
    # Leave exactly 3 to go, confirmed in SAP directly (as another app would).
    workers.context.sap.confirmations.create(
        ConfirmationRequest(
            order_id=operation["ManufacturingOrder"],
            operation=operation["ManufacturingOrderOperation"],
            sequence=operation["ManufacturingOrderSequence"],
            yield_quantity=Quantity(to_go - 3, operation["OperationUnit"]),
            scrap_quantity=None,
            is_final=False,
            text="elsewhere",
            work_center=operation["WorkCenter"],
            plant=operation["ProductionPlant"],
            external_id=str(uuid.uuid4()),
        )
    )
    confirmed_before = Decimal(_operation_now(trusting_sap, operation)["OpTotalConfirmedYieldQty"])

    ids = [workers.confirm(operation).id for _ in range(10)]  # each was fine when accepted: 1 <= 3 to go
    workers.start()
    workers.start()
    ended = [workers.ended(i) for i in ids]

    assert sorted(c.status.value for c in ended) == ["conflict"] * 7 + ["succeeded"] * 3
    assert sum(len(confirmations_with(trusting_sap, i)) for i in ids) == 3
    after = Decimal(_operation_now(trusting_sap, operation)["OpTotalConfirmedYieldQty"])
    assert after - confirmed_before == 3
    conflict = next(c for c in ended if c.status == Status.CONFLICT)
    assert conflict.last_error is not None and conflict.last_error["code"] == "no_longer_confirmable"
    assert "still to go" in conflict.last_error["message"]


def test_scrap_is_bounded_like_yield_at_apply_time(workers: Workers, trusting_sap: MockSap) -> None:
    operation = released_operation(trusting_sap, skip=33)
    to_go = Decimal(operation["OpPlannedTotalQuantity"]) - Decimal(operation["OpTotalConfirmedYieldQty"])
    payload = confirm_payload(operation, "1")
    payload["scrap_quantity"] = {"value": str(to_go), "unit": operation["OperationUnit"]}
    command = workers.submit(
        "operation.confirm",
        payload,
        requested_by="SUP_" + operation["WorkCenter"],
        role="Supervisor",
        target_type="ProductionOrder",
        target_id=operation["ManufacturingOrder"],
        attributes=supervisor_attributes(operation),
    )
    workers.start()
    done = workers.ended(command.id)
    assert done.status == Status.CONFLICT and done.last_error is not None
    assert "together are more than" in done.last_error["message"]
    assert confirmations_with(trusting_sap, command.id) == []


def test_sap_refusing_our_credentials_dead_letters_the_write_for_an_admin_to_retry(
    workers: Workers, trusting_sap: MockSap
) -> None:
    mock_faults(trusting_sap, service=CONFIRMATION_SERVICE, methods=["POST"], status=401)
    command = workers.confirm(released_operation(trusting_sap, skip=34))
    workers.start()
    dead = workers.ended(command.id)
    assert dead.status == Status.DEAD and dead.attempts == 1
    assert dead.last_error is not None and dead.last_error["kind"] == "auth" and dead.last_error["status"] == 401
    assert confirmations_with(trusting_sap, command.id) == []

    # The credentials are fixed; the admin requeues the dead letter and it goes through once.
    clear_faults(trusting_sap)
    requeued = workers.context.store.requeue(command.id, admin="OPS_ADMIN")
    assert enqueue_command(workers.context.redis, requeued.id)
    done = workers.ended(command.id)
    assert done.status == Status.SUCCEEDED
    assert len(confirmations_with(trusting_sap, command.id)) == 1
