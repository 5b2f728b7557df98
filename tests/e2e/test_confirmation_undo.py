"""A supervisor's day with confirmations, through the API and a real worker process against the live mock SAP:
SAP's proposal prefills the form, a confirmation with scrap and its reason lands, the history shows it with who
confirmed, a wrong one is undone (CancelProdnOrdConf), SAP shows the cancellation, the quantities return, and a
second cancel is a 409."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import pytest
import requests
from flask.testing import FlaskClient

from app.dev_idp import mint_token
from tests.conftest import MockSap, migrated_app
from tests.e2e.writeback_env import Workers, poll, workers

__all__ = ["workers"]  # the fixture
CONFIRMATIONS = "/sap/opu/odata/sap/API_PROD_ORDER_CONFIRMATION_2_SRV/ProdnOrdConf2"


@pytest.fixture
def api(workers: Workers) -> FlaskClient:
    """The API over the very store and Redis the `workers` fixture's worker processes use."""
    return migrated_app(workers.context.settings).test_client()


def finished(api: FlaskClient, location: str, headers: dict[str, str]) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        body: dict[str, Any] = api.get(location, headers=headers).json
        return body if body["status"] not in ("accepted", "running") else None

    return poll(done, 60, f"{location} to finish")


def key() -> dict[str, str]:
    return {"Idempotency-Key": str(uuid.uuid4())}


def in_sap(sap: MockSap, external_id: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = requests.get(
        f"{sap.url}{CONFIRMATIONS}",
        params={"$filter": f"ExternalSystemConfirmation eq guid'{external_id}'", "$format": "json"},
        auth=("EXT_API_TECH", "tech-pass-1"),
        timeout=30,
    ).json()["d"]["results"]
    return rows


@pytest.mark.slow
def test_confirm_with_scrap_then_undo_it(api: FlaskClient, workers: Workers, trusting_sap: MockSap) -> None:
    workers.start()
    token = mint_token(
        workers.context.settings, "SUP_ASSY1010", ["Supervisor"], {"Plant": ["1010"], "WorkCenter": ["ASSY1010"]}
    )
    supervisor = {"Authorization": f"Bearer {token}"}
    work = next(
        item
        for item in api.get("/api/v1/work-orders?limit=50", headers=supervisor).json["items"]
        if Decimal(item["quantity_to_go"]["value"]) >= 3
    )
    path = f"/api/v1/work-orders/{work['id']}"
    to_go = Decimal(work["quantity_to_go"]["value"])

    # SAP proposes what is still to go.
    proposal = api.get(f"{path}/confirmation-proposal", headers=supervisor)
    assert proposal.status_code == 200, proposal.json
    assert Decimal(proposal.json["yield_quantity"]["value"]) == to_go
    assert proposal.json["yield_quantity"]["unit"] == work["planned_quantity"]["unit"]

    # Confirm 2 good and 1 scrapped for a material defect.
    reasons = api.get("/api/v1/work-orders/scrap-reasons", headers=supervisor).json["items"]
    defect = next(r["code"] for r in reasons if r["text"] == "Material defect")
    unit = work["planned_quantity"]["unit"]
    body = {"yield_quantity": "2", "scrap_quantity": "1", "scrap_reason": defect, "unit": unit, "text": "typo"}
    posted = api.post(f"{path}/confirmations", json=body, headers={**supervisor, **key()})
    assert posted.status_code == 202, posted.json
    assert finished(api, posted.headers["Location"], supervisor)["status"] == "succeeded"
    assert Decimal(api.get(path, headers=supervisor).json["quantity_to_go"]["value"]) == to_go - 2
    [row] = in_sap(trusting_sap, posted.json["id"])
    assert row["VarianceReasonCode"] == defect

    # The history shows it, with the supervisor as who confirmed.
    history = api.get(f"{path}/confirmations", headers=supervisor).json["items"]
    mine = next(item for item in history if item["writeback_id"] == posted.json["id"])
    assert mine["confirmed_by"] == "SUP_ASSY1010"
    assert Decimal(mine["yield_quantity"]["value"]) == 2 and Decimal(mine["scrap_quantity"]["value"]) == 1
    assert mine["scrap_reason"] == defect and mine["cancellable"] and not mine["is_cancelled"]
    assert mine["entered_at"] and mine["posting_date"]

    # Undo it: SAP posts a reversal, the quantities return.
    cancel_path = f"{path}/confirmations/{mine['id']}/cancellation"
    cancel_headers = {**supervisor, **key()}
    cancelled = api.post(cancel_path, json={"text": "wrong quantity"}, headers=cancel_headers)
    assert cancelled.status_code == 202, cancelled.json
    assert cancelled.json["type"] == "confirmation.cancel"
    outcome = finished(api, cancelled.headers["Location"], supervisor)
    assert outcome["status"] == "succeeded", outcome
    assert outcome["result"]["cancelled"] == mine["id"]
    assert Decimal(api.get(path, headers=supervisor).json["quantity_to_go"]["value"]) == to_go

    [reversal] = in_sap(trusting_sap, cancelled.json["id"])
    assert reversal["IsReversal"] is True
    history = api.get(f"{path}/confirmations", headers=supervisor).json["items"]
    assert next(item for item in history if item["id"] == mine["id"])["is_cancelled"] is True
    undo = next(item for item in history if item["writeback_id"] == cancelled.json["id"])
    assert undo["is_cancellation"] and not undo["cancellable"] and undo["confirmed_by"] == "SUP_ASSY1010"

    # The same request again is the same writeback; a new cancel of it is a 409 at once.
    again = api.post(cancel_path, json={"text": "wrong quantity"}, headers=cancel_headers)
    assert again.status_code == 202 and again.json["id"] == cancelled.json["id"]
    second = api.post(cancel_path, json={}, headers={**supervisor, **key()})
    assert second.status_code == 409, second.json
    assert "cancelled already" in second.json["message"]
    undo_of_undo = api.post(f"{path}/confirmations/{undo['id']}/cancellation", json={}, headers={**supervisor, **key()})
    assert undo_of_undo.status_code == 409 and "itself a cancellation" in undo_of_undo.json["message"]
