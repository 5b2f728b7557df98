"""Done-criterion: stop the worker while commands arrive, get "firing" on the webhook, restart it, get "resolved"."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from store import NewCommand, Status, Store, make_engine, upgrade
from tests.conftest import MockSap
from tests.integration.observability.conftest import Webhook
from tests.integration.workers.conftest import confirm_payload, released_operation
from workers.enqueue import enqueue_command
from workers.watchdog import STOPPED_FLOWING

ROOT = Path(__file__).resolve().parents[3]
REDIS_DB = 8  # this test's own database on the session's Redis server (the e2e writeback tests use 6)
STOPPED_AFTER = 2.0


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.1)


class Processes:
    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.started: list[subprocess.Popen[bytes]] = []

    def start(self, *args: str) -> subprocess.Popen[bytes]:
        process = subprocess.Popen([sys.executable, "-m", "workers", *args], cwd=ROOT, env=self.env)
        self.started.append(process)
        return process

    @staticmethod
    def stop(process: subprocess.Popen[bytes]) -> None:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture
def processes(redis_url: str, mock_sap: MockSap, tmp_path: Path, webhook: Webhook) -> Iterator[Processes]:
    url = redis_url.rsplit("/", 1)[0] + f"/{REDIS_DB}"
    redis.Redis.from_url(url).flushdb()
    env = {
        **os.environ,
        "REDIS_URL": url,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'store.db'}",
        "SAP_URL": mock_sap.url,
        "LOG_LEVEL": "WARNING",
        "ALERT_WEBHOOK_URL": webhook.url,
        "ALERT_STOPPED_FLOWING_AFTER": str(STOPPED_AFTER),
        "WATCHDOG_INTERVAL": "0.3",
    }
    upgrade(make_engine(env["DATABASE_URL"]))
    running = Processes(env)
    yield running
    for process in running.started:
        Processes.stop(process)
    redis.Redis.from_url(url).flushdb()


def test_stopped_worker_fires_and_restarted_worker_resolves(
    processes: Processes, mock_sap: MockSap, webhook: Webhook
) -> None:
    store = Store(make_engine(processes.env["DATABASE_URL"]))
    connection = redis.Redis.from_url(processes.env["REDIS_URL"])
    operation = released_operation(mock_sap)

    def arrive() -> str:
        """What POST .../confirmations does after its checks: store the command, then enqueue its job."""
        command, _ = store.accept(
            NewCommand(
                type="operation.confirm",
                requested_by="SUP_ASSY1010",
                role="Supervisor",
                target_type="ProductionOrder",
                target_id=operation["ManufacturingOrder"],
                payload=confirm_payload(operation),
                idempotency_key=uuid.uuid4().hex,
                attributes={"Plant": [operation["ProductionPlant"]], "WorkCenter": [operation["WorkCenter"]]},
            )
        )
        enqueue_command(connection, command.id)
        return command.id

    def succeeded(command_id: str) -> Callable[[], bool]:
        return lambda: (c := store.get(command_id)) is not None and c.status == Status.SUCCEEDED

    worker = processes.start()
    first = arrive()
    wait_for(succeeded(first), 60, "the running worker to apply the first command")
    # Only now: before the first success, a slow worker start would already look like "stopped flowing".
    processes.start("watchdog")

    Processes.stop(worker)
    stranded = [arrive(), arrive()]
    started = time.monotonic()
    wait_for(lambda: webhook.of(STOPPED_FLOWING) == ["firing"], STOPPED_AFTER + 10, "the firing notification")
    assert time.monotonic() - started >= STOPPED_AFTER - 0.5  # not before the window has passed

    processes.start()
    for command_id in stranded:
        wait_for(succeeded(command_id), 60, "the restarted worker to apply the waiting commands")
    wait_for(lambda: webhook.of(STOPPED_FLOWING) == ["firing", "resolved"], 10, "the resolved notification")
    time.sleep(1)  # a few more watchdog ticks: still exactly one of each
    assert webhook.of(STOPPED_FLOWING) == ["firing", "resolved"]
