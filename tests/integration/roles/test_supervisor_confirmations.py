"""What a supervisor needs around confirming, against the live mock: the proposal, scrap reasons, the history of an
operation, what a final confirmation leaves, the material, and the checks in front of an undo."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import pytest
from flask.testing import FlaskClient

from mock_sap.data.production import VARIANCE_REASONS
from odata_clients.errors import SapBusinessError
from odata_clients.models import ConfirmationRequest, Quantity
from tests.integration.roles.conftest import Token, bearer

SUPERVISOR = {"Plant": ["1010"], "WorkCenter": ["ASSY1010"]}


def key() -> dict[str, str]:
    return {"Idempotency-Key": str(uuid.uuid4())}


@pytest.fixture
def supervisor(token: Token) -> dict[str, str]:
    return bearer(token("Supervisor", user="SUP_ASSY1010", **SUPERVISOR))


@pytest.fixture
def other_supervisor(token: Token) -> dict[str, str]:
    return bearer(token("Supervisor", user="SUP_PACK1020", Plant=["1020"], WorkCenter=["PACK1020"]))


def open_work_order(api: FlaskClient, headers: dict[str, str], at_least: int = 2) -> dict[str, Any]:
    items = api.get("/api/v1/work-orders?limit=50", headers=headers).json["items"]
    return next(item for item in items if Decimal(item["quantity_to_go"]["value"]) >= at_least)


def post_in_sap(api: FlaskClient, work: dict[str, Any], quantity: str, **fields: Any) -> Any:
    """A confirmation posted in SAP directly (as SAP GUI or another system would)."""
    return api.application.extensions["sap"].confirmations.create(
        ConfirmationRequest(
            order_id=work["order_id"],
            operation=work["operation"],
            yield_quantity=Quantity(Decimal(quantity), work["planned_quantity"]["unit"]),
            external_id=str(uuid.uuid4()),
            **fields,
        )
    )


def test_the_proposal_prefills_what_is_still_to_go(api: FlaskClient, supervisor: dict[str, str]) -> None:
    work = open_work_order(api, supervisor)
    proposal = api.get(f"/api/v1/work-orders/{work['id']}/confirmation-proposal", headers=supervisor)
    assert proposal.status_code == 200, proposal.json
    assert proposal.json["yield_quantity"] == work["quantity_to_go"]
    assert proposal.json["execution_start"] and proposal.json["execution_end"]
    assert all(q["unit"] for q in proposal.json["work_quantities"])


def test_scrap_reasons_are_the_ones_sap_knows(api: FlaskClient, supervisor: dict[str, str]) -> None:
    reasons = api.get("/api/v1/work-orders/scrap-reasons", headers=supervisor)
    assert reasons.status_code == 200
    assert {r["code"]: r["text"] for r in reasons.json["items"]} == VARIANCE_REASONS


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"scrap_reason": "0002"}, "needs a scrap quantity"),
        ({"scrap_reason": "0002", "scrap_quantity": "0"}, "needs a scrap quantity"),
        ({"scrap_reason": "toolong", "scrap_quantity": "1"}, "1 to 4 capital letters"),
        ({"scrap_reason": "ab", "scrap_quantity": "1"}, "1 to 4 capital letters"),
    ],
)
def test_a_bad_scrap_reason_is_a_422(
    api: FlaskClient, supervisor: dict[str, str], change: dict[str, str], fragment: str
) -> None:
    work = open_work_order(api, supervisor)
    body = {"yield_quantity": "1", "unit": work["planned_quantity"]["unit"], **change}
    answer = api.post(f"/api/v1/work-orders/{work['id']}/confirmations", json=body, headers={**supervisor, **key()})
    assert answer.status_code == 422, answer.json
    assert fragment in str(answer.json["errors"])


def test_sap_refuses_a_reason_it_does_not_know(api: FlaskClient, supervisor: dict[str, str]) -> None:
    work = open_work_order(api, supervisor)
    scrap = Quantity(Decimal("1"), work["planned_quantity"]["unit"])
    with pytest.raises(SapBusinessError, match="Reason for variance 9999 is not defined"):
        post_in_sap(api, work, "1", scrap_quantity=scrap, variance_reason="9999")


def test_history_lists_confirmations_newest_first_with_who(api: FlaskClient, supervisor: dict[str, str]) -> None:
    work = open_work_order(api, supervisor, at_least=3)
    first = post_in_sap(api, work, "1", text="first")
    second = post_in_sap(api, work, "1", text="second")
    history = api.get(f"/api/v1/work-orders/{work['id']}/confirmations", headers=supervisor)
    assert history.status_code == 200, history.json
    items = history.json["items"]
    ids = [item["id"] for item in items]
    assert ids.index(f"{second.confirmation_group}-{second.confirmation_count}") < ids.index(
        f"{first.confirmation_group}-{first.confirmation_count}"
    )
    entered = next(item for item in items if item["text"] == "second")
    # Posted in SAP, not through one of our writebacks: SAP's user is who entered it.
    assert entered["writeback_id"] is None and entered["confirmed_by"] == "EXT_API_TECH"
    assert entered["cancellable"] and not entered["final"]


def test_a_final_confirmation_leaves_nothing_to_go_and_says_what_was_short(
    api: FlaskClient, supervisor: dict[str, str]
) -> None:
    work = open_work_order(api, supervisor, at_least=3)
    to_go = Decimal(work["quantity_to_go"]["value"])
    post_in_sap(api, work, "1", is_final=True)
    after = api.get(f"/api/v1/work-orders/{work['id']}", headers=supervisor).json
    assert after["is_confirmed"] is True
    assert Decimal(after["quantity_to_go"]["value"]) == 0
    assert Decimal(after["final_shortfall"]["value"]) == to_go - 1
    assert open_work_order(api, supervisor)["final_shortfall"] is None  # an open one has none


def test_work_orders_show_the_material(api: FlaskClient, supervisor: dict[str, str]) -> None:
    items = api.get("/api/v1/work-orders?limit=20", headers=supervisor).json["items"]
    assert items and all(item["material"] for item in items)
    one = items[0]
    order = api.application.extensions["sap"].production_orders.get(one["order_id"], with_operations=False)
    assert one["material"] == order.material
    assert api.get(f"/api/v1/work-orders/{one['id']}", headers=supervisor).json["material"] == order.material


def test_cancellation_checks_before_anything_is_stored(
    api: FlaskClient, supervisor: dict[str, str], other_supervisor: dict[str, str]
) -> None:
    work = open_work_order(api, supervisor)
    posted = post_in_sap(api, work, "1")
    confirmation = f"{posted.confirmation_group}-{posted.confirmation_count}"
    url = f"/api/v1/work-orders/{work['id']}/confirmations/{confirmation}/cancellation"

    # Another work centre's supervisor: the operation does not exist for them.
    assert api.post(url, json={}, headers={**other_supervisor, **key()}).status_code == 404
    # Malformed, unknown, or another operation's confirmation: 404 as well.
    base = f"/api/v1/work-orders/{work['id']}/confirmations"
    for wrong in ("nonsense", "0000000000-00000000", "12-x", "\u0661\u0662-1"):
        answer = api.post(f"{base}/{wrong}/cancellation", json={}, headers={**supervisor, **key()})
        assert answer.status_code == 404, (wrong, answer.json)
    other = next(
        item
        for item in api.get("/api/v1/work-orders?limit=50", headers=supervisor).json["items"]
        if item["id"] != work["id"]
    )
    foreign = api.post(
        f"/api/v1/work-orders/{other['id']}/confirmations/{confirmation}/cancellation",
        json={},
        headers={**supervisor, **key()},
    )
    assert foreign.status_code == 404
    assert api.post(url, json={}, headers=supervisor).status_code == 400  # no Idempotency-Key
    assert api.post(url, json={"text": "x" * 41}, headers={**supervisor, **key()}).status_code == 422

    accepted = api.post(url, json={"text": "typo"}, headers={**supervisor, **key()})
    assert accepted.status_code == 202, accepted.json
    assert accepted.json["payload"]["confirmation_group"] == posted.confirmation_group
    assert accepted.json["target"] == {"type": "ProductionOrder", "id": work["order_id"]}


def test_history_of_another_work_centre_is_a_404(
    api: FlaskClient, other_supervisor: dict[str, str], supervisor: dict[str, str]
) -> None:
    work = open_work_order(api, supervisor)
    for path in ("confirmations", "confirmation-proposal"):
        assert api.get(f"/api/v1/work-orders/{work['id']}/{path}", headers=other_supervisor).status_code == 404


def test_a_long_history_keeps_the_newest(
    api: FlaskClient, supervisor: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from roles.supervisor import service

    monkeypatch.setattr(service, "HISTORY_LIMIT", 2)
    work = open_work_order(api, supervisor, at_least=3)
    posted = [post_in_sap(api, work, "1", text=f"n{n}") for n in range(3)]
    items = api.get(f"/api/v1/work-orders/{work['id']}/confirmations", headers=supervisor).json["items"]
    newest = [f"{c.confirmation_group}-{c.confirmation_count}" for c in reversed(posted[1:])]
    assert [item["id"] for item in items] == newest
