"""Support for the writeback end-to-end tests: real `python -m workers` processes over one store and Redis."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest
import redis

from devenv.redis_server import SpawnedRedis, spawn_redis
from runtime.settings import Settings
from store import Command, NewCommand
from tests.conftest import MockSap, vapid_key_file
from tests.integration.workers.conftest import confirm_payload, supervisor_attributes
from workers.bootstrap import WorkerContext, bootstrap
from workers.enqueue import enqueue_command

ROOT = Path(__file__).resolve().parents[2]
E2E_REDIS_DB = 6
T = TypeVar("T")


def poll(condition: Callable[[], T], timeout: float, what: str, interval: float = 0.1) -> T:
    """The condition's first truthy value, or fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


@dataclass
class Workers:
    """The test's store and Redis (as the web layer sees them) and the worker processes it started."""

    context: WorkerContext
    env: dict[str, str]
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start(self, *args: str, output: Path | None = None, **overrides: str) -> subprocess.Popen[bytes]:
        """`python -m workers [args]` with the env plus overrides; `output`: a file for its stdout and stderr."""
        with open(output, "ab") if output is not None else contextlib.nullcontext() as sink:
            process = subprocess.Popen(
                [sys.executable, "-m", "workers", *args],
                cwd=ROOT,
                env={**self.env, **overrides},
                start_new_session=True,
                stdout=sink,
                stderr=subprocess.STDOUT if sink is not None else None,
            )
        self.processes.append(process)
        return process

    def stop(self, process: subprocess.Popen[bytes]) -> int:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                return process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        return process.wait()

    def kill(self, process: subprocess.Popen[bytes]) -> None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()

    def submit(self, type: str, payload: dict[str, Any], **fields: Any) -> Command:
        """What the web layer does: store the command, then enqueue its job."""
        command, _ = self.context.store.accept(
            NewCommand(
                type=type,
                payload=payload,
                idempotency_key=str(uuid.uuid4()),
                correlation_id=f"e2e-{uuid.uuid4().hex[:12]}",
                **fields,
            )
        )
        enqueue_command(self.context.redis, command.id)
        return command

    def confirm(self, operation: dict[str, Any], quantity: str = "1") -> Command:
        """A supervisor's confirmation of `quantity` on the operation (a row of A_ProductionOrderOperation_2)."""
        return self.submit(
            "operation.confirm",
            confirm_payload(operation, quantity),
            requested_by="SUP_" + operation["WorkCenter"],
            role="Supervisor",
            target_type="ProductionOrder",
            target_id=operation["ManufacturingOrder"],
            attributes=supervisor_attributes(operation),
        )

    def ended(self, command_id: str, timeout: float = 60) -> Command:
        """The command once it has ended (succeeded, rejected, conflict, dead); fails after `timeout` seconds."""
        return poll(
            lambda: (c := self.context.store.get(command_id)) is not None and c.is_terminal and c,
            timeout,
            f"writeback {command_id} to end",
            interval=0.2,
        )

    def commands(self, ids: list[str]) -> list[Command]:
        found = [self.context.store.get(i) for i in ids]
        assert all(c is not None for c in found)
        return [c for c in found if c is not None]


@pytest.fixture
def workers(redis_url: str, trusting_sap: MockSap, tmp_path: Path, dev_idp_key_file: str) -> Iterator[Workers]:
    with workers_on(redis_url, trusting_sap, tmp_path, dev_idp_key_file) as running:
        yield running


@contextlib.contextmanager
def workers_on(
    redis_url: str, trusting_sap: MockSap, tmp_path: Path, dev_idp_key_file: str, database_url: str | None = None
) -> Iterator[Workers]:
    """The `workers` fixture over any Redis server (e.g. one the test kills and restarts) and store (default: a
    SQLite file)."""
    settings = Settings(
        redis_url=redis_url.rsplit("/", 1)[0] + f"/{E2E_REDIS_DB}",
        database_url=database_url or f"sqlite:///{tmp_path / 'store.db'}",
        sap_url=trusting_sap.url,
        dev_idp_key_file=dev_idp_key_file,
        vapid_key_file=vapid_key_file(dev_idp_key_file),
        log_level="WARNING",
    )
    context = bootstrap(settings)
    context.redis.flushdb()
    env = {
        **os.environ,
        "APP_ENV": "development",
        "REDIS_URL": settings.redis_url,
        "DATABASE_URL": settings.database_url,
        "SAP_URL": settings.sap_url,
        "DEV_IDP_KEY_FILE": dev_idp_key_file,
        "VAPID_KEY_FILE": settings.vapid_key_file,
        "LOG_LEVEL": "WARNING",
        "LOG_FORMAT": "json",
        "WRITEBACK_MAX_ATTEMPTS": "20",
        "WRITEBACK_BACKOFF_BASE": "1",
        "WRITEBACK_BACKOFF_MAX": "8",
        "RECONCILE_INTERVAL": "0.3",
        "RECONCILE_ACCEPTED_AFTER": "1",
    }
    running = Workers(context, env)
    yield running
    for process in running.processes:
        running.stop(process)
    with contextlib.suppress(redis.RedisError):  # a test that failed mid-outage must still clean up
        context.redis.flushdb()
    context.close()


@dataclass
class KillableRedis:
    """A redis-server of the test's own, which it may kill and start again on the same port (empty, as after
    a crash without persistence)."""

    server: SpawnedRedis

    @property
    def url(self) -> str:
        return self.server.url

    def kill(self) -> None:
        self.server.process.kill()
        self.server.process.wait()

    def restart(self) -> None:
        self.server.stop()
        self.server = spawn_redis(port=self.server.port)

    def stop(self) -> None:
        self.server.stop()


@pytest.fixture
def killable_redis() -> Iterator[KillableRedis]:
    server = KillableRedis(spawn_redis())
    yield server
    server.stop()
