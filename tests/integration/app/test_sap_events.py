"""POST /api/v1/sap-events: CloudEvents in, notifications on the Redis bus out, against the live mock SAP."""

from __future__ import annotations

import base64
import uuid
from typing import Any

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from access.policy import Role
from app import create_app
from notifications import EventBus
from notifications.model import Grant, Notification
from runtime.settings import DEV_SAP_EVENTS_PASSWORD, Settings
from tests.conftest import MockSap

SOURCE = "/default/sap.s4.beh/S4HCLNT100"
RELEASED = "sap.s4.beh.productionorder.v1.ProductionOrder.Released.v1"
CONFIRMED = "sap.s4.beh.productionorderconfirmation.v1.ProductionOrderConfirmation.Created.v1"
STRUCTURED = "application/cloudevents+json"
BATCH = "application/cloudevents-batch+json"
ORDERS = "API_PRODUCTION_ORDER_2_SRV"
CONFIRMATIONS = "API_PROD_ORDER_CONFIRMATION_2_SRV"


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


EVENT_MESH = basic("event-mesh", DEV_SAP_EVENTS_PASSWORD)


def cloud_event(event_type: str, data: Any, **attributes: Any) -> dict[str, Any]:
    """A structured CloudEvent as S/4HANA publishes it, with an id of its own."""
    return {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "source": SOURCE,
        "type": event_type,
        "time": "2024-06-03T10:15:00Z",
        "datacontenttype": "application/json",
        "data": data,
        **attributes,
    }


def deliver(client: FlaskClient, body: Any, content_type: str = STRUCTURED, **headers: str) -> TestResponse:
    return client.post("/api/v1/sap-events", json=body, headers={**EVENT_MESH, "Content-Type": content_type, **headers})


def read_sap(mock_sap: MockSap, service: str, entity_set: str, **params: str) -> list[dict[str, Any]]:
    """Entities straight from the mock over OData, as the technical user."""
    response = requests.get(
        f"{mock_sap.url}/sap/opu/odata/sap/{service}/{entity_set}",
        params={"$format": "json", **params},
        auth=("EXT_API_TECH", "tech-pass-1"),
        timeout=10,
    )
    response.raise_for_status()
    results: list[dict[str, Any]] = response.json()["d"]["results"]
    return results


@pytest.fixture
def bus(app: Flask) -> EventBus:
    """The app's event bus, emptied (other tests may have published to the same Redis)."""
    events = EventBus(app.extensions["redis"])
    events.redis.delete(events.key)
    return events


@pytest.fixture
def order_1010(mock_sap: MockSap) -> str:
    orders = read_sap(mock_sap, ORDERS, "A_ProductionOrder_2", **{"$filter": "ProductionPlant eq '1010'", "$top": "1"})
    assert orders and orders[0]["ProductionPlant"] == "1010"
    return str(orders[0]["ManufacturingOrder"])


def published(bus: EventBus, event: dict[str, Any]) -> list[Notification]:
    """What the bus holds from this event (source|id), whatever else shares the stream."""
    key = f"{event['source']}|{event['id']}"
    return [entry.notification for entry in bus.after("0-0") if entry.notification.source_event == key]


def test_no_or_wrong_credentials_are_401_with_a_basic_challenge(client: FlaskClient, order_1010: str) -> None:
    event = cloud_event(RELEASED, {"ProductionOrder": order_1010})
    for headers in (
        {},
        basic("event-mesh", "wrong"),
        basic("someone", DEV_SAP_EVENTS_PASSWORD),
        {"Authorization": "Bearer x"},
    ):
        response = client.post("/api/v1/sap-events", json=event, headers={**headers, "Content-Type": STRUCTURED})
        assert response.status_code == 401, headers
        assert response.headers["WWW-Authenticate"].startswith("Basic")
        assert "credentials" in response.json["message"]


def test_a_released_order_is_published_for_its_plant_managers_once(
    client: FlaskClient, bus: EventBus, order_1010: str
) -> None:
    event = cloud_event(RELEASED, {"ProductionOrder": order_1010})
    response = deliver(client, event)
    assert response.status_code == 202, response.json
    assert response.json == {"received": 1, "duplicates": 0, "ignored": 0, "published": 1}
    [notification] = published(bus, event)
    assert notification.type == "production-order.released"
    assert notification.data == {"order": order_1010, "plant": "1010"}
    plant_managers, *supervisors = notification.audience.grants
    assert plant_managers == Grant(role=Role.PLANT_MANAGER, plant="1010")
    # The operations' work centres (read from SAP with the order): a release gives their supervisors work.
    assert supervisors and {(g.role, g.plant) for g in supervisors} == {(Role.SUPERVISOR, "1010")}
    assert all(g.work_center for g in supervisors)

    again = deliver(client, event)  # Event Mesh redelivers when it missed our 2xx
    assert again.status_code == 202
    assert again.json == {"received": 1, "duplicates": 1, "ignored": 0, "published": 0}
    assert len(published(bus, event)) == 1


def test_binary_mode_and_plain_json_structured_mode(client: FlaskClient, bus: EventBus, order_1010: str) -> None:
    event = cloud_event(RELEASED, {"ProductionOrder": order_1010})
    ce_headers = {f"ce-{name}": event[name] for name in ("specversion", "id", "source", "type")}
    response = client.post("/api/v1/sap-events", json=event["data"], headers={**EVENT_MESH, **ce_headers})
    assert response.status_code == 202, response.json
    assert response.json["published"] == 1
    [notification] = published(bus, event)
    assert notification.data == {"order": order_1010, "plant": "1010"}

    plain = cloud_event(RELEASED, {"ProductionOrder": order_1010})
    response = deliver(client, plain, "application/json")
    assert response.status_code == 202 and response.json["published"] == 1
    assert len(published(bus, plain)) == 1


def test_a_batch_of_two(client: FlaskClient, bus: EventBus, mock_sap: MockSap) -> None:
    orders = read_sap(mock_sap, ORDERS, "A_ProductionOrder_2", **{"$filter": "ProductionPlant eq '1020'", "$top": "2"})
    events = [cloud_event(RELEASED, {"ProductionOrder": o["ManufacturingOrder"]}) for o in orders]
    assert len(events) == 2
    response = deliver(client, events, BATCH)
    assert response.status_code == 202, response.json
    assert response.json == {"received": 2, "duplicates": 0, "ignored": 0, "published": 2}
    for event, order in zip(events, orders, strict=True):
        [notification] = published(bus, event)
        assert notification.data == {"order": order["ManufacturingOrder"], "plant": "1020"}


def test_a_confirmation_reaches_its_work_centres_supervisors(
    client: FlaskClient, bus: EventBus, mock_sap: MockSap
) -> None:
    found = read_sap(mock_sap, CONFIRMATIONS, "ProdnOrdConf2", **{"$filter": "WorkCenter ne ''", "$top": "1"})
    assert found, "the mock's seed has confirmations"
    conf = found[0]
    event = cloud_event(
        CONFIRMED, {"ConfirmationGroup": conf["ConfirmationGroup"], "ConfirmationCount": conf["ConfirmationCount"]}
    )
    response = deliver(client, event)
    assert response.status_code == 202, response.json
    assert response.json["published"] == 1
    [notification] = published(bus, event)
    assert notification.type == "confirmation.created"
    assert notification.data["order"] == conf["OrderID"]
    assert notification.data["work_center"] == conf["WorkCenter"]
    assert set(notification.audience.grants) == {
        Grant(role=Role.PLANT_MANAGER, plant=conf["Plant"]),
        Grant(role=Role.SUPERVISOR, plant=conf["Plant"], work_center=conf["WorkCenter"]),
    }


def test_unknown_types_and_objects_gone_in_sap_are_ignored(client: FlaskClient, bus: EventBus) -> None:
    unknown = cloud_event("sap.s4.beh.businesspartner.v1.BusinessPartner.Changed.v1", {"BusinessPartner": "17100001"})
    response = deliver(client, unknown)
    assert response.status_code == 202, response.json
    assert response.json == {"received": 1, "duplicates": 0, "ignored": 1, "published": 0}

    gone = cloud_event(RELEASED, {"ProductionOrder": "9999999"})
    response = deliver(client, gone)
    assert response.status_code == 202, response.json
    assert response.json == {"received": 1, "duplicates": 0, "ignored": 1, "published": 0}
    assert published(bus, unknown) == [] and published(bus, gone) == []

    # A well-formed event without the key its type needs would fail the same way on every redelivery: it is
    # acknowledged, logged and counted as failed, not refused forever.
    keyless = cloud_event(RELEASED, {})
    response = deliver(client, keyless)
    assert response.status_code == 202, response.json
    assert response.json == {"received": 1, "duplicates": 0, "ignored": 1, "published": 0}


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"id": None}, "id"),
        ({"id": ""}, "id"),
        ({"specversion": "0.3"}, "specversion"),
        ({"data": ["1000123"]}, "data must be a JSON object"),
    ],
    ids=["no-id", "empty-id", "specversion-0.3", "data-not-an-object"],
)
def test_a_malformed_event_is_400_naming_the_problem(
    client: FlaskClient, bus: EventBus, change: dict[str, Any], named: str
) -> None:
    event = {**cloud_event(RELEASED, {"ProductionOrder": "1000123"}), **change}
    event = {name: value for name, value in event.items() if value is not None}
    response = deliver(client, event)
    assert response.status_code == 400, response.json
    assert named in response.json["message"]
    if isinstance(event.get("id"), str) and event["id"]:
        assert published(bus, event) == []


def test_a_malformed_body_or_batch_is_400(client: FlaskClient) -> None:
    response = client.post("/api/v1/sap-events", data=b"{not json", headers={**EVENT_MESH, "Content-Type": STRUCTURED})
    assert response.status_code == 400 and "JSON" in response.json["message"]
    assert deliver(client, cloud_event(RELEASED, {}), BATCH).status_code == 400  # a batch is an array
    too_many = [cloud_event(RELEASED, {"ProductionOrder": "1"}) for _ in range(101)]
    assert "at most" in deliver(client, too_many, BATCH).json["message"]


def test_a_wrong_content_type_is_415(client: FlaskClient) -> None:
    event = cloud_event(RELEASED, {"ProductionOrder": "1000123"})
    for content_type in ("text/plain", "application/xml"):  # refused app-wide before the view: not JSON at all
        response = client.post("/api/v1/sap-events", data=b"{}", headers={**EVENT_MESH, "Content-Type": content_type})
        assert response.status_code == 415, content_type
        assert "Content-Type" in response.json["message"]
    for content_type in ("application/problem+json", "application/merge-patch+json"):
        response = deliver(client, event, content_type)
        assert response.status_code == 415, content_type
        assert STRUCTURED in response.json["message"] and content_type in response.json["message"]
    no_ce = client.post("/api/v1/sap-events", json={"ProductionOrder": "1"}, headers=EVENT_MESH)
    assert no_ce.status_code == 415  # plain JSON that is neither binary nor structured mode


def test_sap_down_is_503_and_the_redelivery_is_handled_not_a_duplicate(
    client: FlaskClient, bus: EventBus, mock_sap: MockSap, order_1010: str
) -> None:
    event = cloud_event(RELEASED, {"ProductionOrder": order_1010})
    fault = {"service": ORDERS, "status": 503, "rate": 1.0}
    requests.post(f"{mock_sap.url}/mock-admin/faults", json=fault, timeout=10).raise_for_status()
    try:
        response = deliver(client, event)
    finally:
        requests.delete(f"{mock_sap.url}/mock-admin/faults", timeout=10).raise_for_status()
    assert response.status_code == 503, response.json
    assert int(response.headers["Retry-After"]) >= 1
    assert event["id"] in response.json["message"]
    assert published(bus, event) == []

    again = deliver(client, event)
    assert again.status_code == 202, again.json
    assert again.json == {"received": 1, "duplicates": 0, "ignored": 0, "published": 1}
    assert len(published(bus, event)) == 1


def test_without_a_configured_password_every_delivery_is_401(settings: Settings, order_1010: str) -> None:
    closed = create_app(settings.replace(sap_events_password="")).test_client()
    for headers in (EVENT_MESH, basic("event-mesh", ""), {}):
        response = deliver(closed, cloud_event(RELEASED, {"ProductionOrder": order_1010}), **headers)
        assert response.status_code == 401
        assert "SAP_EVENTS_PASSWORD" in response.json["message"]
        assert response.headers["WWW-Authenticate"].startswith("Basic")


def test_openapi_documents_the_webhook_and_the_event_stream(client: FlaskClient) -> None:
    spec = client.get("/openapi.json").json
    receive = spec["paths"]["/api/v1/sap-events"]["post"]
    assert receive["security"] == [{"eventMeshBasicAuth": []}]
    assert spec["components"]["securitySchemes"]["eventMeshBasicAuth"] == {"type": "http", "scheme": "basic"}
    assert {"202", "400", "401", "415", "503"} <= set(receive["responses"])
    stream = spec["paths"]["/api/v1/events"]["get"]
    assert stream["operationId"] == "streamEvents"
    assert "text/event-stream" in stream["responses"]["200"]["content"]
