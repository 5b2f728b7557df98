"""Shared fixtures: real processes (Redis, mock SAP) started once per test session."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import requests
from flask import Flask

# Every response the suite sees is dumped by the compiled plan and by marshmallow, and compared
# (app/response_dump.py); the API servers the end-to-end tests start inherit it.
os.environ.setdefault("VERIFY_RESPONSE_DUMP", "1")
from flask.testing import FlaskClient

from app import create_app
from devenv.procs import stop_process
from devenv.redis_server import die_with_parent, free_port, spawn_redis
from runtime.settings import DEV_ISSUER, Settings
from runtime.user_assertion import load_or_create_key, public_key_set
from store import upgrade

if TYPE_CHECKING:
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """REDIS_URL if set, else a redis-server spawned for this test session (never the machine's own)."""
    if os.environ.get("REDIS_URL"):
        yield os.environ["REDIS_URL"]
        return
    server = spawn_redis()
    try:
        yield server.url
    finally:
        server.stop()


@dataclass
class MockSap:
    """A running `python -m mock_sap` process."""

    url: str
    process: subprocess.Popen[bytes]

    def reset(self) -> None:
        requests.post(f"{self.url}/mock-admin/reset", timeout=30).raise_for_status()
        requests.delete(f"{self.url}/mock-admin/faults", timeout=10).raise_for_status()

    def stop(self) -> None:
        stop_process(self.process)


def start_mock_sap(*args: str, timeout: float = 60.0) -> MockSap:
    """Start mock SAP on a free port with extra CLI arguments and wait until it answers."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "mock_sap", "--host", "127.0.0.1", "--port", str(port), *args],
        cwd=ROOT,
        preexec_fn=die_with_parent,  # a killed test session leaves no mock SAP behind
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"mock_sap exited with {process.returncode} before it was ready")
        try:
            if requests.get(f"{url}/mock-admin/health", timeout=1).status_code == 200:
                return MockSap(url=url, process=process)
        except requests.RequestException:  # not listening yet, or still loading its data
            pass
        if time.monotonic() > deadline:
            process.kill()
            raise TimeoutError(f"mock_sap did not become ready within {timeout:.0f}s")
        time.sleep(0.1)


@pytest.fixture(scope="session")
def mock_sap_factory() -> Iterator[Callable[..., MockSap]]:
    """Start extra mock SAP servers with their own options; all are stopped at session end."""
    started: list[MockSap] = []

    def factory(*args: str) -> MockSap:
        server = start_mock_sap(*args)
        started.append(server)
        return server

    yield factory
    for server in started:
        server.stop()


@pytest.fixture(scope="session")
def mock_sap_server(mock_sap_factory: Callable[..., MockSap]) -> MockSap:
    """One mock SAP with default options, shared by the session."""
    return mock_sap_factory()


@pytest.fixture
def mock_sap(mock_sap_server: MockSap) -> MockSap:
    """The shared mock SAP, reset to its seed data with no faults before the test."""
    mock_sap_server.reset()
    return mock_sap_server


@dataclass
class MockBtp:
    """A running `python -m mock_btp` process: the Destination service API at url, the Connectivity proxy."""

    url: str
    proxy_url: str
    process: subprocess.Popen[bytes]

    def admin(self, path: str, method: str = "GET", **kwargs: Any) -> Any:
        """Call /mock-admin/<path>; the JSON answer (None for an empty one); raises on an error status."""
        response = requests.request(method, f"{self.url}/mock-admin/{path.lstrip('/')}", timeout=10, **kwargs)
        response.raise_for_status()
        return response.json() if response.content else None

    def stop(self) -> None:
        stop_process(self.process)


def start_mock_btp(config: dict[str, Any], *args: str, port: int | None = None, timeout: float = 30.0) -> MockBtp:
    """Start the BTP stand-ins with this configuration on free ports (or the API on `port`, when a mock SAP
    must trust its issuer URL before it starts) and wait until both ports answer."""
    port = port or free_port()
    proxy_port = free_port()
    fd, config_file = tempfile.mkstemp(prefix="mock-btp-", suffix=".json")
    with os.fdopen(fd, "w") as file:
        json.dump(config, file)
    command = ["--host", "127.0.0.1", "--port", str(port), "--proxy-port", str(proxy_port), "--config", config_file]
    process = subprocess.Popen(
        [sys.executable, "-m", "mock_btp", *command, *args], cwd=ROOT, preexec_fn=die_with_parent
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    try:
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"mock_btp exited with {process.returncode} before it was ready")
            try:
                if requests.get(f"{url}/health", timeout=1).status_code == 200:
                    socket.create_connection(("127.0.0.1", proxy_port), timeout=1).close()
                    return MockBtp(url=url, proxy_url=f"http://127.0.0.1:{proxy_port}", process=process)
            except (requests.RequestException, OSError):  # not listening yet
                pass
            if time.monotonic() > deadline:
                process.kill()
                raise TimeoutError(f"mock_btp did not become ready within {timeout:.0f}s")
            time.sleep(0.1)
    finally:
        os.unlink(config_file)  # read at start; a test may hold secrets in it


@pytest.fixture
def mock_btp_factory() -> Iterator[Callable[..., MockBtp]]:
    """Start BTP stand-ins (`start_mock_btp` arguments); all are stopped at the end of the test."""
    started: list[MockBtp] = []

    def factory(config: dict[str, Any], *args: str, **kwargs: Any) -> MockBtp:
        server = start_mock_btp(config, *args, **kwargs)
        started.append(server)
        return server

    yield factory
    for server in started:
        server.stop()


@pytest.fixture(scope="session")
def dev_idp_key_file(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One development signing key for the session (RSA key generation is slow), never the repo's own."""
    return str(tmp_path_factory.mktemp("dev-idp") / "dev-idp-key.json")


@pytest.fixture(scope="session")
def dev_idp_jwks_url(dev_idp_key_file: str) -> Iterator[str]:
    """The dev identity provider's public keys over real HTTP, as the mock SAP fetches them."""
    body = json.dumps(public_key_set(load_or_create_key(dev_idp_key_file)).as_dict()).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/token_keys"
    server.shutdown()


@pytest.fixture(scope="session")
def trusting_sap_server(mock_sap_factory: Callable[..., MockSap], dev_idp_jwks_url: str) -> MockSap:
    return mock_sap_factory("--trusted-issuer", DEV_ISSUER, "--trusted-jwks-url", dev_idp_jwks_url)


@pytest.fixture
def trusting_sap(trusting_sap_server: MockSap) -> MockSap:
    trusting_sap_server.reset()
    return trusting_sap_server


def local_settings(
    redis_url: str,
    sap: MockSap,
    tmp_path: Path,
    dev_idp_key_file: str,
    *,
    redis_db: int | None = None,
    **overrides: Any,
) -> Settings:
    """The session's real Redis (a db of the test's own when given), a fresh SQLite file, a live mock SAP."""
    if redis_db is not None:
        redis_url = f"{redis_url.rsplit('/', 1)[0]}/{redis_db}"
    return Settings(
        redis_url=redis_url,
        database_url=f"sqlite:///{tmp_path / 'store.db'}",
        sap_url=sap.url,
        dev_idp_key_file=dev_idp_key_file,
        **{"vapid_key_file": vapid_key_file(dev_idp_key_file), **overrides},
    )


def vapid_key_file(dev_idp_key_file: str) -> str:
    """The test session's VAPID key, beside its identity provider's key (never the working tree's instance/)."""
    return str(Path(dev_idp_key_file).with_name("vapid-key.pem"))


def migrated_app(settings: Settings) -> Flask:
    """The API in-process, with its store's schema in place (what `python -m store upgrade` does)."""
    app = create_app(settings)
    upgrade(app.extensions["db_engine"])
    return app


@pytest.fixture
def settings(redis_url: str, mock_sap: MockSap, tmp_path: Path, dev_idp_key_file: str) -> Settings:
    return local_settings(redis_url, mock_sap, tmp_path, dev_idp_key_file)


@pytest.fixture
def app(settings: Settings) -> Flask:
    return migrated_app(settings)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@contextlib.contextmanager
def serve(app: Flask) -> Iterator[str]:
    """Any app over real HTTP (werkzeug's threaded server) on a free port; its base URL."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", free_port(), app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


@pytest.fixture
def served(app: Flask) -> Iterator[str]:
    """The app over real HTTP on a free port: for browsers and HTTP clients."""
    with serve(app) as url:
        yield url


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """Tracing switched on for one test, its spans collected in memory; off again afterwards."""
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from runtime import tracing

    provider = tracing.configure_tracing(Settings(otel_enabled=True, otel_traces_exporter="none"), "test")
    assert provider is not None
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield exporter
    tracing.shutdown_tracing()
