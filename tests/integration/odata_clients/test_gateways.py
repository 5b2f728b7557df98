"""Every gateway against the live mock: filters pushed down, canonical values, writes and their effects."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import requests
import structlog

from odata_clients.connectivity import SapConnectivity
from odata_clients.errors import SapNotFound
from odata_clients.gateways.tasks import APPROVE
from odata_clients.http import record_calls
from odata_clients.models import ConfirmationRequest, Quantity, to_dict

from .conftest import PRODCONF, PRODORD, TASKS

if TYPE_CHECKING:
    from tests.conftest import MockSap


def test_orders_are_filtered_by_plant_in_sap_and_paged(sap: SapConnectivity) -> None:
    with record_calls() as calls:
        page = sap.production_orders.search(["1010", "1020"], top=5, sort=["-planned_start", "order_id"], count=True)
    [call] = [c for c in calls if "A_ProductionOrder_2" in c.path]
    assert "ProductionPlant" in call.path and "%24filter" in call.path and "%24select" in call.path
    assert page.total is not None and page.total >= len(page.items) > 0
    assert {o.plant for o in page.items} <= {"1010", "1020"}
    starts = [o.planned_start for o in page.items if o.planned_start]
    assert starts == sorted(starts, reverse=True)
    second = sap.production_orders.search(
        ["1010", "1020"], top=5, sort=["-planned_start", "order_id"], after=page.next_after
    )
    assert not {o.order_id for o in page.items} & {o.order_id for o in second.items}
    for order in page.items:
        assert isinstance(order.planned_quantity.value, Decimal) and order.planned_quantity.unit
        assert order.planned_start is None or len(order.planned_start) == 10
        assert isinstance(order.is_released, bool)


def test_order_filters_status_material_dates_and_changed_since(sap: SapConnectivity) -> None:
    everything = sap.production_orders.search(["1010"], top=500, count=True)
    released = sap.production_orders.search(["1010"], status="released", top=500, count=True)
    assert released.items and all(o.is_released for o in released.items)
    assert released.total is not None and everything.total is not None and released.total < everything.total
    material = everything.items[0].material
    by_material = sap.production_orders.search(["1010"], material=material, top=500)
    assert by_material.items and {o.material for o in by_material.items} == {material}
    start = sorted(o.planned_start for o in everything.items if o.planned_start)[len(everything.items) // 2]
    later = sap.production_orders.search(["1010"], start_from=start, top=500)
    assert later.items and all(o.planned_start and o.planned_start >= start for o in later.items)
    newest = max(o.last_changed for o in everything.items if o.last_changed)
    changed = sap.production_orders.search(["1010"], changed_since=newest, top=500)
    assert changed.items and all(o.last_changed and o.last_changed >= newest for o in changed.items)
    assert sap.production_orders.search(["1010"], material="NO'SUCH", top=5).items == []


def test_get_order_with_operations_and_status_then_release(sap: SapConnectivity) -> None:
    [candidate] = sap.production_orders.search(["1010"], status="created", top=1).items
    order = sap.production_orders.get(candidate.order_id)
    assert order.order_id == candidate.order_id and order.etag
    assert order.operations and all(op.order_id == order.order_id for op in order.operations)
    assert order.statuses
    messages = sap.production_orders.release(order.order_id)
    assert all(m.text for m in messages)
    assert sap.production_orders.get(order.order_id, with_operations=False, with_status=False).is_released
    with pytest.raises(SapNotFound):
        sap.production_orders.get("9999999999")


def test_released_operations_at_work_centres(sap: SapConnectivity) -> None:
    page = sap.operations.list_released(["ASSY1010", "WELD1010"], top=50)
    assert page.items
    for op in page.items:
        assert op.work_center in ("ASSY1010", "WELD1010") and op.is_released and not op.is_confirmed
        assert op.quantity_to_go.value == max(Decimal(0), op.planned_quantity.value - op.confirmed_yield.value)
        assert op.quantity_to_go.unit == op.planned_quantity.unit
    first = page.items[0]
    again = sap.operations.get(first.order_id, first.operation)
    assert again == first


def test_confirmation_create_find_proposal_and_cancel(sap: SapConnectivity) -> None:
    op = sap.operations.list_released(["ASSY1010", "ASSY1020", "ASSY1030"], top=1).items[0]
    external_id = str(uuid.uuid4())
    assert sap.confirmations.find_by_external_id(external_id) is None
    proposal = sap.confirmations.proposal(op.order_id, op.operation, sequence=op.sequence)
    assert proposal.yield_quantity is None or isinstance(proposal.yield_quantity.value, Decimal)
    request = ConfirmationRequest(
        order_id=op.order_id,
        operation=op.operation,
        sequence=op.sequence,
        yield_quantity=Quantity(Decimal("1.500"), op.planned_quantity.unit),
        scrap_quantity=Quantity(Decimal("0.250"), op.planned_quantity.unit),
        external_id=external_id,
        text="integration test",
    )
    created = sap.confirmations.create(request)
    assert created.confirmation_group and created.confirmation_count
    assert created.yield_quantity == request.yield_quantity
    assert created.external_id == external_id
    found = sap.confirmations.find_by_external_id(external_id)
    assert found is not None and found.confirmation_count == created.confirmation_count
    reversal = sap.confirmations.cancel(created.confirmation_group, created.confirmation_count, text="undo")
    assert reversal.is_reversal or reversal.confirmation_count != created.confirmation_count
    assert sap.confirmations.get(created.confirmation_group, created.confirmation_count).is_reversed
    after = sap.operations.get(op.order_id, op.operation)
    assert after.confirmed_yield == op.confirmed_yield


def test_executive_inbox_decision_and_requisition(connect: Callable[..., SapConnectivity]) -> None:
    anna = connect(user="EXEC_ANNA")
    page = anna.tasks.list_open(top=50, count=True)
    assert page.items and page.total == len(page.items)
    linked = [t for t in page.items if t.object_id]
    assert linked, "requisition tasks name their requisition"
    task = linked[0]
    high = anna.tasks.list_open(priorities=[task.priority])
    assert {t.priority for t in high.items} == {task.priority}
    requisition = anna.purchase_requisitions.get(task.object_id)
    assert requisition.items and all(isinstance(i.quantity.value, Decimal) for i in requisition.items)
    assert requisition.total_net_amounts
    options = anna.tasks.decision_options(task.task_id, task.origin)
    assert {o.nature for o in options} >= {"POSITIVE", "NEGATIVE"}
    approve = next(o for o in options if o.nature == "POSITIVE")
    assert approve.key == APPROVE or approve.key
    decided = anna.tasks.decide(task.task_id, task.origin, approve.key, comments="ok, it's fine")
    assert decided.task_id == task.task_id and decided.status not in ("READY", "RESERVED", "IN_PROGRESS")
    assert task.task_id not in {t.task_id for t in anna.tasks.list_open().items}


def test_claim_release_forward(connect: Callable[..., SapConnectivity]) -> None:
    ben = connect(user="EXEC_BEN")
    task = next(t for t in ben.tasks.list_open().items if t.supports_claim)
    claimed = ben.tasks.claim(task.task_id, task.origin)
    assert claimed.status == "RESERVED"
    released = ben.tasks.release(task.task_id, task.origin)
    assert released.status == "READY"
    if task.supports_forward:
        ben.tasks.forward(task.task_id, task.origin, "EXEC_CARLA")
        assert task.task_id not in {t.task_id for t in ben.tasks.list_open().items}


def test_metadata_from_local_files_needs_no_sap_at_start(
    mock_sap: MockSap, connect: Callable[..., SapConnectivity], tmp_path: Path
) -> None:
    for service, path in (
        (PRODORD, "/sap/opu/odata/sap/API_PRODUCTION_ORDER_2_SRV/$metadata"),
        (PRODCONF, "/sap/opu/odata/sap/API_PROD_ORDER_CONFIRMATION_2_SRV/$metadata"),
        (TASKS, "/sap/opu/odata/IWPGW/TASKPROCESSING;mo;v=2/$metadata"),
    ):
        response = requests.get(mock_sap.url + path, auth=("EXT_API_TECH", "tech-pass-1"), timeout=30)
        (tmp_path / f"{service}.xml").write_bytes(response.content)
    sap = connect(metadata_dir=str(tmp_path))
    with record_calls() as calls:
        sap.preload()
        sap.production_orders.search(["1010"], top=1)
    assert not any(c.path.split("?")[0].endswith("$metadata") and PRODORD in c.path for c in calls)


def test_every_call_is_one_structured_log_event_without_credentials(sap: SapConnectivity) -> None:
    structlog.contextvars.bind_contextvars(request_id="req-odata-1")
    try:
        with structlog.testing.capture_logs() as logs:
            sap.production_orders.search(["1010"], top=1)
    finally:
        structlog.contextvars.unbind_contextvars("request_id")
    events = [e for e in logs if e["event"] == "sap_call"]
    assert events
    for event in events:
        for key in ("destination", "service", "method", "path", "status", "duration_ms", "attempt", "request_id"):
            assert key in event, key
        assert event["request_id"] == "req-odata-1"
        assert event["auth"] == "basic"
        assert "tech-pass-1" not in str(event) and "Authorization" not in str(event)
    assert to_dict(sap.production_orders.search(["1010"], top=1).items[0])
