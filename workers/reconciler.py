"""The reconciler: wakes commands whose retry is due and re-enqueues those a lost job or a dead worker stranded."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import structlog

from store import Status
from workers.bootstrap import WorkerContext
from workers.enqueue import enqueue_command
from workers.heartbeat import reclaim_period, stale_after
from workers.webhooks import enqueue_due_deliveries

log = structlog.get_logger(__name__)

ACTOR = "reconciler"
BATCH = 500
# "Never" for the running-command half of a pass that only looks at due retries.
NEVER = timedelta(days=36500)


def reconcile_once(context: WorkerContext, *, reclaim_running: bool = True) -> int:
    """One pass; returns how many jobs it enqueued, writeback commands and webhook deliveries together. Safe with
    several reconcilers: the store's claim is locked, and a delivery is sent by one attempt at a time however many
    jobs it has.

    1. Due retries: `accepted` or `in_doubt` with a `next_attempt_at` that has passed (a transient failure's
       back-off is over, or it is time to ask SAP again). Jobs never re-enqueue themselves (a running job's
       id is the command id), so this is what runs the next attempt.
    2. Stranded: due for longer than RECONCILE_ACCEPTED_AFTER without a job running it (Redis lost the job,
       or the web layer could not enqueue it), or `running` with a heartbeat older than 1.5 x
       WORKER_HEARTBEAT_INTERVAL (its worker died mid-attempt; the next attempt asks SAP before writing).
       `reclaim_running=False` leaves running commands alone (see `ReconcilerThread`).
    3. Webhook deliveries: pending and due (a retry's back-off is over, the job was lost, or the attempt's lease
       ran out with its worker); there is no RQ scheduler, so this is what sends a retry.
    """
    settings = context.settings
    enqueued = 0
    due = context.store.stranded(
        accepted_older_than=timedelta(0), running_older_than=NEVER, scheduled_only=True, limit=BATCH
    )
    for command in due:
        enqueued += _claim(context, command.id, timedelta(0), NEVER)
    accepted_after = timedelta(seconds=settings.reconcile_accepted_after)
    running_after = timedelta(seconds=stale_after(settings)) if reclaim_running else NEVER
    for command in context.store.stranded(
        accepted_older_than=accepted_after, running_older_than=running_after, limit=BATCH
    ):
        if command.status == Status.RUNNING:
            beat = command.heartbeat_at or command.updated_at
            log.warning(
                "reclaiming_from_dead_worker",
                command_id=command.id,
                runner=command.runner,
                silent_seconds=round((datetime.now(UTC) - beat).total_seconds(), 2),
            )
        enqueued += _claim(context, command.id, accepted_after, running_after)
    enqueued += enqueue_due_deliveries(context, limit=BATCH)
    if enqueued:
        log.info("reconciled", enqueued=enqueued)
    return enqueued


def _claim(context: WorkerContext, command_id: str, accepted_after: timedelta, running_after: timedelta) -> int:
    claimed = context.store.reconcile(
        command_id, accepted_older_than=accepted_after, running_older_than=running_after, actor=ACTOR
    )
    if claimed is None:  # another reconciler (or a worker) got there first
        return 0
    # If Redis is down the claim stays `accepted`: pass 2 of a later run enqueues it again.
    return 1 if enqueue_command(context.redis, command_id) else 0


class ReconcilerThread(threading.Thread):
    """`reconcile_once` beside the worker loop until `stop()`: every RECONCILE_INTERVAL, and at least every half
    heartbeat interval, so that a dead worker's command is reclaimed within two heartbeat intervals.

    After a pass that failed (the database was away), running commands are left alone for one stale period
    once the store answers again: during the outage no worker could write its heartbeat either, so every
    running command looks abandoned until their heartbeats catch up. Reclaiming a live worker's command
    would have another worker ask SAP (and possibly write) while the first is still at it.
    """

    def __init__(self, context: WorkerContext) -> None:
        super().__init__(name="reconciler", daemon=True)  # daemon: never holds the process open
        self.context = context
        self._stopped = threading.Event()
        self._blind = False
        self._hold_running_until = 0.0

    def run(self) -> None:
        period = reclaim_period(self.context.settings)
        while not self._stopped.wait(period):
            self.pass_once()

    def pass_once(self) -> int | None:
        """One pass that never raises; None when it failed (logged), else the jobs enqueued."""
        reclaim = not self._blind and time.monotonic() >= self._hold_running_until
        try:
            enqueued = reconcile_once(self.context, reclaim_running=reclaim)
        except Exception:
            # Redis or the database may be briefly away; the next pass tries again.
            log.exception("reconcile_failed")
            self._blind = True
            return None
        if self._blind:
            self._blind = False
            self._hold_running_until = time.monotonic() + stale_after(self.context.settings)
            log.info("reconcile_recovered", running_reclaims_resume_in=stale_after(self.context.settings))
        return enqueued

    def stop(self, timeout: float = 5.0) -> None:
        self._stopped.set()
        if self.is_alive():
            self.join(timeout)
