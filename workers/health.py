"""Integration health from the store and the RQ queues: one snapshot for /metrics, the health view and the watchdog."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import redis
from rq import Queue, Worker
from rq.registry import FailedJobRegistry, ScheduledJobRegistry, StartedJobRegistry

from store import ERROR_EVENTS, Status, Store
from workers import queues


@dataclass(frozen=True)
class FlowHealth:
    """One command type: commands by status, its last success, attempt outcomes within the window."""

    type: str
    counts: dict[str, int]  # status -> number of commands
    last_success_at: datetime | None
    outcomes: dict[str, int]  # outcome event -> number within the window

    @property
    def backlog(self) -> int:
        return sum(self.counts.get(status, 0) for status in (Status.ACCEPTED, Status.RUNNING, Status.IN_DOUBT))

    @property
    def dead_letters(self) -> int:
        return self.counts.get(Status.DEAD, 0)

    @property
    def attempts(self) -> int:
        return sum(self.outcomes.values())

    @property
    def errors(self) -> int:
        return sum(n for event, n in self.outcomes.items() if event in ERROR_EVENTS)

    @property
    def error_rate(self) -> float | None:
        return self.errors / self.attempts if self.attempts else None


@dataclass(frozen=True)
class Snapshot:
    """The whole outbox at one moment."""

    at: datetime
    window_seconds: float
    flows: dict[str, FlowHealth]
    waiting: int  # `accepted` commands (first attempt or a scheduled retry)
    oldest_waiting_seconds: float | None
    last_success_at: datetime | None
    dead_letters: int

    @property
    def attempts(self) -> int:
        return sum(flow.attempts for flow in self.flows.values())

    @property
    def errors(self) -> int:
        return sum(flow.errors for flow in self.flows.values())

    @property
    def error_rate(self) -> float | None:
        return self.errors / self.attempts if self.attempts else None

    @property
    def seconds_since_success(self) -> float | None:
        return (self.at - self.last_success_at).total_seconds() if self.last_success_at else None


def snapshot(
    store: Store, window_seconds: float, *, now: datetime | None = None, types: Iterable[str] = ()
) -> Snapshot:
    """Read the store once; `types` are listed even when they have no commands yet."""
    now = now or datetime.now(UTC)
    stats = store.stats(now)
    outcomes = store.attempt_outcomes(now - timedelta(seconds=window_seconds))
    last_success = store.last_success_by_type()
    names = sorted({*types, *(t for _, t in stats.counts), *(t for t, _ in outcomes), *last_success})
    flows = {
        name: FlowHealth(
            type=name,
            counts={status: n for (status, type_), n in stats.counts.items() if type_ == name},
            last_success_at=last_success.get(name),
            outcomes={event: n for (type_, event), n in outcomes.items() if type_ == name},
        )
        for name in names
    }
    return Snapshot(
        at=now,
        window_seconds=window_seconds,
        flows=flows,
        waiting=sum(n for (status, _), n in stats.counts.items() if status == Status.ACCEPTED),
        oldest_waiting_seconds=stats.oldest_waiting_seconds,
        last_success_at=stats.last_success_at,
        dead_letters=sum(n for (status, _), n in stats.counts.items() if status == Status.DEAD),
    )


@dataclass(frozen=True)
class QueueStats:
    name: str
    queued: int
    scheduled: int
    started: int
    failed: int
    workers: int


def queue_stats(connection: redis.Redis, names: Iterable[str] = queues.ALL) -> list[QueueStats]:
    """RQ's view of each queue: jobs waiting, scheduled (retries), in progress, failed, and listening workers."""
    result = []
    for name in names:
        queue = Queue(name, connection=connection)
        result.append(
            QueueStats(
                name=name,
                queued=queue.count,
                scheduled=ScheduledJobRegistry(queue=queue).count,  # type: ignore[no-untyped-call]
                started=StartedJobRegistry(queue=queue).count,
                failed=FailedJobRegistry(queue=queue).count,
                workers=Worker.count(connection=connection, queue=queue),
            )
        )
    return result
