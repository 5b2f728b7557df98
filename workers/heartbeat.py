"""The worker's heartbeat: marks the commands this process is applying as alive in the store, and keeps RQ seeing it."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager

import redis
import structlog
from rq import worker_registration
from rq.worker import BaseWorker

from runtime.settings import Settings
from workers.bootstrap import WorkerContext

log = structlog.get_logger(__name__)

# A running command whose heartbeat is older than this many intervals belongs to a dead worker. With the
# reconciler looking at least every half interval (`reclaim_period`), a dead worker's command is handed back
# within 1.5 + 0.5 = 2 intervals of its last beat; a live worker has half an interval of slack per beat.
STALE_AFTER_INTERVALS = 1.5
# A beat that failed (the database is briefly away) is retried this often instead of a whole interval later,
# so a blip does not age the heartbeat past the stale threshold.
RETRY_FRACTION = 0.25
# While the store stays unreachable, repeat the warning at most this often (seconds).
WARN_EVERY = 30.0


def stale_after(settings: Settings) -> float:
    """Seconds without a heartbeat after which a `running` command is reclaimed from its (dead) worker."""
    return STALE_AFTER_INTERVALS * settings.worker_heartbeat_interval


def reclaim_period(settings: Settings) -> float:
    """How often a reconciler must look for stale commands so that reclaiming takes at most two intervals."""
    return min(settings.reconcile_interval, settings.worker_heartbeat_interval / 2)


class RunningCommands:
    """The commands this process is applying right now (a SimpleWorker runs one job at a time)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ids: dict[str, int] = {}

    @contextmanager
    def track(self, command_id: str) -> Iterator[None]:
        with self._lock:
            self._ids[command_id] = self._ids.get(command_id, 0) + 1
        try:
            yield
        finally:
            with self._lock:
                left = self._ids.pop(command_id) - 1
                if left:
                    self._ids[command_id] = left

    def snapshot(self) -> frozenset[str]:
        with self._lock:
            return frozenset(self._ids)


# One per process: the job (workers.jobs.run) registers here, this process's HeartbeatThread reads it.
RUNNING = RunningCommands()


def beating(command_id: str) -> AbstractContextManager[None]:
    """While the block runs, this process's heartbeat marks the command as alive."""
    return RUNNING.track(command_id)


class HeartbeatThread(threading.Thread):
    """Every WORKER_HEARTBEAT_INTERVAL: `Store.heartbeat` for the commands this process is running.

    A thread of its own, so it keeps beating while a job blocks in a long SAP call. The database, not Redis,
    is the liveness record: a Redis flush or outage must never make a live worker's command look abandoned
    (another worker re-running it could post the change to SAP twice). So this thread never touches Redis,
    which could make it wait; `RqRegistrationThread` keeps RQ's view of the worker.
    """

    def __init__(self, context: WorkerContext, running: RunningCommands = RUNNING) -> None:
        super().__init__(name="heartbeat", daemon=True)  # daemon: never holds the process open
        self.context = context
        self.running = running
        self.interval = context.settings.worker_heartbeat_interval
        self._stopped = threading.Event()
        self._failing_since: float | None = None
        self._failures = 0
        self._warned_at = 0.0
        self.beats = 0  # successful store heartbeats with at least one command (for tests and debugging)

    def run(self) -> None:
        while not self._stopped.is_set():
            started = time.monotonic()
            wait = self.interval if self.beat() else self.interval * RETRY_FRACTION
            self._stopped.wait(max(0.0, wait - (time.monotonic() - started)))

    def stop(self, timeout: float = 5.0) -> None:
        self._stopped.set()
        if self.is_alive():
            self.join(timeout)

    def beat(self) -> bool:
        """One store heartbeat for the running commands; False when the store could not be reached."""
        ids = self.running.snapshot()
        if not ids:
            self._failing_since, self._failures = None, 0  # nothing left whose heartbeat could be overdue
            return True
        try:
            self.context.store.heartbeat(self.context.name, ids)
        except Exception as exc:
            self._failed(exc, ids)
            return False
        self.beats += 1
        self._recovered()
        return True

    # -- logging a store outage once, not every retry ----------------------------------------------------

    def _failed(self, exc: Exception, ids: frozenset[str]) -> None:
        now = time.monotonic()
        self._failures += 1
        if self._failing_since is None:
            self._failing_since = now
        if self._failures == 1 or now - self._warned_at >= WARN_EVERY:
            self._warned_at = now
            down = now - self._failing_since
            fields = {
                "error": f"{type(exc).__name__}: {exc}"[:500],
                "commands": sorted(ids),
                "failures": self._failures,
            }
            if down + self.interval > stale_after(self.context.settings):
                # Past the threshold another worker's reconciler may hand these commands back; the next
                # attempt asks SAP before it writes again.
                log.error("heartbeat_overdue", down_seconds=round(down, 1), **fields)
            else:
                log.warning("heartbeat_failed", **fields)

    def _recovered(self) -> None:
        if self._failing_since is None:
            return
        log.info(
            "heartbeat_recovered",
            failures=self._failures,
            down_seconds=round(time.monotonic() - self._failing_since, 1),
        )
        self._failing_since = None
        self._failures = 0


class RqRegistrationThread(threading.Thread):
    """Keeps this process's RQ worker registered in Redis, so that `rq info` and the integration health see it.

    RQ's own heartbeat (`worker_ttl`) refreshes the worker's key but never recreates it: after a Redis restart
    without persistence, or a flush, a live worker would stay invisible. Only visibility depends on this,
    never liveness, so it has a thread of its own (a hanging Redis must not delay the store heartbeat).
    """

    def __init__(self, connection: redis.Redis, interval: float) -> None:
        super().__init__(name="rq-registration", daemon=True)
        self.connection = connection
        self.interval = interval
        self._stopped = threading.Event()
        self._lock = threading.Lock()
        self._worker: BaseWorker | None = None

    def attach(self, worker: BaseWorker) -> None:
        """The RQ worker this process runs now (rebuilt after a Redis failure)."""
        with self._lock:
            self._worker = worker

    def detach(self) -> None:
        with self._lock:
            self._worker = None

    def run(self) -> None:
        while not self._stopped.wait(self.interval):
            self.keep_registered()

    def stop(self, timeout: float = 5.0) -> None:
        self._stopped.set()
        if self.is_alive():
            self.join(timeout)

    def keep_registered(self) -> None:
        """Register the RQ worker again if its key is gone (Redis restarted empty, or was flushed)."""
        with self._lock:
            worker = self._worker
            # Not yet born: `register_birth` is about to run, and would refuse a name that is already there.
            # A worker that registered its death keeps its key (with `death`) until it expires: detached by then.
            if worker is None or worker.birth_date is None:
                return
            try:
                if self.connection.exists(worker.key):
                    return
                with self.connection.pipeline() as pipeline:
                    pipeline.hset(worker.key, mapping=worker.serialize())
                    worker_registration.register(worker, pipeline)
                    pipeline.expire(worker.key, worker.worker_ttl + 60)
                    pipeline.execute()
            except redis.RedisError as exc:
                # Redis is away: the worker loop logs it and reconnects.
                log.debug("rq_registration_check_failed", error=type(exc).__name__)
                return
        log.warning("rq_worker_registered_again", rq_worker=worker.name)


class HandBackOnStop(threading.Thread):
    """Once the process is asked to stop: if its job is still running after WORKER_STOP_GRACE seconds, hand the
    command back to the other workers and end the process, before Cloud Foundry kills it 10 s after SIGTERM.

    A handed-back command is reclaimed by the next reconciler pass, in doubt if its write had left (the next
    attempt asks SAP before it writes again), exactly as if the worker had died, only without the wait for
    its heartbeat to go stale. A job that ends within the grace period ends normally (RQ's warm shutdown).
    """

    def __init__(
        self,
        context: WorkerContext,
        stopping: threading.Event,
        running: RunningCommands = RUNNING,
        exit: Callable[[int], object] = os._exit,
    ) -> None:
        super().__init__(name="hand-back-on-stop", daemon=True)
        self.context = context
        self.stopping = stopping
        self.running = running
        self.grace = context.settings.worker_stop_grace
        self._exit = exit

    def run(self) -> None:
        self.stopping.wait()
        time.sleep(self.grace)
        ids = self.running.snapshot()
        if not ids:
            return  # the job ended; the process is finishing its clean-up
        try:
            handed = self.context.store.hand_back(self.context.name, ids)
        except Exception as exc:  # the store is away: the heartbeat going stale hands them back instead
            log.error("worker_hand_back_failed", commands=sorted(ids), error=f"{type(exc).__name__}: {exc}"[:300])
            handed = 0
        log.warning("worker_handed_back", commands=sorted(ids), handed=handed, grace_seconds=self.grace)
        self._exit(0)
