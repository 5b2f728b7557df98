"""`/mock-admin/requests`: the last OData requests exactly as a client sent them, for replaying its queries."""

from __future__ import annotations

import http.client
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import requests

from .conftest import PRODORD, SERVICE_PATHS, TASKS, Sap, new_session

if TYPE_CHECKING:
    from tests.conftest import MockSap

ORDERS = "A_ProductionOrder_2"
ORDERS_PATH = f"{SERVICE_PATHS[PRODORD]}{ORDERS}"


def logged(mock_sap: MockSap) -> list[dict[str, Any]]:
    response = requests.get(f"{mock_sap.url}/mock-admin/requests", timeout=10)
    assert response.status_code == 200, response.text
    entries: list[dict[str, Any]] = response.json()["requests"]
    return entries


def test_requests_are_logged_as_sent_oldest_first_with_their_user(sap: Callable[..., Sap], mock_sap: MockSap):
    assert logged(mock_sap) == []  # the fixture's reset cleared the log
    tech = sap()
    tech.results(PRODORD, ORDERS, {"$filter": "ProductionPlant eq '1010' and OrderIsReleased eq 'X'", "$top": "2"})
    anna = sap("EXEC_ANNA")
    anna.results(TASKS, "TaskCollection", {"$select": "InstanceID", "$top": "1"})
    intruder = sap("EXEC_ANNA", "wrong-password")
    assert intruder.get(PRODORD, ORDERS, {"$top": "1"}).status_code == 401
    requests.get(f"{mock_sap.url}/mock-admin/health", timeout=10)  # admin requests are not logged

    assert logged(mock_sap) == [
        {
            "method": "GET",
            "path": ORDERS_PATH,
            "query": "$filter=ProductionPlant%20eq%20'1010'%20and%20OrderIsReleased%20eq%20'X'&$top=2",
            "user": "EXT_API_TECH",
        },
        {
            "method": "GET",
            "path": f"{SERVICE_PATHS[TASKS]}TaskCollection",
            "query": "$select=InstanceID&$top=1",
            "user": "EXEC_ANNA",
        },
        {"method": "GET", "path": ORDERS_PATH, "query": "$top=1", "user": ""},
    ]


def test_path_and_query_are_not_decoded(mock_sap: MockSap, tech: Sap):
    key = tech.results(PRODORD, ORDERS, {"$top": "1"})[0]["ManufacturingOrder"]
    address = urlsplit(mock_sap.url)
    assert address.hostname and address.port
    conn = http.client.HTTPConnection(address.hostname, address.port, timeout=10)
    try:
        conn.request(
            "GET",
            f"{ORDERS_PATH}(%27{key}%27)?$select=ManufacturingOrder&$format=json",
            headers={"Authorization": _basic(tech)},
        )
        response = conn.getresponse()
        assert response.status == 200, response.read()
        response.read()
    finally:
        conn.close()
    last = logged(mock_sap)[-1]
    assert last == {
        "method": "GET",
        "path": f"{ORDERS_PATH}(%27{key}%27)",
        "query": "$select=ManufacturingOrder&$format=json",
        "user": "EXT_API_TECH",
    }


def test_writes_and_batches_are_logged_once_each(tech: Sap, mock_sap: MockSap):
    order = tech.results(PRODORD, ORDERS, {"$filter": "OrderIsReleased eq ''", "$top": "1"})[0]
    response = tech.call(PRODORD, "ReleaseOrder", ManufacturingOrder=f"'{order['ManufacturingOrder']}'")
    assert response.status_code == 200, response.text
    methods = [(entry["method"], entry["path"].rsplit("/", 1)[-1]) for entry in logged(mock_sap)]
    # The read, the CSRF token fetch (a GET of the service root) and the function import.
    assert methods == [("GET", ORDERS), ("GET", ""), ("POST", "ReleaseOrder")]


def test_delete_and_reset_clear_the_log(tech: Sap, mock_sap: MockSap):
    tech.results(PRODORD, ORDERS, {"$top": "1"})
    assert len(logged(mock_sap)) == 1
    cleared = requests.delete(f"{mock_sap.url}/mock-admin/requests", timeout=10)
    assert cleared.status_code == 200
    assert cleared.json() == {"requests": []}
    assert logged(mock_sap) == []
    tech.results(PRODORD, ORDERS, {"$top": "1"})
    assert len(logged(mock_sap)) == 1
    requests.post(f"{mock_sap.url}/mock-admin/reset", timeout=30).raise_for_status()
    assert logged(mock_sap) == []


def test_only_the_last_200_are_kept(mock_sap: MockSap):
    session = new_session("EXT_API_TECH")
    try:
        for skip in range(205):
            response = session.get(f"{mock_sap.url}{ORDERS_PATH}?$top=1&$skip={skip}", timeout=10)
            assert response.status_code == 200
    finally:
        session.close()
    entries = logged(mock_sap)
    assert len(entries) == 200
    assert [entry["query"] for entry in entries] == [f"$top=1&$skip={skip}" for skip in range(5, 205)]


def _basic(sap: Sap) -> str:
    prepared = sap.session.prepare_request(requests.Request("GET", sap.root))
    return str(prepared.headers["Authorization"])
