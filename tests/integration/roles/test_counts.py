"""Badge counts per role, checked against numbers worked out here from the mock SAP's raw rows."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Callable, Iterable
from typing import Any

import pytest
import requests
from flask.testing import FlaskClient

from runtime.settings import Settings
from tests.conftest import MockSap, migrated_app
from tests.integration.roles.conftest import Token, bearer, sap_rows

TASKS = "/sap/opu/odata/IWPGW/TASKPROCESSING;mo;v=2"
USER_PASSWORD = "user-pass-1"
OPEN_STATUSES = ("READY", "RESERVED", "IN_PROGRESS")
PRIORITIES = ("VERY_HIGH", "HIGH", "MEDIUM", "LOW")
ORDER_FIELDS = (
    "ManufacturingOrder,ProductionPlant,OrderIsReleased,OrderIsConfirmed,OrderIsDelivered,"
    "OrderIsTechnicallyCompleted,OrderIsClosed,OrderIsMarkedForDeletion,MfgOrderPlannedStartDate,MfgOrderPlannedEndDate"
)
OPERATION_FIELDS = "WorkCenter,ProductionPlant,OperationIsReleased,OperationIsConfirmed,OpErlstSchedldExecStrtDte"


# -- the mock's raw data, read as plain OData V2 JSON ---------------------------------------------------


def inbox_rows(sap: MockSap, user: str) -> list[dict[str, Any]]:
    """Every task SAP shows `user` (as that user, Basic auth), following server-side paging."""
    rows: list[dict[str, Any]] = []
    url: str | None = f"{sap.url}{TASKS}/TaskCollection"
    query: dict[str, str] | None = {"$format": "json"}
    while url:
        response = requests.get(url, params=query, auth=(user, USER_PASSWORD), timeout=30)
        response.raise_for_status()
        rows += response.json()["d"]["results"]
        url, query = response.json()["d"].get("__next"), None
    return rows


def ms(value: str) -> int:
    """`/Date(1764374400000)/` -> 1764374400000."""
    return int(value[len("/Date(") : -len(")/")])


def day(value: str) -> dt.date:
    return dt.datetime.fromtimestamp(ms(value) / 1000, dt.UTC).date()


def now_ms() -> int:
    return int(dt.datetime.now(dt.UTC).timestamp() * 1000)


def expected_approval_counts(tasks: Iterable[dict[str, Any]], at_ms: int) -> dict[str, Any]:
    open_ = [t for t in tasks if t["Status"] in OPEN_STATUSES]
    return {
        "open": len(open_),
        "by_priority": {p: sum(t["Priority"] == p for t in open_) for p in PRIORITIES},
        "overdue": sum(t["CompletionDeadLine"] is not None and ms(t["CompletionDeadLine"]) < at_ms for t in open_),
        "escalated": sum(t["IsEscalated"] is True for t in open_),
    }


def expected_order_counts(orders: Iterable[dict[str, Any]], today: dt.date) -> dict[str, int]:
    alive = [
        o
        for o in orders
        if not (o["OrderIsTechnicallyCompleted"] or o["OrderIsClosed"] or o["OrderIsMarkedForDeletion"])
    ]
    return {
        "late_to_start": sum(not o["OrderIsReleased"] and day(o["MfgOrderPlannedStartDate"]) < today for o in alive),
        "late_to_finish": sum(not o["OrderIsDelivered"] and day(o["MfgOrderPlannedEndDate"]) < today for o in alive),
        "due_for_release": sum(
            not o["OrderIsReleased"] and today <= day(o["MfgOrderPlannedStartDate"]) <= today + dt.timedelta(days=6)
            for o in alive
        ),
        "in_progress": sum(
            o["OrderIsReleased"] == "X" and not o["OrderIsConfirmed"] and not o["OrderIsDelivered"] for o in alive
        ),
    }


def expected_work_order_counts(operations: Iterable[dict[str, Any]], today: dt.date) -> dict[str, int]:
    open_ = [op for op in operations if op["OperationIsReleased"] == "X" and not op["OperationIsConfirmed"]]
    return {
        "open": len(open_),
        "to_confirm_today": sum(day(op["OpErlstSchedldExecStrtDte"]) <= today for op in open_),
    }


def orders_of(sap: MockSap, *plants: str) -> list[dict[str, Any]]:
    clause = " or ".join(f"ProductionPlant eq '{plant}'" for plant in plants)
    return sap_rows(sap, "A_ProductionOrder_2", **{"$filter": clause, "$select": ORDER_FIELDS})


def operations_at(sap: MockSap, plant: str, *work_centers: str) -> list[dict[str, Any]]:
    centres = " or ".join(f"WorkCenter eq '{centre}'" for centre in work_centers)
    clause = f"ProductionPlant eq '{plant}' and ({centres})"
    return sap_rows(sap, "A_ProductionOrderOperation_2", **{"$filter": clause, "$select": OPERATION_FIELDS})


def counted(body: dict[str, Any], names: Iterable[str]) -> dict[str, Any]:
    return {name: body[name] for name in names}


def utc_today_around(call: Callable[[], Any]) -> tuple[Any, set[dt.date]]:
    """The call's result and the UTC day(s) it ran in (two only when it straddled midnight)."""
    before = dt.datetime.now(dt.UTC).date()
    result = call()
    return result, {before, dt.datetime.now(dt.UTC).date()}


# -- Executive -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("user", ["EXEC_ANNA", "EXEC_BEN"])
def test_approval_counts_match_the_callers_inbox_in_sap(
    api: FlaskClient, token: Token, trusting_sap: MockSap, user: str
) -> None:
    before = now_ms()
    response = api.get("/api/v1/approvals/counts", headers=bearer(token("Executive", user=user)))
    after = now_ms()
    assert response.status_code == 200, response.json
    tasks = inbox_rows(trusting_sap, user)
    expected = expected_approval_counts(tasks, before)
    # A deadline passing between our call and SAP's count may move one task into `overdue`.
    assert expected["overdue"] <= response.json["overdue"] <= expected_approval_counts(tasks, after)["overdue"]
    assert {k: v for k, v in response.json.items() if k != "overdue"} == {
        k: v for k, v in expected.items() if k != "overdue"
    }
    # The seed must make every number worth checking.
    assert expected["open"] > expected["overdue"] > expected["escalated"] > 0
    assert sum(1 for n in expected["by_priority"].values() if n) >= 2


def test_approval_counts_are_the_callers_own(api: FlaskClient, token: Token, trusting_sap: MockSap) -> None:
    anna = api.get("/api/v1/approvals/counts", headers=bearer(token("Executive", user="EXEC_ANNA"))).json
    carla = api.get("/api/v1/approvals/counts", headers=bearer(token("Executive", user="EXEC_CARLA"))).json
    assert anna["open"] == expected_approval_counts(inbox_rows(trusting_sap, "EXEC_ANNA"), now_ms())["open"]
    assert carla["open"] == expected_approval_counts(inbox_rows(trusting_sap, "EXEC_CARLA"), now_ms())["open"]
    assert anna != carla


def test_an_executive_sap_does_not_know_gets_403_naming_the_user(api: FlaskClient, token: Token) -> None:
    response = api.get("/api/v1/approvals/counts", headers=bearer(token("Executive", user="exec_zoe")))
    assert response.status_code == 403, response.json
    assert response.json["message"].startswith("SAP does not know the user EXEC_ZOE")


def decide_in_sap(sap: MockSap, user: str, task: dict[str, Any]) -> None:
    """The executive approves in SAP directly (My Inbox), not through us."""
    session = requests.Session()
    session.auth = (user, USER_PASSWORD)
    fetched = session.head(f"{sap.url}{TASKS}/", headers={"X-CSRF-Token": "Fetch"}, timeout=10)
    params = {"SAP__Origin": f"'{task['SAP__Origin']}'", "InstanceID": f"'{task['InstanceID']}'"}
    options = session.get(f"{sap.url}{TASKS}/DecisionOptions", params={**params, "$format": "json"}, timeout=10)
    key = next(o["DecisionKey"] for o in options.json()["d"]["results"] if o["Nature"] == "POSITIVE")
    decided = session.post(
        f"{sap.url}{TASKS}/Decision",
        params={**params, "DecisionKey": f"'{key}'", "Comments": "''"},
        headers={"X-CSRF-Token": fetched.headers["x-csrf-token"], "Accept": "application/json"},
        timeout=10,
    )
    assert decided.status_code == 200, decided.text


def test_approval_counts_etag_holds_until_a_number_changes(
    api: FlaskClient, token: Token, trusting_sap: MockSap
) -> None:
    headers = bearer(token("Executive", user="EXEC_ANNA"))
    first = api.get("/api/v1/approvals/counts", headers=headers)
    etag = first.headers["ETag"]
    unchanged = api.get("/api/v1/approvals/counts", headers={**headers, "If-None-Match": etag})
    assert unchanged.status_code == 304
    task = next(t for t in inbox_rows(trusting_sap, "EXEC_ANNA") if t["Status"] == "READY")
    decide_in_sap(trusting_sap, "EXEC_ANNA", task)
    changed = api.get("/api/v1/approvals/counts", headers={**headers, "If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["ETag"] != etag
    assert changed.json["open"] == first.json["open"] - 1
    assert changed.json["by_priority"][task["Priority"]] == first.json["by_priority"][task["Priority"]] - 1


# -- Plant manager ---------------------------------------------------------------------------------------

ORDER_COUNTS = ("late_to_start", "late_to_finish", "due_for_release", "in_progress")


def test_order_counts_cover_all_of_the_callers_plants(api: FlaskClient, token: Token, trusting_sap: MockSap) -> None:
    headers = bearer(token("PlantManager", Plant=["1010", "1020"]))
    response, days = utc_today_around(lambda: api.get("/api/v1/production-orders/counts", headers=headers))
    assert response.status_code == 200, response.json
    body = response.json
    today = dt.date.fromisoformat(body["today"])
    assert today in days and body["time_zone"] == "UTC"
    assert body["plants"] == ["1010", "1020"]
    assert body["release_window_end"] == (today + dt.timedelta(days=6)).isoformat()
    expected = expected_order_counts(orders_of(trusting_sap, "1010", "1020"), today)
    assert counted(body, ORDER_COUNTS) == expected
    assert all(expected.values()), f"the seed must give every count something to count: {expected}"


def test_order_counts_of_one_plant_are_that_plants_only(api: FlaskClient, token: Token, trusting_sap: MockSap) -> None:
    both = bearer(token("PlantManager", Plant=["1010", "1020"]))
    narrowed = api.get("/api/v1/production-orders/counts?plant=1020", headers=both).json
    own = api.get("/api/v1/production-orders/counts", headers=bearer(token("PlantManager", Plant=["1010"]))).json
    today = dt.date.fromisoformat(own["today"])
    assert narrowed["plants"] == ["1020"] and own["plants"] == ["1010"]
    assert counted(narrowed, ORDER_COUNTS) == expected_order_counts(orders_of(trusting_sap, "1020"), today)
    assert counted(own, ORDER_COUNTS) == expected_order_counts(orders_of(trusting_sap, "1010"), today)
    assert counted(own, ORDER_COUNTS) != counted(narrowed, ORDER_COUNTS)


@pytest.mark.parametrize("query", ["plant=1030", "plant=1010&plant=1030", "plant=%2A"])
def test_order_counts_for_another_plant_are_refused(api: FlaskClient, token: Token, query: str) -> None:
    response = api.get(
        f"/api/v1/production-orders/counts?{query}", headers=bearer(token("PlantManager", Plant=["1010", "1020"]))
    )
    assert response.status_code == 403, response.json
    assert set(response.json) >= {"code", "status", "message", "request_id"}
    assert "not among yours" in response.json["message"]


def test_plant_manager_without_plants_gets_no_counts(api: FlaskClient, token: Token) -> None:
    response = api.get("/api/v1/production-orders/counts", headers=bearer(token("PlantManager")))
    assert response.status_code == 403
    assert "Plant" in response.json["message"]


@pytest.mark.parametrize("zone", ["Pacific/Kiritimati", "Pacific/Pago_Pago"])
def test_order_counts_take_today_in_the_plants_time_zone(
    api: FlaskClient, token: Token, trusting_sap: MockSap, zone: str
) -> None:
    headers = bearer(token("PlantManager", Plant=["1010"]))
    before = dt.datetime.now(zoneinfo.ZoneInfo(zone)).date()
    response = api.get(f"/api/v1/production-orders/counts?tz={zone}", headers=headers)
    after = dt.datetime.now(zoneinfo.ZoneInfo(zone)).date()
    assert response.status_code == 200, response.json
    today = dt.date.fromisoformat(response.json["today"])
    assert today in (before, after) and response.json["time_zone"] == zone
    assert counted(response.json, ORDER_COUNTS) == expected_order_counts(orders_of(trusting_sap, "1010"), today)


def test_utc_plus_14_and_minus_11_are_different_days(api: FlaskClient, token: Token) -> None:
    headers = bearer(token("PlantManager", Plant=["1010"]))
    east = api.get("/api/v1/production-orders/counts?tz=Pacific/Kiritimati", headers=headers).json
    west = api.get("/api/v1/production-orders/counts?tz=Pacific/Pago_Pago", headers=headers).json
    # 25 hours apart: at any moment they are on different calendar days.
    assert dt.date.fromisoformat(east["today"]) > dt.date.fromisoformat(west["today"])


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "localtime", "europe/berlin", "../../etc/passwd", "x" * 65, ""])
def test_unknown_time_zones_are_refused(api: FlaskClient, token: Token, zone: str) -> None:
    response = api.get(
        "/api/v1/production-orders/counts",
        query_string={"tz": zone},
        headers=bearer(token("PlantManager", Plant=["1010"])),
    )
    assert response.status_code == 400, response.json  # a malformed query string
    assert "tz" in response.json["errors"]["query"]


def test_order_counts_answer_304_while_unchanged(api: FlaskClient, token: Token) -> None:
    headers = bearer(token("PlantManager", Plant=["1010"]))
    first = api.get("/api/v1/production-orders/counts", headers=headers)
    again = api.get("/api/v1/production-orders/counts", headers={**headers, "If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304
    other_zone = api.get(
        "/api/v1/production-orders/counts?tz=Pacific/Kiritimati",
        headers={**headers, "If-None-Match": first.headers["ETag"]},
    )
    assert other_zone.status_code == 200, "another time zone is another answer (at least its time_zone differs)"


# -- Supervisor ------------------------------------------------------------------------------------------


def test_work_order_counts_match_the_callers_work_centres(
    api: FlaskClient, token: Token, trusting_sap: MockSap
) -> None:
    headers = bearer(token("Supervisor", Plant=["1010"], WorkCenter=["ASSY1010", "WELD1010"]))
    response, days = utc_today_around(lambda: api.get("/api/v1/work-orders/counts", headers=headers))
    assert response.status_code == 200, response.json
    body = response.json
    today = dt.date.fromisoformat(body["today"])
    assert today in days and body["work_centers"] == ["ASSY1010", "WELD1010"]
    expected = expected_work_order_counts(operations_at(trusting_sap, "1010", "ASSY1010", "WELD1010"), today)
    assert counted(body, ("open", "to_confirm_today")) == expected
    assert expected["open"] > expected["to_confirm_today"] > 0, expected


def test_work_order_counts_follow_the_work_centre_rules(api: FlaskClient, token: Token, trusting_sap: MockSap) -> None:
    headers = bearer(token("Supervisor", Plant=["1010"], WorkCenter=["ASSY1010", "WELD1010"]))
    one = api.get("/api/v1/work-orders/counts?work_center=WELD1010", headers=headers).json
    today = dt.date.fromisoformat(one["today"])
    assert one["work_centers"] == ["WELD1010"]
    expected = expected_work_order_counts(operations_at(trusting_sap, "1010", "WELD1010"), today)
    assert counted(one, ("open", "to_confirm_today")) == expected
    foreign = api.get("/api/v1/work-orders/counts?work_center=PACK1010", headers=headers)
    assert foreign.status_code == 403
    assert "not among yours" in foreign.json["message"]
    elsewhere = bearer(token("Supervisor", Plant=["1020"], WorkCenter=["ASSY1010"]))
    same_name_other_plant = api.get("/api/v1/work-orders/counts", headers=elsewhere).json
    assert counted(same_name_other_plant, ("open", "to_confirm_today")) == {"open": 0, "to_confirm_today": 0}


def test_work_order_counts_answer_304_while_unchanged(api: FlaskClient, token: Token) -> None:
    headers = bearer(token("Supervisor", Plant=["1010"], WorkCenter=["ASSY1010"]))
    first = api.get("/api/v1/work-orders/counts?tz=Europe/Berlin", headers=headers)
    assert first.status_code == 200 and first.json["time_zone"] == "Europe/Berlin"
    again = api.get(
        "/api/v1/work-orders/counts?tz=Europe/Berlin", headers={**headers, "If-None-Match": first.headers["ETag"]}
    )
    assert again.status_code == 304


# -- SAP unwell ------------------------------------------------------------------------------------------


def test_sap_answering_503_gives_503_with_retry_after(api: FlaskClient, token: Token, trusting_sap: MockSap) -> None:
    fault = {"service": "API_PRODUCTION_ORDER_2_SRV", "status": 503}
    requests.post(f"{trusting_sap.url}/mock-admin/faults", json=fault, timeout=10).raise_for_status()
    response = api.get(
        "/api/v1/work-orders/counts",
        headers={**bearer(token("Supervisor", Plant=["1010"], WorkCenter=["ASSY1010"])), "X-Request-ID": "badge-1"},
    )
    assert response.status_code == 503
    assert int(response.headers["Retry-After"]) >= 1
    assert response.json["request_id"] == "badge-1"


def test_the_requests_sap_budget_holds_in_every_parallel_count(
    role_settings: Settings, token: Token, trusting_sap: MockSap
) -> None:
    # Each count would take 3 s; the request may spend 0.5 s. Were the budget lost on the way into the
    # worker threads, the counts would wait for SAP and succeed.
    fault = {"service": "API_PRODUCTION_ORDER_2_SRV", "latency_ms": 3000}
    requests.post(f"{trusting_sap.url}/mock-admin/faults", json=fault, timeout=10).raise_for_status()
    api = migrated_app(role_settings.replace(sap_request_budget=0.5)).test_client()
    response = api.get("/api/v1/production-orders/counts", headers=bearer(token("PlantManager", Plant=["1010"])))
    assert response.status_code == 503, response.json
    assert response.headers["Retry-After"]


# -- roles -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "role"),
    [
        ("/api/v1/approvals/counts", "PlantManager"),
        ("/api/v1/production-orders/counts", "Supervisor"),
        ("/api/v1/work-orders/counts", "Executive"),
    ],
)
def test_counts_need_the_role(api: FlaskClient, token: Token, path: str, role: str) -> None:
    assert api.get(path).status_code == 401
    response = api.get(path, headers=bearer(token(role, user="EXEC_ANNA", Plant=["1010"], WorkCenter=["ASSY1010"])))
    assert response.status_code == 403
    assert "needs the role" in response.json["message"]


@pytest.mark.parametrize(
    ("path", "role"),
    [
        ("/api/v1/approvals/counts?tz=UTC", "Executive"),
        ("/api/v1/production-orders/counts?plants=1010", "PlantManager"),
        ("/api/v1/work-orders/counts?limit=1", "Supervisor"),
    ],
)
def test_unknown_query_parameters_are_refused(api: FlaskClient, token: Token, path: str, role: str) -> None:
    headers = bearer(token(role, user="EXEC_ANNA", Plant=["1010"], WorkCenter=["ASSY1010"]))
    response = api.get(path, headers=headers)
    assert response.status_code == 400, response.json
    assert path.split("?")[1].split("=")[0] in response.json["message"]


def test_counts_are_documented(api: FlaskClient) -> None:
    spec = api.get("/openapi.json").json
    for path, schema, fields in (
        ("/api/v1/approvals/counts", "ApprovalCounts", ("open", "by_priority", "overdue", "escalated")),
        ("/api/v1/production-orders/counts", "OrderCounts", ORDER_COUNTS),
        ("/api/v1/work-orders/counts", "WorkOrderCounts", ("open", "to_confirm_today")),
    ):
        get = spec["paths"][path]["get"]
        assert get["summary"].startswith("Badge counts")
        assert get["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith(schema)
        properties = spec["components"]["schemas"][schema]["properties"]
        for name in fields:
            assert properties[name].get("description"), f"{schema}.{name} has no description"
