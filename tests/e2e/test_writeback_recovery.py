"""Writebacks survive a worker killed mid-command and a Redis that forgets its jobs (real worker processes)."""

from __future__ import annotations

import signal

from store import Status
from tests.conftest import MockSap
from tests.e2e.writeback_env import Workers, poll, workers
from tests.integration.workers.conftest import (
    PRODORD,
    confirmations_with,
    mock_faults,
    released_operation,
    sap_get,
    writes_applied,
)

__all__ = ["workers"]


def test_worker_killed_after_sap_applied_the_confirmation(workers: Workers, trusting_sap: MockSap) -> None:
    # SAP posts the confirmation, then holds its answer: the worker is killed while it waits.
    mock_faults(
        trusting_sap,
        service="API_PROD_ORDER_CONFIRMATION_2_SRV",
        methods=["POST"],
        phase="after",
        hang=True,
        hang_seconds=60,
    )
    command_id = workers.confirm(released_operation(trusting_sap)).id
    first = workers.start()

    poll(lambda: len(confirmations_with(trusting_sap, command_id)) == 1, 30, "SAP to post the confirmation")
    running = workers.context.store.get(command_id)
    assert running is not None and running.status == Status.RUNNING  # SAP has it, the store does not
    workers.kill(first)
    assert first.returncode == -signal.SIGKILL

    workers.start(WORKER_HEARTBEAT_INTERVAL="1")  # the first one beat last before it was killed
    done = poll(
        lambda: (c := workers.context.store.get(command_id)) is not None and c.is_terminal and c,
        30,
        "the second worker to finish the command",
    )
    assert done.status == Status.SUCCEEDED and done.attempts == 2
    assert done.result is not None and done.result["applied_by_earlier_attempt"] is True
    assert len(confirmations_with(trusting_sap, command_id)) == 1
    reclaimed = next(
        e for e in workers.context.store.list_audit(command_id=command_id).items if e.event == "reconciled"
    )
    assert reclaimed.detail["to"] == "in_doubt"  # the write had left: asked about, never re-sent blind
    assert workers.context.store.verify_chain().ok


def test_redis_flushed_with_100_accepted_commands(workers: Workers, trusting_sap: MockSap) -> None:
    operations = sap_get(
        trusting_sap,
        f"{PRODORD}/A_ProductionOrderOperation_2",
        **{"$filter": "OperationIsReleased eq 'X' and OperationIsConfirmed eq ''", "$top": "100"},
    )["results"]
    assert len(operations) == 100
    ids = [workers.confirm(op).id for op in operations]
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
