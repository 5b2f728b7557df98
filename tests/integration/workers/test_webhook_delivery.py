"""Outbound webhooks end to end: planned from a published notification, sent by an RQ worker to a real HTTP
receiver that checks the signature, retried through the reconciler, dead after the last attempt."""

from __future__ import annotations

import dataclasses
import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from rq import Queue, SimpleWorker

from app.dev_idp import mint_token
from notifications import Audience, Notification, Published, signing
from notifications.stats import read as read_stats
from store import DeliveryStatus, Webhooks
from tests.conftest import migrated_app
from workers import queues
from workers.bootstrap import WorkerContext, set_context
from workers.reconciler import reconcile_once
from workers.webhooks import plan_webhooks


class Receiver:
    """A webhook receiver over real HTTP: verifies each request's signature and answers the scripted statuses
    in turn (the last one from then on)."""

    def __init__(self, *statuses: int) -> None:
        self.statuses = list(statuses)
        self.secret = ""
        self.seen: list[dict[str, Any]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                try:
                    signing.verify(receiver.secret, dict(self.headers.items()), body)
                    verified = True
                except signing.SignatureError:
                    verified = False
                receiver.seen.append(
                    {
                        "id": self.headers["webhook-id"],
                        "verified": verified,
                        "body": json.loads(body),
                        "content_type": self.headers["Content-Type"],
                        "user_agent": self.headers["User-Agent"],
                    }
                )
                status = receiver.statuses.pop(0) if len(receiver.statuses) > 1 else receiver.statuses[0]
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                if 300 <= status < 400:
                    self.send_header("Location", f"{receiver.url}/moved")
                self.end_headers()
                self.wfile.write(f"answered {status}".encode())

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)  # port 0: the kernel picks, no race
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hooks_context(context: WorkerContext) -> WorkerContext:
    """Three attempts 0.25-1 s apart: retries happen within the test, and not before the reconciler is asked."""
    settings = context.settings.replace(
        webhook_max_attempts=3, webhook_backoff_base=0.5, webhook_backoff_max=1.0, webhook_timeout=5.0
    )
    hooks_context = dataclasses.replace(context, settings=settings)
    set_context(hooks_context)  # the RQ job `workers.webhooks.deliver` runs on this one
    return hooks_context


@pytest.fixture
def receivers() -> Iterator[list[Receiver]]:
    started: list[Receiver] = []
    yield started
    for receiver in started:
        receiver.close()


def receiver(receivers: list[Receiver], *statuses: int) -> Receiver:
    started = Receiver(*statuses)
    receivers.append(started)
    return started


def subscribe(context: WorkerContext, to: Receiver, *event_types: str) -> str:
    webhook, secret = Webhooks(context.store.engine).register(to.url, list(event_types), "test receiver", "ADMIN")
    to.secret = secret
    return webhook.id


def publish(context: WorkerContext, type_: str, **data: Any) -> Published:
    entry_id = context.bus.publish(Notification(type=type_, data=data, audience=Audience.user("PM_1010")))
    published = context.bus.get(entry_id)
    assert published is not None
    return published


def work(context: WorkerContext) -> None:
    """Run what is queued for notifications, as `python -m workers` does, until the queue is empty."""
    queue = Queue(queues.NOTIFICATIONS, connection=context.redis)
    SimpleWorker([queue], connection=context.redis).work(burst=True, logging_level="WARNING")


def queued(context: WorkerContext) -> list[str]:
    return Queue(queues.NOTIFICATIONS, connection=context.redis).get_job_ids()


def reconcile_when_due(context: WorkerContext, timeout: float = 5.0) -> None:
    """The reconciler's passes until it enqueues the retry (its back-off over)."""
    deadline = time.monotonic() + timeout
    while reconcile_once(context) == 0:
        assert time.monotonic() < deadline, "no retry became due"
        time.sleep(0.05)


def stats(context: WorkerContext) -> dict[str, int]:
    return {outcome: count for (channel, outcome), count in read_stats(context.redis).items() if channel == "webhook"}


def test_a_failing_receiver_gets_retries_with_the_same_id_until_it_answers_2xx(
    hooks_context: WorkerContext, receivers: list[Receiver]
) -> None:
    context = hooks_context
    to = receiver(receivers, 500, 500, 200)
    subscribe(context, to, "production-order.*")
    published = publish(context, "production-order.released", order_id="1000123", plant="1010")

    plan_webhooks(context, published)
    (delivery,) = Webhooks(context.store.engine).list_deliveries().items
    assert queued(context) == [f"webhook-{delivery.id}"]
    work(context)
    assert len(to.seen) == 1
    backing_off = Webhooks(context.store.engine).get_delivery(delivery.id)
    assert backing_off is not None and backing_off.status == DeliveryStatus.PENDING and backing_off.attempts == 1
    assert backing_off.next_attempt_at is not None
    assert (backing_off.next_attempt_at - backing_off.updated_at).total_seconds() > 0.2  # the first step: 0.25-0.5 s
    for _ in range(2):
        reconcile_when_due(context)
        work(context)

    done = Webhooks(context.store.engine).get_delivery(delivery.id)
    assert done is not None and done.status == DeliveryStatus.SUCCEEDED and done.attempts == 3
    assert done.last_error is not None and done.last_error["status"] == 500
    assert done.last_error["message"] == "answered 500"
    assert [seen["id"] for seen in to.seen] == [published.id] * 3
    assert all(seen["verified"] for seen in to.seen)
    assert to.seen[0]["body"] == {
        "id": published.id,
        "type": "production-order.released",
        "time": to.seen[0]["body"]["time"],
        "data": {"order_id": "1000123", "plant": "1010"},
        "source_event": None,
    }  # never the audience: it names users
    assert to.seen[0]["content_type"] == "application/json" and "webhooks" in to.seen[0]["user_agent"]
    assert stats(context) == {"retried": 2, "delivered": 1}

    # At least once, never again once delivered: a duplicate job and a late reconciler pass send nothing.
    Queue(queues.NOTIFICATIONS, connection=context.redis).enqueue(
        "workers.webhooks.deliver", delivery.id, job_id=f"webhook-{delivery.id}", result_ttl=0
    )
    work(context)
    assert reconcile_once(context) == 0
    assert len(to.seen) == 3
    assert Webhooks(context.store.engine).get_delivery(delivery.id) == done  # not even an attempt counted


def test_an_always_failing_receiver_ends_dead_and_an_admin_retry_requeues_it(
    hooks_context: WorkerContext, receivers: list[Receiver], tmp_path: Path
) -> None:
    context = hooks_context
    to = receiver(receivers, 500)
    subscribe(context, to, "*")
    plan_webhooks(context, publish(context, "writeback.dead", writeback_id="w-1"))
    work(context)
    for _ in range(2):
        reconcile_when_due(context)
        work(context)

    hooks = Webhooks(context.store.engine)
    (dead,) = hooks.list_dead().items
    assert dead.attempts == 3 and dead.next_attempt_at is None
    assert dead.last_error == {"kind": "http", "status": 500, "message": "answered 500"}
    assert len(to.seen) == 3 and stats(context) == {"retried": 2, "dead": 1}
    time.sleep(1.1)  # longer than any back-off: a dead delivery is never due
    assert reconcile_once(context) == 0

    # The admin retries it through the API (same database and Redis), once the receiver is fixed.
    to.statuses = [200]
    api = migrated_app(context.settings).test_client()
    admin = mint_token(context.settings, "INT_ADMIN", ["IntegrationAdmin"], {})
    answer = api.post(f"/api/v1/admin/webhook-deliveries/{dead.id}/retry", headers={"Authorization": f"Bearer {admin}"})
    assert answer.status_code == 202, answer.json
    assert answer.json["status"] == "pending" and answer.json["attempts"] == 0
    assert queued(context) == [f"webhook-{dead.id}"]
    work(context)
    retried = hooks.get_delivery(dead.id)
    assert retried is not None and retried.status == DeliveryStatus.SUCCEEDED and retried.attempts == 1
    assert [seen["id"] for seen in to.seen] == [dead.event_id] * 4


def test_only_subscribed_types_are_delivered(hooks_context: WorkerContext, receivers: list[Receiver]) -> None:
    context = hooks_context
    orders = receiver(receivers, 204)
    writebacks = receiver(receivers, 204)
    subscribe(context, orders, "production-order.*", "confirmation.created")
    subscribe(context, writebacks, "writeback.dead")

    plan_webhooks(context, publish(context, "writeback.succeeded", writeback_id="w-2"))
    plan_webhooks(context, publish(context, "approval.created", task_id="t-1"))
    assert queued(context) == [] and Webhooks(context.store.engine).count_deliveries() == 0
    plan_webhooks(context, publish(context, "confirmation.created", order_id="1000123"))
    work(context)
    assert [seen["body"]["type"] for seen in orders.seen] == ["confirmation.created"]
    assert writebacks.seen == []


def test_a_notification_planned_twice_is_delivered_once(
    hooks_context: WorkerContext, receivers: list[Receiver]
) -> None:
    context = hooks_context
    to = receiver(receivers, 200)
    subscribe(context, to, "writeback.*")
    published = publish(context, "writeback.conflict", writeback_id="w-3")

    plan_webhooks(context, published)
    plan_webhooks(context, published)  # the dispatcher crashed before it acknowledged the entry
    assert Webhooks(context.store.engine).count_deliveries() == 1
    assert len(queued(context)) == 1
    assert reconcile_once(context) == 0  # due, but its job waits in the queue already
    work(context)
    assert [seen["id"] for seen in to.seen] == [published.id]
    assert stats(context) == {"duplicate": 1, "delivered": 1}


def test_a_receiver_answering_410_gone_ends_the_webhook(
    hooks_context: WorkerContext, receivers: list[Receiver]
) -> None:
    context = hooks_context
    to = receiver(receivers, 410)
    webhook_id = subscribe(context, to, "*")
    plan_webhooks(context, publish(context, "writeback.dead", writeback_id="w-4"))
    work(context)

    hooks = Webhooks(context.store.engine)
    # Dead at once, then cancelled with its webhook: nobody can retry it, so it must not sit among the dead letters.
    assert hooks.list_dead().items == []
    (ended,) = hooks.list_deliveries(status="cancelled").items
    assert ended.attempts == 1 and ended.last_error is not None and ended.last_error["status"] == 410
    webhook = hooks.get(webhook_id)
    assert webhook is not None and not webhook.active
    plan_webhooks(context, publish(context, "writeback.dead", writeback_id="w-5"))
    assert queued(context) == [] and len(to.seen) == 1


def test_a_lost_job_is_enqueued_by_the_reconciler(hooks_context: WorkerContext, receivers: list[Receiver]) -> None:
    context = hooks_context
    to = receiver(receivers, 200)
    subscribe(context, to, "*")
    plan_webhooks(context, publish(context, "approval.created", task_id="t-2"))
    context.redis.flushdb()  # Redis lost the job: restarted empty, say
    assert queued(context) == []

    assert reconcile_once(context) == 1
    work(context)
    assert len(to.seen) == 1 and to.seen[0]["verified"]


def test_redirects_are_not_followed_and_an_unreachable_receiver_is_retried(
    hooks_context: WorkerContext, receivers: list[Receiver]
) -> None:
    context = hooks_context
    moved = receiver(receivers, 308)
    subscribe(context, moved, "*")
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))  # bound, never listening: connections to it are refused
        url = f"http://127.0.0.1:{closed.getsockname()[1]}/hook"
        nowhere, _ = Webhooks(context.store.engine).register(url, ["*"], None, "ADMIN")
        plan_webhooks(context, publish(context, "approval.created", task_id="t-3"))
        work(context)

    by_webhook = {d.webhook_id: d for d in Webhooks(context.store.engine).list_deliveries().items}
    unreachable = by_webhook.pop(nowhere.id)
    (redirected,) = by_webhook.values()
    assert len(moved.seen) == 1  # the Location was not followed
    assert redirected.status == DeliveryStatus.PENDING and redirected.attempts == 1
    assert redirected.last_error is not None and redirected.last_error["status"] == 308
    assert "redirected to" in redirected.last_error["message"]
    assert unreachable.status == DeliveryStatus.PENDING and unreachable.attempts == 1
    assert unreachable.last_error is not None and unreachable.last_error["kind"] == "connection"
    assert stats(context) == {"retried": 2}
