"""`GET /api/v1/admin/integration-health`: IntegrationAdmin only; numbers from the store, Redis and the watchdog."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from flask import Flask

from store import Store
from tests.integration.observability.conftest import run_to
from workers.watchdog import DEFAULT_PREFIX

URL = "/api/v1/admin/integration-health"


@pytest.mark.parametrize("collections", [(), ("PlantManager",), ("Executive", "Supervisor")])
def test_only_integration_admins(
    obs_app: Flask, admin_headers: Callable[..., dict[str, str]], collections: tuple[str, ...]
) -> None:
    client = obs_app.test_client()
    assert client.get(URL).status_code == 401
    assert client.get(URL, headers=admin_headers(*collections)).status_code == 403


def test_per_flow_numbers_match_the_store(
    obs_app: Flask, store: Store, admin_headers: Callable[..., dict[str, str]]
) -> None:
    store._clock = lambda: datetime.now(UTC)  # inside the error-rate window of the real clock
    for status in ("accepted", "accepted", "running", "succeeded", "succeeded", "dead", "conflict"):
        run_to(store, status)
    run_to(store, "rejected", "task.decision")

    response = obs_app.test_client().get(URL, headers=admin_headers("IntegrationAdmin"))
    assert response.status_code == 200
    body = response.get_json()
    flows = {flow["type"]: flow for flow in body["flows"]}
    confirm = flows["operation.confirm"]
    assert confirm["backlog"] == {"accepted": 2, "running": 1, "in_doubt": 0}
    assert confirm["dead_letters"] == 1
    assert (confirm["attempts"], confirm["errors"]) == (4, 1)  # 2 succeeded, 1 conflict, 1 dead
    assert confirm["error_rate"] == 0.25
    assert confirm["last_success_at"] is not None
    assert flows["task.decision"]["error_rate"] == 1.0
    assert flows["task.decision"]["last_success_at"] is None
    assert flows["order.release"]["attempts"] == 0  # every known flow is listed
    assert body["waiting"] == 2
    assert body["dead_letters"] == 1
    assert body["status"] == "attention"
    assert {b["destination"]: b["state"] for b in body["breakers"]} == {"s4": "closed", "s4-user": "closed"}
    assert [queue["name"] for queue in body["queues"]] == ["writebacks", "notifications"]


def test_shows_the_watchdogs_open_incidents(
    obs_app: Flask, admin_headers: Callable[..., dict[str, str]], redis_url: str
) -> None:
    connection = obs_app.extensions["redis"]
    key = f"{DEFAULT_PREFIX}:incidents"
    incident = {"since": "2024-05-01T08:00:00+00:00", "notified": True, "summary": "2 dead", "details": {}}
    connection.hset(key, "WritebackDeadLetters", json.dumps(incident))
    try:
        body = obs_app.test_client().get(URL, headers=admin_headers("IntegrationAdmin")).get_json()
    finally:
        connection.hdel(key, "WritebackDeadLetters")
    assert body["alerts"] == [
        {"alert": "WritebackDeadLetters", "since": incident["since"], "summary": "2 dead", "notified": True}
    ]
    assert body["status"] == "attention"


def test_documented_in_openapi(obs_app: Flask) -> None:
    spec = obs_app.test_client().get("/openapi.json").get_json()
    operation = spec["paths"][URL]["get"]
    assert {"200", "401", "403"} <= set(operation["responses"])
