"""`python -m workers`: one RQ worker on the writeback queue, configured from the environment."""

from __future__ import annotations

import argparse

import structlog
from rq import Queue, Worker

from workers import queues
from workers.bootstrap import bootstrap
from workers.watchdog import run_watchdog


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m workers", description=__doc__)
    parser.add_argument("--burst", action="store_true", help="exit when the queues are empty")
    # `watchdog`: the alert watchdog (workers/watchdog.py), a process of its own so it sees workers stop.
    parser.add_argument("command", nargs="?", choices=("work", "watchdog"), default="work")
    args = parser.parse_args(argv)

    context = bootstrap()
    if args.command == "watchdog":
        return run_watchdog(context.settings, context.redis)
    worker_queues = [Queue(name, connection=context.redis) for name in queues.ALL]
    worker = Worker(worker_queues, connection=context.redis, log_job_description=False)
    structlog.get_logger(__name__).info("worker_starting", queues=list(queues.ALL), burst=args.burst)
    worker.work(burst=args.burst, with_scheduler=True, logging_level=context.settings.log_level)


if __name__ == "__main__":
    main()
