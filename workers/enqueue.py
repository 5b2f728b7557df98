"""Enqueue a stored command's job; the outbox row is the truth, the RQ job only a wake-up call."""

from __future__ import annotations

import uuid

import redis
import structlog
from rq import Queue
from rq.job import Job, JobStatus

from workers import queues

log = structlog.get_logger(__name__)

JOB_FUNCTION = "workers.jobs.apply_command"


def enqueue_command(connection: redis.Redis, command_id: str) -> bool:
    """Enqueue the command's job (its id is the command id, see `_job_id`); False (and a warning) when Redis is
    unreachable.

    A command that could not be enqueued stays `accepted`: the reconciler enqueues it later.
    """
    try:
        _enqueue(connection, command_id)
    except redis.RedisError as exc:
        log.warning("enqueue_failed", command_id=command_id, error=type(exc).__name__)
        return False
    return True


def wake_command(connection: redis.Redis, command_id: str) -> bool:
    """Enqueue the command's job at the front of the queue, unless it waits in the queue already.

    For a command whose turn has come (the one before it in its order ended): it runs next, and a burst that
    queued it already does not get a second job. Raises `redis.RedisError`.
    """
    status = connection.hget(Job.key_for(command_id), "status")
    if (status.decode() if isinstance(status, bytes) else status) == JobStatus.QUEUED.value:
        return False
    _enqueue(connection, command_id, at_front=True)
    return True


def _job_id(connection: redis.Redis, command_id: str) -> str:
    """The command id, unless RQ still holds a job of that id (running, or finishing after it ran): then one of
    its own. RQ would otherwise overwrite the running job's record, the running job's clean-up would delete it,
    and the new job would be skipped unseen (or both would run under one id and RQ log the second as failed)."""
    if not connection.exists(Job.key_for(command_id)):
        return command_id
    return f"{command_id}-{uuid.uuid4().hex[:12]}"


def _enqueue(connection: redis.Redis, command_id: str, at_front: bool = False) -> None:
    # result_ttl=0: the store records the outcome, so RQ forgets a finished job at once (no result to save).
    Queue(queues.WRITEBACKS, connection=connection).enqueue(
        JOB_FUNCTION,
        command_id,
        job_id=_job_id(connection, command_id),
        description=f"writeback {command_id}",
        at_front=at_front,
        result_ttl=0,
    )
