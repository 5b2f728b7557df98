"""The WSGI app in-process: logon, CSRF, ETags, paging, business flows, faults, reset and stats."""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Iterator

import pytest
from werkzeug.test import Client, TestResponse

from mock_sap import MockOptions, create_app

PRODORD = "/sap/opu/odata/sap/API_PRODUCTION_ORDER_2_SRV"
PRODCONF = "/sap/opu/odata/sap/API_PROD_ORDER_CONFIRMATION_2_SRV"
PURREQ = "/sap/opu/odata/sap/API_PURCHASEREQ_PROCESS_SRV"
TASKS = "/sap/opu/odata/IWPGW/TASKPROCESSING;mo;v=2"
JSON = {"Accept": "application/json"}


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode(), **JSON}


TECH = basic("EXT_API_TECH", "tech-pass-1")
ANNA = basic("EXEC_ANNA", "user-pass-1")


class Sap:
    """A logged-on werkzeug test client that fetches a CSRF token like a Gateway client does."""

    def __init__(self, client: Client, headers: dict[str, str]) -> None:
        self.client, self.headers = client, headers

    def get(self, url: str, **headers: str) -> TestResponse:
        return self.client.get(url, headers={**self.headers, **headers})

    def token(self, service: str) -> str:
        response = self.client.head(f"{service}/", headers={**self.headers, "X-CSRF-Token": "Fetch"})
        assert response.status_code == 200
        return response.headers["x-csrf-token"]

    def write(
        self, method: str, url: str, body: object = None, token: str | None = None, **headers: str
    ) -> TestResponse:
        service = next(s for s in (PRODORD, PRODCONF, PURREQ, TASKS) if url.startswith(s))
        all_headers = {**self.headers, "X-CSRF-Token": token or self.token(service), **headers}
        data = json.dumps(body) if body is not None else None
        if data is not None:
            all_headers["Content-Type"] = "application/json"
        return self.client.open(url, method=method, data=data, headers=all_headers)


@pytest.fixture(scope="module")
def app() -> Iterator[object]:
    yield create_app(MockOptions(orders=300, reference_date=dt.date(2024, 6, 3), page_size=50))


@pytest.fixture
def tech(app: object) -> Sap:
    client = Client(app)  # type: ignore[arg-type]
    client.post("/mock-admin/reset")
    client.delete("/mock-admin/faults")
    return Sap(client, TECH)


def d(response: TestResponse) -> dict[str, object]:
    assert response.status_code < 300, response.get_data(as_text=True)
    return json.loads(response.get_data())["d"]  # type: ignore[no-any-return]


def error_code(response: TestResponse) -> str:
    return str(json.loads(response.get_data())["error"]["code"])


def test_logon_failures_are_401_with_the_basic_realm(tech: Sap) -> None:
    for headers in ({}, basic("EXT_API_TECH", "wrong")):
        response = tech.client.get(f"{PRODORD}/A_ProductionOrder_2", headers=headers)
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"].startswith('Basic realm="SAP NetWeaver Application Server')
    assert tech.get(f"{PRODORD}/A_ProductionOrder_2?sap-client=200").status_code == 401
    assert tech.get(f"{PRODORD}/A_ProductionOrder_2?sap-client=100&$top=1").status_code == 200


def test_write_without_token_is_403_required_and_token_is_bound_to_the_session(tech: Sap, app: object) -> None:
    url = f"{PRODORD}/ReleaseOrder?ManufacturingOrder='1000000'"
    response = tech.client.post(url, headers=tech.headers)
    assert response.status_code == 403
    assert response.headers["x-csrf-token"] == "Required"
    assert response.get_data() == b"CSRF token validation failed"
    token = tech.token(PRODORD)
    stranger = Client(app)  # type: ignore[arg-type]
    assert stranger.post(url, headers={**TECH, "X-CSRF-Token": token}).status_code == 403


def test_etag_is_required_checked_and_renewed(tech: Sap) -> None:
    url = f"{PRODORD}/A_ProductionOrder_2('1000000')"
    response = tech.get(url)
    etag = response.headers["ETag"]
    assert d(response)["__metadata"]["etag"] == etag  # type: ignore[index]
    token = tech.token(PRODORD)
    change = {"MfgOrderPlannedStartDate": "/Date(1717459200000)/"}
    missing = tech.write("PATCH", url, change, token)
    assert missing.status_code == 428 and error_code(missing) == "/IWBEP/CM_MGW_RT/194"
    stale = tech.write("PATCH", url, change, token, **{"If-Match": "W/\"'19990101000000'\""})
    assert stale.status_code == 412
    done = tech.write("PATCH", url, change, token, **{"If-Match": etag})
    assert done.status_code == 204 and done.headers["ETag"] != etag
    after = d(tech.get(url))
    assert after["MfgOrderPlannedStartDate"] == "/Date(1717459200000)/"
    assert tech.write("MERGE", url, {"TotalQuantity": "7"}, token, **{"If-Match": "*"}).status_code == 204


def test_server_paging_follows_skiptoken_and_inlinecount(tech: Sap) -> None:
    first = d(tech.get(f"{PRODORD}/A_ProductionOrder_2?$top=120&$inlinecount=allpages&$select=ManufacturingOrder"))
    assert first["__count"] == "300"
    assert len(first["results"]) == 50  # type: ignore[arg-type]
    next_url = str(first["__next"])
    assert "$skiptoken=50" in next_url and next_url.startswith("http://localhost/")
    pages = [first]
    while "__next" in pages[-1]:
        pages.append(d(tech.get(str(pages[-1]["__next"]).removeprefix("http://localhost"))))
    numbers = [r["ManufacturingOrder"] for page in pages for r in page["results"]]  # type: ignore[attr-defined]
    assert len(numbers) == 120 == len(set(numbers))
    assert tech.get(f"{PRODORD}/A_ProductionOrder_2/$count").get_data() == b"300"


def test_release_order_then_again_is_a_business_error(tech: Sap) -> None:
    order = d(tech.get(f"{PRODORD}/A_ProductionOrder_2?$filter=OrderIsReleased eq ''&$top=1"))["results"][0]  # type: ignore[index]
    number = order["ManufacturingOrder"]
    token = tech.token(PRODORD)
    released = tech.write("POST", f"{PRODORD}/ReleaseOrder?ManufacturingOrder='{number}'", token=token)
    assert d(released)["ReleaseOrder"]["SystemMessageType"] == "S"  # type: ignore[index]
    assert json.loads(released.headers["sap-message"])["severity"] == "success"
    statuses = d(tech.get(f"{PRODORD}/A_ProductionOrder_2('{number}')/to_ProductionOrderStatus"))["results"]
    assert "REL" in {s["StatusShortName"] for s in statuses}  # type: ignore[attr-defined]
    again = tech.write("POST", f"{PRODORD}/ReleaseOrder?ManufacturingOrder='{number}'", token=token)
    assert again.status_code == 400 and error_code(again) == "CO/093"


def test_confirmation_moves_quantities_and_is_refused_for_unreleased_operations(tech: Sap) -> None:
    ops = d(
        tech.get(
            f"{PRODORD}/A_ProductionOrderOperation_2?$top=1"
            "&$filter=OperationIsReleased eq 'X' and OpTotalConfirmedYieldQty eq 0M"
        )
    )
    op = ops["results"][0]  # type: ignore[index]
    body = {
        "OrderID": op["ManufacturingOrder"],
        "OrderOperation": op["ManufacturingOrderOperation"],
        "ConfirmationYieldQuantity": "3",
        "ExternalSystemConfirmation": "0f8fad5b-d9cb-469f-a165-70867728950e",
    }
    created = tech.write("POST", f"{PRODCONF}/ProdnOrdConf2", body)
    assert created.status_code == 201
    confirmation = d(created)
    assert confirmation["ConfirmationCount"] and confirmation["ConfirmationGroup"]
    found = d(
        tech.get(
            f"{PRODCONF}/ProdnOrdConf2?$filter=ExternalSystemConfirmation eq guid'0f8fad5b-d9cb-469f-a165-70867728950e'"
        )
    )
    assert len(found["results"]) == 1  # type: ignore[arg-type]
    after = d(tech.get(op["__metadata"]["uri"].removeprefix("http://localhost")))
    assert after["OpTotalConfirmedYieldQty"] == "3.000" and after["OperationIsPartiallyConfirmed"] == "X"
    unreleased = d(tech.get(f"{PRODORD}/A_ProductionOrderOperation_2?$filter=OperationIsReleased eq ''&$top=1"))
    target = unreleased["results"][0]  # type: ignore[index]
    refused = tech.write(
        "POST",
        f"{PRODCONF}/ProdnOrdConf2",
        {"OrderID": target["ManufacturingOrder"], "OrderOperation": target["ManufacturingOrderOperation"]},
    )
    assert refused.status_code == 400 and error_code(refused).startswith("RU/")
    assert tech.client.open(f"{PRODCONF}/ProdnOrdConf2", method="PATCH", headers=tech.headers).status_code == 403


def test_decision_completes_the_task_and_releases_the_requisition(tech: Sap) -> None:
    anna = Sap(tech.client, ANNA)
    tasks = d(anna.get(f"{TASKS}/TaskCollection?$expand=CustomAttributeData"))["results"]
    task = next(t for t in tasks if t["TaskDefinitionID"] == "TS00007986")  # type: ignore[index]
    requisition = next(a["Value"] for a in task["CustomAttributeData"]["results"] if a["Name"] == "PurchaseRequisition")
    decided = anna.write(
        "POST", f"{TASKS}/Decision?SAP__Origin='LOCAL'&InstanceID='{task['InstanceID']}'&DecisionKey='0001'&Comments=''"
    )
    assert d(decided)["Status"] == "COMPLETED"
    remaining = d(anna.get(f"{TASKS}/TaskCollection"))["results"]
    assert task["InstanceID"] not in {t["InstanceID"] for t in remaining}  # type: ignore[attr-defined]
    items = d(tech.get(f"{PURREQ}/A_PurchaseRequisitionHeader('{requisition}')/to_PurchaseReqnItem"))["results"]
    assert all(i["ReleaseIsNotCompleted"] is False and i["PurReqnReleaseStatus"] == "05" for i in items)  # type: ignore[index]
    again = anna.write(
        "POST", f"{TASKS}/Decision?SAP__Origin='LOCAL'&InstanceID='{task['InstanceID']}'&DecisionKey='0001'&Comments=''"
    )
    assert again.status_code == 400
    assert d(tech.get(f"{TASKS}/TaskCollection"))["results"] == []  # the technical user has no inbox


def test_batch_changeset_is_atomic(tech: Sap) -> None:
    token = tech.token(PRODORD)
    url = "A_ProductionOrder_2('1000001')"
    before = d(tech.get(f"{PRODORD}/{url}"))
    body = (
        "--b\r\nContent-Type: multipart/mixed; boundary=c\r\n\r\n"
        "--c\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n"
        f"PATCH {url} HTTP/1.1\r\nContent-Type: application/json\r\nIf-Match: *\r\n\r\n"
        '{"TotalQuantity": "99"}\r\n'
        "--c\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n"
        "PATCH A_ProductionOrder_2('9999999') HTTP/1.1\r\nContent-Type: application/json\r\nIf-Match: *\r\n\r\n"
        '{"TotalQuantity": "1"}\r\n'
        "--c--\r\n--b--\r\n"
    )
    response = tech.client.post(
        f"{PRODORD}/$batch",
        data=body,
        headers={**tech.headers, "X-CSRF-Token": token, "Content-Type": "multipart/mixed; boundary=b"},
    )
    assert response.status_code == 202
    text = response.get_data(as_text=True)
    assert "HTTP/1.1 404" in text and "HTTP/1.1 204" not in text
    assert d(tech.get(f"{PRODORD}/{url}"))["TotalQuantity"] == before["TotalQuantity"]


def test_faults_csrf_expiry_stats_and_reset(tech: Sap) -> None:
    client = tech.client
    token = tech.token(PRODORD)
    client.delete("/mock-admin/stats")
    added = client.post(
        "/mock-admin/faults",
        json={"service": "API_PRODUCTION_ORDER_2_SRV", "status": 503, "retry_after": 7, "methods": ["GET"]},
    )
    assert added.status_code == 201
    failed = tech.get(f"{PRODORD}/A_ProductionOrder_2('1000000')")
    assert failed.status_code == 503 and failed.headers["Retry-After"] == "7"
    assert error_code(failed).startswith("/IWFND/")
    assert tech.get(f"{PRODCONF}/ProdnOrdConf2?$top=1").status_code == 200
    client.delete("/mock-admin/faults")
    client.post("/mock-admin/faults", json={"csrf_expire": True})
    url = f"{PRODORD}/A_ProductionOrder_2('1000000')"
    assert tech.write("PATCH", url, {"TotalQuantity": "5"}, token, **{"If-Match": "*"}).status_code == 403
    client.post("/mock-admin/faults", json={"locked": True, "service": "API_PRODUCTION_ORDER_2_SRV"})
    assert tech.write("PATCH", url, {"TotalQuantity": "5"}, **{"If-Match": "*"}).status_code == 423
    client.delete("/mock-admin/faults")
    assert tech.write("PATCH", url, {"TotalQuantity": "5"}, **{"If-Match": "*"}).status_code == 204
    stats = json.loads(client.get("/mock-admin/stats").get_data())
    assert stats["csrf_fetches"] == 2 and stats["csrf_failures"] == 1 and stats["writes_applied"] == 1
    assert stats["requests"]["API_PRODUCTION_ORDER_2_SRV"]["GET"] == 1
    assert d(tech.get(url))["TotalQuantity"] == "5.000"
    client.post("/mock-admin/reset")
    assert d(tech.get(url))["TotalQuantity"] != "5.000"


def test_seed_is_deterministic_per_date() -> None:
    first = create_app(MockOptions(orders=50, reference_date=dt.date(2024, 6, 3)))
    second = create_app(MockOptions(orders=50, reference_date=dt.date(2024, 6, 3)))
    url = f"{PRODORD}/A_ProductionOrder_2?$top=50"
    bodies = [json.loads(Client(a).get(url, headers=TECH).get_data())["d"]["results"] for a in (first, second)]  # type: ignore[arg-type]
    assert bodies[0] == bodies[1]
