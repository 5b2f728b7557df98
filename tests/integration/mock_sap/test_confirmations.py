"""API_PROD_ORDER_CONFIRMATION_2_SRV: ProdnOrdConf2 create/read, quantities and flags, errors, idempotency lookup."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pyodata
import pytest

from .conftest import PRODCONF, PRODORD, Sap, assert_sap_error, decimal, format_date

OPERATIONS = "A_ProductionOrderOperation_2"
ORDERS = "A_ProductionOrder_2"
CONFIRMATIONS = "ProdnOrdConf2"


def operation_path(op: dict[str, Any]) -> str:
    return (
        f"{OPERATIONS}(OrderInternalBillOfOperations='{op['OrderInternalBillOfOperations']}',"
        f"OrderIntBillOfOperationsItem='{op['OrderIntBillOfOperationsItem']}')"
    )


def last_open_released_operation(sap: Sap) -> dict[str, Any]:
    """A released, unconfirmed operation that is the last one of its order (it drives the order's yield)."""
    candidates = sap.results(
        PRODORD, OPERATIONS, {"$filter": "OperationIsReleased eq 'X' and OperationIsConfirmed eq ''", "$top": "50"}
    )
    assert candidates, "the seed should hold released, unconfirmed operations"
    for op in candidates:
        siblings = sap.results(PRODORD, OPERATIONS, {"$filter": f"ManufacturingOrder eq '{op['ManufacturingOrder']}'"})
        if op["ManufacturingOrderOperation"] == max(s["ManufacturingOrderOperation"] for s in siblings):
            return op
    pytest.fail("no released, unconfirmed last operation found")


def unreleased_operation(sap: Sap) -> dict[str, Any]:
    ops = sap.results(PRODORD, OPERATIONS, {"$filter": "OperationIsReleased eq ''", "$top": "1"})
    assert ops, "the seed should hold operations that are not released"
    return ops[0]


def confirmation_body(op: dict[str, Any], yield_qty: str = "2", **extra: Any) -> dict[str, Any]:
    return {
        "OrderID": op["ManufacturingOrder"],
        "OrderOperation": op["ManufacturingOrderOperation"],
        "Sequence": op["ManufacturingOrderSequence"],
        "ConfirmationUnit": op["OperationUnit"],
        "ConfirmationYieldQuantity": yield_qty,
        "ConfirmationScrapQuantity": "0",
        "ConfirmationText": "integration test",
        "PostingDate": format_date(datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)),
        "ExternalSystemConfirmation": str(uuid.uuid4()),
        **extra,
    }


def confirmation_path(confirmation: dict[str, Any]) -> str:
    return (
        f"{CONFIRMATIONS}(ConfirmationGroup='{confirmation['ConfirmationGroup']}',"
        f"ConfirmationCount='{confirmation['ConfirmationCount']}')"
    )


def post_confirmation(sap: Sap, body: dict[str, Any]):
    return sap.write("POST", PRODCONF, CONFIRMATIONS, body=body)


def by_external_id(sap: Sap, external_id: str) -> list[dict[str, Any]]:
    return sap.results(PRODCONF, CONFIRMATIONS, {"$filter": f"ExternalSystemConfirmation eq guid'{external_id}'"})


def test_confirmation_create_returns_201_and_can_be_read_back(tech: Sap):
    op = last_open_released_operation(tech)
    body = confirmation_body(op, "2")
    response = post_confirmation(tech, body)
    assert response.status_code == 201, response.text
    created = response.json()["d"]
    group, count = created["ConfirmationGroup"], created["ConfirmationCount"]
    assert group and count, "the server assigns the confirmation keys"
    assert created["OrderID"] == op["ManufacturingOrder"]
    assert created["OrderOperation"] == op["ManufacturingOrderOperation"]
    assert decimal(created["ConfirmationYieldQuantity"]) == Decimal("2")
    assert created["ExternalSystemConfirmation"].lower() == body["ExternalSystemConfirmation"]
    path = f"{CONFIRMATIONS}(ConfirmationGroup='{group}',ConfirmationCount='{count}')"
    assert created["__metadata"]["uri"].endswith(path)
    location = response.headers.get("Location") or response.headers.get("location")
    assert location and location.endswith(path)
    read = tech.read(PRODCONF, path)
    assert read["ConfirmationGroup"] == group and read["ConfirmationCount"] == count
    assert decimal(read["ConfirmationYieldQuantity"]) == Decimal("2")
    items = tech.read(PRODCONF, f"{path}/to_ProdnOrdConfMatlDocItm")
    assert isinstance(items["results"], list)


def test_confirmation_updates_operation_and_order_quantities_and_flags(tech: Sap):
    op = last_open_released_operation(tech)
    order_before = tech.read(PRODORD, f"{ORDERS}('{op['ManufacturingOrder']}')")
    response = post_confirmation(tech, confirmation_body(op, "3.5"))
    assert response.status_code == 201, response.text
    op_after = tech.read(PRODORD, operation_path(op))
    assert decimal(op_after["OpTotalConfirmedYieldQty"]) == decimal(op["OpTotalConfirmedYieldQty"]) + Decimal("3.5")
    assert op_after["OperationIsPartiallyConfirmed"] == "X"
    assert op_after["OperationIsConfirmed"] == ""
    assert op_after["LastChangeDateTime"] >= op["LastChangeDateTime"]
    order_after = tech.read(PRODORD, f"{ORDERS}('{op['ManufacturingOrder']}')")
    assert decimal(order_after["MfgOrderConfirmedYieldQty"]) == decimal(
        order_before["MfgOrderConfirmedYieldQty"]
    ) + Decimal("3.5")
    assert order_after["OrderIsPartiallyConfirmed"] == "X"
    assert order_after["__metadata"]["etag"] != order_before["__metadata"]["etag"]


def test_final_confirmation_sets_operation_confirmed(tech: Sap):
    op = last_open_released_operation(tech)
    remaining = decimal(op["OpPlannedTotalQuantity"]) - decimal(op["OpTotalConfirmedYieldQty"])
    body = confirmation_body(op, f"{max(remaining, Decimal('1')):.3f}", IsFinalConfirmation=True)
    response = post_confirmation(tech, body)
    assert response.status_code == 201, response.text
    assert response.json()["d"]["IsFinalConfirmation"] is True
    op_after = tech.read(PRODORD, operation_path(op))
    assert op_after["OperationIsConfirmed"] == "X"
    statuses = tech.results(PRODORD, f"{ORDERS}('{op['ManufacturingOrder']}')/to_ProductionOrderStatus")
    assert {"CNF", "PCNF"} & {s["StatusShortName"] for s in statuses}


def test_confirmation_of_unreleased_operation_is_refused_with_sap_error(tech: Sap):
    op = unreleased_operation(tech)
    body = confirmation_body(op, "1")
    response = post_confirmation(tech, body)
    error = assert_sap_error(response, 400)
    assert "/" in error["code"]
    assert by_external_id(tech, body["ExternalSystemConfirmation"]) == []
    op_after = tech.read(PRODORD, operation_path(op))
    assert op_after["OpTotalConfirmedYieldQty"] == op["OpTotalConfirmedYieldQty"]


def test_confirmation_for_unknown_order_is_refused(tech: Sap):
    op = last_open_released_operation(tech)
    response = post_confirmation(tech, confirmation_body({**op, "ManufacturingOrder": "NOSUCHORDER"}, "1"))
    assert_sap_error(response)
    assert 400 <= response.status_code < 500


def test_external_system_confirmation_is_filterable_for_idempotency(tech: Sap):
    op = last_open_released_operation(tech)
    body = confirmation_body(op, "1")
    assert by_external_id(tech, body["ExternalSystemConfirmation"]) == [], "not there before the post"
    created = post_confirmation(tech, body).json()["d"]
    found = by_external_id(tech, body["ExternalSystemConfirmation"])
    assert [(c["ConfirmationGroup"], c["ConfirmationCount"]) for c in found] == [
        (created["ConfirmationGroup"], created["ConfirmationCount"])
    ]
    upper = tech.results(
        PRODCONF,
        CONFIRMATIONS,
        {"$filter": f"ExternalSystemConfirmation eq guid'{body['ExternalSystemConfirmation'].upper()}'"},
    )
    assert len(upper) == 1, "GUID comparison is case-insensitive"
    assert by_external_id(tech, str(uuid.uuid4())) == []


def test_confirmations_can_be_filtered_by_order(tech: Sap):
    op = last_open_released_operation(tech)
    post_confirmation(tech, confirmation_body(op, "1"))
    post_confirmation(tech, confirmation_body(op, "1"))
    listing = tech.read(
        PRODCONF,
        CONFIRMATIONS,
        {"$filter": f"OrderID eq '{op['ManufacturingOrder']}'", "$inlinecount": "allpages"},
    )
    assert int(listing["__count"]) >= 2
    assert {c["OrderID"] for c in listing["results"]} == {op["ManufacturingOrder"]}


@pytest.mark.parametrize("method", ["PATCH", "PUT", "DELETE"])
def test_confirmations_cannot_be_changed_or_deleted(tech: Sap, method: str):
    op = last_open_released_operation(tech)
    created = post_confirmation(tech, confirmation_body(op, "1")).json()["d"]
    path = confirmation_path(created)
    body = None if method == "DELETE" else {"ConfirmationText": "changed"}
    response = tech.write(method, PRODCONF, path, body=body, headers={"If-Match": "*"})
    assert 400 <= response.status_code < 600, response.status_code
    assert tech.read(PRODCONF, path)["ConfirmationText"] == "integration test"


def test_cancel_confirmation_reverses_the_quantities(tech: Sap):
    op = last_open_released_operation(tech)
    created = post_confirmation(tech, confirmation_body(op, "4")).json()["d"]
    response = tech.write(
        "POST",
        PRODCONF,
        "CancelProdnOrdConf",
        {
            "ConfirmationGroup": f"'{created['ConfirmationGroup']}'",
            "ConfirmationCount": f"'{created['ConfirmationCount']}'",
        },
    )
    assert response.status_code == 200, response.text
    reversal = response.json()["d"]
    assert reversal["ConfirmationGroup"] == created["ConfirmationGroup"]
    assert reversal["IsReversal"] is True
    original = tech.read(PRODCONF, confirmation_path(created))
    assert original["IsReversed"] is True
    op_after = tech.read(PRODORD, operation_path(op))
    assert decimal(op_after["OpTotalConfirmedYieldQty"]) == decimal(op["OpTotalConfirmedYieldQty"])
    again = tech.write(
        "POST",
        PRODCONF,
        "CancelProdnOrdConf",
        {
            "ConfirmationGroup": f"'{created['ConfirmationGroup']}'",
            "ConfirmationCount": f"'{created['ConfirmationCount']}'",
        },
    )
    assert_sap_error(again)
    assert 400 <= again.status_code < 500


def test_get_conf_proposal_is_wrapped_under_the_function_name(tech: Sap):
    op = last_open_released_operation(tech)
    response = tech.write(
        "POST",
        PRODCONF,
        "GetConfProposal",
        {
            "OrderID": f"'{op['ManufacturingOrder']}'",
            "OrderOperation": f"'{op['ManufacturingOrderOperation']}'",
            "Sequence": f"'{op['ManufacturingOrderSequence']}'",
            "ConfirmationYieldQuantity": "0M",
            "QuantityIsToBeProposed": "true",
        },
    )
    assert response.status_code == 200, response.text
    proposal = response.json()["d"]["GetConfProposal"]
    assert proposal["OrderID"] == op["ManufacturingOrder"]
    assert proposal["OrderOperation"] == op["ManufacturingOrderOperation"]
    remaining = decimal(op["OpPlannedTotalQuantity"]) - decimal(op["OpTotalConfirmedYieldQty"])
    assert decimal(proposal["ConfirmationYieldQuantity"]) == max(remaining, Decimal(0))


def test_pyodata_creates_and_reads_a_confirmation(pyodata_client: Callable[..., pyodata.Client], tech: Sap):
    client = pyodata_client(PRODCONF)
    op = last_open_released_operation(tech)
    external_id = str(uuid.uuid4())
    created = (
        client.entity_sets.ProdnOrdConf2.create_entity()
        .set(
            OrderID=op["ManufacturingOrder"],
            OrderOperation=op["ManufacturingOrderOperation"],
            Sequence=op["ManufacturingOrderSequence"],
            ConfirmationUnit=op["OperationUnit"],
            ConfirmationYieldQuantity="1.250",
            PostingDate=datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0),
            ExternalSystemConfirmation=external_id,
        )
        .execute()
    )
    assert created.ConfirmationGroup and created.ConfirmationCount
    found = (
        client.entity_sets.ProdnOrdConf2.get_entities()
        .filter(f"ExternalSystemConfirmation eq guid'{external_id}'")
        .execute()
    )
    assert [c.ConfirmationCount for c in found] == [created.ConfirmationCount]
    again = client.entity_sets.ProdnOrdConf2.get_entity(
        ConfirmationGroup=created.ConfirmationGroup, ConfirmationCount=created.ConfirmationCount
    ).execute()
    assert Decimal(str(again.ConfirmationYieldQuantity)) == Decimal("1.25")
    op_after = tech.read(PRODORD, operation_path(op))
    assert decimal(op_after["OpTotalConfirmedYieldQty"]) == decimal(op["OpTotalConfirmedYieldQty"]) + Decimal("1.25")


def test_over_confirmation_is_signalled_by_a_warning_or_refused(tech: Sap):
    """Confirming far more yield than planned must not pass silently: SAP answers with a warning in the
    `sap-message` header (severity "warning") or refuses with an error, depending on the overdelivery check."""
    op = last_open_released_operation(tech)
    too_much = decimal(op["OpPlannedTotalQuantity"]) * 3 + 1
    response = post_confirmation(tech, confirmation_body(op, f"{too_much:.3f}"))
    if response.status_code == 201:
        header = response.headers.get("sap-message")
        assert header, "an over-confirmation was accepted without any sap-message"
        message = json.loads(header)
        severities = [message["severity"], *(d["severity"] for d in message.get("details", []))]
        assert "warning" in severities, message
    else:
        assert_sap_error(response, 400)


def test_deep_insert_of_goods_movements(tech: Sap):
    op = last_open_released_operation(tech)
    order = tech.read(PRODORD, f"{ORDERS}('{op['ManufacturingOrder']}')")
    movement = {
        "Material": order["Material"],
        "Plant": order["ProductionPlant"],
        "StorageLocation": "0001",
        "GoodsMovementType": "101",
        "EntryUnit": order["ProductionUnit"],
        "QuantityInEntryUnit": "2",
    }
    body = confirmation_body(op, "2", to_ProdnOrdConfMatlDocItm={"results": [movement]})
    response = post_confirmation(tech, body)
    assert response.status_code == 201, response.text
    items = tech.results(PRODCONF, f"{confirmation_path(response.json()['d'])}/to_ProdnOrdConfMatlDocItm")
    assert len(items) == 1
    item = items[0]
    assert item["GoodsMovementType"] == "101"
    assert item["Material"] == order["Material"]
    assert decimal(item["QuantityInEntryUnit"]) == Decimal("2")
    assert item["MaterialDocument"] and item["MaterialDocumentYear"]
    assert item["ConfirmationGroup"] == response.json()["d"]["ConfirmationGroup"]


def test_function_import_parameter_of_the_wrong_type_is_400(tech: Sap):
    op = last_open_released_operation(tech)
    response = tech.write(
        "POST",
        PRODCONF,
        "GetConfProposal",
        {
            "OrderID": f"'{op['ManufacturingOrder']}'",
            "OrderOperation": f"'{op['ManufacturingOrderOperation']}'",
            "ConfirmationYieldQuantity": "'many'",
        },
    )
    assert_sap_error(response, 400)
    cancel = tech.write("POST", PRODCONF, "CancelProdnOrdConf", {"ConfirmationGroup": "'1'"})
    assert_sap_error(cancel, 400)
