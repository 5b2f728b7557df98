"""Enqueue a stored command's job; the outbox row is the truth, the RQ job only a wake-up call."""

from __future__ import annotations

import redis
import structlog
from rq import Queue

from workers import queues

log = structlog.get_logger(__name__)

JOB_FUNCTION = "workers.jobs.apply_command"


def enqueue_command(connection: redis.Redis, command_id: str) -> bool:
    """Enqueue the job whose id is the command id; False (and a warning) when Redis is unreachable.

    A command that could not be enqueued stays `accepted`: the reconciler enqueues it later.
    """
    try:
        Queue(queues.WRITEBACKS, connection=connection).enqueue(
            JOB_FUNCTION, command_id, job_id=command_id, description=f"writeback {command_id}"
        )
    except redis.RedisError as exc:
        log.warning("enqueue_failed", command_id=command_id, error=type(exc).__name__)
        return False
    return True
