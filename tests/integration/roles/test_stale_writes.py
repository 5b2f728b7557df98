"""Stale writes fail fast: a reschedule whose If-Match SAP no longer has is a 412 at once, never a writeback."""

from __future__ import annotations

import uuid
from typing import Any

from flask.testing import FlaskClient

from odata_clients.connectivity import SapConnectivity
from tests.conftest import MockSap
from tests.integration.roles.conftest import Token, bearer, sap_rows

CHANGEABLE_IN_1010 = (
    "ProductionPlant eq '1010' and OrderIsTechnicallyCompleted eq '' and OrderIsClosed eq '' "
    "and OrderIsLocked eq '' and OrderIsMarkedForDeletion eq ''"
)
APRIL = {"planned_start": "2027-04-01", "planned_end": "2027-04-20"}
JUNE = {"planned_start": "2027-06-01", "planned_end": "2027-06-20"}
STALE = "the order changed in SAP since you read it: reload and try again"


def changeable_order(api: FlaskClient, headers: dict[str, str], sap: MockSap, index: int = 0) -> dict[str, Any]:
    """An order of plant 1010 that SAP lets change, as the plant manager reads it (with its sap_etag)."""
    rows = sap_rows(sap, "A_ProductionOrder_2", **{"$filter": CHANGEABLE_IN_1010, "$top": "3"})
    response = api.get(f"/api/v1/production-orders/{rows[index]['ManufacturingOrder']}", headers=headers)
    assert response.status_code == 200, response.json
    assert response.json["sap_etag"]
    return response.json


def someone_else_reschedules(api: FlaskClient, order: dict[str, Any], **dates: str) -> None:
    """A change in SAP behind the plant manager's back (another user, a planning run), or our worker's write."""
    sap: SapConnectivity = api.application.extensions["sap"]
    sap.production_orders.reschedule(order["order_id"], etag=order["sap_etag"], **dates)


def reschedule(api: FlaskClient, headers: dict[str, str], order_id: str, if_match: str, key: str, **body: str) -> Any:
    return api.patch(
        f"/api/v1/production-orders/{order_id}",
        json=body,
        headers={**headers, "If-Match": if_match, "Idempotency-Key": key},
    )


def my_writebacks(api: FlaskClient, headers: dict[str, str]) -> list[dict[str, Any]]:
    return api.get("/api/v1/writebacks", headers=headers).json["items"]


def test_a_stale_if_match_is_412_at_once_and_stores_nothing(
    api: FlaskClient, token: Token, trusting_sap: MockSap
) -> None:
    pm = bearer(token("PlantManager", user="PM_1010", Plant=["1010"]))
    order = changeable_order(api, pm, trusting_sap)
    someone_else_reschedules(api, order, planned_start="2027-03-01", planned_end="2027-03-07")

    stale = reschedule(api, pm, order["order_id"], order["sap_etag"], str(uuid.uuid4()), **APRIL)
    assert stale.status_code == 412, stale.json
    assert stale.json["message"] == STALE
    assert {"code", "status", "message", "request_id"} <= stale.json.keys()
    assert my_writebacks(api, pm) == [], "nothing is accepted that would only end in conflict"

    reloaded = api.get(f"/api/v1/production-orders/{order['order_id']}", headers=pm).json
    assert reloaded["sap_etag"] != order["sap_etag"]
    fresh = reschedule(api, pm, order["order_id"], reloaded["sap_etag"], str(uuid.uuid4()), **APRIL)
    assert fresh.status_code == 202, fresh.json


def test_the_strong_form_of_the_current_etag_matches_as_sap_compares_them(
    api: FlaskClient, token: Token, trusting_sap: MockSap
) -> None:
    pm = bearer(token("PlantManager", user="PM_1010", Plant=["1010"]))
    order = changeable_order(api, pm, trusting_sap)
    weak = order["sap_etag"]
    assert weak.startswith('W/"'), weak
    response = reschedule(api, pm, order["order_id"], weak[2:], str(uuid.uuid4()), planned_end="2027-05-30")
    assert response.status_code == 202, response.json


def test_a_replay_returns_the_command_even_though_its_own_write_changed_the_order(
    api: FlaskClient, token: Token, trusting_sap: MockSap
) -> None:
    pm = bearer(token("PlantManager", user="PM_1010", Plant=["1010"]))
    order = changeable_order(api, pm, trusting_sap, index=1)
    key = str(uuid.uuid4())
    first = reschedule(api, pm, order["order_id"], order["sap_etag"], key, **JUNE)
    assert first.status_code == 202, first.json
    # What the worker does with the command: SAP has the new dates and a new ETag now.
    someone_else_reschedules(api, order, **JUNE)

    again = reschedule(api, pm, order["order_id"], order["sap_etag"], key, **JUNE)
    assert again.status_code == 202, again.json
    assert again.json["id"] == first.json["id"]
    other_key = reschedule(api, pm, order["order_id"], order["sap_etag"], str(uuid.uuid4()), **JUNE)
    assert other_key.status_code == 412, "a new request with the old ETag is stale"
