"""Faults with `"phase": "after"`: SAP applies the write, then the answer is late, never comes, or is an error."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest
import requests

from .conftest import PRODCONF, PRODORD, TASKS, Sap, assert_sap_error, format_date, parse_date
from .test_batch import batch_body, changeset_part, request_part
from .test_faults import stats

if TYPE_CHECKING:
    from tests.conftest import MockSap

ORDERS = "A_ProductionOrder_2"
CONFIRMATIONS = "ProdnOrdConf2"
NO_ANSWER = (requests.ConnectionError, requests.exceptions.ChunkedEncodingError)


@pytest.fixture
def faults(mock_sap: MockSap) -> Iterator[Callable[..., dict[str, Any]]]:
    """Factory: `faults(**fault)` adds one fault and returns the mock's echo of it; all are deleted afterwards."""

    def inject(**fault: Any) -> dict[str, Any]:
        response = requests.post(f"{mock_sap.url}/mock-admin/faults", json=fault, timeout=10)
        assert response.status_code == 201, response.text
        [added] = response.json()["added"]
        return dict(added)

    yield inject
    requests.delete(f"{mock_sap.url}/mock-admin/faults", timeout=10).raise_for_status()


def confirmation_body(sap: Sap) -> dict[str, Any]:
    """A valid yield confirmation of one piece on a released operation, with a fresh external id."""
    [op] = sap.results(PRODORD, "A_ProductionOrderOperation_2", {"$filter": "OperationIsReleased eq 'X'", "$top": "1"})
    return {
        "OrderID": op["ManufacturingOrder"],
        "OrderOperation": op["ManufacturingOrderOperation"],
        "Sequence": op["ManufacturingOrderSequence"],
        "ConfirmationYieldQuantity": "1",
        "ConfirmationUnit": op["OperationUnit"],
        "ExternalSystemConfirmation": str(uuid.uuid4()),
    }


def confirmations_with(sap: Sap, external_id: str) -> list[dict[str, Any]]:
    return sap.results(PRODCONF, CONFIRMATIONS, {"$filter": f"ExternalSystemConfirmation eq guid'{external_id}'"})


def writes_applied(mock_sap: MockSap) -> float:
    return stats(mock_sap)["/writes_applied"]


def test_confirmation_dropped_after_commit_gets_no_answer_but_is_posted(
    tech: Sap, faults: Callable[..., dict[str, Any]], mock_sap: MockSap
):
    body = confirmation_body(tech)
    tech.fetch_csrf(PRODCONF)
    fault = faults(phase="after", drop=True, methods=["POST"], service=PRODCONF)
    assert fault["phase"] == "after"
    before = writes_applied(mock_sap)
    with pytest.raises(NO_ANSWER):
        tech.write("POST", PRODCONF, CONFIRMATIONS, body=body)
    [posted] = confirmations_with(tech, body["ExternalSystemConfirmation"])
    assert posted["OrderID"] == body["OrderID"]
    assert writes_applied(mock_sap) == before + 1


def test_confirmation_dropped_before_processing_is_not_posted(
    tech: Sap, faults: Callable[..., dict[str, Any]], mock_sap: MockSap
):
    body = confirmation_body(tech)
    tech.fetch_csrf(PRODCONF)
    fault = faults(drop=True, methods=["POST"], service=PRODCONF)
    assert fault["phase"] == "before", "the default phase keeps today's behaviour"
    before = writes_applied(mock_sap)
    with pytest.raises(NO_ANSWER):
        tech.write("POST", PRODCONF, CONFIRMATIONS, body=body)
    assert confirmations_with(tech, body["ExternalSystemConfirmation"]) == []
    assert writes_applied(mock_sap) == before


@pytest.mark.slow
def test_patch_answered_late_was_visible_to_a_concurrent_read_before_the_answer(
    tech: Sap, sap: Callable[..., Sap], faults: Callable[..., dict[str, Any]]
):
    latency_ms = 5000
    [order] = tech.results(PRODORD, ORDERS, {"$filter": "OrderIsReleased eq ''", "$top": "1"})
    key = order["ManufacturingOrder"]
    new_start = parse_date(order["MfgOrderPlannedStartDate"]).replace(year=2031)
    body = {"MfgOrderPlannedStartDate": format_date(new_start), "MfgOrderPlannedEndDate": format_date(new_start)}
    tech.fetch_csrf(PRODORD)
    faults(phase="after", latency_ms=latency_ms, methods=["PATCH"], service=PRODORD)
    answered = threading.Event()
    outcome: dict[str, Any] = {}

    def patch() -> None:
        started = time.monotonic()
        try:
            outcome["response"] = tech.write(
                "PATCH", PRODORD, f"{ORDERS}('{key}')", body=body, headers={"If-Match": "*"}
            )
        finally:
            outcome["elapsed"] = time.monotonic() - started
            answered.set()

    writer = threading.Thread(target=patch)
    writer.start()
    reader = sap()  # another session: reads are not delayed, only the PATCH's answer is
    seen_while_unanswered = None
    while not answered.is_set():
        current = reader.read(PRODORD, f"{ORDERS}('{key}')")
        if current["MfgOrderPlannedStartDate"] == body["MfgOrderPlannedStartDate"]:
            seen_while_unanswered = not answered.is_set()
            break
        time.sleep(0.05)
    writer.join(timeout=60)
    assert seen_while_unanswered is True, "the change must be visible while its answer is still held back"
    response = outcome["response"]
    assert response.status_code == 204, response.text
    assert response.headers.get("ETag")
    assert outcome["elapsed"] >= latency_ms / 1000


def test_claim_held_after_commit_is_released_early_by_deleting_faults(
    sap: Callable[..., Sap], faults: Callable[..., dict[str, Any]], mock_sap: MockSap
):
    anna = sap("EXEC_ANNA")
    task = next(t for t in anna.results(TASKS, "TaskCollection") if t["Status"] == "READY")
    path = f"TaskCollection(SAP__Origin='{task['SAP__Origin']}',InstanceID='{task['InstanceID']}')"
    anna.fetch_csrf(TASKS)
    faults(phase="after", hang=True, hang_seconds=120, methods=["POST"], service=TASKS)
    outcome: dict[str, Any] = {}

    def claim() -> None:
        try:
            outcome["response"] = anna.call(
                TASKS, "Claim", SAP__Origin=f"'{task['SAP__Origin']}'", InstanceID=f"'{task['InstanceID']}'"
            )
        except Exception as exc:  # noqa: BLE001 - the outcome is asserted below
            outcome["error"] = exc

    held = threading.Thread(target=claim)
    held.start()
    observer = sap("EXEC_ANNA")
    deadline = time.monotonic() + 60
    while observer.read(TASKS, path)["Status"] != "RESERVED":
        assert time.monotonic() < deadline, "the claim was never applied"
        time.sleep(0.05)
    assert held.is_alive(), "the answer is held back after the claim was applied"
    requests.delete(f"{mock_sap.url}/mock-admin/faults", timeout=10).raise_for_status()
    held.join(timeout=60)
    assert not held.is_alive(), "deleting the faults ends a held request long before hang_seconds"
    assert isinstance(outcome.get("error"), NO_ANSWER), outcome
    assert observer.read(TASKS, path)["Processor"] == "EXEC_ANNA"


def test_status_after_commit_answers_the_error_for_an_applied_release(
    tech: Sap, faults: Callable[..., dict[str, Any]], mock_sap: MockSap
):
    [order] = tech.results(PRODORD, ORDERS, {"$filter": "OrderIsReleased eq ''", "$top": "1"})
    key = order["ManufacturingOrder"]
    tech.fetch_csrf(PRODORD)
    faults(phase="after", status=504, methods=["POST"], service=PRODORD)
    response = tech.call(PRODORD, "ReleaseOrder", ManufacturingOrder=f"'{key}'")
    assert_sap_error(response, 504)
    assert tech.read(PRODORD, f"{ORDERS}('{key}')")["OrderIsReleased"] == "X"


def test_batch_changeset_dropped_after_commit_is_applied_as_a_whole(
    tech: Sap, faults: Callable[..., dict[str, Any]], mock_sap: MockSap
):
    first, second = confirmation_body(tech), confirmation_body(tech)
    changeset = changeset_part(
        "changeset_a",
        [request_part("POST", CONFIRMATIONS, body=first), request_part("POST", CONFIRMATIONS, body=second)],
    )
    body = batch_body("batch_a", [changeset])
    tech.fetch_csrf(PRODCONF)
    faults(phase="after", drop=True, methods=["POST"], service=PRODCONF)
    before = writes_applied(mock_sap)
    with pytest.raises(NO_ANSWER):
        tech.write("POST", PRODCONF, "$batch", body=body, headers={"Content-Type": "multipart/mixed; boundary=batch_a"})
    assert len(confirmations_with(tech, first["ExternalSystemConfirmation"])) == 1
    assert len(confirmations_with(tech, second["ExternalSystemConfirmation"])) == 1
    assert writes_applied(mock_sap) == before + 2


def test_reads_are_answered_late_too_when_the_methods_match(tech: Sap, faults: Callable[..., dict[str, Any]]):
    faults(phase="after", latency_ms=300, methods=["GET"], service=PRODORD)
    started = time.monotonic()
    assert tech.get(PRODORD, ORDERS, {"$top": "1"}).status_code == 200
    assert time.monotonic() - started >= 0.3


@pytest.mark.parametrize(
    "fault",
    [
        {"phase": "later", "drop": True},
        {"phase": 1, "drop": True},
        {"phase": None, "drop": True},
        {"phase": "after", "locked": True},
        {"phase": "after", "csrf_expire": True},
    ],
)
def test_bad_phase_is_a_400(fault: dict[str, Any], mock_sap: MockSap):
    response = requests.post(f"{mock_sap.url}/mock-admin/faults", json={"service": PRODCONF, **fault}, timeout=10)
    assert response.status_code == 400, response.text
    assert "phase" in response.json()["error"]
    listed = requests.get(f"{mock_sap.url}/mock-admin/faults", timeout=10).json()["faults"]
    assert listed == []
