"""SAP_REQUEST_BUDGET per request, in-process against the live mock SAP hanging; /health/ready never queues."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
import requests
from flask import Flask

from app import health
from app.dev_idp import mint_token
from odata_clients.resilience import current_deadline
from runtime.settings import Settings
from tests.conftest import MockSap, migrated_app

BUDGET = 1.0
HANG_READS = {"service": "*", "hang": True, "methods": ["GET"]}


@pytest.fixture
def hung_sap(mock_sap: MockSap) -> Iterator[MockSap]:
    requests.post(f"{mock_sap.url}/mock-admin/faults", json=HANG_READS, timeout=10).raise_for_status()
    yield mock_sap
    requests.delete(f"{mock_sap.url}/mock-admin/faults", timeout=10).raise_for_status()


def plant_manager(settings: Settings) -> dict[str, str]:
    return {"Authorization": "Bearer " + mint_token(settings, "PM_1010", ["PlantManager"], {"Plant": ["1010"]})}


def test_a_request_stuck_on_sap_answers_503_within_its_budget_and_leaves_no_deadline_behind(
    settings: Settings, hung_sap: MockSap
) -> None:
    settings = settings.replace(sap_request_budget=BUDGET, log_level="WARNING")
    client = migrated_app(settings).test_client()
    started = time.monotonic()
    response = client.get("/api/v1/production-orders", headers=plant_manager(settings))
    elapsed = time.monotonic() - started
    assert response.status_code == 503, response.json
    assert elapsed <= BUDGET + 1.0  # the bound: the budget, plus a second of slack
    assert int(response.headers["Retry-After"]) >= 1
    assert {"code", "status", "message", "request_id"} <= set(response.json)
    assert "timeout" in response.json["message"]
    assert current_deadline() is None  # the test client served it on this thread: the deadline was reset

    requests.delete(f"{hung_sap.url}/mock-admin/faults", timeout=10).raise_for_status()
    # The next request has a budget of its own, not what is left of the spent one.
    assert client.get("/api/v1/production-orders", headers=plant_manager(settings)).status_code == 200


def test_ready_callers_get_the_last_results_while_one_refresh_waits_for_a_hung_sap(
    settings: Settings, hung_sap: MockSap, monkeypatch: pytest.MonkeyPatch
) -> None:
    app: Flask = migrated_app(settings.replace(health_timeout=2.0, log_level="WARNING"))
    client = app.test_client()
    first = client.get("/health/ready")  # nothing cached yet: this one waits for the checks
    assert first.status_code == 503 and set(first.json["errors"]) == {"sap"}
    monkeypatch.setattr(health, "CACHE_SECONDS", 0.0)
    lock = app.extensions["health_cache"]["lock"]

    refresher = threading.Thread(target=lambda: app.test_client().get("/health/ready"))
    refresher.start()
    waited_until = time.monotonic() + 5
    while not lock.locked() and time.monotonic() < waited_until:
        time.sleep(0.005)
    assert lock.locked(), "the refresh never started"
    answers = [client.get("/health/ready") for _ in range(5)]
    # Answered while the refresh was still waiting for SAP: nobody queued behind it.
    assert lock.locked()
    assert [a.status_code for a in answers] == [503] * 5
    assert all(set(a.json["errors"]) == {"sap"} for a in answers)
    refresher.join()
