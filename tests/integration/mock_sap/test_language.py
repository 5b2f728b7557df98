"""The logon language: `sap-language` (or Accept-Language) decides the language of status names and messages."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from .conftest import PRODCONF, PRODORD, Sap, assert_sap_error, decimal

ORDERS = "A_ProductionOrder_2"
ENGLISH = {"I0002": ("REL", "Released"), "I0016": ("PRC", "Pre-costed")}
GERMAN = {"I0002": ("FREI", "Freigegeben"), "I0016": ("VKAL", "Vorkalkuliert")}


def unconfirmed_operation(sap: Sap, released: bool) -> dict[str, Any]:
    """An operation without any confirmation yet, released or not."""
    flag = "X" if released else ""
    ops = sap.results(
        PRODORD,
        "A_ProductionOrderOperation_2",
        {"$filter": f"OperationIsReleased eq '{flag}' and OpTotalConfirmedYieldQty eq 0", "$top": "1"},
    )
    assert ops, "the seed holds operations of both kinds"
    return ops[0]


def confirmation_body(op: dict[str, Any], yield_qty: str) -> dict[str, Any]:
    return {
        "OrderID": op["ManufacturingOrder"],
        "OrderOperation": op["ManufacturingOrderOperation"],
        "Sequence": op["ManufacturingOrderSequence"],
        "ConfirmationUnit": op["OperationUnit"],
        "ConfirmationYieldQuantity": yield_qty,
        "ExternalSystemConfirmation": str(uuid.uuid4()),
    }


def released_order(sap: Sap) -> str:
    [order] = sap.results(PRODORD, ORDERS, {"$filter": "OrderIsReleased eq 'X'", "$top": "1"})
    return str(order["ManufacturingOrder"])


def status_texts(sap: Sap, order: str, params: dict[str, Any] | None = None, **kw: Any) -> dict[str, tuple[str, str]]:
    response = sap.get(PRODORD, f"{ORDERS}('{order}')/to_ProductionOrderStatus", params, **kw)
    assert response.status_code == 200, response.text
    rows = response.json()["d"]["results"]
    return {
        row["StatusCode"]: (row["StatusShortName"], row["StatusName"]) for row in rows if row["StatusCode"] in ENGLISH
    }


def test_sap_language_de_names_the_statuses_in_german(tech: Sap) -> None:
    order = released_order(tech)
    assert status_texts(tech, order) == ENGLISH
    assert status_texts(tech, order, {"sap-language": "DE"}) == GERMAN
    # The ISO code in either case, and SAP's 1-letter key.
    assert status_texts(tech, order, {"sap-language": "de"}) == GERMAN
    assert status_texts(tech, order, {"sap-language": "D"}) == GERMAN
    # No carry-over: the next request without a language is English again.
    assert status_texts(tech, order) == ENGLISH


def test_expanded_statuses_and_the_status_set_follow_the_language(tech: Sap) -> None:
    order = released_order(tech)
    expanded = tech.read(PRODORD, f"{ORDERS}('{order}')", {"$expand": "to_ProductionOrderStatus", "sap-language": "DE"})
    names = {row["StatusCode"]: row["StatusName"] for row in expanded["to_ProductionOrderStatus"]["results"]}
    assert names["I0002"] == "Freigegeben"
    one = tech.read(
        PRODORD, f"A_ProductionOrderStatus_2(ManufacturingOrder='{order}',StatusCode='I0002')", {"sap-language": "DE"}
    )
    assert (one["StatusShortName"], one["StatusName"]) == GERMAN["I0002"]
    # A filter compares with the texts of the logon language, as SAP's does.
    german = tech.results(
        PRODORD,
        "A_ProductionOrderStatus_2",
        {"$filter": f"ManufacturingOrder eq '{order}' and StatusShortName eq 'FREI'", "sap-language": "DE"},
    )
    assert [row["StatusCode"] for row in german] == ["I0002"]


def test_headers_choose_the_language_when_the_url_does_not(tech: Sap) -> None:
    order = released_order(tech)
    assert status_texts(tech, order, headers={"sap-language": "DE"}) == GERMAN
    # Accept-Language: the most wanted language the system has installed (French is not, here).
    assert status_texts(tech, order, headers={"Accept-Language": "fr-FR, de;q=0.8, en;q=0.5"}) == GERMAN
    assert status_texts(tech, order, headers={"Accept-Language": "en;q=0.5, de;q=0.9"}) == GERMAN
    assert status_texts(tech, order, headers={"Accept-Language": "de;q=0.4, en;q=0.5"}) == ENGLISH
    # The URL parameter wins over Accept-Language.
    assert status_texts(tech, order, {"sap-language": "EN"}, headers={"Accept-Language": "de"}) == ENGLISH


@pytest.mark.parametrize("language", ["FR", "XX", "ja", "toolong", ""])
def test_a_language_without_texts_gets_the_english_ones(tech: Sap, language: str) -> None:
    assert status_texts(tech, released_order(tech), {"sap-language": language}) == ENGLISH


def test_business_errors_are_in_the_logon_language(tech: Sap) -> None:
    order = released_order(tech)
    english = assert_sap_error(tech.write("POST", PRODORD, "ReleaseOrder", {"ManufacturingOrder": f"'{order}'"}), 400)
    assert english["message"] == {"lang": "en", "value": f"Order {order} is already released"}
    german = assert_sap_error(
        tech.write("POST", PRODORD, "ReleaseOrder", {"ManufacturingOrder": f"'{order}'", "sap-language": "DE"}), 400
    )
    assert german["code"] == english["code"] == "CO/093"
    assert german["message"] == {"lang": "de", "value": f"Auftrag {order} ist bereits freigegeben"}
    assert [d["message"] for d in german["innererror"]["errordetails"]] == [german["message"]["value"]]
    # Not released: the confirmation a supervisor cannot post.
    op = unconfirmed_operation(tech, released=False)
    refused = assert_sap_error(
        tech.write("POST", PRODCONF, "ProdnOrdConf2", {"sap-language": "DE"}, body=confirmation_body(op, "1")), 400
    )
    assert refused["message"]["value"] == (
        f"Vorgang {op['ManufacturingOrderOperation']} des Auftrags {op['ManufacturingOrder']} ist nicht freigegeben"
    )


def test_messages_of_a_successful_write_are_in_the_logon_language(tech: Sap) -> None:
    op = unconfirmed_operation(tech, released=True)
    too_much = decimal(op["OpPlannedTotalQuantity"]) * 3 + 1
    response = tech.write(
        "POST", PRODCONF, "ProdnOrdConf2", {"sap-language": "DE"}, body=confirmation_body(op, f"{too_much:.3f}")
    )
    assert response.status_code == 201, response.text
    header = json.loads(response.headers["sap-message"])
    texts = {m["code"]: m["message"] for m in [header, *header["details"]]}
    order, operation = op["ManufacturingOrder"], op["ManufacturingOrderOperation"]
    assert texts["RU/505"] == (
        f"Die rückgemeldete Gutmenge überschreitet die Vorgangsmenge von Auftrag {order} Vorgang {operation}"
    )
    assert texts["RU/100"] == f"Rückmeldung zum Auftrag {order} wurde gesichert"


def test_function_results_are_in_the_logon_language(tech: Sap) -> None:
    [order] = tech.results(PRODORD, ORDERS, {"$filter": "OrderIsCreated eq 'X'", "$top": "1"})
    number = order["ManufacturingOrder"]
    response = tech.write("POST", PRODORD, "ReleaseOrder", {"ManufacturingOrder": f"'{number}'", "sap-language": "DE"})
    assert response.status_code == 200, response.text
    assert response.json()["d"]["ReleaseOrder"]["SystemMessageLongText"] == f"Auftrag {number} wurde freigegeben"
