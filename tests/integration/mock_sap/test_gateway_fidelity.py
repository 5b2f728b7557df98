"""What SAP's own clients rely on: a CSRF token from any URL of a service, and rescheduling that moves operations."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from .conftest import PRODORD, TASKS, Sap, format_date, parse_date

ORDERS = "A_ProductionOrder_2"
OPERATIONS = "A_ProductionOrderOperation_2"
OP_DATES = ("OpErlstSchedldExecStrtDte", "OpErlstSchedldExecEndDte")
OP_TIMES = ("OpErlstSchedldExecStrtTme", "OpErlstSchedldExecEndTme")

# (service, path below the service root, what the read itself answers): where SAP Cloud SDK and CAP fetch
# the token before a $batch or a function import, and an entity that does not exist.
ERROR_URLS = [
    (PRODORD, f"{ORDERS}('NO_SUCH_ORDER')", 404),
    (PRODORD, "$batch", 405),
    (PRODORD, "ReleaseOrder", 405),
    (TASKS, "Decision", 405),
]


def unreleased_order(sap: Sap) -> str:
    orders = sap.results(PRODORD, ORDERS, {"$filter": "OrderIsReleased eq ''", "$top": "1"})
    assert orders, "the seed should hold an order that is not released yet"
    return str(orders[0]["ManufacturingOrder"])


def batch_body(boundary: str) -> str:
    return (
        f"--{boundary}\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n"
        f"GET {ORDERS}?$top=1 HTTP/1.1\r\nAccept: application/json\r\n\r\n\r\n--{boundary}--\r\n"
    )


@pytest.mark.parametrize("method", ["GET", "HEAD"])
@pytest.mark.parametrize(("service", "path", "status"), ERROR_URLS)
def test_csrf_fetch_works_on_any_url_even_when_the_read_fails(
    sap: Callable[..., Sap], method: str, service: str, path: str, status: int
) -> None:
    user = sap("EXEC_ANNA") if service == TASKS else sap()
    response = user.session.request(
        method, user.url(service, path), headers={"X-CSRF-Token": "Fetch", "Accept": "application/json"}, timeout=30
    )
    assert response.status_code == status, response.text
    token = response.headers.get("x-csrf-token", "")
    assert token and token.lower() not in ("fetch", "required"), response.headers
    names = {cookie.name for cookie in user.session.cookies}
    assert any(name.startswith("sap-XSRF_") for name in names), names
    assert any(name.startswith("SAP_SESSIONID_") for name in names), names


def test_a_token_fetched_from_batch_and_function_urls_is_good_for_the_write(sap: Callable[..., Sap]) -> None:
    """What the clients do next: POST `$batch` or the function import with the token and the cookies."""
    batcher = sap()
    fetched = batcher.session.head(batcher.url(PRODORD, "$batch"), headers={"X-CSRF-Token": "Fetch"}, timeout=30)
    assert fetched.status_code == 405
    batch = batcher.session.post(
        batcher.url(PRODORD, "$batch"),
        data=batch_body("batch_fidelity"),
        headers={
            "Content-Type": "multipart/mixed;boundary=batch_fidelity",
            "X-CSRF-Token": fetched.headers["x-csrf-token"],
        },
        timeout=30,
    )
    assert batch.status_code == 202, batch.text

    caller = sap()
    order = unreleased_order(caller)
    fetched = caller.session.get(caller.url(PRODORD, "ReleaseOrder"), headers={"X-CSRF-Token": "Fetch"}, timeout=30)
    assert fetched.status_code == 405
    released = caller.write(
        "POST",
        PRODORD,
        "ReleaseOrder",
        {"ManufacturingOrder": f"'{order}'"},
        headers={"X-CSRF-Token": fetched.headers["x-csrf-token"]},
        csrf=False,
    )
    assert released.status_code == 200, released.text


def test_an_error_answer_without_fetch_carries_no_token(tech: Sap) -> None:
    response = tech.get(PRODORD, f"{ORDERS}('NO_SUCH_ORDER')")
    assert response.status_code == 404
    assert response.headers.get("x-csrf-token", "").lower() in ("", "required")


def test_a_failed_logon_gets_no_token_whatever_the_url(sap: Callable[..., Sap]) -> None:
    stranger = sap(f"NOBODY_{uuid.uuid4().hex[:6].upper()}", "wrong")
    response = stranger.session.get(stranger.url(PRODORD, "$batch"), headers={"X-CSRF-Token": "Fetch"}, timeout=30)
    assert response.status_code == 401
    assert response.headers.get("x-csrf-token", "").lower() in ("", "required")


# -- rescheduling moves the operations -------------------------------------------------------------------


def order_with_operations(sap: Sap) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """An unreleased order with at least two operations, all scheduled."""
    orders = sap.results(
        PRODORD, ORDERS, {"$filter": "OrderIsReleased eq ''", "$expand": "to_ProductionOrderOperation", "$top": "20"}
    )
    for order in orders:
        operations = order["to_ProductionOrderOperation"]["results"]
        if len(operations) >= 2 and all(op[name] for op in operations for name in OP_DATES):
            return order, sorted(operations, key=lambda op: op["ManufacturingOrderOperation"])
    raise AssertionError("the seed should hold an unreleased order with two scheduled operations")


def operations_of(sap: Sap, order: str) -> list[dict[str, Any]]:
    rows = sap.results(PRODORD, OPERATIONS, {"$filter": f"ManufacturingOrder eq '{order}'"})
    return sorted(rows, key=lambda op: op["ManufacturingOrderOperation"])


def reschedule(sap: Sap, order: dict[str, Any], **dates: int) -> dict[str, Any]:
    """PATCH the order's planned start/end by the given days; returns the order as SAP has it afterwards."""
    key = order["ManufacturingOrder"]
    body = {
        field: format_date(parse_date(order[field]) + timedelta(days=days))
        for field, days in (
            ("MfgOrderPlannedStartDate", dates.get("start")),
            ("MfgOrderPlannedEndDate", dates.get("end")),
        )
        if days is not None
    }
    response = sap.write(
        "PATCH", PRODORD, f"{ORDERS}('{key}')", body=body, headers={"If-Match": order["__metadata"]["etag"]}
    )
    assert response.status_code == 204, response.text
    return sap.read(PRODORD, f"{ORDERS}('{key}')")


def assert_moved(before: list[dict[str, Any]], after: list[dict[str, Any]], days: int) -> None:
    assert [op["ManufacturingOrderOperation"] for op in after] == [op["ManufacturingOrderOperation"] for op in before]
    for old, new in zip(before, after, strict=True):
        for name in OP_DATES:
            assert parse_date(new[name]) - parse_date(old[name]) == timedelta(days=days), (name, old[name], new[name])
        for name in OP_TIMES:
            assert new[name] == old[name], "rescheduling by whole days keeps the times of day"
        assert new["LastChangeDateTime"] > old["LastChangeDateTime"]
        assert new["__metadata"]["etag"] != old["__metadata"]["etag"]


def test_moving_the_start_moves_every_operation_by_as_much_in_the_same_order(tech: Sap) -> None:
    order, before = order_with_operations(tech)
    key = order["ManufacturingOrder"]
    starts = [parse_date(op["OpErlstSchedldExecStrtDte"]) for op in before]
    after_order = reschedule(tech, order, start=9)
    after = operations_of(tech, key)
    assert_moved(before, after, 9)
    assert [parse_date(op["OpErlstSchedldExecStrtDte"]) for op in after] == [s + timedelta(days=9) for s in starts]
    assert parse_date(after_order["MfgOrderPlannedStartDate"]) - parse_date(order["MfgOrderPlannedStartDate"]) == (
        timedelta(days=9)
    )

    stale = tech.write(
        "PATCH",
        PRODORD,
        f"{OPERATIONS}(OrderInternalBillOfOperations='{before[0]['OrderInternalBillOfOperations']}',"
        f"OrderIntBillOfOperationsItem='{before[0]['OrderIntBillOfOperationsItem']}')",
        body={"MfgOrderOperationText": "Re-planned"},
        headers={"If-Match": before[0]["__metadata"]["etag"]},
    )
    assert stale.status_code == 412, "the operation changed with its order: its old ETag is stale"


def test_moving_only_the_end_schedules_backward_from_it(tech: Sap) -> None:
    order, before = order_with_operations(tech)
    reschedule(tech, order, end=-2)
    assert_moved(before, operations_of(tech, order["ManufacturingOrder"]), -2)


def test_moving_both_dates_schedules_forward_from_the_new_start(tech: Sap) -> None:
    order, before = order_with_operations(tech)
    reschedule(tech, order, start=3, end=12)
    assert_moved(before, operations_of(tech, order["ManufacturingOrder"]), 3)


def test_a_refused_reschedule_moves_nothing(tech: Sap) -> None:
    order, before = order_with_operations(tech)
    key = order["ManufacturingOrder"]
    backwards = {
        "MfgOrderPlannedStartDate": format_date(parse_date(order["MfgOrderPlannedEndDate"]) + timedelta(days=5)),
        "MfgOrderPlannedEndDate": order["MfgOrderPlannedEndDate"],
    }
    response = tech.write(
        "PATCH", PRODORD, f"{ORDERS}('{key}')", body=backwards, headers={"If-Match": order["__metadata"]["etag"]}
    )
    assert response.status_code == 400, response.text
    assert operations_of(tech, key) == before
