"""Events end to end: SAP's business events and writeback outcomes reach the right users' live streams.

Real processes throughout: `python -m workers`, the event stream server (gunicorn's asyncio worker), the API
over HTTP receiving the mock SAP's CloudEvents (delivered like an Event Mesh webhook subscription), one Redis.
"""

from __future__ import annotations

import time
import uuid
from decimal import Decimal

import pytest
import requests
from flask.testing import FlaskClient

from app.dev_idp import mint_token
from notifications import Audience, Notification, notices
from runtime.settings import DEV_SAP_EVENTS_PASSWORD
from tests.conftest import MockSap, migrated_app, serve
from tests.e2e.event_stream_env import events_server, streaming
from tests.e2e.writeback_env import Workers, poll, workers
from tests.integration.mock_sap.conftest import Sap, new_session

__all__ = ["workers"]  # the fixture
PRODORD = "API_PRODUCTION_ORDER_2_SRV"


@pytest.fixture
def api(workers: Workers) -> FlaskClient:
    return migrated_app(workers.context.settings).test_client()


def token(workers: Workers, user: str, role: str, **attributes: list[str]) -> str:
    return mint_token(workers.context.settings, user, [role], dict(attributes))


def subscribe_api(sap: MockSap, api_url: str) -> None:
    """What an Event Mesh webhook subscription does: the mock's events to the API's receiver, with Basic auth."""
    body = {"url": f"{api_url}/api/v1/sap-events", "user": "event-mesh", "password": DEV_SAP_EVENTS_PASSWORD}
    requests.post(f"{sap.url}/mock-admin/event-subscriptions", json=body, timeout=10).raise_for_status()


def unreleased_order(sap: MockSap, plant: str) -> str:
    tech = Sap(root=sap.url, user="EXT_API_TECH", session=new_session("EXT_API_TECH", "tech-pass-1"))
    orders = tech.results(
        PRODORD,
        "A_ProductionOrder_2",
        {"$filter": f"OrderIsReleased eq '' and ProductionPlant eq '{plant}'", "$top": "1"},
    )
    assert orders, f"no unreleased order in plant {plant}"
    return str(orders[0]["ManufacturingOrder"])


def work_center_of(sap: MockSap, order: str) -> str:
    tech = Sap(root=sap.url, user="EXT_API_TECH", session=new_session("EXT_API_TECH", "tech-pass-1"))
    operations = tech.results(PRODORD, "A_ProductionOrderOperation_2", {"$filter": f"ManufacturingOrder eq '{order}'"})
    return str(operations[0]["WorkCenter"])


def release_in_sap(sap: MockSap, order: str) -> None:
    """Released in SAP itself (as in SAP GUI or a Fiori app), not through this API."""
    tech = Sap(root=sap.url, user="EXT_API_TECH", session=new_session("EXT_API_TECH", "tech-pass-1"))
    assert tech.call(PRODORD, "ReleaseOrder", ManufacturingOrder=f"'{order}'").status_code == 200


@pytest.mark.slow
def test_a_confirmation_reaches_the_supervisors_stream_as_succeeded_within_a_second(
    api: FlaskClient, workers: Workers
) -> None:
    workers.start()
    supervisor = token(workers, "SUP_ASSY1010", "Supervisor", Plant=["1010"], WorkCenter=["ASSY1010"])
    other = token(workers, "SUP_OTHER", "Supervisor", Plant=["1010"], WorkCenter=["ASSY1010"])
    headers = {"Authorization": f"Bearer {supervisor}"}
    work = next(
        item
        for item in api.get("/api/v1/work-orders?limit=50", headers=headers).json["items"]
        if Decimal(item["quantity_to_go"]["value"]) >= 1
    )
    with (
        events_server(workers.env) as events,
        streaming(events, supervisor) as mine,
        streaming(events, other) as theirs,
    ):
        body = {"yield_quantity": "1", "unit": work["planned_quantity"]["unit"]}
        posted = api.post(
            f"/api/v1/work-orders/{work['id']}/confirmations",
            json=body,
            headers={**headers, "Idempotency-Key": str(uuid.uuid4())},
        )
        assert posted.status_code == 202, posted.json
        command_id = posted.json["id"]
        event = mine.wait_for(
            lambda e: e.event == "writeback.succeeded" and e.data["data"]["id"] == command_id, "writeback.succeeded"
        )
        finished = workers.ended(command_id)
        assert finished.status.value == "succeeded"
        assert finished.finished_at is not None
        # From the worker recording the outcome to the supervisor's stream (same machine, same clock).
        assert event.at - finished.finished_at.timestamp() < 1.0
        assert event.id == event.data["id"]
        assert event.data["data"]["location"] == f"/api/v1/writebacks/{command_id}"
        # Another user of the same work centre hears nothing of this user's writeback.
        assert not theirs.of_type("writeback.succeeded")


@pytest.mark.slow
def test_an_order_released_in_sap_reaches_its_plants_manager_only(workers: Workers, trusting_sap: MockSap) -> None:
    app = migrated_app(workers.context.settings)
    pm_1010 = token(workers, "PM_1010", "PlantManager", Plant=["1010"])
    pm_1020 = token(workers, "PM_1020", "PlantManager", Plant=["1020"])
    order_1010, order_1020 = unreleased_order(trusting_sap, "1010"), unreleased_order(trusting_sap, "1020")
    # The supervisor of a work centre of the 1010 order: a release gives them operations to confirm.
    supervisor = token(
        workers, "SUP_X", "Supervisor", Plant=["1010"], WorkCenter=[work_center_of(trusting_sap, order_1010)]
    )
    with serve(app) as api_url, events_server(workers.env) as events:
        subscribe_api(trusting_sap, api_url)
        with (
            streaming(events, pm_1010) as first,
            streaming(events, pm_1020) as second,
            streaming(events, supervisor) as floor,
        ):
            release_in_sap(trusting_sap, order_1010)
            release_in_sap(trusting_sap, order_1020)
            told = floor.wait_for(lambda e: e.event == "production-order.released", "the release, to the floor")
            assert told.data["data"]["order"] == order_1010
            mine = first.wait_for(lambda e: e.event == "production-order.released", "the 1010 release")
            theirs = second.wait_for(lambda e: e.event == "production-order.released", "the 1020 release")
            assert (mine.data["data"]["order"], mine.data["data"]["plant"]) == (order_1010, "1010")
            assert (theirs.data["data"]["order"], theirs.data["data"]["plant"]) == (order_1020, "1020")
            assert mine.data["source_event"].startswith("/default/sap.s4.beh/")
            # Both releases are on the bus by now; each manager heard of their own plant's only.
            assert [e.data["data"]["order"] for e in first.of_type("production-order.released")] == [order_1010]
            assert [e.data["data"]["order"] for e in second.of_type("production-order.released")] == [order_1020]
            assert [e.data["data"]["order"] for e in floor.of_type("production-order.released")] == [order_1010]


@pytest.mark.slow
def test_an_event_received_behind_one_instance_reaches_a_stream_held_by_another(
    workers: Workers, trusting_sap: MockSap
) -> None:
    """Two web instances (API + event stream each) over one Redis: SAP's event arrives at instance A's API,
    the plant manager's stream is held by instance B."""
    pm = token(workers, "PM_1010", "PlantManager", Plant=["1010"])
    order = unreleased_order(trusting_sap, "1010")
    with (
        serve(migrated_app(workers.context.settings)) as api_a,
        serve(migrated_app(workers.context.settings)),
        events_server(workers.env) as events_a,
        events_server(workers.env) as events_b,
    ):
        subscribe_api(trusting_sap, api_a)
        with streaming(events_b, pm) as on_b, streaming(events_a, pm) as on_a:
            release_in_sap(trusting_sap, order)
            for stream in (on_b, on_a):
                got = stream.wait_for(lambda e: e.event == "production-order.released", "the release")
                assert got.data["data"]["order"] == order


@pytest.mark.slow
def test_a_reconnect_with_last_event_id_gets_what_it_missed_once(workers: Workers) -> None:
    pm = token(workers, "PM_1010", "PlantManager", Plant=["1010"])
    bus = workers.context.bus

    with events_server(workers.env, EVENTS_HEARTBEAT="0.3") as events:
        with streaming(events, pm) as first:
            first_id = bus.publish(notices.production_order("changed", "1000001", "1010"))
            first.wait_for(lambda e: e.id == first_id, "the first event")
            assert first.comments >= 1  # ": connected"
        # While away: one for this plant, one for another plant, one for nobody.
        missed = bus.publish(notices.production_order("released", "1000002", "1010"))
        bus.publish(notices.production_order("released", "1000003", "1020"))
        bus.publish(Notification("purchase-requisition.created", {"purchase_requisition": "1"}, Audience()))
        with streaming(events, pm, last_event_id=first_id) as again:
            got = again.wait_for(lambda e: e.id == missed, "the missed event")
            assert got.data["data"]["order"] == "1000002"
            live = bus.publish(notices.production_order("changed", "1000004", "1010"))
            again.wait_for(lambda e: e.id == live, "the live event")
            assert [e.id for e in again.events] == [missed, live]  # nothing twice, nothing of others
            connected = again.comments
            time.sleep(1.0)
            assert again.comments > connected  # heartbeats every EVENTS_HEARTBEAT (0.3 s) while idle


def test_the_stream_refuses_what_it_cannot_serve(workers: Workers) -> None:
    pm = token(workers, "PM_1010", "PlantManager", Plant=["1010"])
    nobody = mint_token(workers.context.settings, "NOBODY", [], {})  # signed in, but none of our roles
    with events_server(workers.env) as events:
        url = f"{events}/api/v1/events"
        missing = requests.get(url, timeout=10)
        assert missing.status_code == 401 and "bearer" in missing.json()["message"]
        assert missing.headers["WWW-Authenticate"].startswith("Bearer")
        bad = requests.get(url, headers={"Authorization": "Bearer not-a-jwt"}, timeout=10)
        assert bad.status_code == 401 and "malformed token" in bad.json()["message"]
        assert requests.get(url, headers={"Authorization": f"Bearer {nobody}"}, timeout=10).status_code == 403
        resume = requests.get(url, headers={"Authorization": f"Bearer {pm}", "Last-Event-ID": "yesterday"}, timeout=10)
        assert resume.status_code == 400 and "Last-Event-ID" in resume.json()["message"]
        assert requests.post(url, timeout=10).status_code == 405
        assert requests.get(f"{events}/api/v1/production-orders", timeout=10).status_code == 404
        metrics = requests.get(f"{events}/metrics", timeout=10).text
        assert "event_streams " in metrics


@pytest.mark.slow
def test_a_new_task_in_the_inbox_reaches_its_executive_only(workers: Workers, trusting_sap: MockSap) -> None:
    """Workflow tasks have no business event: the workers' inbox poller finds it, as the executive, in SAP."""
    workers.start(INBOX_POLL_INTERVAL="0.5")
    anna = token(workers, "EXEC_ANNA", "Executive")
    ben = token(workers, "EXEC_BEN", "Executive")
    with events_server(workers.env) as events, streaming(events, anna) as hers, streaming(events, ben) as his:
        # The first poll of an executive only marks where their inbox stands; a task after it is new.
        checkpoint = "sapext:pollers:inbox:checkpoint:EXEC_ANNA"
        poll(lambda: workers.context.redis.exists(checkpoint), 20, "the inbox poller's first look at Anna's inbox")
        created = requests.post(
            f"{trusting_sap.url}/mock-admin/tasks",
            json={"user": "EXEC_ANNA", "title": "Laptops for the night shift"},
            timeout=10,
        )
        assert created.status_code == 201, created.text
        instance = created.json()["InstanceID"]
        got = hers.wait_for(lambda e: e.event == "approval.created", "the new task", timeout=20)
        assert got.data["data"]["approval_id"].endswith(f"~{instance}")
        assert got.data["data"]["title"] == "Laptops for the night shift"
        assert got.data["source_event"] == f"task:{instance}"
        assert not his.of_type("approval.created")
