"""API_PRODUCTION_ORDER_2_SRV components: the availability check's result per component, and ReleaseOrder's warning."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from .conftest import PRODORD, Sap, decimal

ORDERS = "A_ProductionOrder_2"
COMPONENTS = "A_ProductionOrderComponent_4"
OPEN_COMPONENTS = "ReservationIsFinallyIssued eq false and MatlCompIsMarkedForDeletion eq false"


def is_missing(component: dict[str, Any]) -> bool:
    """Still needed and not confirmed in full by the availability check (what SAP's missing parts list shows)."""
    still_needed = decimal(component["RequiredQuantity"]) - decimal(component["WithdrawnQuantity"])
    return still_needed > 0 and decimal(component["ConfirmedAvailableQuantity"]) < still_needed


def open_components(tech: Sap, plant: str) -> list[dict[str, Any]]:
    return tech.collect(PRODORD, COMPONENTS, {"$filter": f"ProductionPlant eq '{plant}' and {OPEN_COMPONENTS}"})[0]


def unreleased(tech: Sap, plant: str) -> set[str]:
    rows = tech.collect(
        PRODORD,
        ORDERS,
        {
            "$filter": f"ProductionPlant eq '{plant}' and OrderIsReleased eq '' and OrderIsTechnicallyCompleted eq ''",
            "$select": "ManufacturingOrder",
        },
    )[0]
    return {row["ManufacturingOrder"] for row in rows}


def release(tech: Sap, order: str) -> Any:
    return tech.write("POST", PRODORD, "ReleaseOrder", {"ManufacturingOrder": f"'{order}'"})


def test_components_carry_the_availability_check_and_some_are_missing(tech: Sap) -> None:
    for plant in ("1010", "1020"):
        components = open_components(tech, plant)
        assert components and all(c["ProductionPlant"] == plant for c in components)
        assert all(c["ReservationIsFinallyIssued"] is False for c in components), "Edm.Boolean is a JSON boolean"
        missing = [c for c in components if is_missing(c)]
        assert 0 < len(missing) < len(components) / 5, "some components are short, most are not"
        for component in components:
            for name in ("RequiredQuantity", "WithdrawnQuantity", "ConfirmedAvailableQuantity"):
                assert isinstance(component[name], str) and Decimal(component[name]) >= 0, component
            assert component["BaseUnit"] and component["Material"]


def test_an_order_reaches_all_its_components(tech: Sap) -> None:
    component = next(c for c in open_components(tech, "1010") if is_missing(c))
    order = component["ManufacturingOrder"]
    reached = tech.results(PRODORD, f"{ORDERS}('{order}')/to_ProductionOrderComponentExt4")
    filtered = tech.results(PRODORD, COMPONENTS, {"$filter": f"ManufacturingOrder eq '{order}'"})
    assert reached and sorted(c["ReservationItem"] for c in reached) == sorted(c["ReservationItem"] for c in filtered)
    assert {c["Reservation"] for c in reached} == {component["Reservation"]}
    expanded = tech.read(PRODORD, f"{ORDERS}('{order}')", {"$expand": "to_ProductionOrderComponentExt4"})
    assert len(expanded["to_ProductionOrderComponentExt4"]["results"]) == len(reached)


def test_completed_orders_have_everything_issued(tech: Sap) -> None:
    completed = tech.results(PRODORD, ORDERS, {"$filter": "OrderIsConfirmed eq 'X'", "$top": "5"})
    assert completed
    for order in completed:
        components = tech.results(PRODORD, f"{ORDERS}('{order['ManufacturingOrder']}')/to_ProductionOrderComponentExt4")
        assert components and all(c["ReservationIsFinallyIssued"] is True for c in components)
        assert all(decimal(c["WithdrawnQuantity"]) == decimal(c["RequiredQuantity"]) for c in components)


def test_release_with_missing_parts_warns_and_releases(tech: Sap) -> None:
    candidates = unreleased(tech, "1010")
    missing = [c for c in open_components(tech, "1010") if is_missing(c) and c["ManufacturingOrder"] in candidates]
    assert missing, "the seed has an unreleased order with a missing part"
    order = missing[0]["ManufacturingOrder"]
    short = sorted({c["Material"] for c in missing if c["ManufacturingOrder"] == order})

    response = release(tech, order)

    assert response.status_code == 200, response.text
    body = response.json()["d"]["ReleaseOrder"]
    assert (body["SystemMessageType"], body["SystemMessageIdentification"], body["SystemMessageNumber"]) == (
        "S",
        "CO",
        "093",
    )
    header = json.loads(response.headers["sap-message"])
    assert header["severity"] == "warning" and header["code"] == "CO/263"
    assert order in header["message"] and all(material in header["message"] for material in short)
    assert [(d["severity"], d["code"]) for d in header["details"]] == [("success", "CO/093")]
    assert tech.read(PRODORD, f"{ORDERS}('{order}')")["OrderIsReleased"] == "X", "warned, and released all the same"


def test_release_without_missing_parts_only_succeeds(tech: Sap) -> None:
    short = {c["ManufacturingOrder"] for c in open_components(tech, "1010") if is_missing(c)}
    order = sorted(unreleased(tech, "1010") - short)[0]
    response = release(tech, order)
    assert response.status_code == 200, response.text
    header = json.loads(response.headers["sap-message"])
    assert (header["severity"], header["code"], header["details"]) == ("success", "CO/093", [])
