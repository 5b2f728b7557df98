"""ETag / If-Match on A_ProductionOrder_2 (LastChangeDateTime, ConcurrencyMode=Fixed): 428, 412, `*`, reschedule."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pyodata
import pytest
from pyodata.exceptions import HttpError

from .conftest import PRODORD, Sap, assert_sap_error, format_date, parse_date

ORDERS = "A_ProductionOrder_2"


def some_order(sap: Sap) -> dict[str, Any]:
    orders = sap.results(PRODORD, ORDERS, {"$filter": "OrderIsReleased eq ''", "$top": "1"})
    assert orders
    return orders[0]


def get_with_etag(sap: Sap, order: str) -> tuple[dict[str, Any], str]:
    response = sap.get(PRODORD, f"{ORDERS}('{order}')")
    assert response.status_code == 200
    etag = response.headers.get("ETag")
    assert etag, "a single-entity GET of an ETag-enabled entity returns an ETag header"
    return response.json()["d"], etag


def reschedule_body(entity: dict[str, Any], days: int = 7) -> dict[str, str]:
    start = parse_date(entity["MfgOrderPlannedStartDate"]) + timedelta(days=days)
    end = parse_date(entity["MfgOrderPlannedEndDate"]) + timedelta(days=days)
    return {"MfgOrderPlannedStartDate": format_date(start), "MfgOrderPlannedEndDate": format_date(end)}


def test_single_get_etag_header_matches_metadata_etag(tech: Sap):
    order = some_order(tech)
    entity, etag = get_with_etag(tech, order["ManufacturingOrder"])
    assert entity["__metadata"]["etag"] == etag
    assert order["__metadata"]["etag"] == etag, "feeds carry the same etag in __metadata"
    assert re.fullmatch(r"\d{14}", entity["LastChangeDateTime"]), entity["LastChangeDateTime"]
    assert entity["LastChangeDateTime"] in etag


def test_every_order_in_a_feed_has_an_etag(tech: Sap):
    for order in tech.results(PRODORD, ORDERS, {"$top": "20"}):
        assert order["__metadata"].get("etag")


def test_operations_carry_an_etag_too(tech: Sap):
    operation = tech.results(PRODORD, "A_ProductionOrderOperation_2", {"$top": "1"})[0]
    assert operation["__metadata"].get("etag")
    assert re.fullmatch(r"\d{14}", operation["LastChangeDateTime"])


def test_patch_without_if_match_is_428(tech: Sap):
    order = some_order(tech)
    key = order["ManufacturingOrder"]
    response = tech.write("PATCH", PRODORD, f"{ORDERS}('{key}')", body=reschedule_body(order))
    assert_sap_error(response, 428)
    assert tech.read(PRODORD, f"{ORDERS}('{key}')")["MfgOrderPlannedStartDate"] == order["MfgOrderPlannedStartDate"]


def test_patch_with_current_etag_reschedules_and_changes_the_etag(tech: Sap):
    order = some_order(tech)
    key = order["ManufacturingOrder"]
    entity, etag = get_with_etag(tech, key)
    body = reschedule_body(entity)
    response = tech.write("PATCH", PRODORD, f"{ORDERS}('{key}')", body=body, headers={"If-Match": etag})
    assert response.status_code == 204, response.text
    assert response.text == ""
    after, new_etag = get_with_etag(tech, key)
    assert after["MfgOrderPlannedStartDate"] == body["MfgOrderPlannedStartDate"]
    assert after["MfgOrderPlannedEndDate"] == body["MfgOrderPlannedEndDate"]
    assert new_etag != etag
    assert after["LastChangeDateTime"] > entity["LastChangeDateTime"]
    assert response.headers.get("ETag") == new_etag, "MERGE/PATCH answers with the new ETag [D8]"
    # the old ETag is now stale
    stale = tech.write("PATCH", PRODORD, f"{ORDERS}('{key}')", body=reschedule_body(after), headers={"If-Match": etag})
    assert_sap_error(stale, 412)
    assert tech.read(PRODORD, f"{ORDERS}('{key}')")["MfgOrderPlannedStartDate"] == body["MfgOrderPlannedStartDate"]


def test_patch_with_made_up_etag_is_412(tech: Sap):
    order = some_order(tech)
    key = order["ManufacturingOrder"]
    response = tech.write(
        "PATCH",
        PRODORD,
        f"{ORDERS}('{key}')",
        body=reschedule_body(order),
        headers={"If-Match": "W/\"'19990101000000'\""},
    )
    assert_sap_error(response, 412)


def test_if_match_star_is_accepted(tech: Sap):
    order = some_order(tech)
    key = order["ManufacturingOrder"]
    body = reschedule_body(order, days=3)
    response = tech.write("PATCH", PRODORD, f"{ORDERS}('{key}')", body=body, headers={"If-Match": "*"})
    assert response.status_code == 204, response.text
    assert tech.read(PRODORD, f"{ORDERS}('{key}')")["MfgOrderPlannedStartDate"] == body["MfgOrderPlannedStartDate"]


@pytest.mark.parametrize("method", ["MERGE", "PUT"])
def test_merge_and_put_are_guarded_too(tech: Sap, method: str):
    order = some_order(tech)
    key = order["ManufacturingOrder"]
    response = tech.write(method, PRODORD, f"{ORDERS}('{key}')", body=reschedule_body(order))
    assert_sap_error(response, 428)


def test_concurrent_editors_second_one_loses(sap: Callable[..., Sap]):
    first, second = sap(), sap()
    key = some_order(first)["ManufacturingOrder"]
    entity, etag = get_with_etag(first, key)
    _, etag_second = get_with_etag(second, key)
    assert etag == etag_second
    ok = first.write(
        "PATCH", PRODORD, f"{ORDERS}('{key}')", body=reschedule_body(entity, 1), headers={"If-Match": etag}
    )
    assert ok.status_code == 204
    lost = second.write(
        "PATCH", PRODORD, f"{ORDERS}('{key}')", body=reschedule_body(entity, 2), headers={"If-Match": etag_second}
    )
    assert_sap_error(lost, 412)


def test_pyodata_update_with_if_match(pyodata_client: Callable[..., pyodata.Client], tech: Sap):
    client = pyodata_client(PRODORD)
    key = some_order(tech)["ManufacturingOrder"]
    order = client.entity_sets.A_ProductionOrder_2.get_entity(ManufacturingOrder=key).execute()
    etag = order.etag
    assert etag
    new_start = order.MfgOrderPlannedStartDate + timedelta(days=5)
    request = client.entity_sets.A_ProductionOrder_2.update_entity(ManufacturingOrder=key)
    request.set(MfgOrderPlannedStartDate=new_start)
    request.add_headers({"If-Match": etag})
    request.execute()
    again = client.entity_sets.A_ProductionOrder_2.get_entity(ManufacturingOrder=key).execute()
    assert again.MfgOrderPlannedStartDate == new_start
    assert again.etag != etag

    stale = client.entity_sets.A_ProductionOrder_2.update_entity(ManufacturingOrder=key)
    stale.set(MfgOrderPlannedStartDate=new_start + timedelta(days=1))
    stale.add_headers({"If-Match": etag})
    with pytest.raises(HttpError) as caught:
        stale.execute()
    assert caught.value.response.status_code == 412

    missing = client.entity_sets.A_ProductionOrder_2.update_entity(ManufacturingOrder=key)
    missing.set(MfgOrderPlannedStartDate=new_start + timedelta(days=1))
    with pytest.raises(HttpError) as caught:
        missing.execute()
    assert caught.value.response.status_code == 428


def test_read_only_status_set_refuses_updates(tech: Sap):
    status = tech.results(PRODORD, "A_ProductionOrderStatus_2", {"$top": "1"})[0]
    path = "A_ProductionOrderStatus_2(ManufacturingOrder='{}',StatusCode='{}')".format(
        status["ManufacturingOrder"], status["StatusCode"]
    )
    response = tech.write("PATCH", PRODORD, path, body={"StatusName": "X"}, headers={"If-Match": "*"})
    assert 400 <= response.status_code < 600 and response.status_code not in (412, 428)
    assert tech.read(PRODORD, path)["StatusName"] == status["StatusName"]


def test_orders_cannot_be_deleted(tech: Sap):
    key = some_order(tech)["ManufacturingOrder"]
    response = tech.write("DELETE", PRODORD, f"{ORDERS}('{key}')", headers={"If-Match": "*"})
    assert 400 <= response.status_code < 600
    assert tech.get(PRODORD, f"{ORDERS}('{key}')").status_code == 200


def test_operations_are_updatable_with_if_match(tech: Sap):
    """The real A_ProductionOrderOperation_2 set is creatable=false, deletable=false, but updatable (default true;
    "Updates operation data of a production order."), with LastChangeDateTime as its ETag."""
    operation = tech.results(PRODORD, "A_ProductionOrderOperation_2", {"$top": "1"})[0]
    uri = operation["__metadata"]["uri"]
    path = uri[len(tech.url(PRODORD)) :]
    missing = tech.write("PATCH", PRODORD, path, body={"MfgOrderOperationText": "Re-planned"})
    assert_sap_error(missing, 428)
    response = tech.write(
        "PATCH",
        PRODORD,
        path,
        body={"MfgOrderOperationText": "Re-planned"},
        headers={"If-Match": operation["__metadata"]["etag"]},
    )
    assert response.status_code == 204, response.text
    after = tech.read(PRODORD, path)
    assert after["MfgOrderOperationText"] == "Re-planned"
    assert after["__metadata"]["etag"] != operation["__metadata"]["etag"]
