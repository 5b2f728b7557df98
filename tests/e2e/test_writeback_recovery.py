"""Writebacks survive a worker killed mid-command and a Redis that forgets its jobs (real worker processes)."""

from __future__ import annotations

import signal
from pathlib import Path

from store import Status
from tests.conftest import MockSap
from tests.e2e.writeback_env import Workers, poll, workers
from tests.integration.workers.conftest import (
    PRODORD,
    confirm_payload,
    confirmations_with,
    released_operation,
    sap_get,
    supervisor_attributes,
    writes_applied,
)

__all__ = ["workers"]


def _confirm(workers: Workers, operation: dict[str, str]) -> str:
    return workers.submit(
        "operation.confirm",
        confirm_payload(operation),
        requested_by="SUP_" + operation["WorkCenter"],
        role="Supervisor",
        target_type="ProductionOrder",
        target_id=operation["ManufacturingOrder"],
        attributes=supervisor_attributes(operation),
    ).id


def test_worker_killed_after_sap_applied_the_confirmation(
    workers: Workers, trusting_sap: MockSap, tmp_path: Path
) -> None:
    pause = tmp_path / "paused-after-apply"
    command_id = _confirm(workers, released_operation(trusting_sap))
    first = workers.start(WRITEBACK_TEST_PAUSE_AFTER_APPLY_FILE=str(pause))

    poll(pause.exists, 30, "the first worker to apply the confirmation and pause")
    assert len(confirmations_with(trusting_sap, command_id)) == 1  # SAP has it ...
    running = workers.context.store.get(command_id)
    assert running is not None and running.status == Status.RUNNING  # ... the store does not
    workers.kill(first)
    assert first.returncode == -signal.SIGKILL

    workers.start(RECONCILE_RUNNING_AFTER="1")
    done = poll(
        lambda: (c := workers.context.store.get(command_id)) is not None and c.is_terminal and c,
        30,
        "the second worker to finish the command",
    )
    assert done.status == Status.SUCCEEDED and done.attempts == 2
    assert done.result is not None and done.result["applied_by_earlier_attempt"] is True
    assert len(confirmations_with(trusting_sap, command_id)) == 1
    assert workers.context.store.verify_chain().ok


def test_redis_flushed_with_100_accepted_commands(workers: Workers, trusting_sap: MockSap) -> None:
    operations = sap_get(
        trusting_sap,
        f"{PRODORD}/A_ProductionOrderOperation_2",
        **{"$filter": "OperationIsReleased eq 'X' and OperationIsConfirmed eq ''", "$top": "100"},
    )["results"]
    assert len(operations) == 100
    ids = [_confirm(workers, op) for op in operations]
    assert workers.context.redis.dbsize() > 0
    workers.context.redis.flushdb()  # every job is gone; the outbox still has the 100 commands
    before = writes_applied(trusting_sap)

    workers.start()
    workers.start()
    poll(
        lambda: all(c.is_terminal for c in workers.commands(ids)),
        90,
        "all 100 commands to finish after the reconciler re-enqueued them",
        interval=0.5,
    )

    assert {c.status for c in workers.commands(ids)} == {Status.SUCCEEDED}
    assert writes_applied(trusting_sap) - before == 100
    assert all(len(confirmations_with(trusting_sap, i)) == 1 for i in ids)
    assert workers.context.store.verify_chain().ok
