"""Observability fixtures: a migrated SQLite store, the session's Redis, an app that needs no live SAP."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from app import create_app
from app.dev_idp import mint_token
from devenv.redis_server import free_port
from runtime.settings import Settings
from store import NewCommand, Store, make_engine, upgrade
from tests.integration.store.conftest import FakeClock


@pytest.fixture
def obs_settings(redis_url: str, tmp_path: Path, dev_idp_key_file: str) -> Settings:
    """SAP on a closed port: nothing here calls SAP unless a test says so."""
    return Settings(
        redis_url=redis_url,
        database_url=f"sqlite:///{tmp_path / 'store.db'}",
        sap_url=f"http://127.0.0.1:{free_port()}",
        dev_idp_key_file=dev_idp_key_file,
        log_level="WARNING",
    )


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(obs_settings: Settings, clock: FakeClock) -> Store:
    engine = make_engine(obs_settings.database_url)
    upgrade(engine)
    return Store(engine, clock=clock)


@pytest.fixture
def obs_app(obs_settings: Settings, store: Store) -> Flask:
    return create_app(obs_settings)


def new_command(type_: str = "operation.confirm", **overrides: Any) -> NewCommand:
    fields: dict[str, Any] = {
        "type": type_,
        "requested_by": "sup1",
        "role": "Supervisor",
        "target_type": "ProductionOrder",
        "target_id": uuid.uuid4().hex[:8],  # own serial key: commands never wait for each other here
        "payload": {"n": uuid.uuid4().hex},
        "idempotency_key": uuid.uuid4().hex,
    }
    fields.update(overrides)
    return NewCommand(**fields)


def run_to(store: Store, status: str, type_: str = "operation.confirm") -> str:
    """A new command driven to `status` through the worker's transitions; its id."""
    command, _ = store.accept(new_command(type_))
    if status == "accepted":
        return command.id
    store.start_attempt(command.id)
    error = {"status": 503, "code": "X", "message": "SAP down"}
    if status == "succeeded":
        store.succeed(command.id)
    elif status in ("dead", "rejected", "conflict"):
        store.end(command.id, status, error=error)
    elif status != "running":
        raise ValueError(status)
    return command.id


@pytest.fixture
def admin_headers(obs_settings: Settings) -> Callable[..., dict[str, str]]:
    def make(*collections: str, user: str = "ops") -> dict[str, str]:
        return {"Authorization": f"Bearer {mint_token(obs_settings, user, list(collections), {})}"}

    return make


class Webhook:
    """A local HTTP receiver that records every JSON body POSTed to it."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.status = 200
        self.lock = threading.Lock()
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with hook.lock:
                    if hook.status < 300:
                        hook.received.append(body)
                self.send_response(hook.status)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def of(self, alert: str) -> list[str]:
        with self.lock:
            return [body["status"] for body in self.received if body["alert"] == alert]


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    hook = Webhook()
    yield hook
    hook.server.shutdown()
