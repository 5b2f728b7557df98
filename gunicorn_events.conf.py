"""gunicorn settings of the event stream process (app/event_stream.py; `python3 dev.py run` starts it)."""

from runtime.logs import configure_logging
from runtime.settings import from_env

_settings = from_env(calls_sap=False)  # this process never calls SAP: it is not given SAP's credentials

bind = f"0.0.0.0:{_settings.port}"
# asyncio, not threads: an open stream is a waiting coroutine (app/event_stream.py says why). One process holds
# thousands of idle streams; add instances (or EVENTS_WORKERS) for more.
worker_class = "asgi"
workers = _settings.events_workers
worker_connections = 10_000
# The arbiter's liveness timeout for a worker (its event loop must keep ticking), not a request timeout.
timeout = 30
graceful_timeout = 5  # streams end at shutdown; clients reconnect to another instance with Last-Event-ID
keepalive = 75
accesslog = None
control_socket_disable = True  # no gunicornc; several servers on one machine would share its socket path


def on_starting(server: object) -> None:
    configure_logging(_settings.log_level, _settings.log_format, app=_settings.app_name, process="events")
