"""Paging that survives change: signed keyset cursors, `limit` honoured up to the maximum, sorts and totals."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient

from app.paging import MAX_LIMIT
from odata_clients.http import CallEvent, record_calls
from runtime.settings import Settings
from tests.conftest import MockSap, migrated_app
from tests.integration.roles.conftest import PRODORD, TECH, Token, bearer, sap_rows
from workers import jobs
from workers.bootstrap import WorkerContext, bootstrap

PRIORITY_RANK = {"VERY_HIGH": 1, "HIGH": 3, "MEDIUM": 5, "LOW": 7}  # SAP's PriorityNumber: 1 is the most urgent
TASKS = "/sap/opu/odata/IWPGW/TASKPROCESSING;mo;v=2"
LISTS = ["/api/v1/approvals", "/api/v1/production-orders", "/api/v1/work-orders", "/api/v1/writebacks"]
ADMIN_LISTS = ["/api/v1/admin/audit", "/api/v1/admin/dead-letters"]


def key() -> dict[str, str]:
    return {"Idempotency-Key": str(uuid.uuid4())}


def pages(api: FlaskClient, url: str, headers: dict[str, str]) -> Iterator[dict[str, Any]]:
    """Each page of a list, following next_cursor; the caller may act between pages."""
    cursor = None
    while True:
        separator = "&" if "?" in url else "?"
        response = api.get(url + (f"{separator}cursor={cursor}" if cursor else ""), headers=headers)
        assert response.status_code == 200, response.json
        yield response.json
        cursor = response.json["next_cursor"]
        if cursor is None:
            return


def every(api: FlaskClient, url: str, headers: dict[str, str]) -> list[dict[str, Any]]:
    return [item for page in pages(api, url, headers) for item in page["items"]]


@pytest.fixture
def worker(role_settings: Settings) -> Iterator[WorkerContext]:
    """A worker in this process, on the API's store and SAP: commands are applied by calling the job."""
    context = bootstrap(role_settings)
    yield context
    context.close()


@pytest.fixture
def executive(token: Token) -> dict[str, str]:
    return bearer(token("Executive", user="EXEC_ANNA"))


@pytest.fixture
def plant_manager(token: Token) -> dict[str, str]:
    return bearer(token("PlantManager", user="PM_1010", Plant=["1010", "1020"]))


@pytest.fixture
def supervisor(token: Token) -> dict[str, str]:
    return bearer(token("Supervisor", user="SUP_ASSY1010", Plant=["1010"], WorkCenter=["ASSY1010", "WELD1010"]))


def applied(api: FlaskClient, worker: WorkerContext, response: Any, headers: dict[str, str]) -> None:
    """Run the writeback the API just accepted, as the worker would, and check that SAP took it."""
    assert response.status_code == 202, response.json
    jobs.run(worker, response.json["id"])
    status = api.get(f"/api/v1/writebacks/{response.json['id']}", headers=headers).json["status"]
    assert status == "succeeded"


def open_tasks_in_sap(sap: MockSap, user: str) -> set[str]:
    response = requests.get(
        f"{sap.url}{TASKS}/TaskCollection",
        params={"$format": "json", "$filter": "Status eq 'READY' or Status eq 'RESERVED' or Status eq 'IN_PROGRESS'"},
        auth=(user, "user-pass-1"),
        timeout=30,
    )
    response.raise_for_status()
    return {f"{row['SAP__Origin']}~{row['InstanceID']}" for row in response.json()["d"]["results"]}


# -- acting while paging -------------------------------------------------------------------------------------


def test_approving_while_paging_the_inbox_shows_every_task_exactly_once(
    api: FlaskClient, executive: dict[str, str], worker: WorkerContext, trusting_sap: MockSap
) -> None:
    before = {item["id"] for item in every(api, f"/api/v1/approvals?limit={MAX_LIMIT}", executive)}
    assert len(before) >= 9, "the seed gives every executive a dozen open tasks"
    seen: list[str] = []
    approved: list[str] = []
    for page in pages(api, "/api/v1/approvals?limit=3", executive):
        assert len(page["items"]) == 3 or page["next_cursor"] is None
        seen += [item["id"] for item in page["items"]]
        # Approve the page's first task: with offset paging, the next page would now skip one task.
        first = page["items"][0]["id"]
        decision = api.post(
            f"/api/v1/approvals/{first}/decision", json={"decision": "approve"}, headers={**executive, **key()}
        )
        applied(api, worker, decision, executive)
        approved.append(first)
    assert sorted(seen) == sorted(before), "every task exactly once: none skipped, none repeated"
    still_open = open_tasks_in_sap(trusting_sap, "EXEC_ANNA")
    assert not still_open & set(approved), "the approvals reached SAP while paging"
    assert {item["id"] for item in every(api, "/api/v1/approvals?limit=3", executive)} == before - set(approved)


def test_releasing_orders_while_paging_the_created_ones_skips_none(
    api: FlaskClient, plant_manager: dict[str, str], worker: WorkerContext, trusting_sap: MockSap
) -> None:
    url = "/api/v1/production-orders?status=created&plant=1010&sort=-planned_start&limit=25"
    before = [item["order_id"] for item in every(api, url, plant_manager)]
    assert len(before) > 50, "the seed holds enough unreleased orders in plant 1010"
    seen: list[str] = []
    for page in pages(api, url, plant_manager):
        seen += [item["order_id"] for item in page["items"]]
        order = page["items"][0]["order_id"]
        release = api.post(f"/api/v1/production-orders/{order}/release", headers={**plant_manager, **key()})
        applied(api, worker, release, plant_manager)
    assert seen == before, "the same orders in the same order, though each page's first left the list"
    released = sap_rows(
        trusting_sap, "A_ProductionOrder_2", **{"$filter": "OrderIsReleased eq 'X' and ProductionPlant eq '1010'"}
    )
    assert {row["ManufacturingOrder"] for row in released} >= set(seen[::25])


# -- limit ---------------------------------------------------------------------------------------------------


def test_a_page_holds_limit_items_up_to_the_maximum_over_several_sap_pages(
    api: FlaskClient, plant_manager: dict[str, str], trusting_sap: MockSap
) -> None:
    with record_calls() as calls:
        page = api.get(f"/api/v1/production-orders?limit={MAX_LIMIT}", headers=plant_manager)
    assert page.status_code == 200, page.json
    assert len(page.json["items"]) == MAX_LIMIT, "SAP's server pages hold 100: the API asks as often as it takes"
    assert page.json["next_cursor"] is not None
    reads = order_reads(calls)
    assert len(reads) >= 2 and not any("%24skip" in call.path for call in reads), "keyset continuation, no $skip"
    assert not any("inlinecount" in call.path for call in reads), "no total asked, none computed"
    following = api.get(
        f"/api/v1/production-orders?limit={MAX_LIMIT}&cursor={page.json['next_cursor']}", headers=plant_manager
    )
    assert len(following.json["items"]) == MAX_LIMIT
    ids = [item["order_id"] for item in page.json["items"] + following.json["items"]]
    assert len(set(ids)) == len(ids) == 2 * MAX_LIMIT
    in_sap = sap_rows(
        trusting_sap,
        "A_ProductionOrder_2",
        **{
            "$filter": "ProductionPlant eq '1010' or ProductionPlant eq '1020'",
            "$orderby": "ManufacturingOrder",
            "$select": "ManufacturingOrder",
        },
    )
    assert ids == [row["ManufacturingOrder"] for row in in_sap][: 2 * MAX_LIMIT], "the default sort: order number"


def test_a_short_list_is_one_page_however_large_the_limit(api: FlaskClient, executive: dict[str, str]) -> None:
    page = api.get(f"/api/v1/approvals?limit={MAX_LIMIT}", headers=executive).json
    assert 0 < len(page["items"]) < MAX_LIMIT and page["next_cursor"] is None


@pytest.mark.parametrize("url", LISTS + ADMIN_LISTS)
@pytest.mark.parametrize("limit", [MAX_LIMIT + 1, 1000, 0, -1])
def test_a_limit_outside_1_to_the_maximum_is_a_400_naming_it(
    api: FlaskClient, token: Token, url: str, limit: int
) -> None:
    everyone = ["Executive", "PlantManager", "Supervisor", "IntegrationAdmin"]
    headers = bearer(token(everyone, user="EXEC_ANNA", Plant=["1010"], WorkCenter=["ASSY1010"]))
    response = api.get(f"{url}?limit={limit}", headers=headers)
    assert response.status_code == 400, response.json
    assert response.json["message"] == (
        f"invalid request: query.limit: must be between 1 and {MAX_LIMIT} (the maximum); follow next_cursor for more"
    )
    assert set(response.json) >= {"code", "status", "message", "request_id"} and response.json["code"] == 400


# -- cursors -------------------------------------------------------------------------------------------------


def first_cursor(api: FlaskClient, url: str, headers: dict[str, str]) -> str:
    cursor = api.get(url, headers=headers).json["next_cursor"]
    assert cursor
    return str(cursor)


def flip(text: str, index: int) -> str:
    return text[:index] + ("A" if text[index] != "A" else "B") + text[index + 1 :]


def test_a_tampered_or_forged_cursor_is_a_400(api: FlaskClient, plant_manager: dict[str, str]) -> None:
    cursor = first_cursor(api, "/api/v1/production-orders?limit=2", plant_manager)
    body, mac = cursor.split(".")
    payload = json.loads(base64.urlsafe_b64decode(body + "=="))
    moved = dict(payload, a=[payload["a"][0][:-1] + "9"])  # a position of our choosing, the MAC left as it was
    forged_body = base64.urlsafe_b64encode(json.dumps(moved).encode()).decode().rstrip("=")
    for bad in (
        flip(cursor, 5),
        flip(cursor, len(cursor) - 3),
        f"{forged_body}.{mac}",
        body,
        f"{cursor}.{mac}",
        cursor + "%21",
        "%C3%A9" + cursor,
        "x" * 1025,
    ):
        response = api.get(f"/api/v1/production-orders?limit=2&cursor={bad}", headers=plant_manager)
        assert response.status_code == 400, (bad, response.json)
        assert response.json["message"].startswith(("invalid cursor", "invalid request: query.cursor")), response.json


def test_a_cursor_of_another_secret_is_a_400(
    api: FlaskClient, role_settings: Settings, plant_manager: dict[str, str]
) -> None:
    cursor = first_cursor(api, "/api/v1/production-orders?limit=2", plant_manager)
    other = migrated_app(role_settings.replace(paging_secret="another-instance-" + "s" * 32)).test_client()
    response = other.get(f"/api/v1/production-orders?limit=2&cursor={cursor}", headers=plant_manager)
    assert response.status_code == 400 and response.json["message"].startswith("invalid cursor")


@pytest.mark.parametrize(
    "reuse",
    [
        "/api/v1/production-orders?limit=2&status=released",  # other filters
        "/api/v1/production-orders?limit=2&sort=-planned_start",  # another order
        "/api/v1/production-orders?limit=2&plant=1010",  # a narrower scope
        "/api/v1/work-orders?limit=2",  # another list
    ],
)
def test_a_cursor_reused_with_another_query_is_a_400(
    api: FlaskClient, token: Token, plant_manager: dict[str, str], reuse: str
) -> None:
    cursor = first_cursor(api, "/api/v1/production-orders?limit=2", plant_manager)
    both = bearer(
        token(["PlantManager", "Supervisor"], user="PM_1010", Plant=["1010", "1020"], WorkCenter=["ASSY1010"])
    )
    response = api.get(f"{reuse}&cursor={cursor}", headers=both if "work-orders" in reuse else plant_manager)
    assert response.status_code == 400, response.json
    assert "different query" in response.json["message"] or "invalid cursor" in response.json["message"]


def test_a_cursor_is_the_callers_own(api: FlaskClient, token: Token, plant_manager: dict[str, str]) -> None:
    cursor = first_cursor(api, "/api/v1/production-orders?limit=2", plant_manager)
    colleague = bearer(token("PlantManager", user="PM_1020", Plant=["1010", "1020"]))
    response = api.get(f"/api/v1/production-orders?limit=2&cursor={cursor}", headers=colleague)
    assert response.status_code == 400 and "different query" in response.json["message"]


def test_limit_and_include_total_may_change_between_pages(api: FlaskClient, plant_manager: dict[str, str]) -> None:
    first = api.get("/api/v1/production-orders?limit=2", headers=plant_manager).json
    second = api.get(
        f"/api/v1/production-orders?limit=5&include_total=true&cursor={first['next_cursor']}", headers=plant_manager
    ).json
    both = api.get("/api/v1/production-orders?limit=7", headers=plant_manager).json["items"]
    assert first["items"] + second["items"] == both
    assert second["total"] is not None and second["total"] > 7


def test_store_lists_page_with_the_same_signed_cursors(api: FlaskClient, token: Token) -> None:
    anna = bearer(token("Executive", user="EXEC_ANNA"))
    for item in api.get("/api/v1/approvals?limit=3", headers=anna).json["items"]:
        accepted = api.post(
            f"/api/v1/approvals/{item['id']}/decision", json={"decision": "approve"}, headers={**anna, **key()}
        )
        assert accepted.status_code == 202, accepted.json
    mine = [page for page in pages(api, "/api/v1/writebacks?limit=2&include_total=true", anna)]
    assert [len(page["items"]) for page in mine] == [2, 1] and all(page["total"] == 3 for page in mine)
    assert "." in mine[0]["next_cursor"]
    forged = flip(mine[0]["next_cursor"], 3)
    assert api.get(f"/api/v1/writebacks?limit=2&cursor={forged}", headers=anna).status_code == 400
    other_status = api.get(f"/api/v1/writebacks?limit=2&status=accepted&cursor={mine[0]['next_cursor']}", headers=anna)
    assert other_status.status_code == 400 and "different query" in other_status.json["message"]
    admin = bearer(token("IntegrationAdmin", user="ops"))
    audit = [page for page in pages(api, "/api/v1/admin/audit?limit=2&include_total=true", admin)]
    assert sum(len(page["items"]) for page in audit) == audit[0]["total"] >= 3
    assert api.get("/api/v1/admin/dead-letters?include_total=true", headers=admin).json["total"] == 0


# -- sort orders and totals ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sort", "key_of", "descending"),
    [
        ("-created", lambda item: item["created_on"], True),
        ("created", lambda item: item["created_on"], False),
        ("due", lambda item: item["due"], False),
        ("-due", lambda item: item["due"], True),
        ("-priority", lambda item: PRIORITY_RANK[item["priority"]], False),  # the most urgent first
        ("priority", lambda item: PRIORITY_RANK[item["priority"]], True),
    ],
)
def test_approvals_sort_by_creation_due_date_and_priority(
    api: FlaskClient, executive: dict[str, str], sort: str, key_of: Any, descending: bool
) -> None:
    everything = {item["id"] for item in every(api, f"/api/v1/approvals?limit={MAX_LIMIT}", executive)}
    items = every(api, f"/api/v1/approvals?sort={sort}&limit=4", executive)
    assert {item["id"] for item in items} == everything and len(items) == len(everything)
    keys = [key_of(item) for item in items]
    assert keys == sorted(keys, reverse=descending)
    if sort in ("-priority", "priority"):
        assert len(set(keys)) > 1, "the seed mixes priorities"
        # The unique key closes the order: equal priorities follow the task id.
        for a, b in zip(items, items[1:], strict=False):
            if key_of(a) == key_of(b):
                assert a["task_id"] < b["task_id"]


def test_approvals_sort_by_several_keys(api: FlaskClient, executive: dict[str, str]) -> None:
    items = every(api, "/api/v1/approvals?sort=-priority&sort=due&limit=2", executive)
    keys = [(PRIORITY_RANK[item["priority"]], item["due"]) for item in items]
    assert keys == sorted(keys)


@pytest.mark.parametrize(
    ("sort", "key_of", "descending"),
    [
        ("planned_start", lambda order: (order["planned_start"],), False),
        ("-planned_end", lambda order: (order["planned_end"],), True),
        ("-order_id", lambda order: (order["order_id"],), True),
        ("material", lambda order: (order["material"], order["order_id"]), False),
    ],
)
def test_production_orders_sort_by_start_end_or_number(
    api: FlaskClient, token: Token, sort: str, key_of: Any, descending: bool
) -> None:
    headers = bearer(token("PlantManager", user="PM_1030", Plant=["1030"]))
    items = every(api, f"/api/v1/production-orders?sort={sort}&limit=60&status=released", headers)
    assert len({item["order_id"] for item in items}) == len(items) > 60
    keys = [key_of(item) for item in items]
    assert keys == sorted(keys, reverse=descending)


@pytest.mark.parametrize(
    ("sort", "key_of", "descending"),
    [
        ("earliest_start", lambda item: (item["earliest_start"],), False),
        ("-earliest_end", lambda item: (item["earliest_end"],), True),
        ("order_id", lambda item: (item["order_id"], item["operation"]), False),
    ],
)
def test_work_orders_sort_by_dates_or_order(
    api: FlaskClient, supervisor: dict[str, str], sort: str, key_of: Any, descending: bool
) -> None:
    everything = every(api, f"/api/v1/work-orders?limit={MAX_LIMIT}", supervisor)
    items = every(api, f"/api/v1/work-orders?sort={sort}&limit=7", supervisor)
    assert sorted(item["id"] for item in items) == sorted(item["id"] for item in everything)
    assert len(items) > 7
    keys = [key_of(item) for item in items]
    assert keys == sorted(keys, reverse=descending)


@pytest.mark.parametrize(
    "query", ["sort=due_date", "sort=", "sort=created&sort=-created", "sort=due&sort=created&sort=priority&sort=-due"]
)
def test_an_unknown_or_doubled_sort_is_a_400(api: FlaskClient, executive: dict[str, str], query: str) -> None:
    response = api.get(f"/api/v1/approvals?{query}", headers=executive)
    assert response.status_code == 400, response.json
    assert response.json["message"].startswith("invalid request: query.sort")


def test_total_is_sent_only_when_asked_and_counts_the_whole_list(
    api: FlaskClient, plant_manager: dict[str, str], trusting_sap: MockSap
) -> None:
    released = "(ProductionPlant eq '1010' or ProductionPlant eq '1020') and OrderIsReleased eq 'X'"
    in_sap = len(
        sap_rows(trusting_sap, "A_ProductionOrder_2", **{"$filter": released, "$select": "ManufacturingOrder"})
    )
    without = api.get("/api/v1/production-orders?status=released&limit=10", headers=plant_manager).json
    assert without["total"] is None
    with record_calls() as calls:
        first = api.get("/api/v1/production-orders?status=released&limit=10&include_total=true", headers=plant_manager)
    assert first.json["total"] == in_sap
    assert [("inlinecount=allpages" in call.path) for call in order_reads(calls)] == [True], "one call, counted inline"
    later = api.get(
        f"/api/v1/production-orders?status=released&limit=10&include_total=true&cursor={first.json['next_cursor']}",
        headers=plant_manager,
    )
    assert later.json["total"] == in_sap, "after a cursor the total is still the whole list's"
    assert len(every(api, "/api/v1/production-orders?status=released&limit=200", plant_manager)) == in_sap


def test_every_sap_list_counts_on_request(
    api: FlaskClient, executive: dict[str, str], supervisor: dict[str, str]
) -> None:
    for url, headers in (("/api/v1/approvals", executive), ("/api/v1/work-orders", supervisor)):
        items = every(api, f"{url}?limit=5", headers)
        first = api.get(f"{url}?limit=5&include_total=true", headers=headers).json
        assert first["total"] == len(items), url
        assert api.get(f"{url}?limit=5", headers=headers).json["total"] is None


# -- null sort keys ------------------------------------------------------------------------------------------


def clear_planned_end(sap: MockSap, order_ids: list[str]) -> None:
    """Orders without a planned end (Gateway shows ABAP's initial date as null)."""
    session = requests.Session()
    session.auth = TECH
    token = session.head(f"{sap.url}{PRODORD}/", headers={"X-CSRF-Token": "Fetch"}, timeout=10).headers["x-csrf-token"]
    for order_id in order_ids:
        session.patch(
            f"{sap.url}{PRODORD}/A_ProductionOrder_2('{order_id}')",
            json={"MfgOrderPlannedEndDate": None},
            headers={"X-CSRF-Token": token, "If-Match": "*"},
            timeout=10,
        ).raise_for_status()


@pytest.mark.parametrize("sort", ["planned_end", "-planned_end"])
def test_orders_without_the_sort_key_are_paged_once_first_ascending_last_descending(
    api: FlaskClient, token: Token, trusting_sap: MockSap, sort: str
) -> None:
    headers = bearer(token("PlantManager", user="PM_1030", Plant=["1030"]))
    orders = every(api, "/api/v1/production-orders?status=created&limit=200", headers)
    assert len(orders) > 20
    nulls = sorted(order["order_id"] for order in orders[3:10])
    clear_planned_end(trusting_sap, nulls)
    items = every(api, f"/api/v1/production-orders?status=created&sort={sort}&limit=3", headers)
    assert sorted(item["order_id"] for item in items) == sorted(order["order_id"] for order in orders)
    ends = [item["planned_end"] for item in items]
    if sort == "planned_end":
        assert ends[: len(nulls)] == [None] * len(nulls) and [i["order_id"] for i in items[: len(nulls)]] == nulls
        assert ends[len(nulls) :] == sorted(ends[len(nulls) :])
    else:
        assert ends[-len(nulls) :] == [None] * len(nulls) and [i["order_id"] for i in items[-len(nulls) :]] == nulls
        assert ends[: -len(nulls)] == sorted(ends[: -len(nulls)], reverse=True)


# -- unknown query parameters --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/approvals",
        "/api/v1/production-orders",
        "/api/v1/work-orders",
        "/api/v1/writebacks",
        "/api/v1/admin/audit",
        "/api/v1/admin/dead-letters",
        "/api/v1/me",
        "/api/v1/production-orders/1000001",
        "/api/v1/approvals/LOCAL~000001129101/decision-options",
    ],
)
def test_an_unknown_query_parameter_is_a_400_naming_it(api: FlaskClient, token: Token, path: str) -> None:
    everyone = ["Executive", "PlantManager", "Supervisor", "IntegrationAdmin"]
    headers = bearer(token(everyone, user="EXEC_ANNA", Plant=["1010"], WorkCenter=["ASSY1010"]))
    response = api.get(f"{path}?q=bike", headers=headers)
    assert response.status_code == 400, response.json
    assert response.json["message"].startswith("unknown query parameter 'q'; this operation takes: ")
    assert response.json["errors"] == {"query": {"q": ["Unknown parameter."]}}
    assert set(response.json) == {"code", "status", "message", "errors", "request_id"}


def test_the_message_lists_what_the_operation_takes(api: FlaskClient, executive: dict[str, str]) -> None:
    response = api.get("/api/v1/approvals?limit=5&LIMIT=5&priorty=HIGH", headers=executive)
    assert response.status_code == 400
    assert response.json["message"] == (
        "unknown query parameter 'LIMIT', 'priorty'; this operation takes: "
        "cursor, escalated, include_total, limit, overdue, priority, search, sort, task_type"
    )


def test_commands_refuse_unknown_query_parameters_too(api: FlaskClient, executive: dict[str, str]) -> None:
    task = api.get("/api/v1/approvals?limit=1", headers=executive).json["items"][0]["id"]
    response = api.post(
        f"/api/v1/approvals/{task}/decision?force=true", json={"decision": "approve"}, headers={**executive, **key()}
    )
    assert response.status_code == 400 and "'force'" in response.json["message"]
    writebacks = api.get("/api/v1/writebacks", headers=executive).json["items"]
    assert writebacks == [], "nothing was accepted"


def test_documented_parameters_pass(api: FlaskClient, executive: dict[str, str], app_with_spec: dict[str, Any]) -> None:
    parameters = app_with_spec["paths"]["/api/v1/approvals"]["get"]["parameters"]
    names = {p["name"] for p in parameters if p.get("in") == "query"}
    paging = {"limit", "cursor", "include_total"}
    assert names == paging | {"task_type", "priority", "search", "overdue", "escalated", "sort"}
    response = api.get(
        "/api/v1/approvals?limit=5&include_total=false&priority=HIGH&sort=-due&task_type=TS00008267", headers=executive
    )
    assert response.status_code == 200, response.json


@pytest.fixture
def app_with_spec(api_app: Flask) -> dict[str, Any]:
    spec: dict[str, Any] = api_app.test_client().get("/openapi.json").json
    return spec


def test_the_openapi_document_states_limit_sort_and_the_400(app_with_spec: dict[str, Any]) -> None:
    operation = app_with_spec["paths"]["/api/v1/production-orders"]["get"]
    by_name = {p["name"]: p for p in operation["parameters"] if p.get("in") == "query"}
    assert by_name["limit"]["schema"]["maximum"] == MAX_LIMIT
    assert "-planned_start" in by_name["sort"]["schema"]["items"]["enum"]
    assert "400" in operation["responses"]
    page = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    envelope = app_with_spec["components"]["schemas"][page]
    assert set(envelope["required"]) == {"items", "next_cursor", "total"}
    assert envelope["properties"]["total"]["nullable"] is True


def order_reads(calls: list[CallEvent]) -> list[CallEvent]:
    return [call for call in calls if "/A_ProductionOrder_2?" in call.path]
