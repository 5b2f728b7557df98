"""Command endpoints: validated against SAP, stored with their audit event, answered 202 + Location."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import pytest
from flask.testing import FlaskClient

from odata_clients.models import ConfirmationRequest, Quantity
from tests.conftest import MockSap
from tests.integration.roles.conftest import Token, bearer, sap_rows

SUPERVISOR = {"Plant": ["1010"], "WorkCenter": ["ASSY1010"]}


def key() -> dict[str, str]:
    return {"Idempotency-Key": str(uuid.uuid4())}


def open_work_order(api: FlaskClient, headers: dict[str, str]) -> dict[str, Any]:
    items = api.get("/api/v1/work-orders?limit=50", headers=headers).json["items"]
    return next(item for item in items if Decimal(item["quantity_to_go"]["value"]) >= 2)


@pytest.fixture
def supervisor(token: Token) -> dict[str, str]:
    return bearer(token("Supervisor", user="SUP_ASSY1010", **SUPERVISOR))


def test_confirmation_is_accepted_and_pollable(api: FlaskClient, supervisor: dict[str, str]) -> None:
    work = open_work_order(api, supervisor)
    body = {"yield_quantity": "1.000", "unit": work["planned_quantity"]["unit"], "text": "Shift A"}
    response = api.post(f"/api/v1/work-orders/{work['id']}/confirmations", json=body, headers={**supervisor, **key()})
    assert response.status_code == 202, response.json
    assert response.json["status"] == "accepted" and response.json["type"] == "operation.confirm"
    location = response.headers["Location"]
    assert location == f"/api/v1/writebacks/{response.json['id']}"
    polled = api.get(location, headers=supervisor)
    assert polled.status_code == 200
    assert polled.json["payload"]["yield_quantity"] == {"value": "1.000", "unit": work["planned_quantity"]["unit"]}
    assert polled.json["target"] == {"type": "ProductionOrder", "id": work["order_id"]}


def test_same_key_same_request_is_the_same_command(api: FlaskClient, supervisor: dict[str, str]) -> None:
    work = open_work_order(api, supervisor)
    url, headers = f"/api/v1/work-orders/{work['id']}/confirmations", {**supervisor, **key()}
    body = {"yield_quantity": 1, "unit": work["planned_quantity"]["unit"]}
    first = api.post(url, json=body, headers=headers)
    again = api.post(url, json=body, headers=headers)
    assert first.status_code == again.status_code == 202
    assert first.json["id"] == again.json["id"]
    other = api.post(url, json={**body, "yield_quantity": 2}, headers=headers)
    assert other.status_code == 422
    assert other.json["errors"]["existing_writeback"] == first.json["id"]


def test_commands_need_an_idempotency_key(api: FlaskClient, supervisor: dict[str, str]) -> None:
    work = open_work_order(api, supervisor)
    body = {"yield_quantity": "1", "unit": work["planned_quantity"]["unit"]}
    missing = api.post(f"/api/v1/work-orders/{work['id']}/confirmations", json=body, headers=supervisor)
    assert missing.status_code == 400 and "Idempotency-Key" in missing.json["message"]
    bad = api.post(
        f"/api/v1/work-orders/{work['id']}/confirmations",
        json=body,
        headers={**supervisor, "Idempotency-Key": "has spaces"},
    )
    assert bad.status_code == 400


@pytest.mark.parametrize(
    ("change", "status", "fragment"),
    [
        ({"unit": "XX"}, 422, "planned in"),
        ({"yield_quantity": "99999"}, 422, "still to go"),
        ({"yield_quantity": "0"}, 422, "above zero"),
        ({"yield_quantity": "-1"}, 422, ""),
        ({"yield_quantity": "abc"}, 422, ""),
        ({"surprise": True}, 422, ""),
        ({"text": "x" * 41}, 422, ""),
    ],
)
def test_confirmation_is_validated(
    api: FlaskClient, supervisor: dict[str, str], change: dict[str, Any], status: int, fragment: str
) -> None:
    work = open_work_order(api, supervisor)
    body = {"yield_quantity": "1", "unit": work["planned_quantity"]["unit"], **change}
    response = api.post(f"/api/v1/work-orders/{work['id']}/confirmations", json=body, headers={**supervisor, **key()})
    assert response.status_code == status, response.json
    assert fragment in response.json["message"] or response.json.get("errors")


def test_confirmation_of_unreleased_operation_is_a_conflict(
    api: FlaskClient, token: Token, trusting_sap: MockSap
) -> None:
    rows = sap_rows(
        trusting_sap,
        "A_ProductionOrderOperation_2",
        **{"$filter": "ProductionPlant eq '1010' and OperationIsReleased eq ''", "$top": "1"},
    )
    row = rows[0]
    headers = bearer(token("Supervisor", Plant=["1010"], WorkCenter=[row["WorkCenter"]]))
    response = api.post(
        f"/api/v1/work-orders/{row['ManufacturingOrder']}-{row['ManufacturingOrderOperation']}/confirmations",
        json={"yield_quantity": "1", "unit": row["OperationUnit"]},
        headers={**headers, **key()},
    )
    assert response.status_code == 409
    assert "not released" in response.json["message"]


def test_release_order(api: FlaskClient, token: Token, trusting_sap: MockSap) -> None:
    headers = bearer(token("PlantManager", user="PM_1010", Plant=["1010"]))
    created = sap_rows(
        trusting_sap,
        "A_ProductionOrder_2",
        **{"$filter": "ProductionPlant eq '1010' and OrderIsReleased eq '' and OrderIsTechnicallyCompleted eq ''",
           "$top": "1"},
    )[0]  # fmt: skip
    response = api.post(
        f"/api/v1/production-orders/{created['ManufacturingOrder']}/release", headers={**headers, **key()}
    )
    assert response.status_code == 202, response.json
    assert response.json["payload"] == {"order_id": created["ManufacturingOrder"], "plant": "1010"}
    released = api.get("/api/v1/production-orders?status=released&limit=1", headers=headers).json["items"][0]
    again = api.post(f"/api/v1/production-orders/{released['order_id']}/release", headers={**headers, **key()})
    assert again.status_code == 409


def test_reschedule_needs_if_match_and_sane_dates(api: FlaskClient, token: Token) -> None:
    headers = bearer(token("PlantManager", user="PM_1010", Plant=["1010"]))
    order = api.get("/api/v1/production-orders?status=released&limit=1", headers=headers).json["items"][0]
    url = f"/api/v1/production-orders/{order['order_id']}"
    body = {"planned_start": "2027-01-10", "planned_end": "2027-01-12"}
    assert api.patch(url, json=body, headers={**headers, **key()}).status_code == 428
    with_etag = {**headers, **key(), "If-Match": order["sap_etag"]}
    accepted = api.patch(url, json=body, headers=with_etag)
    assert accepted.status_code == 202, accepted.json
    assert accepted.json["payload"]["planned_start"] == "2027-01-10"
    backwards = api.patch(url, json={"planned_start": "2027-02-10", "planned_end": "2027-02-01"}, headers=with_etag)
    assert backwards.status_code == 422
    assert api.patch(url, json={}, headers={**with_etag, **key()}).status_code == 422


def test_decisions_single_and_mass(api: FlaskClient, token: Token) -> None:
    anna = bearer(token("Executive", user="EXEC_ANNA"))
    queue = api.get("/api/v1/approvals?limit=3", headers=anna).json["items"]
    single = api.post(
        f"/api/v1/approvals/{queue[0]['id']}/decision", json={"decision": "approve"}, headers={**anna, **key()}
    )
    assert single.status_code == 202, single.json
    assert single.json["payload"]["decision_key"] == "0001"
    bens = api.get("/api/v1/approvals?limit=1", headers=bearer(token("Executive", user="EXEC_BEN"))).json["items"]
    batch = {
        "items": [
            {"id": queue[1]["id"], "decision": "reject", "comment": "no budget"},
            {"id": bens[0]["id"], "decision": "approve"},
            {"id": "nonsense", "decision": "approve"},
        ]
    }
    headers = {**anna, **key()}
    response = api.post("/api/v1/approvals/decisions", json=batch, headers=headers)
    assert response.status_code == 200
    results = {item["id"]: item for item in response.json["results"]}
    assert results[queue[1]["id"]]["status"] == 202
    assert results[queue[1]["id"]]["writeback"]["payload"]["decision_key"] == "0002"
    assert results[bens[0]["id"]]["status"] == 404, "another executive's task is not found"
    assert results["nonsense"]["status"] == 404
    replay = api.post("/api/v1/approvals/decisions", json=batch, headers=headers)
    assert replay.json["results"][0]["writeback"]["id"] == results[queue[1]["id"]]["writeback"]["id"]


def test_writebacks_are_private(api: FlaskClient, supervisor: dict[str, str], token: Token) -> None:
    work = open_work_order(api, supervisor)
    body = {"yield_quantity": "1", "unit": work["planned_quantity"]["unit"]}
    command = api.post(f"/api/v1/work-orders/{work['id']}/confirmations", json=body, headers={**supervisor, **key()})
    mine = api.get("/api/v1/writebacks", headers=supervisor).json["items"]
    assert command.json["id"] in {item["id"] for item in mine}
    stranger = bearer(token("Supervisor", user="someone-else", **SUPERVISOR))
    assert api.get(f"/api/v1/writebacks/{command.json['id']}", headers=stranger).status_code == 404
    assert command.json["id"] not in {
        item["id"] for item in api.get("/api/v1/writebacks", headers=stranger).json["items"]
    }
    admin = bearer(token("IntegrationAdmin", user="ops"))
    assert api.get(f"/api/v1/writebacks/{command.json['id']}", headers=admin).status_code == 200


def test_admin_sees_the_audit_and_dead_letters(api: FlaskClient, supervisor: dict[str, str], token: Token) -> None:
    work = open_work_order(api, supervisor)
    body = {"yield_quantity": "1", "unit": work["planned_quantity"]["unit"]}
    command = api.post(f"/api/v1/work-orders/{work['id']}/confirmations", json=body, headers={**supervisor, **key()})
    admin = bearer(token("IntegrationAdmin", user="ops"))
    audit = api.get(f"/api/v1/admin/audit?object=ProductionOrder:{work['order_id']}", headers=admin)
    assert audit.status_code == 200
    accepted = [event for event in audit.json["items"] if event["command_id"] == command.json["id"]]
    assert [event["event"] for event in accepted] == ["accepted"]
    assert accepted[0]["actor"] == "SUP_ASSY1010" and accepted[0]["role"] == "Supervisor"
    assert api.get("/api/v1/admin/dead-letters", headers=admin).json["items"] == []
    not_dead = api.post(f"/api/v1/admin/dead-letters/{command.json['id']}/retry", headers=admin)
    assert not_dead.status_code == 409
    assert api.get("/api/v1/admin/audit", headers=supervisor).status_code == 403


def test_reschedule_refuses_absurd_dates_and_oversized_etags(api: FlaskClient, token: Token) -> None:
    headers = bearer(token("PlantManager", user="PM_1010", Plant=["1010"]))
    order = api.get("/api/v1/production-orders?status=released&limit=1", headers=headers).json["items"][0]
    url = f"/api/v1/production-orders/{order['order_id']}"
    with_etag = {**headers, **key(), "If-Match": order["sap_etag"]}
    assert api.patch(url, json={"planned_start": "0001-01-01"}, headers=with_etag).status_code == 422
    huge = {**headers, **key(), "If-Match": "W/" + "x" * 300}
    assert api.patch(url, json={"planned_start": "2027-01-10"}, headers=huge).status_code == 400


def test_resending_after_the_command_changed_sap_returns_the_same_command(
    api: FlaskClient, supervisor: dict[str, str], token: Token
) -> None:
    """A client that lost the 202 re-sends: it must get its command back, even though SAP moved on."""
    work = open_work_order(api, supervisor)
    url = f"/api/v1/work-orders/{work['id']}/confirmations"
    body = {"yield_quantity": work["quantity_to_go"]["value"], "unit": work["planned_quantity"]["unit"], "final": True}
    headers = {**supervisor, **key()}
    first = api.post(url, json=body, headers=headers)
    assert first.status_code == 202
    # what the worker would do: the operation is now final in SAP, so a fresh request would be refused
    sap = api.application.extensions["sap"]
    order_id, operation = work["order_id"], work["operation"]
    sap.confirmations.create(
        ConfirmationRequest(
            order_id=order_id,
            operation=operation,
            yield_quantity=Quantity(Decimal(body["yield_quantity"]), body["unit"]),
            external_id=first.json["id"],
            is_final=True,
        )
    )
    assert api.post(url, json=body, headers={**supervisor, **key()}).status_code == 409
    again = api.post(url, json=body, headers=headers)
    assert again.status_code == 202 and again.json["id"] == first.json["id"]
    changed = api.post(url, json={**body, "text": "other"}, headers=headers)
    assert changed.status_code == 422 and changed.json["errors"]["existing_writeback"] == first.json["id"]

    anna = bearer(token("Executive", user="EXEC_ANNA"))
    task = api.get("/api/v1/approvals?limit=1", headers=anna).json["items"][0]
    decide = {**anna, **key()}
    decided = api.post(f"/api/v1/approvals/{task['id']}/decision", json={"decision": "approve"}, headers=decide)
    batch = {"items": [{"id": task["id"], "decision": "reject"}, {"id": task["id"], "decision": "approve"}]}
    results = api.post("/api/v1/approvals/decisions", json=batch, headers=decide).json["results"]
    assert [r["status"] for r in results] == [202, 422], "one item's reused key must not sink the batch"
    assert decided.status_code == 202
