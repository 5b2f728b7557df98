"""A worker applies the commands of one order in accept order, and the attempt that ends one wakes the next."""

from __future__ import annotations

from rq import Queue
from rq.job import Job, JobStatus

from store import Status
from tests.conftest import MockSap
from tests.integration.workers.conftest import confirm_command, confirmations_with, flush, released_operation
from workers import queues
from workers.bootstrap import WorkerContext
from workers.enqueue import enqueue_command
from workers.jobs import run


def _queued(context: WorkerContext) -> list[str]:
    return list(Queue(queues.WRITEBACKS, connection=context.redis).job_ids)


def test_a_later_command_waits_for_the_older_one_and_is_woken_when_it_ends(
    context: WorkerContext, trusting_sap: MockSap
) -> None:
    operation = released_operation(trusting_sap)
    first = confirm_command(context, operation)
    second = confirm_command(context, operation)
    other = confirm_command(context, released_operation(trusting_sap, skip=40))
    enqueue_command(context.redis, other.id)

    assert run(context, second.id) is None  # its job came first, but the older command goes first
    waiting = context.store.get(second.id)
    assert waiting is not None and waiting.status == Status.ACCEPTED and waiting.attempts == 0
    assert confirmations_with(trusting_sap, second.id) == []

    done = run(context, first.id)
    assert done is not None and done.status == Status.SUCCEEDED
    assert _queued(context) == [second.id, other.id]  # woken at the front of the queue

    done = run(context, second.id)
    assert done is not None and done.status == Status.SUCCEEDED


def test_a_command_already_in_the_queue_is_not_queued_twice(context: WorkerContext, trusting_sap: MockSap) -> None:
    operation = released_operation(trusting_sap)
    first = confirm_command(context, operation)
    second = confirm_command(context, operation)
    flush(context)
    enqueue_command(context.redis, second.id)  # a burst queued it already

    done = run(context, first.id)

    assert done is not None and done.status == Status.SUCCEEDED
    assert _queued(context) == [second.id]


def test_a_wake_up_while_the_commands_earlier_job_is_still_finishing_is_not_lost(
    context: WorkerContext, trusting_sap: MockSap
) -> None:
    """The scale-out test's find: the earlier job (it found the order busy) was still in RQ's hands when the command
    was woken; a new job under the same id had its record deleted by that job's clean-up and was skipped unseen."""
    operation = released_operation(trusting_sap)
    first = confirm_command(context, operation)
    second = confirm_command(context, operation)
    flush(context)
    context.redis.hset(Job.key_for(second.id), "status", JobStatus.STARTED.value)  # still finishing

    done = run(context, first.id)  # wakes the second
    context.redis.delete(Job.key_for(second.id))  # the earlier job's clean-up (result_ttl=0)

    assert done is not None and done.status == Status.SUCCEEDED
    [queued] = _queued(context)
    job = Queue(queues.WRITEBACKS, connection=context.redis).fetch_job(queued)
    assert job is not None and job.args == (second.id,)  # a job of its own, which a worker will run
