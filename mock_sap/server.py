"""Serve the mock with gunicorn: HTTP/1.1 keep-alive like a real SAP Gateway, in one process with threads.

werkzeug's development server answers every request with `Connection: close`, so each SAP call of a client
paid for a new TCP connection and benchmarks measured the mock's server, not the client.
"""

from __future__ import annotations

from types import FrameType
from typing import Any

from gunicorn.app.base import BaseApplication
from gunicorn.workers.gthread import ThreadWorker

from mock_sap.app import MockSap
from mock_sap.config import MockOptions

# A `hang` fault holds a thread for up to its hang_seconds, and a client that gives up on it (a request
# budget) calls again: a hung run piles up many such threads. Threads are started only when needed.
THREADS = 256
KEEPALIVE_SECONDS = 5  # how long an idle connection stays open for the client's next request
# SIGTERM (tests, `python -m devenv.run`) must end the mock at once; the worker ends hangs itself (below).
GRACEFUL_TIMEOUT_SECONDS = 2


class MockSapWorker(ThreadWorker):  # type: ignore[misc]  # gunicorn ships no type hints
    """gunicorn's gthread worker, which stops without waiting for requests held by a `hang` fault.

    Such a request would otherwise keep the worker alive until gunicorn's master kills it after the graceful
    timeout (the thread pool's threads are joined at exit), and an idle kept-alive connection would delay the
    stop too. A stopping real system drops those connections as well.
    """

    app: MockSapServer
    quitting = False

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:  # SIGTERM: graceful stop
        super().handle_exit(sig, frame)
        # Locks are taken on the main thread's loop, never in a signal handler that may interrupt their holder.
        self.method_queue.defer(self._drop_waiting_connections)

    def handle_quit(self, sig: int, frame: FrameType | None) -> None:  # SIGINT, SIGQUIT: quick stop
        # Ctrl-C reaches this process and the master, which then sends SIGQUIT: a second handler interrupting
        # the first could wait forever for a lock the first holds (e.g. the thread pool's), so stop only once.
        if self.quitting:
            return
        self.quitting = True
        super().handle_quit(sig, frame)  # exits through run() below

    def run(self) -> None:
        try:
            super().run()
        finally:  # also on a quick stop, or when the master died ("Parent changed")
            self.app.mock.faults.released.set()

    def _drop_waiting_connections(self) -> None:
        self.app.mock.faults.released.set()  # hanging requests end without an answer
        self.murder_keepalived(force=True)  # idle kept-alive connections need no grace


class MockSapServer(BaseApplication):  # type: ignore[misc]  # gunicorn ships no type hints
    """gunicorn embedded: one worker process (the data lives in its memory), created once before it starts."""

    def __init__(self, mock: MockSap, options: MockOptions) -> None:
        self.mock = mock
        self.options = options
        super().__init__(prog="python -m mock_sap")

    def load_config(self) -> None:
        host = f"[{self.options.host}]" if ":" in self.options.host else self.options.host  # IPv6
        verbose = self.options.verbose
        settings: dict[str, Any] = {
            "bind": [f"{host}:{self.options.port}"],
            "workers": 1,  # more processes would each have their own data
            "worker_class": MockSapWorker,
            "threads": THREADS,
            "keepalive": KEEPALIVE_SECONDS,
            "timeout": 0,  # never kill the worker: a hang is wanted, and gthread's heartbeat does not block anyway
            "graceful_timeout": GRACEFUL_TIMEOUT_SECONDS,
            "preload_app": True,
            "accesslog": "-" if verbose else None,
            "loglevel": "info" if verbose else "warning",
            "proc_name": "mock_sap",
            "control_socket_disable": True,  # several mocks (and the API's gunicorn) run side by side in tests
            "limit_request_line": 0,  # long $filter URLs are the client's business, as with werkzeug
            "when_ready": self._listening,
        }
        for name, value in settings.items():
            self.cfg.set(name, value)

    def load(self) -> MockSap:
        return self.mock

    def _listening(self, arbiter: Any) -> None:
        """Say where the mock listens (the real port with `--port 0`) before the worker is forked."""
        port = arbiter.LISTENERS[0].sock.getsockname()[1]
        print(f"mock SAP listening on http://{self.options.host}:{port} ({self.options.orders} orders)", flush=True)


def serve(mock: MockSap, options: MockOptions) -> None:
    """Serve until SIGTERM or Ctrl-C; gunicorn's master then stops the worker and exits the process (status 0)."""
    MockSapServer(mock, options).run()
