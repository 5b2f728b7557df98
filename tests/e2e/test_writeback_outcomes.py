"""How writebacks end when SAP is down for a minute or the user's ETag is stale (real worker processes)."""

from __future__ import annotations

import time

import pytest

from store import Status
from tests.conftest import MockSap
from tests.e2e.writeback_env import Workers, poll, workers
from tests.integration.workers.conftest import (
    PRODORD,
    clear_faults,
    confirm_payload,
    confirmations_with,
    mock_faults,
    order,
    sap_get,
    supervisor_attributes,
)

__all__ = ["workers"]
OUTAGE_SECONDS = 60


@pytest.mark.slow
def test_sap_answering_503_for_a_minute(workers: Workers, trusting_sap: MockSap) -> None:
    operations = sap_get(
        trusting_sap,
        f"{PRODORD}/A_ProductionOrderOperation_2",
        **{"$filter": "OperationIsReleased eq 'X' and OperationIsConfirmed eq ''", "$top": "10", "$skip": "200"},
    )["results"]
    mock_faults(trusting_sap, service="*", status=503)
    outage_started = time.monotonic()
    ids = [
        workers.submit(
            "operation.confirm",
            confirm_payload(op),
            requested_by="SUP_" + op["WorkCenter"],
            role="Supervisor",
            target_type="ProductionOrder",
            target_id=op["ManufacturingOrder"],
            attributes=supervisor_attributes(op),
        ).id
        for op in operations
    ]
    workers.start()
    poll(
        lambda: all(c.attempts >= 2 and c.status == Status.ACCEPTED for c in workers.commands(ids)),
        30,
        "every command to have failed and been retried during the outage",
        interval=0.5,
    )
    # The outage itself is the scenario: SAP stays down for the full minute, whatever the commands do.
    time.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - outage_started)))
    assert all(not c.is_terminal for c in workers.commands(ids))
    clear_faults(trusting_sap)

    # The worker's circuit breaker may be open for up to 30 s more, then back-off (<= 8 s) and a reconciler pass.
    poll(lambda: all(c.is_terminal for c in workers.commands(ids)), 60, "every command to finish", interval=0.5)
    done = workers.commands(ids)
    assert {c.status for c in done} == {Status.SUCCEEDED}
    assert max(c.attempts for c in done) <= 20  # WRITEBACK_MAX_ATTEMPTS of the workers
    assert all(len(confirmations_with(trusting_sap, i)) == 1 for i in ids)


def test_stale_if_match_on_reschedule_is_a_conflict_and_never_retried(workers: Workers, trusting_sap: MockSap) -> None:
    target = sap_get(
        trusting_sap, f"{PRODORD}/A_ProductionOrder_2", **{"$filter": "ProductionPlant eq '1010'", "$top": "1"}
    )["results"][0]
    order_id = target["ManufacturingOrder"]
    command = workers.submit(
        "order.reschedule",
        {"order_id": order_id, "plant": "1010", "planned_start": "2031-05-05"},
        requested_by="PM_1010",
        role="PlantManager",
        target_type="ProductionOrder",
        target_id=order_id,
        attributes={"Plant": ["1010"]},
        if_match="W/\"'20000101000000'\"",
    )
    workers.start()

    ended = poll(
        lambda: (c := workers.context.store.get(command.id)) is not None and c.is_terminal and c,
        30,
        "the reschedule to end",
    )
    assert ended.status == Status.CONFLICT and ended.attempts == 1
    assert ended.last_error is not None and ended.last_error["status"] == 412 and ended.last_error["message"]
    # Nothing to poll for: the claim is that nothing happens. Give the reconciler (0.3 s) ten passes.
    time.sleep(3)
    after = workers.context.store.get(command.id)
    assert after is not None and after.status == Status.CONFLICT and after.attempts == 1
    events = [e.event for e in workers.context.store.list_audit(command_id=command.id).items]
    assert events.count("attempt_started") == 1 and "retry_scheduled" not in events
    assert order(trusting_sap, order_id)["MfgOrderPlannedStartDate"] == target["MfgOrderPlannedStartDate"]
