"""The reconciler: wakes commands whose retry is due and re-enqueues those a lost job or a dead worker stranded."""

from __future__ import annotations

import threading
from datetime import timedelta

import structlog

from store import Status
from workers.bootstrap import WorkerContext
from workers.enqueue import enqueue_command

log = structlog.get_logger(__name__)

ACTOR = "reconciler"
BATCH = 500
# "Never" for the running-command half of a pass that only looks at due retries.
NEVER = timedelta(days=36500)


def reconcile_once(context: WorkerContext) -> int:
    """One pass; returns how many jobs it enqueued. Safe with several reconcilers: the store's claim is locked.

    1. Due retries: `accepted` with a `next_attempt_at` that has passed (a transient failure's back-off is
       over). Jobs never re-enqueue themselves (a running job's id is the command id), so this is what
       runs the next attempt.
    2. Stranded: `accepted` and due for longer than RECONCILE_ACCEPTED_AFTER (Redis lost the job, or the
       web layer could not enqueue it), or `running` untouched for longer than RECONCILE_RUNNING_AFTER
       (the worker died mid-attempt; the next attempt checks SAP for the earlier one's success first).
    """
    settings = context.settings
    enqueued = 0
    due = context.store.stranded(accepted_older_than=timedelta(0), running_older_than=NEVER, limit=BATCH)
    for command in due:
        if command.status == Status.ACCEPTED and command.next_attempt_at is not None:
            enqueued += _claim(context, command.id, timedelta(0), NEVER)
    accepted_after = timedelta(seconds=settings.reconcile_accepted_after)
    running_after = timedelta(seconds=settings.reconcile_running_after)
    for command in context.store.stranded(
        accepted_older_than=accepted_after, running_older_than=running_after, limit=BATCH
    ):
        enqueued += _claim(context, command.id, accepted_after, running_after)
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
    """`reconcile_once` every RECONCILE_INTERVAL seconds beside the worker loop, until `stop()`."""

    def __init__(self, context: WorkerContext) -> None:
        super().__init__(name="reconciler", daemon=True)  # daemon: never holds the process open
        self.context = context
        self._stopped = threading.Event()

    def run(self) -> None:
        while not self._stopped.wait(self.context.settings.reconcile_interval):
            try:
                reconcile_once(self.context)
            except Exception:
                # Redis or the database may be briefly away; the next pass tries again.
                log.exception("reconcile_failed")

    def stop(self, timeout: float = 5.0) -> None:
        self._stopped.set()
        if self.is_alive():
            self.join(timeout)
