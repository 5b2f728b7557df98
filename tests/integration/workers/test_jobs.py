"""apply_command in-process against a live mock SAP, a real store and the session's Redis."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import structlog

from odata_clients.models import ConfirmationRequest, Quantity
from store import Status
from tests.conftest import MockSap
from tests.integration.workers.conftest import (
    accept,
    clear_faults,
    confirm_command,
    confirmations_with,
    created_order,
    decide_in_sap,
    inbox,
    mock_faults,
    order,
    positive_decision,
    released_operation,
    writes_applied,
)
from workers.bootstrap import WorkerContext
from workers.jobs import apply_command, run


def test_confirmation_is_posted_once_and_audited(context: WorkerContext, trusting_sap: MockSap) -> None:
    operation = released_operation(trusting_sap)
    command = confirm_command(context, operation)

    apply_command(command.id)  # the RQ entry point, on the installed per-process context
    # The worker's own log lines after the job (dequeue, idle) carry none of this job's context.
    assert structlog.contextvars.get_contextvars() == {}

    done = context.store.get(command.id)
    assert done is not None and done.status == Status.SUCCEEDED and done.attempts == 1
    assert done.result is not None and done.result["external_id"] == command.id
    posted = confirmations_with(trusting_sap, command.id)
    assert len(posted) == 1 and posted[0]["OrderID"] == operation["ManufacturingOrder"]

    events = {e.event: e for e in context.store.list_audit(command_id=command.id).items}
    assert set(events) == {"accepted", "attempt_started", "attempt_succeeded"}
    success = events["attempt_succeeded"]
    assert success.actor == context.name and success.on_behalf_of == "SUP_ASSY1010"
    assert success.role == "Supervisor" and success.object == f"ProductionOrder:{operation['ManufacturingOrder']}"
    assert success.correlation_id == command.correlation_id
    assert success.sap_status == 201 and success.duration_ms is not None
    assert success.sent["write"]["create"] == "ProdnOrdConf2"
    assert success.sent["write"]["values"]["ExternalSystemConfirmation"] == command.id
    assert [c["method"] for c in success.sent["calls"]][-1] == "POST"
    assert context.store.verify_chain().ok


def test_retry_after_an_applied_but_unrecorded_attempt_posts_nothing_twice(
    context: WorkerContext, trusting_sap: MockSap
) -> None:
    operation = released_operation(trusting_sap)
    command = confirm_command(context, operation)
    # An earlier attempt posted the confirmation, then its worker died before recording it.
    assert context.store.start_attempt(command.id) is not None
    context.sap.confirmations.create(
        ConfirmationRequest(
            order_id=operation["ManufacturingOrder"],
            operation=operation["ManufacturingOrderOperation"],
            yield_quantity=Quantity(Decimal("1"), operation["OperationUnit"]),
            external_id=command.id,
        )
    )
    reclaimed = context.store.reconcile(command.id, accepted_older_than=timedelta(0), running_older_than=timedelta(0))
    assert reclaimed is not None and reclaimed.status == Status.ACCEPTED
    before = writes_applied(trusting_sap)

    done = run(context, command.id)

    assert done is not None and done.status == Status.SUCCEEDED
    assert done.result is not None and done.result["applied_by_earlier_attempt"] is True
    assert writes_applied(trusting_sap) == before
    assert done.attempts == 2
    assert len(confirmations_with(trusting_sap, command.id)) == 1


def test_order_release(context: WorkerContext, trusting_sap: MockSap) -> None:
    target = created_order(trusting_sap)
    order_id = target["ManufacturingOrder"]
    command = accept(
        context,
        "order.release",
        {"order_id": order_id, "plant": target["ProductionPlant"]},
        user="PM_1010",
        role="PlantManager",
        target=("ProductionOrder", order_id),
        attributes={"Plant": [target["ProductionPlant"]]},
    )
    done = run(context, command.id)
    assert done is not None and done.status == Status.SUCCEEDED, done
    assert order(trusting_sap, order_id)["OrderIsReleased"] == "X"


def _reschedule(context: WorkerContext, sap: MockSap, if_match: str) -> tuple[Any, str]:
    operation = released_operation(sap)
    order_id = operation["ManufacturingOrder"]
    command = accept(
        context,
        "order.reschedule",
        {"order_id": order_id, "plant": "1010", "planned_start": "2031-03-03", "planned_end": "2031-03-10"},
        user="PM_1010",
        role="PlantManager",
        target=("ProductionOrder", order_id),
        attributes={"Plant": ["1010"]},
        if_match=if_match or order(sap, order_id)["__metadata"]["etag"],
    )
    return command, order_id


def test_reschedule_with_the_current_etag(context: WorkerContext, trusting_sap: MockSap) -> None:
    command, order_id = _reschedule(context, trusting_sap, "")
    done = run(context, command.id)
    assert done is not None and done.status == Status.SUCCEEDED, done
    changed = context.sap.production_orders.get(order_id, with_operations=False, with_status=False)
    assert (changed.planned_start, changed.planned_end) == ("2031-03-03", "2031-03-10")
    operations = done.result.pop("operations")
    assert done.result == {"order_id": order_id, "planned_start": "2031-03-03", "planned_end": "2031-03-10"}
    # Where SAP scheduled the operations anew: as SAP shows them now, each inside the new dates.
    after = context.sap.production_orders.get(order_id, with_status=False)
    assert operations == [
        {"operation": op.operation, "scheduled_start": op.earliest_start, "scheduled_end": op.earliest_end}
        for op in after.operations
    ]
    assert operations and all(op["scheduled_start"] >= "2031-03-03" for op in operations)


def test_stale_etag_is_a_conflict_with_sap_message_and_no_retry(context: WorkerContext, trusting_sap: MockSap) -> None:
    command, order_id = _reschedule(context, trusting_sap, "W/\"'20000101000000'\"")
    before = order(trusting_sap, order_id)

    done = run(context, command.id)

    assert done is not None and done.status == Status.CONFLICT and done.attempts == 1
    assert done.next_attempt_at is None
    assert done.last_error is not None and done.last_error["status"] == 412 and done.last_error["message"]
    assert order(trusting_sap, order_id)["MfgOrderPlannedStartDate"] == before["MfgOrderPlannedStartDate"]
    assert run(context, command.id) is None  # a duplicate job changes nothing
    conflict = next(e for e in context.store.list_audit(command_id=command.id).items if e.event == "conflict")
    assert conflict.sap_status == 412 and conflict.sap_message == done.last_error["message"]
    assert [e.event for e in context.store.list_audit(command_id=command.id).items].count("attempt_started") == 1


def _task_command(context: WorkerContext, type: str, task: dict[str, Any], user: str, **payload: str) -> Any:
    return accept(
        context,
        type,
        {"origin": task["SAP__Origin"], "task_id": task["InstanceID"], **payload},
        user=user,
        role="Executive",
        target=("Task", f"{task['SAP__Origin']}~{task['InstanceID']}"),
    )


def test_decision_is_made_as_the_executive(context: WorkerContext, trusting_sap: MockSap) -> None:
    task = inbox(trusting_sap, "EXEC_ANNA")[0]
    key = positive_decision(trusting_sap, "EXEC_ANNA", task)
    command = _task_command(
        context, "task.decision", task, "EXEC_ANNA", decision_key=key, decision="approve", comments="ok"
    )
    done = run(context, command.id)
    assert done is not None and done.status == Status.SUCCEEDED, done
    assert done.result is not None and done.result["status"] == "COMPLETED" and done.result["processor"] == "EXEC_ANNA"
    assert task["InstanceID"] not in {t["InstanceID"] for t in inbox(trusting_sap, "EXEC_ANNA")}
    success = context.store.list_audit(command_id=command.id).items[0]
    assert {c["auth"] for c in success.sent["calls"]} == {"user_propagation"}
    assert {c["on_behalf_of"] for c in success.sent["calls"]} == {"EXEC_ANNA"}


def test_claim_then_release_then_forward(context: WorkerContext, trusting_sap: MockSap) -> None:
    task = inbox(trusting_sap, "EXEC_BEN")[0]
    for type in ("task.claim", "task.release"):
        done = run(context, _task_command(context, type, task, "EXEC_BEN").id)
        assert done is not None and done.status == Status.SUCCEEDED, done
    forwarded = run(context, _task_command(context, "task.forward", task, "EXEC_BEN", forward_to="EXEC_CARLA").id)
    assert forwarded is not None and forwarded.status == Status.SUCCEEDED, forwarded
    assert task["InstanceID"] in {t["InstanceID"] for t in inbox(trusting_sap, "EXEC_CARLA")}


def test_business_error_is_rejected_with_sap_message(context: WorkerContext, trusting_sap: MockSap) -> None:
    task = inbox(trusting_sap, "EXEC_CARLA")[0]
    command = _task_command(context, "task.forward", task, "EXEC_CARLA", forward_to="NOBODY")
    done = run(context, command.id)
    assert done is not None and done.status == Status.REJECTED and done.attempts == 1
    assert done.last_error is not None and "NOBODY does not exist" in done.last_error["message"]
    assert done.last_error["code"] == "SWF_RUN_WIM/020"


def test_task_decided_by_the_co_approver_first_is_a_conflict(context: WorkerContext, trusting_sap: MockSap) -> None:
    anna = {t["InstanceID"]: t for t in inbox(trusting_sap, "EXEC_ANNA")}
    shared = next(t for t in inbox(trusting_sap, "EXEC_DAN") if t["InstanceID"] in anna)
    key = positive_decision(trusting_sap, "EXEC_ANNA", shared)
    command = _task_command(context, "task.decision", shared, "EXEC_ANNA", decision_key=key, decision="approve")
    decide_in_sap(trusting_sap, "EXEC_DAN", shared, key)
    before = writes_applied(trusting_sap)

    done = run(context, command.id)

    assert done is not None and done.status == Status.CONFLICT
    assert done.last_error is not None and "EXEC_DAN" in done.last_error["message"]
    assert writes_applied(trusting_sap) == before


def test_transient_503_is_retried_later_then_succeeds(context: WorkerContext, trusting_sap: MockSap) -> None:
    operation = released_operation(trusting_sap)
    command = confirm_command(context, operation)
    mock_faults(trusting_sap, service="*", status=503)

    failed = run(context, command.id)
    assert failed is not None and failed.status == Status.ACCEPTED and failed.attempts == 1
    assert failed.next_attempt_at is not None and failed.next_attempt_at > failed.updated_at
    assert failed.last_error is not None and failed.last_error["status"] == 503
    events = [e.event for e in context.store.list_audit(command_id=command.id).items]
    assert events[:2] == ["retry_scheduled", "attempt_failed"]

    clear_faults(trusting_sap)
    context.sap.technical_http.breaker.record_success()  # the 503s may have opened the breaker
    done = run(context, command.id)
    assert done is not None and done.status == Status.SUCCEEDED and done.attempts == 2
    assert len(confirmations_with(trusting_sap, command.id)) == 1


def test_out_of_retries_is_dead(context: WorkerContext, trusting_sap: MockSap) -> None:
    command = confirm_command(context, released_operation(trusting_sap))
    mock_faults(trusting_sap, service="*", status=503)
    outcomes = [run(context, command.id) for _ in range(context.retry.max_attempts)]
    assert [o.status for o in outcomes if o] == [Status.ACCEPTED] * (context.retry.max_attempts - 1) + [Status.DEAD]
    dead = context.store.get(command.id)
    assert dead is not None and dead.attempts == context.retry.max_attempts and dead.last_error is not None
    assert run(context, command.id) is None


def test_snapshot_no_longer_matching_is_rejected_without_writing(context: WorkerContext, trusting_sap: MockSap) -> None:
    operation = released_operation(trusting_sap)
    command = confirm_command(context, operation, attributes={"Plant": ["1020"], "WorkCenter": ["ASSY1020"]})
    before = writes_applied(trusting_sap)
    done = run(context, command.id)
    assert done is not None and done.status == Status.REJECTED
    assert done.last_error is not None and done.last_error["code"] == "out_of_scope"
    assert writes_applied(trusting_sap) == before
    assert confirmations_with(trusting_sap, command.id) == []


def test_role_not_matching_the_command_is_rejected(context: WorkerContext, trusting_sap: MockSap) -> None:
    command = confirm_command(context, released_operation(trusting_sap), role="PlantManager")
    done = run(context, command.id)
    assert done is not None and done.status == Status.REJECTED
    assert done.last_error is not None and done.last_error["code"] == "role_mismatch"


def test_busy_order_waits_without_counting_an_attempt(context: WorkerContext, trusting_sap: MockSap) -> None:
    operation = released_operation(trusting_sap)
    first = confirm_command(context, operation)
    second = confirm_command(context, operation)
    assert context.store.start_attempt(first.id) is not None  # another worker is applying the first

    assert run(context, second.id) is None
    waiting = context.store.get(second.id)
    assert waiting is not None and waiting.status == Status.ACCEPTED and waiting.attempts == 0
    assert confirmations_with(trusting_sap, second.id) == []
