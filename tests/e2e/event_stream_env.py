"""Support for the event tests: the event stream process (gunicorn, asyncio) and an SSE client that records."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from devenv.run import events_server_args
from tests.conftest import free_port
from tests.e2e.writeback_env import ROOT


@contextlib.contextmanager
def events_server(env: dict[str, str], **overrides: str) -> Iterator[str]:
    """`gunicorn -k asgi app.event_stream` on a free port with `env`; its base URL."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", *events_server_args(port)],
        cwd=ROOT,
        env={**env, "PORT": str(port), **overrides},
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the event stream server exited with {process.returncode}")
            with contextlib.suppress(requests.RequestException):
                if requests.get(f"{url}/health/live", timeout=1).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise TimeoutError("the event stream server did not start within 30 s")
            time.sleep(0.1)
        yield url
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@dataclass
class Received:
    at: float  # time.time() when the client read it
    id: str | None
    event: str
    data: Any


@dataclass
class SseClient:
    """Reads one stream in a thread and keeps every event (and comment count) it sees."""

    url: str
    token: str
    last_event_id: str | None = None
    events: list[Received] = field(default_factory=list)
    comments: int = 0
    status: int | None = None
    error: Exception | None = None
    closed: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self._ready = threading.Event()
        self._connection: http.client.HTTPConnection | None = None
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise TimeoutError(f"no answer from {self.url} within 10 s")

    def _read(self) -> None:
        parts = urlsplit(self.url)
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
        self._connection = connection
        headers = {"Authorization": f"Bearer {self.token}", "Accept": "text/event-stream"}
        if self.last_event_id:
            headers["Last-Event-ID"] = self.last_event_id
        try:
            connection.request("GET", parts.path or "/", headers=headers)
            response = connection.getresponse()
            self.status = response.status
            self._ready.set()
            if response.status != 200:
                return
            block: dict[str, str] = {}
            for raw in response:
                line = raw.decode().rstrip("\n")
                if not line:
                    if "event" in block or "data" in block:
                        data = json.loads(block["data"]) if "data" in block else None
                        self.events.append(Received(time.time(), block.get("id"), block.get("event", "message"), data))
                    block = {}
                elif line.startswith(":"):
                    self.comments += 1
                else:
                    name, _, value = line.partition(":")
                    block[name] = value.removeprefix(" ")
        except (OSError, http.client.HTTPException, AttributeError) as exc:
            self.error = exc  # closed by the test (or the server)
        finally:
            self._ready.set()
            self.closed.set()

    def of_type(self, event: str) -> list[Received]:
        return [e for e in self.events if e.event == event]

    def wait_for(self, condition: Callable[[Received], bool], what: str, timeout: float = 15) -> Received:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = next((e for e in self.events if condition(e)), None)
            if found is not None:
                return found
            time.sleep(0.02)
        pytest.fail(
            f"no {what} on the stream within {timeout:.0f} s; it had {[e.event for e in self.events]}, "
            f"{self.comments} comments, reading {'stopped: ' + repr(self.error) if self.closed.is_set() else 'on'}"
        )

    def close(self) -> None:
        if self._connection is not None and self._connection.sock is not None:
            with contextlib.suppress(OSError):
                self._connection.sock.shutdown(2)
        self._thread.join(5)


@contextlib.contextmanager
def streaming(url: str, token: str, last_event_id: str | None = None) -> Iterator[SseClient]:
    client = SseClient(f"{url}/api/v1/events", token, last_event_id)
    try:
        yield client
    finally:
        client.close()
