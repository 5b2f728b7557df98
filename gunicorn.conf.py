"""gunicorn settings for `gunicorn wsgi:app`, used by Cloud Foundry and `python3 dev.py run`."""

from typing import Any

from runtime.logs import configure_logging
from runtime.settings import from_env

_settings = from_env()  # the one place configuration is read, for gunicorn as for the app

bind = f"0.0.0.0:{_settings.port}"
workers = _settings.web_concurrency
threads = _settings.gunicorn_threads
# Threads, not gevent: pyodata's XML parsing and JWT checks are CPU work that would stall an event loop, and
# psycopg, SQLAlchemy and prometheus' multiprocess files need no patching. A thread waiting for SAP holds a
# thread, so settings keep SAP_MAX_CONCURRENCY below GUNICORN_THREADS and the bulkhead lets only a few more
# wait for a slot (runtime/sap.py): with SAP hung, the remaining threads still serve everything else.
worker_class = "gthread"
timeout = 60
# On SIGTERM (a deploy, `cf scale`, `cf stop`) gunicorn stops accepting and gives the requests in flight this long:
# below the 10 s after which Cloud Foundry kills the instance. Only a request stuck on a hung SAP for its whole
# SAP_REQUEST_BUDGET could be cut; its client retries (a write's Idempotency-Key makes the retry the same command).
graceful_timeout = 8
accesslog = None  # the app writes one structured event per request itself


def child_exit(server: object, worker: Any) -> None:
    """A dead gunicorn worker's metric files must stop counting as live (prometheus multiprocess mode)."""
    if _settings.prometheus_multiproc_dir:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)


def on_starting(server: object) -> None:
    """Route gunicorn's own (arbiter) logging through structlog too."""
    configure_logging(_settings.log_level, _settings.log_format, app=_settings.app_name, process="web")
