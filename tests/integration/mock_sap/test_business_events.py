"""Business events: S/4HANA CloudEvents pushed to webhook subscriptions as SAP Event Mesh delivers them,
after the change commits, retried on failure; the admin API for subscriptions, deliveries and new tasks."""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

import pytest
import requests

from .conftest import EXECUTIVES, PRODCONF, PRODORD, PURREQ, TASKS, TECH_USER, Sap, new_session
from .test_batch import changeset_part, parse_multipart, post_batch, request_part, unreleased_orders
from .test_confirmations import CONFIRMATIONS, confirmation_body, last_open_released_operation, post_confirmation

if TYPE_CHECKING:
    from tests.conftest import MockSap

ORDERS = "A_ProductionOrder_2"
SOURCE = "/default/sap.s4.beh/S4HCLNT100"  # the shared mock: system S4H, client 100
RELEASED = "sap.s4.beh.productionorder.v1.ProductionOrder.Released.v1"
ORDER_CHANGED = "sap.s4.beh.productionorder.v1.ProductionOrder.Changed.v1"
PR_CREATED = "sap.s4.beh.purchaserequisition.v1.PurchaseRequisition.Created.v1"
PR_CHANGED = "sap.s4.beh.purchaserequisition.v1.PurchaseRequisition.Changed.v1"
CONF_CREATED = "sap.s4.beh.productionorderconfirmation.v1.ProductionOrderConfirmation.Created.v1"
CONF_CANCELLED = "sap.s4.beh.productionorderconfirmation.v1.ProductionOrderConfirmation.Cancelled.v1"
HOOK_USER, HOOK_PASSWORD = "em-webhook", "s3cret!"


@dataclass
class Received:
    content_type: str
    authorized: bool
    event: dict[str, Any]


class Webhook:
    """A webhook endpoint on its own thread: checks HTTP Basic, records every POST, answers the given statuses
    in turn (then 200)."""

    def __init__(self, statuses: tuple[int, ...] = ()) -> None:
        self.received: list[Received] = []
        self.statuses = deque(statuses)
        self.changed = threading.Condition()
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                expected = "Basic " + base64.b64encode(f"{HOOK_USER}:{HOOK_PASSWORD}".encode()).decode()
                authorized = self.headers.get("Authorization") == expected
                with hook.changed:
                    status = (hook.statuses.popleft() if hook.statuses else 200) if authorized else 401
                    hook.received.append(Received(self.headers.get("Content-Type", ""), authorized, json.loads(body)))
                    hook.changed.notify_all()
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the base class's name)
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/events?queue=s4"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        with self.changed:
            self.changed.wait_for(lambda: len(self.received) >= count, timeout)
            assert len(self.received) >= count, f"expected {count} deliveries, got {self.received}"
            return list(self.received)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def webhook(mock_sap: MockSap) -> Iterator[Callable[..., Webhook]]:
    """Factory of webhook endpoints; the mock forgets its subscriptions afterwards."""
    made: list[Webhook] = []

    def factory(statuses: tuple[int, ...] = ()) -> Webhook:
        made.append(Webhook(statuses))
        return made[-1]

    yield factory
    requests.delete(f"{mock_sap.url}/mock-admin/event-subscriptions", timeout=10).raise_for_status()
    for hook in made:
        hook.close()


def subscribe(mock_sap: MockSap, hook: Webhook, **options: Any) -> str:
    """Subscribe with HTTP Basic and a short back-off (tests must not wait for Event Mesh's minutes)."""
    body = {"url": hook.url, "user": HOOK_USER, "password": HOOK_PASSWORD, "retry_initial": 0.05, **options}
    response = requests.post(f"{mock_sap.url}/mock-admin/event-subscriptions", json=body, timeout=10)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def deliveries(mock_sap: MockSap) -> list[dict[str, Any]]:
    response = requests.get(f"{mock_sap.url}/mock-admin/event-deliveries", timeout=10)
    assert response.status_code == 200
    return list(response.json()["deliveries"])


def wait_for_deliveries(mock_sap: MockSap, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while len(found := deliveries(mock_sap)) < count:
        assert time.monotonic() < deadline, f"expected {count} delivery attempts, got {found}"
        time.sleep(0.02)
    return found


def release(sap: Sap, order: str) -> requests.Response:
    return sap.call(PRODORD, "ReleaseOrder", ManufacturingOrder=f"'{order}'")


def test_release_publishes_the_released_event_as_a_cloudevent(mock_sap: MockSap, tech: Sap, webhook):
    hook = webhook()
    subscribe(mock_sap, hook)
    order = unreleased_orders(tech, 1)[0]["ManufacturingOrder"]
    assert release(tech, order).status_code == 200
    (received,) = hook.wait_for(1)
    assert received.authorized
    assert received.content_type == "application/cloudevents+json"
    event = received.event
    assert set(event) == {"specversion", "id", "source", "type", "time", "datacontenttype", "data"}
    assert event["specversion"] == "1.0"
    assert event["type"] == RELEASED
    assert event["source"] == SOURCE
    assert str(uuid.UUID(event["id"])) == event["id"]
    sent = datetime.strptime(event["time"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert abs(datetime.now(UTC) - sent) < timedelta(minutes=1)
    assert event["datacontenttype"] == "application/json"
    # A notification event: the order's key, nothing the receiver would have to trust over SAP's own read.
    assert event["data"] == {"ProductionOrder": order}


def test_failed_writes_publish_nothing(mock_sap: MockSap, tech: Sap, webhook):
    hook = webhook()
    subscribe(mock_sap, hook)
    first, second = (o["ManufacturingOrder"] for o in unreleased_orders(tech, 2))
    assert release(tech, first).status_code == 200
    assert release(tech, first).status_code == 400  # already released: refused, so no event
    assert release(tech, "NOSUCHORDER").status_code == 404
    assert release(tech, second).status_code == 200
    # Deliveries keep publication order, so a stray event would show up between the two.
    received = hook.wait_for(2)
    assert [r.event["data"]["ProductionOrder"] for r in received] == [first, second]


def test_a_changeset_publishes_only_once_it_committed(mock_sap: MockSap, tech: Sap, webhook):
    hook = webhook()
    subscribe(mock_sap, hook)
    a, b = (o["ManufacturingOrder"] for o in unreleased_orders(tech, 2))
    rolled_back = changeset_part(
        "changeset_bad",
        [
            request_part("POST", f"ReleaseOrder?ManufacturingOrder='{a}'"),
            request_part("POST", "ReleaseOrder?ManufacturingOrder='NOSUCHORDER'"),
        ],
    )
    committed = changeset_part("changeset_good", [request_part("POST", f"ReleaseOrder?ManufacturingOrder='{b}'")])
    response = post_batch(tech, [rolled_back, committed])
    assert response.status_code == 202, response.text
    bad, good = parse_multipart(response.text, response.headers["Content-Type"])
    assert not isinstance(bad, list) and bad.status == 404
    assert isinstance(good, list) and good[0].status == 200
    received = hook.wait_for(1)
    time.sleep(0.3)  # a wrongly published event of the rolled-back changeset would be delivered by now
    assert [(r.event["type"], r.event["data"]) for r in hook.received] == [(RELEASED, {"ProductionOrder": b})]
    assert received[0].authorized


def test_reschedule_publishes_changed(mock_sap: MockSap, tech: Sap, webhook):
    hook = webhook()
    subscribe(mock_sap, hook)
    order = unreleased_orders(tech, 1)[0]
    number = order["ManufacturingOrder"]
    path = f"{ORDERS}('{number}')"
    etag = tech.get(PRODORD, path).headers["ETag"]
    start = order["MfgOrderPlannedStartDate"]
    moved = f"/Date({int(start[6:-2]) + 86_400_000})/"
    patch = tech.write("PATCH", PRODORD, path, body={"MfgOrderPlannedStartDate": moved}, headers={"If-Match": etag})
    assert patch.status_code == 204, patch.text
    (received,) = hook.wait_for(1)
    assert received.event["type"] == ORDER_CHANGED
    assert received.event["data"] == {"ProductionOrder": number}


def test_failed_deliveries_are_retried_with_the_same_event(mock_sap: MockSap, tech: Sap, webhook):
    hook = webhook(statuses=(500, 500))
    subscription = subscribe(mock_sap, hook)
    assert release(tech, unreleased_orders(tech, 1)[0]["ManufacturingOrder"]).status_code == 200
    received = hook.wait_for(3)
    assert len({r.event["id"] for r in received}) == 1
    assert all(r.authorized for r in received)
    attempts = wait_for_deliveries(mock_sap, 3)
    assert [(a["attempt"], a["status"], a["outcome"]) for a in attempts] == [
        (1, 500, "retrying"),
        (2, 500, "retrying"),
        (3, 200, "delivered"),
    ]
    assert {(a["event_id"], a["type"], a["subscription_id"]) for a in attempts} == {
        (received[0].event["id"], RELEASED, subscription)
    }
    assert all(a["error"] is None and a["time"].endswith("Z") for a in attempts)


def test_an_event_is_given_up_after_max_attempts_and_the_next_follows(mock_sap: MockSap, tech: Sap, webhook):
    hook = webhook(statuses=(503, 503))
    subscribe(mock_sap, hook, max_attempts=2)
    first, second = (o["ManufacturingOrder"] for o in unreleased_orders(tech, 2))
    assert release(tech, first).status_code == 200
    assert release(tech, second).status_code == 200
    received = hook.wait_for(3)
    assert [r.event["data"]["ProductionOrder"] for r in received] == [first, first, second]
    outcomes = [(a["attempt"], a["outcome"]) for a in wait_for_deliveries(mock_sap, 3)]
    assert outcomes == [(1, "retrying"), (2, "given_up"), (1, "delivered")]


def test_an_unreachable_webhook_is_logged_as_an_error(mock_sap: MockSap, tech: Sap, webhook):
    hook = webhook()
    hook.close()  # nothing listens there any more
    subscribe(mock_sap, hook, max_attempts=2, retry_initial=0.01, timeout=2)
    assert release(tech, unreleased_orders(tech, 1)[0]["ManufacturingOrder"]).status_code == 200
    attempts = wait_for_deliveries(mock_sap, 2)
    assert [(a["status"], a["outcome"]) for a in attempts] == [(None, "retrying"), (None, "given_up")]
    assert all(a["error"] for a in attempts)


def test_confirmation_post_and_cancel_publish_created_and_cancelled(mock_sap: MockSap, tech: Sap, webhook):
    hook = webhook()
    subscribe(mock_sap, hook)
    op = last_open_released_operation(tech)
    bad = post_confirmation(tech, confirmation_body(op, "-1"))
    assert bad.status_code == 400  # refused: no event
    response = post_confirmation(tech, confirmation_body(op, "1"))
    assert response.status_code == 201, response.text
    created = response.json()["d"]
    key = {"ConfirmationGroup": created["ConfirmationGroup"], "ConfirmationCount": created["ConfirmationCount"]}
    cancel = tech.call(PRODCONF, "CancelProdnOrdConf", **{name: f"'{value}'" for name, value in key.items()})
    assert cancel.status_code == 200, cancel.text
    assert cancel.json()["d"]["ConfirmationCount"] != key["ConfirmationCount"]  # the reversal is a new record
    received = hook.wait_for(2)
    assert [(r.event["type"], r.event["data"]) for r in received] == [(CONF_CREATED, key), (CONF_CANCELLED, key)]
    assert {r.event["source"] for r in received} == {SOURCE}
    path = f"{CONFIRMATIONS}(" + ",".join(f"{name}='{value}'" for name, value in key.items()) + ")"
    assert tech.read(PRODCONF, path)["IsReversed"] is True


def test_admin_task_creates_an_inbox_task_with_its_requisition_and_publishes_pr_created(
    mock_sap: MockSap, sap: Callable[..., Sap], webhook
):
    hook = webhook()
    subscribe(mock_sap, hook)
    user = EXECUTIVES[0]
    response = requests.post(
        f"{mock_sap.url}/mock-admin/tasks",
        json={"user": user, "title": "Release PR for the new test bench", "quantity": 2, "price": "980.50"},
        timeout=10,
    )
    assert response.status_code == 201, response.text
    created = response.json()
    instance, number = created["InstanceID"], created["PurchaseRequisition"]
    executive = sap(user)
    task_path = f"TaskCollection(SAP__Origin='{created['SAP__Origin']}',InstanceID='{instance}')"
    task = executive.read(TASKS, task_path)
    assert task["TaskTitle"] == "Release PR for the new test bench"
    assert task["Status"] == "READY"
    inbox = executive.results(TASKS, "TaskCollection", {"$filter": f"InstanceID eq '{instance}'"})
    assert [t["InstanceID"] for t in inbox] == [instance]
    attributes = executive.results(TASKS, f"{task_path}/CustomAttributeData")
    assert {a["Name"]: a["Value"] for a in attributes}["PurchaseRequisition"] == number
    assert sap(EXECUTIVES[1]).get(TASKS, task_path).status_code == 404  # someone else's task
    items = executive.results(PURREQ, "A_PurchaseRequisitionItem", {"$filter": f"PurchaseRequisition eq '{number}'"})
    assert [(i["PurReqnReleaseStatus"], i["RequestedQuantity"], i["ItemNetAmount"]) for i in items] == [
        ("03", "2.000", "1961.000")
    ]
    (received,) = hook.wait_for(1)
    assert (received.event["type"], received.event["data"]) == (PR_CREATED, {"PurchaseRequisition": number})

    # Approving it changes the requisition's release state: PurchaseRequisition.Changed.
    decision = executive.call(
        TASKS, "Decision", SAP__Origin="'LOCAL'", InstanceID=f"'{instance}'", DecisionKey="'0001'", Comments="''"
    )
    assert decision.status_code == 200, decision.text
    received = hook.wait_for(2)
    assert (received[1].event["type"], received[1].event["data"]) == (PR_CHANGED, {"PurchaseRequisition": number})

    mock_sap.reset()  # the seed again: the task and its requisition are gone
    assert executive.get(TASKS, task_path).status_code == 404
    assert executive.get(PURREQ, f"A_PurchaseRequisitionHeader('{number}')").status_code == 404


@pytest.mark.parametrize(
    "body",
    [{}, {"user": "NOBODY"}, {"user": "EXEC_ANNA", "plant": "9999"}, {"user": "EXEC_ANNA", "price": "-1"}, []],
)
def test_admin_task_rejects_bad_bodies(mock_sap: MockSap, body: Any):
    response = requests.post(f"{mock_sap.url}/mock-admin/tasks", json=body, timeout=10)
    assert response.status_code == 400, response.text
    assert response.json()["error"]


def test_subscriptions_admin_api_and_reset(mock_sap: MockSap, tech: Sap, webhook):
    base = f"{mock_sap.url}/mock-admin/event-subscriptions"
    old, new = webhook(), webhook()
    first = subscribe(mock_sap, old)
    second = subscribe(mock_sap, old, max_attempts=3)
    listed = requests.get(base, timeout=10).json()["subscriptions"]
    assert [s["id"] for s in listed] == [first, second]
    assert all(s["user"] == HOOK_USER and "password" not in s for s in listed)
    assert listed[1]["max_attempts"] == 3
    assert requests.delete(f"{base}/{second}", timeout=10).status_code == 200
    assert requests.delete(f"{base}/{second}", timeout=10).status_code == 404
    assert [s["id"] for s in requests.get(base, timeout=10).json()["subscriptions"]] == [first]
    for bad in ({}, {"url": "ftp://x"}, {"url": old.url, "password": "p"}, {"url": old.url, "qos": 1}):
        assert requests.post(base, json=bad, timeout=10).status_code == 400, bad

    mock_sap.reset()
    assert requests.get(base, timeout=10).json()["subscriptions"] == []
    assert deliveries(mock_sap) == []
    third = subscribe(mock_sap, new)
    assert release(tech, unreleased_orders(tech, 1)[0]["ManufacturingOrder"]).status_code == 200
    new.wait_for(1)
    assert old.received == []  # its subscription went with the reset
    assert {d["subscription_id"] for d in wait_for_deliveries(mock_sap, 1)} == {third}


def test_command_line_webhook_is_subscribed_from_the_start_and_survives_a_reset(
    mock_sap_factory: Callable[..., MockSap],
):
    hook = Webhook(statuses=(502,))
    try:
        own = mock_sap_factory(
            "--orders",
            "20",
            "--system-id",
            "ER9",
            "--sap-client",
            "001",
            "--event-webhook",
            hook.url,
            "--event-webhook-user",
            HOOK_USER,
            "--event-webhook-password",
            HOOK_PASSWORD,
            "--event-retry-initial",
            "0.05",
        )
        (listed,) = requests.get(f"{own.url}/mock-admin/event-subscriptions", timeout=10).json()["subscriptions"]
        assert (listed["url"], listed["user"], listed["origin"]) == (hook.url, HOOK_USER, "command-line")
        own.reset()
        tech = Sap(root=own.url, user=TECH_USER, session=new_session(TECH_USER))
        assert release(tech, unreleased_orders(tech, 1)[0]["ManufacturingOrder"]).status_code == 200
        first, second = hook.wait_for(2)  # the 502 is retried by the command line's back-off
        assert first.event == second.event and second.authorized
        assert first.event["source"] == "/default/sap.s4.beh/ER9CLNT001"
    finally:
        hook.close()
