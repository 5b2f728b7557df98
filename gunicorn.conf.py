"""gunicorn settings for `gunicorn wsgi:app`, used by Cloud Foundry and `python3 dev.py run`."""

import os

from runtime.logs import configure_logging
from runtime.settings import from_env

bind = f"0.0.0.0:{os.environ.get('PORT', '8080')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
worker_class = "gthread"
timeout = 60
graceful_timeout = 20
accesslog = None  # the app writes one structured event per request itself


def on_starting(server: object) -> None:
    """Route gunicorn's own (arbiter) logging through structlog too."""
    settings = from_env()
    configure_logging(settings.log_level, settings.log_format, app=settings.app_name, process="web")
