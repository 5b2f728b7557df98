"""Each role's read endpoints, live from the mock SAP: content, paging, ETags, filters."""

from __future__ import annotations

from decimal import Decimal

from flask.testing import FlaskClient

from tests.conftest import MockSap
from tests.integration.roles.conftest import Token, bearer, sap_rows


def collect(api: FlaskClient, url: str, headers: dict[str, str]) -> list[dict[str, object]]:
    """Follow next_cursor to the end."""
    items: list[dict[str, object]] = []
    cursor = None
    while True:
        separator = "&" if "?" in url else "?"
        response = api.get(url + (f"{separator}cursor={cursor}" if cursor else ""), headers=headers)
        assert response.status_code == 200, response.json
        items += response.json["items"]
        cursor = response.json["next_cursor"]
        if cursor is None:
            return items


def test_me_reflects_the_token(api: FlaskClient, token: Token) -> None:
    me = api.get("/api/v1/me", headers=bearer(token("PlantManager", user="pat", Plant=["1010", "1020"])))
    assert me.status_code == 200
    assert me.json["roles"] == ["PlantManager"]
    assert me.json["attributes"]["Plant"] == ["1010", "1020"]


def test_executive_sees_own_queue_with_requisition_summary(api: FlaskClient, token: Token) -> None:
    headers = bearer(token("Executive", user="EXEC_ANNA"))
    queue = collect(api, "/api/v1/approvals?limit=5", headers)
    assert len(queue) >= 5, "the seed gives every executive a dozen open tasks"
    assert len({item["id"] for item in queue}) == len(queue)
    release = next(item for item in queue if item["object_id"])
    detail = api.get(f"/api/v1/approvals/{release['id']}", headers=headers)
    assert detail.status_code == 200
    requisition = detail.json["purchase_requisition"]
    assert requisition["requisition_id"] == release["object_id"]
    assert requisition["items"], "a requisition summary lists its items"
    for item in requisition["items"]:
        assert Decimal(item["quantity"]["value"]) >= 0 and item["quantity"]["unit"]
        if item["net_amount"]:
            assert item["net_amount"]["currency"]
    options = api.get(f"/api/v1/approvals/{release['id']}/decision-options", headers=headers)
    assert options.status_code == 200
    assert {option["nature"] for option in options.json["items"]} >= {"POSITIVE", "NEGATIVE"}


def test_executive_filters_by_priority(api: FlaskClient, token: Token) -> None:
    headers = bearer(token("Executive", user="EXEC_ANNA"))
    everything = collect(api, "/api/v1/approvals", headers)
    high = collect(api, "/api/v1/approvals?priority=HIGH&priority=VERY_HIGH", headers)
    assert high and all(item["priority"] in ("HIGH", "VERY_HIGH") for item in high)
    assert len(high) == sum(item["priority"] in ("HIGH", "VERY_HIGH") for item in everything)


def test_another_executives_task_is_not_found(api: FlaskClient, token: Token) -> None:
    bens = collect(api, "/api/v1/approvals", bearer(token("Executive", user="EXEC_BEN")))
    anna = bearer(token("Executive", user="EXEC_ANNA"))
    response = api.get(f"/api/v1/approvals/{bens[0]['id']}", headers=anna)
    assert response.status_code == 404
    assert api.get(f"/api/v1/approvals/{bens[0]['id']}/decision-options", headers=anna).status_code == 404


def test_plant_manager_pages_through_own_plant_only(api: FlaskClient, token: Token, trusting_sap: MockSap) -> None:
    headers = bearer(token("PlantManager", user="pm", Plant=["1020"]))
    orders = collect(api, "/api/v1/production-orders?limit=200&status=released", headers)
    released_1020 = "ProductionPlant eq '1020' and OrderIsReleased eq 'X'"
    in_sap = sap_rows(
        trusting_sap, "A_ProductionOrder_2", **{"$filter": released_1020, "$select": "ManufacturingOrder"}
    )
    assert {o["order_id"] for o in orders} == {row["ManufacturingOrder"] for row in in_sap}
    assert all(order["plant"] == "1020" and order["is_released"] for order in orders)
    assert len({o["order_id"] for o in orders}) == len(orders), "pages must not overlap"


def test_plant_manager_sorts_and_filters_by_dates(api: FlaskClient, token: Token) -> None:
    headers = bearer(token("PlantManager", user="pm", Plant=["1010"]))
    page = api.get("/api/v1/production-orders?sort=-planned_start&limit=30", headers=headers).json["items"]
    starts = [order["planned_start"] for order in page]
    assert starts == sorted(starts, reverse=True)
    start_from, start_to = starts[-1], starts[len(starts) // 2]
    window = collect(api, f"/api/v1/production-orders?start_from={start_from}&start_to={start_to}&limit=100", headers)
    assert window and all(start_from <= order["planned_start"] <= start_to for order in window)


def test_plant_manager_changed_since(api: FlaskClient, token: Token) -> None:
    headers = bearer(token("PlantManager", user="pm", Plant=["1010"]))
    newest = api.get("/api/v1/production-orders?sort=-last_changed&limit=3", headers=headers).json["items"]
    cutoff = newest[-1]["last_changed"]
    changed = collect(api, f"/api/v1/production-orders?changed_since={cutoff}", headers)
    assert changed and all(order["last_changed"] >= cutoff for order in changed)
    assert len(changed) < 50


def test_order_detail_has_operations_status_and_sap_etag(api: FlaskClient, token: Token) -> None:
    headers = bearer(token("PlantManager", user="pm", Plant=["1010"]))
    first = api.get("/api/v1/production-orders?status=released&limit=1", headers=headers).json["items"][0]
    detail = api.get(f"/api/v1/production-orders/{first['order_id']}", headers=headers)
    assert detail.status_code == 200
    body = detail.json
    assert body["operations"] and body["statuses"]
    assert any(status["short_name"] == "REL" for status in body["statuses"])
    assert body["sap_etag"]
    for operation in body["operations"]:
        done, to_go = Decimal(operation["confirmed_yield"]["value"]), Decimal(operation["quantity_to_go"]["value"])
        assert done + to_go == Decimal(operation["planned_quantity"]["value"]) or to_go == 0


def test_a_list_row_says_what_the_detail_says(api: FlaskClient, token: Token) -> None:
    # Lists read only the fields they return ($select LIST_FIELDS): each of them must still be SAP's value.
    headers = bearer(token("PlantManager", user="pm", Plant=["1010"]))
    rows = api.get("/api/v1/production-orders?sort=-last_changed&limit=8", headers=headers).json["items"]
    assert rows
    for row in rows:
        detail = api.get(f"/api/v1/production-orders/{row['order_id']}", headers=headers).json
        assert row == {name: detail[name] for name in row}


def test_etag_and_if_none_match(api: FlaskClient, token: Token) -> None:
    headers = bearer(token("PlantManager", user="pm", Plant=["1010"]))
    first = api.get("/api/v1/production-orders?limit=5", headers=headers)
    etag = first.headers["ETag"]
    assert etag
    again = api.get("/api/v1/production-orders?limit=5", headers={**headers, "If-None-Match": etag})
    assert again.status_code == 304
    assert not again.data
    other = api.get("/api/v1/production-orders?limit=6", headers={**headers, "If-None-Match": etag})
    assert other.status_code == 200


def test_supervisor_sees_released_operations_of_own_work_centre(api: FlaskClient, token: Token) -> None:
    headers = bearer(token("Supervisor", user="sup", Plant=["1010"], WorkCenter=["ASSY1010"]))
    work = collect(api, "/api/v1/work-orders?limit=100", headers)
    assert work
    for item in work:
        assert item["work_center"] == "ASSY1010" and item["plant"] == "1010"
        assert item["is_released"] and not item["is_confirmed"]
        planned = Decimal(item["planned_quantity"]["value"])
        assert Decimal(item["confirmed_yield"]["value"]) + Decimal(item["quantity_to_go"]["value"]) >= planned or (
            Decimal(item["quantity_to_go"]["value"]) == 0
        )
    one = api.get(f"/api/v1/work-orders/{work[0]['id']}", headers=headers)
    assert one.status_code == 200
    assert one.json == work[0]


def test_supervisor_lists_what_is_due_by_a_day_as_the_badge_counts_it(api: FlaskClient, token: Token) -> None:
    headers = bearer(token("Supervisor", user="sup", Plant=["1010"], WorkCenter=["ASSY1010"]))
    counts = api.get("/api/v1/work-orders/counts", headers=headers).json
    today = counts["today"]
    due = collect(api, f"/api/v1/work-orders?limit=200&starts_by={today}", headers)
    assert len(due) == counts["to_confirm_today"] > 0
    assert all(item["earliest_start"][:10] <= today for item in due)
    later = [item for item in collect(api, "/api/v1/work-orders?limit=200", headers) if item not in due]
    assert len(later) == counts["open"] - counts["to_confirm_today"] > 0
    assert all(item["earliest_start"][:10] > today for item in later)
    assert api.get("/api/v1/work-orders?starts_by=tomorrow", headers=headers).status_code == 400


def test_cursor_from_another_query_is_refused(api: FlaskClient, token: Token) -> None:
    headers = bearer(token("PlantManager", user="pm", Plant=["1010"]))
    cursor = api.get("/api/v1/production-orders?limit=2", headers=headers).json["next_cursor"]
    response = api.get(f"/api/v1/production-orders?limit=2&status=released&cursor={cursor}", headers=headers)
    assert response.status_code == 400
    assert "different query" in response.json["message"]


def test_forged_cursors_are_400_not_500(api: FlaskClient, token: Token) -> None:
    import base64
    import json

    def forge(payload: object) -> str:
        return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")

    pm = bearer(token("PlantManager", Plant=["1010"]))
    issued = api.get("/api/v1/production-orders?limit=1", headers=pm).json["next_cursor"]
    body, mac = issued.split(".")
    query = json.loads(base64.urlsafe_b64decode(body + "==="))["q"]
    for forged in ("1e400", '{"v": 1, "q": "' + query + '", "a": [1e400]}', "[1,2]"):
        cursor = forge(json.loads(forged)) if forged.startswith(("{", "[")) else forged
        for attempt in (cursor, f"{cursor}.{mac}"):
            response = api.get(f"/api/v1/production-orders?limit=1&cursor={attempt}", headers=pm)
            assert response.status_code == 400, (forged, response.json)
    admin = bearer(token("IntegrationAdmin", user="ops"))
    huge = forge([99999999999999999999999])
    assert api.get(f"/api/v1/admin/audit?cursor={huge}", headers=admin).status_code == 400
    assert api.get(f"/api/v1/writebacks?cursor={huge}", headers=admin).status_code == 400
