"""The reconciler against a real store and Redis: due retries, lost jobs and dead workers."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

from rq import Queue

from store import Status
from tests.conftest import MockSap
from tests.integration.workers.conftest import accept, confirm_payload, released_operation, supervisor_attributes
from workers import queues
from workers.bootstrap import WorkerContext
from workers.reconciler import reconcile_once


def _command(context: WorkerContext, sap: MockSap) -> str:
    operation = released_operation(sap)
    return accept(
        context,
        "operation.confirm",
        confirm_payload(operation),
        user="SUP_ASSY1010",
        role="Supervisor",
        target=("ProductionOrder", operation["ManufacturingOrder"]),
        attributes=supervisor_attributes(operation),
    ).id


def _queued(context: WorkerContext) -> list[str]:
    return Queue(queues.WRITEBACKS, connection=context.redis).get_job_ids()


def _patient(context: WorkerContext) -> WorkerContext:
    """A reconciler that only calls accepted commands stranded after a minute, running ones after ten."""
    settings = context.settings.replace(reconcile_accepted_after=60.0, worker_heartbeat_interval=400.0)
    return dataclasses.replace(context, settings=settings)


def test_a_due_retry_is_enqueued_under_the_command_id(context: WorkerContext, trusting_sap: MockSap) -> None:
    command_id = _command(context, trusting_sap)
    context.store.start_attempt(command_id)
    context.store.fail_transient(
        command_id, error={"status": 503, "message": "down"}, next_attempt_at=datetime.now(UTC) - timedelta(seconds=1)
    )
    patient = _patient(context)

    assert reconcile_once(patient) == 1
    assert _queued(context) == [command_id]
    claimed = context.store.get(command_id)
    assert claimed is not None and claimed.status == Status.ACCEPTED and claimed.next_attempt_at is None
    assert reconcile_once(patient) == 0  # claimed once; the job is waiting in the queue


def test_a_retry_not_yet_due_and_a_fresh_command_are_left_alone(context: WorkerContext, trusting_sap: MockSap) -> None:
    later = _command(context, trusting_sap)
    context.store.start_attempt(later)
    context.store.fail_transient(later, error={"status": 503}, next_attempt_at=datetime.now(UTC) + timedelta(minutes=5))
    _command(context, trusting_sap)  # just accepted: its job is on its way
    assert reconcile_once(_patient(context)) == 0
    assert _queued(context) == []


def test_a_lost_job_is_enqueued_again(context: WorkerContext, trusting_sap: MockSap) -> None:
    command_id = _command(context, trusting_sap)  # accepted, never enqueued (as after a Redis flush)
    assert reconcile_once(context) == 1  # this context counts accepted commands stranded at once
    assert _queued(context) == [command_id]


def test_a_dead_workers_command_is_reclaimed(context: WorkerContext, trusting_sap: MockSap) -> None:
    command_id = _command(context, trusting_sap)
    context.store.start_attempt(command_id)
    assert reconcile_once(_patient(context)) == 0  # running, and not for long
    impatient = dataclasses.replace(context, settings=context.settings.replace(worker_heartbeat_interval=0.0))
    assert reconcile_once(impatient) == 1
    reclaimed = context.store.get(command_id)
    assert reclaimed is not None and reclaimed.status == Status.ACCEPTED and reclaimed.attempts == 1
    assert _queued(context) == [command_id]
