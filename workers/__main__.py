"""`python -m workers`: one RQ worker on the writeback queue (with its reconciler), configured from the environment."""

from __future__ import annotations

import argparse

import structlog
from rq import Queue, SimpleWorker

from workers import queues
from workers.bootstrap import bootstrap, set_context
from workers.reconciler import ReconcilerThread, reconcile_once
from workers.watchdog import run_watchdog


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m workers", description=__doc__)
    parser.add_argument("--burst", action="store_true", help="exit when the queues are empty")
    parser.add_argument("--once", action="store_true", help="with `reconcile`: one pass, then exit")
    # `watchdog`: the alert watchdog (workers/watchdog.py), a process of its own so it sees workers stop.
    # `reconcile`: the reconciler alone (every worker also runs it in the background).
    parser.add_argument("command", nargs="?", choices=("work", "watchdog", "reconcile"), default="work")
    args = parser.parse_args(argv)

    context = bootstrap()
    log = structlog.get_logger(__name__)
    if args.command == "watchdog":
        return run_watchdog(context.settings, context.redis)
    if args.command == "reconcile":
        if args.once:
            print(reconcile_once(context))
            return None
        thread = ReconcilerThread(context)
        thread.start()
        try:
            thread.join()
        except KeyboardInterrupt:
            thread.stop()
        return None

    # SimpleWorker runs jobs in this process: the context (metadata parsed, CSRF token, keep-alive
    # connections, the store's pool) is built once and reused by every job. A forking Worker would
    # rebuild it per job or share sockets across forks; a job's failure is contained by the job's
    # own error handling and RQ's job timeout, and the reconciler recovers a worker that dies.
    set_context(context)
    worker_queues = [Queue(name, connection=context.redis) for name in queues.ALL]
    worker = SimpleWorker(worker_queues, connection=context.redis, log_job_description=False)
    reconciler = ReconcilerThread(context)
    reconciler.start()
    log.info("worker_starting", queues=list(queues.ALL), burst=args.burst, worker=context.name)
    try:
        # No RQ scheduler: retries are woken by the reconciler from the store's next_attempt_at.
        worker.work(burst=args.burst, logging_level=context.settings.log_level)
    finally:
        reconciler.stop()
        context.close()


if __name__ == "__main__":
    main()
