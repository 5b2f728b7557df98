"""Thread-safe state: parallel writes neither lose updates nor let two writers win with the same ETag."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from decimal import Decimal

from .conftest import PRODCONF, PRODORD, Sap, decimal, format_date, parse_date

ORDERS = "A_ProductionOrder_2"
OPERATIONS = "A_ProductionOrderOperation_2"
PARALLEL = 8


def test_parallel_confirmations_lose_no_quantity(sap: Callable[..., Sap]):
    workers = [sap() for _ in range(PARALLEL)]
    op = workers[0].results(
        PRODORD, OPERATIONS, {"$filter": "OperationIsReleased eq 'X' and OperationIsConfirmed eq ''", "$top": "1"}
    )[0]
    path = op["__metadata"]["uri"][len(workers[0].url(PRODORD)) :]
    for worker in workers:
        worker.fetch_csrf(PRODCONF)
    body = {
        "OrderID": op["ManufacturingOrder"],
        "OrderOperation": op["ManufacturingOrderOperation"],
        "Sequence": op["ManufacturingOrderSequence"],
        "ConfirmationUnit": op["OperationUnit"],
        "ConfirmationYieldQuantity": "1",
    }

    def confirm(worker: Sap) -> tuple[int, str, str]:
        response = worker.write("POST", PRODCONF, "ProdnOrdConf2", body=body)
        created = response.json().get("d", {}) if response.status_code == 201 else {}
        return response.status_code, created.get("ConfirmationGroup", ""), created.get("ConfirmationCount", "")

    with ThreadPoolExecutor(PARALLEL) as pool:
        results = list(pool.map(confirm, workers))
    assert [status for status, _, _ in results] == [201] * PARALLEL
    assert len({(group, count) for _, group, count in results}) == PARALLEL, "keys must be unique"
    after = workers[0].read(PRODORD, path)
    assert decimal(after["OpTotalConfirmedYieldQty"]) == decimal(op["OpTotalConfirmedYieldQty"]) + Decimal(PARALLEL)


def test_parallel_patches_with_the_same_etag_have_exactly_one_winner(sap: Callable[..., Sap]):
    workers = [sap() for _ in range(PARALLEL)]
    order = workers[0].results(PRODORD, ORDERS, {"$filter": "OrderIsReleased eq ''", "$top": "1"})[0]
    key, etag = order["ManufacturingOrder"], order["__metadata"]["etag"]
    start = parse_date(order["MfgOrderPlannedStartDate"])
    for worker in workers:
        worker.fetch_csrf(PRODORD)

    def patch(args: tuple[int, Sap]) -> int:
        index, worker = args
        new_start = format_date(start + timedelta(days=index + 1))
        response = worker.write(
            "PATCH",
            PRODORD,
            f"{ORDERS}('{key}')",
            body={"MfgOrderPlannedStartDate": new_start},
            headers={"If-Match": etag},
        )
        return response.status_code

    with ThreadPoolExecutor(PARALLEL) as pool:
        statuses = list(pool.map(patch, enumerate(workers)))
    assert sorted(statuses) == [204] + [412] * (PARALLEL - 1), statuses
    winner = statuses.index(204)
    after = workers[0].read(PRODORD, f"{ORDERS}('{key}')")
    assert after["MfgOrderPlannedStartDate"] == format_date(start + timedelta(days=winner + 1))
