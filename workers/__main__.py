"""`python -m workers`: one RQ worker on the writeback queue (with its reconciler), configured from the environment."""

from __future__ import annotations

import argparse
import signal
import threading
import time
from types import FrameType
from typing import Any

import redis
import structlog
from rq import Queue, SimpleWorker
from rq.exceptions import StopRequested

from workers import queues
from workers.bootstrap import WorkerContext, bootstrap, set_context
from workers.dispatcher import DispatcherThread
from workers.heartbeat import HandBackOnStop, HeartbeatThread, RqRegistrationThread
from workers.pollers import poller_threads
from workers.reconciler import ReconcilerThread, reconcile_once
from workers.watchdog import run_watchdog

log = structlog.get_logger(__name__)

# RQ's own registry: the worker's key lives worker_ttl + 60 s after its last RQ heartbeat, and its blocking
# dequeue waits worker_ttl - 15 s, so a silently dropped Redis connection is noticed within a minute (RQ's
# default of 420 s would take seven).
RQ_WORKER_TTL = 60
# Back-off of the work loop (and of RQ's own dequeue reconnects) while Redis is away: 1, 2, 4 ... 30 s.
FIRST_BACKOFF = 1.0
MAX_BACKOFF = 30.0
# A work loop that ran this long before it broke was healthy: the back-off starts again from the first step.
HEALTHY_RUN = 60.0


class _Worker(SimpleWorker):
    """RQ's SimpleWorker with one stop flag for the process, and no Redis error let out of a signal handler."""

    max_connection_wait_time = MAX_BACKOFF

    def __init__(self, *args: Any, stopping: threading.Event, restarts: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.stopping = stopping
        self.restarts = restarts
        self.torn_down = False

    def bootstrap(self, *args: Any, **kwargs: Any) -> None:
        super().bootstrap(*args, **kwargs)
        if self.restarts:
            log.warning("worker_loop_resumed", restarts=self.restarts)

    def teardown(self) -> None:
        super().teardown()  # type: ignore[no-untyped-call]  # raises when Redis is away: `_retire` does it later
        self.torn_down = True

    def request_stop(self, signum: int, frame: FrameType | None) -> None:
        self.stopping.set()
        super().request_stop(signum, frame)  # type: ignore[no-untyped-call]

    def check_for_suspension(self, burst: bool) -> None:
        # First thing in every loop turn: a stop asked for before RQ installed its signal handlers (during a
        # restart's back-off or registration) ends the loop like RQ's own warm shutdown.
        if self.stopping.is_set():
            raise StopRequested()
        super().check_for_suspension(burst)

    def set_shutdown_requested_date(self) -> None:
        # Runs inside the SIGTERM handler while a job runs: a Redis error here would surface in the middle
        # of the job's SAP call. The date is only shown by `rq info`.
        try:
            super().set_shutdown_requested_date()  # type: ignore[no-untyped-call]
        except redis.RedisError as exc:
            log.warning("rq_shutdown_date_not_recorded", error=type(exc).__name__)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m workers", description=__doc__)
    parser.add_argument("--burst", action="store_true", help="exit when the queues are empty")
    parser.add_argument("--once", action="store_true", help="with `reconcile`: one pass, then exit")
    # `watchdog`: the alert watchdog (workers/watchdog.py), a process of its own so it sees workers stop.
    # `reconcile`: the reconciler alone (every worker also runs it in the background).
    parser.add_argument("command", nargs="?", choices=("work", "watchdog", "reconcile"), default="work")
    args = parser.parse_args(argv)

    context = bootstrap()
    if args.command == "watchdog":
        # Its ticks log and survive Redis and database errors (Watchdog.run).
        return run_watchdog(context.settings, context.redis)
    if args.command == "reconcile":
        if args.once:
            print(reconcile_once(context))
            return None
        stopping = _stop_on_signals()
        thread = ReconcilerThread(context)  # its passes log and survive Redis and database errors
        thread.start()
        stopping.wait()
        thread.stop()
        return None

    # SimpleWorker runs jobs in this process: the context (metadata parsed, CSRF token, keep-alive
    # connections, the store's pool) is built once and reused by every job. A forking Worker would
    # rebuild it per job or share sockets across forks; a job's failure is contained by the job's
    # own error handling and RQ's job timeout, and the reconciler recovers a worker that dies.
    set_context(context)
    heartbeat = HeartbeatThread(context)
    registration = RqRegistrationThread(context.redis, context.settings.worker_heartbeat_interval)
    reconciler = ReconcilerThread(context)
    dispatcher = DispatcherThread(context)  # notifications to Web Push and webhooks
    pollers = poller_threads(context)  # none when both poll intervals are 0; each polls only while it leads
    for background in (heartbeat, registration, reconciler, dispatcher, *pollers):
        background.start()
    log.info(
        "worker_starting",
        queues=list(queues.ALL),
        burst=args.burst,
        worker=context.name,
        heartbeat_interval=context.settings.worker_heartbeat_interval,
    )
    try:
        work(context, registration, burst=args.burst)
    finally:
        for poller in pollers:
            poller.stop()
        dispatcher.stop()
        reconciler.stop()
        registration.stop()
        heartbeat.stop()
        context.close()


def work(context: WorkerContext, registration: RqRegistrationThread, *, burst: bool = False) -> None:
    """RQ's work loop, started again (with back-off) whenever it ends for any reason but a stop or a finished burst.

    RQ retries a failed dequeue itself, but other Redis calls (registering the worker, the bookkeeping after
    a job, the checks between jobs) end its loop, and its teardown then raises too. The store is the truth:
    a command whose job bookkeeping failed has its outcome recorded already, and a job Redis lost is
    re-enqueued by the reconciler. So the process stays up, rebuilds its RQ worker and carries on.
    """
    stopping = _stop_on_signals()
    HandBackOnStop(context, stopping).start()
    # A connection pool of RQ's own: RQ raises its socket timeout above the blocking dequeue's (55 s), which
    # must not become the reconciler's wait on a hung Redis.
    connection = redis.Redis.from_url(context.settings.redis_url)
    try:
        _work(context, registration, connection, stopping, burst)
    finally:
        connection.close()
    log.info("worker_stopped", worker=context.name)


def _work(
    context: WorkerContext,
    registration: RqRegistrationThread,
    connection: redis.Redis,
    stopping: threading.Event,
    burst: bool,
) -> None:
    delay = FIRST_BACKOFF
    unretired: _Worker | None = None  # an RQ worker whose teardown failed, still registered in Redis
    restarts = 0
    while not stopping.is_set():
        if unretired is not None and _retire(unretired):
            unretired = None
        worker: _Worker | None = None
        error: Exception | None = None
        started = time.monotonic()
        try:
            worker = _Worker(  # asks Redis for its own address: may fail too
                [Queue(name, connection=connection) for name in queues.ALL],
                connection=connection,
                name=context.name,  # the runner in the store and the actor in the audit trail, also in `rq info`
                worker_ttl=RQ_WORKER_TTL,
                log_job_description=False,
                stopping=stopping,
                restarts=restarts,
            )
            registration.attach(worker)
            # No RQ scheduler: retries are woken by the reconciler from the store's next_attempt_at.
            worker.work(burst=burst, logging_level=context.settings.log_level)
        except Exception as exc:
            error = exc
        finally:
            registration.detach()
            _stop_on_signals(stopping)  # RQ's handlers belong to the worker that just ended
        if worker is not None and not worker.torn_down:
            unretired = worker  # same name as any earlier one: retiring it retires theirs
            _stop_listening(worker)
        if stopping.is_set():
            break
        if burst and error is None and _drained(context):
            break
        if time.monotonic() - started >= HEALTHY_RUN:
            delay = FIRST_BACKOFF
        log.warning(
            "worker_loop_restarting",
            error=f"{type(error).__name__}: {error}"[:500] if error else "RQ's work loop ended (see its log above)",
            ran_seconds=round(time.monotonic() - started, 1),
            retry_in=delay,
        )
        if stopping.wait(delay):
            break
        restarts += 1
        delay = min(delay * 2, MAX_BACKOFF)
    # Stopping with Redis away: the worker's key expires on its own (worker_ttl + 60 s).


def _stop_on_signals(stopping: threading.Event | None = None) -> threading.Event:
    """SIGTERM and SIGINT set `stopping` (a new event unless given); waits on it end at once."""
    event = stopping if stopping is not None else threading.Event()

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        event.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, on_signal)
    return event


def _retire(worker: _Worker) -> bool:
    """Leave RQ's registry (RQ's teardown failed with Redis away), so that the next worker may take the name."""
    try:
        worker.register_death()  # type: ignore[no-untyped-call]
    except redis.RedisError:
        return False  # tried again before the next start; the key also expires on its own
    return True


def _stop_listening(worker: _Worker) -> None:
    """Stop the RQ worker's pubsub thread, which would otherwise retry its Redis connection forever."""
    thread, worker.pubsub_thread = worker.pubsub_thread, None
    if thread is not None:
        thread.stop()  # it closes its connection when it notices


def _drained(context: WorkerContext) -> bool:
    try:
        return all(Queue(name, connection=context.redis).count == 0 for name in queues.ALL)
    except redis.RedisError:
        return False


if __name__ == "__main__":
    main()
