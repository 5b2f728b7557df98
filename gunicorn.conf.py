"""gunicorn settings for `gunicorn wsgi:app`, used by Cloud Foundry and `python3 dev.py run`."""

import os
from typing import Any

from runtime.logs import configure_logging
from runtime.settings import from_env

bind = f"0.0.0.0:{os.environ.get('PORT', '8080')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
worker_class = "gthread"
timeout = 60
graceful_timeout = 20
accesslog = None  # the app writes one structured event per request itself


def child_exit(server: object, worker: Any) -> None:
    """A dead gunicorn worker's metric files must stop counting as live (prometheus multiprocess mode)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)


def on_starting(server: object) -> None:
    """Route gunicorn's own (arbiter) logging through structlog too."""
    settings = from_env()
    configure_logging(settings.log_level, settings.log_format, app=settings.app_name, process="web")
