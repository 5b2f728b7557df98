"""API_PRODUCTION_ORDER_2_SRV business behaviour: seed variety, navigations, ReleaseOrder, ReleaseOperation."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pyodata
import pytest
from pyodata.exceptions import HttpError

from .conftest import PRODORD, Sap, assert_sap_error, decimal, parse_date

ORDERS = "A_ProductionOrder_2"
OPERATIONS = "A_ProductionOrderOperation_2"
FLAG_VALUES = {"X", ""}


def order_path(key: str) -> str:
    return f"{ORDERS}('{key}')"


def find_orders(sap: Sap, expression: str, top: int = 1) -> list[dict[str, Any]]:
    return sap.results(PRODORD, ORDERS, {"$filter": expression, "$top": str(top)})


def release_order(sap: Sap, key: str):
    return sap.write("POST", PRODORD, "ReleaseOrder", {"ManufacturingOrder": f"'{key}'"})


def test_seed_has_variety_of_plants_work_centres_materials_and_units(tech: Sap):
    orders, _, _ = tech.collect(PRODORD, ORDERS)
    operations, _, _ = tech.collect(PRODORD, OPERATIONS)
    assert len({o["ProductionPlant"] for o in orders}) >= 2
    assert len({o["Material"] for o in orders}) >= 3
    assert len({o["ProductionUnit"] for o in orders}) >= 2
    assert len({op["WorkCenter"] for op in operations}) >= 3
    assert {o["OrderIsReleased"] for o in orders} == FLAG_VALUES, "both released and unreleased orders"
    assert {op["OperationIsReleased"] for op in operations} == FLAG_VALUES


def test_orders_are_internally_consistent(tech: Sap):
    orders, _, _ = tech.collect(PRODORD, ORDERS)
    for order in orders:
        key = order["ManufacturingOrder"]
        assert re.fullmatch(r"\d{14}", order["LastChangeDateTime"]), key
        for name, value in order.items():
            if re.fullmatch(r"(Order|Operation)Is[A-Za-z]+", name):
                assert value in FLAG_VALUES, f"{key}.{name} = {value!r}: flags are 'X' or ''"
        assert decimal(order["TotalQuantity"]) > 0
        assert decimal(order["MfgOrderConfirmedYieldQty"]) >= 0
        assert order["ProductionUnit"]
        if order["MfgOrderPlannedStartDate"] and order["MfgOrderPlannedEndDate"]:
            start = parse_date(order["MfgOrderPlannedStartDate"])
            assert start <= parse_date(order["MfgOrderPlannedEndDate"]), key
            assert (start.hour, start.minute, start.second) == (0, 0, 0), "display-format Date is midnight UTC"
        if order["OrderIsReleased"] == "X":
            assert order["MfgOrderActualReleaseDate"], f"{key} released without release date"


def test_operations_belong_to_their_order_and_share_its_plant(tech: Sap):
    orders = {o["ManufacturingOrder"]: o for o in tech.collect(PRODORD, ORDERS)[0]}
    operations, _, _ = tech.collect(PRODORD, OPERATIONS)
    for op in operations:
        order = orders[op["ManufacturingOrder"]]
        assert op["OrderInternalBillOfOperations"] == order["OrderInternalBillOfOperations"]
        assert op["ProductionPlant"] == order["ProductionPlant"]
        assert op["WorkCenter"], op
        assert op["OperationUnit"], op
        assert decimal(op["OpTotalConfirmedYieldQty"]) <= decimal(op["OpPlannedTotalQuantity"]) or (
            op["OperationIsConfirmed"] == "X"
        )
        if op["OperationIsReleased"] == "X":
            assert order["OrderIsReleased"] == "X" or order.get("OrderIsPartiallyReleased") == "X"
    assert {op["ManufacturingOrder"] for op in operations} == set(orders), "every order has operations"


def test_navigation_to_operations_and_status(tech: Sap):
    order = find_orders(tech, "OrderIsReleased eq 'X'")[0]
    key = order["ManufacturingOrder"]
    operations = tech.results(PRODORD, f"{order_path(key)}/to_ProductionOrderOperation")
    filtered = tech.results(PRODORD, OPERATIONS, {"$filter": f"ManufacturingOrder eq '{key}'"})
    assert sorted(op["OrderIntBillOfOperationsItem"] for op in operations) == sorted(
        op["OrderIntBillOfOperationsItem"] for op in filtered
    )
    numbers = [op["ManufacturingOrderOperation"] for op in operations]
    assert all(re.fullmatch(r"\d{4}", n) for n in numbers), numbers
    statuses = tech.results(PRODORD, f"{order_path(key)}/to_ProductionOrderStatus")
    assert statuses
    for status in statuses:
        assert status["ManufacturingOrder"] == key
        assert isinstance(status["IsUserStatus"], bool)
        path = f"A_ProductionOrderStatus_2(ManufacturingOrder='{key}',StatusCode='{status['StatusCode']}')"
        assert tech.read(PRODORD, path)["StatusName"] == status["StatusName"]
    assert "REL" in {s["StatusShortName"] for s in statuses}, "a released order carries system status REL"


def test_release_order_releases_order_and_operations(tech: Sap):
    order = find_orders(tech, "OrderIsReleased eq ''")[0]
    key = order["ManufacturingOrder"]
    response = release_order(tech, key)
    assert response.status_code == 200, response.text
    message = response.json()["d"]
    message = message.get("ReleaseOrder", message)  # a complex result is wrapped under the function name
    assert set(message) >= {"SystemMessageType", "SystemMessageIdentification", "SystemMessageNumber"}
    assert message["SystemMessageType"] in ("S", "I", "W", "")
    after = tech.read(PRODORD, order_path(key))
    assert after["OrderIsReleased"] == "X"
    assert after["MfgOrderActualReleaseDate"]
    assert after["LastChangeDateTime"] >= order["LastChangeDateTime"]
    operations = tech.results(PRODORD, f"{order_path(key)}/to_ProductionOrderOperation")
    assert operations and all(op["OperationIsReleased"] == "X" for op in operations)
    statuses = tech.results(PRODORD, f"{order_path(key)}/to_ProductionOrderStatus")
    assert "REL" in {s["StatusShortName"] for s in statuses}


def test_release_order_complex_result_is_wrapped_under_the_function_name(tech: Sap):
    key = find_orders(tech, "OrderIsReleased eq ''")[0]["ManufacturingOrder"]
    response = release_order(tech, key)
    assert response.status_code == 200
    assert "ReleaseOrder" in response.json()["d"]


def test_release_unknown_order_is_a_sap_error(tech: Sap):
    response = release_order(tech, "NOSUCHORDER")
    error = assert_sap_error(response)
    assert 400 <= response.status_code < 500
    assert re.fullmatch(r"\S+/\d{3}", error["code"]), error["code"]


def test_function_import_with_wrong_method_is_405(tech: Sap):
    key = find_orders(tech, "OrderIsReleased eq ''")[0]["ManufacturingOrder"]
    response = tech.get(PRODORD, "ReleaseOrder", {"ManufacturingOrder": f"'{key}'"})
    assert response.status_code == 405
    assert tech.read(PRODORD, order_path(key))["OrderIsReleased"] == ""


def test_function_import_without_required_parameter_is_400(tech: Sap):
    assert_sap_error(tech.write("POST", PRODORD, "ReleaseOrder"), 400)


def test_release_operation_releases_only_that_operation(tech: Sap):
    order = find_orders(tech, "OrderIsReleased eq ''")[0]
    key = order["ManufacturingOrder"]
    operations = tech.results(PRODORD, f"{order_path(key)}/to_ProductionOrderOperation")
    assert len(operations) >= 2, "unreleased orders should have several operations"
    target, other = operations[0], operations[1]
    response = tech.write(
        "POST",
        PRODORD,
        "ReleaseOperation",
        {
            "ManufacturingOrder": f"'{key}'",
            "ManufacturingOrderOperation": f"'{target['ManufacturingOrderOperation']}'",
            "ManufacturingOrderSequence": f"'{target['ManufacturingOrderSequence']}'",
        },
    )
    assert response.status_code == 200, response.text
    after = {
        op["OrderIntBillOfOperationsItem"]: op
        for op in tech.results(PRODORD, OPERATIONS, {"$filter": f"ManufacturingOrder eq '{key}'"})
    }
    assert after[target["OrderIntBillOfOperationsItem"]]["OperationIsReleased"] == "X"
    assert after[other["OrderIntBillOfOperationsItem"]]["OperationIsReleased"] == ""
    header = tech.read(PRODORD, order_path(key))
    assert header["OrderIsPartiallyReleased"] == "X" or header["OrderIsReleased"] == "X"


def test_pyodata_release_order_function_import(pyodata_client: Callable[..., pyodata.Client], tech: Sap):
    client = pyodata_client(PRODORD)
    key = find_orders(tech, "OrderIsReleased eq ''")[0]["ManufacturingOrder"]
    result = client.functions.ReleaseOrder.parameter("ManufacturingOrder", key).execute()
    assert isinstance(result, dict)
    order = client.entity_sets.A_ProductionOrder_2.get_entity(ManufacturingOrder=key).execute()
    assert order.OrderIsReleased == "X"
    with pytest.raises(HttpError) as caught:
        client.functions.ReleaseOrder.parameter("ManufacturingOrder", "NOSUCHORDER").execute()
    assert 400 <= caught.value.response.status_code < 500


def test_pyodata_navigates_order_to_operations(pyodata_client: Callable[..., pyodata.Client], tech: Sap):
    client = pyodata_client(PRODORD)
    key = find_orders(tech, "OrderIsReleased eq 'X'")[0]["ManufacturingOrder"]
    order = client.entity_sets.A_ProductionOrder_2.get_entity(ManufacturingOrder=key).execute()
    operations = order.nav("to_ProductionOrderOperation").get_entities().execute()
    assert operations
    for op in operations:
        assert op.ManufacturingOrder == key
        assert op.OpPlannedTotalQuantity is not None
