"""Hands each notification on the bus to the delivery planners (Web Push, webhooks) once across all workers.

A Redis consumer group: every worker reads from the same group, so an entry goes to one of them; it is
acknowledged only after every planner took it, and one left pending by a worker that died is claimed by
another after `CLAIM_AFTER`. Planners must be idempotent (a claimed entry is planned again).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import redis
import structlog

from notifications.bus import EventBus, Published, parse_entries, text
from runtime.settings import Settings
from workers.bootstrap import WorkerContext

log = structlog.get_logger(__name__)

GROUP = "dispatch"
CLAIM_AFTER_MS = 60_000  # a pending entry this old belongs to a worker that died
BLOCK_MS = 2_000
BATCH = 50
BACKLOG_CAP = 10_000  # events counted by the metric at most (a scrape must stay cheap)

Planner = Callable[[WorkerContext, Published], None]


def default_planners() -> tuple[Planner, ...]:
    from workers.push import plan_push
    from workers.webhooks import plan_webhooks

    return (plan_push, plan_webhooks)


def dispatch_backlog(connection: redis.Redis, settings: Settings) -> tuple[int, float]:
    """(events not yet handed to any worker, age in seconds of the oldest of them); (0, 0) before any worker ran.

    Counted from the group's last delivered id, not XINFO's `lag`, which Redis leaves empty whenever it cannot
    tell (after trimming, for one); at most BACKLOG_CAP are counted.
    """
    key = EventBus(connection, retain=settings.events_retain).key
    try:
        groups: Any = connection.xinfo_groups(key)
    except redis.ResponseError:  # no stream yet
        return 0, 0.0
    group = next((g for g in groups if text(g.get("name")) == GROUP), None)
    if group is None:
        return 0, 0.0
    waiting: Any = connection.xrange(key, min=f"({text(group['last-delivered-id'])}", count=BACKLOG_CAP)
    if not waiting:
        return 0, 0.0
    oldest = max(0.0, time.time() - int(text(waiting[0][0]).partition("-")[0]) / 1000)
    return len(waiting), oldest


class Dispatcher:
    """One pass at a time: claim what dead workers left, read what is new, plan it, acknowledge it."""

    def __init__(self, context: WorkerContext, planners: Sequence[Planner], *, block_ms: int = BLOCK_MS) -> None:
        self.context = context
        self.planners = tuple(planners)
        self.key = context.bus.key
        self.block_ms = block_ms
        self._group_ready = False

    def _ensure_group(self, start: str = "$") -> None:
        if self._group_ready:
            return
        try:
            # "$": a new group starts with what is published from now on, not the retained history.
            self.context.redis.xgroup_create(self.key, GROUP, id=start, mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._group_ready = True

    def pass_once(self) -> int:
        """Entries planned in this pass (claimed and new). Raises redis.RedisError."""
        self._ensure_group()
        try:
            return self._pass()
        except redis.ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            # Redis came back empty (no persistence): the group is gone. Made again from the start of the new
            # stream, so what was published since the restart is still planned.
            log.warning("notification_dispatch_group_recreated")
            self._group_ready = False
            self._ensure_group(start="0")
            return 0

    def _pass(self) -> int:
        connection, consumer = self.context.redis, self.context.name
        reply: Any = connection.xautoclaim(self.key, GROUP, consumer, CLAIM_AFTER_MS, "0-0", count=BATCH)
        claimed = reply[1]  # [next start id, entries, deleted ids]
        fresh: Any = connection.xreadgroup(GROUP, consumer, {self.key: ">"}, count=BATCH, block=self.block_ms)
        entries = list(parse_entries(claimed)) + [p for _, batch in fresh or () for p in parse_entries(batch)]
        for published in entries:
            if self._plan(published):
                connection.xack(self.key, GROUP, published.id)
        return len(entries)

    def _plan(self, published: Published) -> bool:
        ok = True
        for planner in self.planners:
            try:
                planner(self.context, published)
            except Exception as exc:  # left pending: claimed again after CLAIM_AFTER_MS
                ok = False
                log.warning(
                    "notification_not_planned",
                    planner=getattr(planner, "__name__", repr(planner)),
                    event_id=published.id,
                    error=f"{type(exc).__name__}: {exc}",
                )
        return ok


class DispatcherThread(threading.Thread):
    """Runs the dispatcher until stopped; Redis or database errors are logged and retried after a pause."""

    def __init__(self, context: WorkerContext, planners: Sequence[Planner] | None = None) -> None:
        super().__init__(name="notification-dispatcher", daemon=True)
        self.dispatcher = Dispatcher(context, planners if planners is not None else default_planners())
        self._stopping = threading.Event()

    def run(self) -> None:
        pause = 1.0
        while not self._stopping.is_set():
            try:
                self.dispatcher.pass_once()
                pause = 1.0
            except Exception as exc:
                log.warning("notification_dispatch_failed", error=f"{type(exc).__name__}: {exc}")
                self._stopping.wait(pause)
                pause = min(pause * 2, 30.0)

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        self.join(timeout)
