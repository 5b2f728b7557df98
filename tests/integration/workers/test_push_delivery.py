"""Web Push end to end: a notification on the real bus, planned per subscription, sent by the job to a push service."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from rq import Queue, SimpleWorker

from notifications import Published, notices
from notifications.stats import read as read_stats
from runtime import vapid
from runtime.settings import Settings
from store import PushSubscription, PushSubscriptions
from tests.push_service import PushService, Subscriber, running_push_service
from workers import queues
from workers.bootstrap import WorkerContext
from workers.push import VAPID_LIFETIME, plan_push, send_push

PM = ("PM_1010", ["PlantManager"], {"Plant": ["1010"]})


@pytest.fixture
def worker_settings(worker_settings: Settings, tmp_path: Path) -> Settings:
    return worker_settings.replace(vapid_key_file=str(tmp_path / "vapid.pem"), vapid_subject="mailto:ops@example.com")


@pytest.fixture
def push_service() -> Iterator[PushService]:
    with running_push_service() as service:
        yield service


@pytest.fixture
def store(context: WorkerContext) -> PushSubscriptions:
    return PushSubscriptions(context.store.engine)


def subscribe(
    store: PushSubscriptions,
    subscriber: Subscriber,
    user: str,
    roles: list[str],
    attributes: dict[str, list[str]],
) -> PushSubscription:
    body = subscriber.subscription_json()
    subscription, _ = store.subscribe(user, roles, attributes, body["endpoint"], **body["keys"])
    return subscription


def publish_and_plan(context: WorkerContext, notification: notices.Notification) -> Published:
    event_id = context.bus.publish(notification)
    published = context.bus.get(event_id)
    assert published is not None
    plan_push(context, published)
    return published


def queue(context: WorkerContext) -> Queue:
    return Queue(queues.NOTIFICATIONS, connection=context.redis)


def run_jobs(context: WorkerContext) -> None:
    SimpleWorker([queue(context)], connection=context.redis).work(burst=True)
    assert queue(context).failed_job_registry.count == 0


def pushes(context: WorkerContext) -> dict[str, int]:
    return {outcome: count for (channel, outcome), count in read_stats(context.redis).items() if channel == "push"}


def test_an_admitted_subscriber_receives_it_signed_and_encrypted(
    context: WorkerContext, store: PushSubscriptions, push_service: PushService
) -> None:
    server_key = vapid.application_server_key(context.settings)
    subscriber = push_service.subscriber(application_server_key=server_key)  # refuses pushes signed otherwise
    subscription = subscribe(store, subscriber, *PM)

    published = publish_and_plan(context, notices.production_order("released", "1000123", "1010"))
    assert [job.id for job in queue(context).jobs] == [f"push_{subscription.id}_{published.id}"]
    run_jobs(context)

    assert push_service.refusals == []
    (message,) = push_service.received(subscriber.token)
    assert message.vapid_key == server_key
    assert message.claims["aud"] == push_service.origin and message.claims["sub"] == "mailto:ops@example.com"
    assert time.time() < message.claims["exp"] <= time.time() + VAPID_LIFETIME
    assert message.headers["ttl"] == str(context.settings.push_ttl)
    assert message.json() == {
        "id": published.id,
        "type": "production-order.released",
        "time": published.notification.to_json()["time"],
        "data": {"order": "1000123", "plant": "1010"},
        "source_event": None,
        "title": "Order 1000123 released",
        "body": "Plant 1010",
        "url": "/app/#/orders/1000123",
    }
    assert pushes(context) == {"delivered": 1}
    sent = store.get(subscription.id)
    assert sent is not None and sent.last_sent_at is not None


def test_planning_twice_sends_once(context: WorkerContext, store: PushSubscriptions, push_service: PushService) -> None:
    subscriber = push_service.subscriber()
    subscribe(store, subscriber, *PM)
    published = publish_and_plan(context, notices.production_order("created", "1000124", "1010"))
    plan_push(context, published)  # the dispatcher died before acknowledging: the entry is planned again
    assert len(queue(context).jobs) == 1
    run_jobs(context)
    plan_push(context, published)  # ... even after the job ran and RQ forgot it
    run_jobs(context)
    assert len(push_service.received(subscriber.token)) == 1


def test_the_audience_decides_who_receives_it(
    context: WorkerContext, store: PushSubscriptions, push_service: PushService
) -> None:
    other_plant = push_service.subscriber()
    subscribe(store, other_plant, "PM_1020", ["PlantManager"], {"Plant": ["1020"]})
    supervisor = push_service.subscriber()
    subscribe(store, supervisor, "SUP_ASSY1010", ["Supervisor"], {"Plant": ["1010"], "WorkCenter": ["ASSY1010"]})
    requester = push_service.subscriber()
    subscribe(store, requester, *PM)

    publish_and_plan(context, notices.production_order("released", "1000123", "1010"))
    writeback = notices.writeback(
        "rejected",
        command_id="cmd-1",
        command_type="order.release",
        requested_by="SOMEONE_ELSE",
        target_type="ProductionOrder",
        target_id="1000123",
        error={"message": "Order is locked"},
        finished_at=None,
    )
    publish_and_plan(context, writeback)
    assert len(queue(context).jobs) == 1  # the plant 1010 manager's, for the order; no one's for the writeback
    run_jobs(context)

    assert push_service.received(other_plant.token) == []
    assert push_service.received(supervisor.token) == []
    (message,) = push_service.received(requester.token)
    assert message.json()["type"] == "production-order.released"
    assert push_service.requests == 1


def test_a_writeback_reaches_its_requester_with_sap_s_message(
    context: WorkerContext, store: PushSubscriptions, push_service: PushService
) -> None:
    subscriber = push_service.subscriber()
    subscribe(store, subscriber, *PM)
    writeback = notices.writeback(
        "rejected",
        command_id="cmd-2",
        command_type="order.release",
        requested_by="PM_1010",
        target_type="ProductionOrder",
        target_id="1000123",
        error={"message": "Order is locked"},
        finished_at=None,
    )
    publish_and_plan(context, writeback)
    run_jobs(context)
    (message,) = push_service.received(subscriber.token)
    shown = message.json()
    assert (shown["title"], shown["body"], shown["url"]) == (
        "Writeback rejected by SAP",
        "Release, order 1000123: Order is locked",
        "/app/#/activity",
    )
    assert "audience" not in shown


def test_a_410_removes_the_subscription(
    context: WorkerContext, store: PushSubscriptions, push_service: PushService
) -> None:
    subscriber = push_service.subscriber()
    subscription = subscribe(store, subscriber, *PM)
    push_service.gone(subscriber.token)
    publish_and_plan(context, notices.production_order("changed", "1000123", "1010"))
    run_jobs(context)
    assert store.get(subscription.id) is None
    assert pushes(context) == {"expired": 1}
    assert push_service.requests == 1


def test_a_429_is_retried_once_after_retry_after(
    context: WorkerContext, store: PushSubscriptions, push_service: PushService
) -> None:
    subscriber = push_service.subscriber()
    subscribe(store, subscriber, *PM)
    push_service.script(subscriber.token, 429, retry_after="0")
    publish_and_plan(context, notices.production_order("changed", "1000123", "1010"))
    run_jobs(context)
    assert len(push_service.received(subscriber.token)) == 1
    assert pushes(context) == {"retried": 1, "delivered": 1}


def test_a_failure_after_the_retry_is_counted_and_the_subscription_kept(
    context: WorkerContext, store: PushSubscriptions, push_service: PushService
) -> None:
    subscriber = push_service.subscriber()
    subscription = subscribe(store, subscriber, *PM)
    push_service.script(subscriber.token, 503, retry_after="0")
    push_service.script(subscriber.token, 503, retry_after="0")
    push_service.script(subscriber.token, 503, retry_after="0")
    publish_and_plan(context, notices.production_order("changed", "1000123", "1010"))
    run_jobs(context)
    assert push_service.requests == 2  # one retry, no more
    assert pushes(context) == {"retried": 1, "failed": 1}
    kept = store.get(subscription.id)
    assert kept is not None and kept.last_sent_at is None


def test_a_push_signed_with_another_key_is_refused_and_counted(
    context: WorkerContext, store: PushSubscriptions, push_service: PushService
) -> None:
    # The browser subscribed with another server's key (e.g. before VAPID_PRIVATE_KEY changed): 403, not sent.
    subscriber = push_service.subscriber(application_server_key="B" + "A" * 86)
    subscribe(store, subscriber, *PM)
    publish_and_plan(context, notices.production_order("changed", "1000123", "1010"))
    run_jobs(context)
    assert [refusal.status for refusal in push_service.refusals] == [403]
    assert pushes(context) == {"failed": 1}


def test_an_endpoint_that_changed_hands_after_planning_gets_nothing(
    context: WorkerContext, store: PushSubscriptions, push_service: PushService
) -> None:
    subscriber = push_service.subscriber()
    subscribe(store, subscriber, *PM)
    publish_and_plan(context, notices.production_order("released", "1000123", "1010"))
    subscribe(store, subscriber, "PM_1020", ["PlantManager"], {"Plant": ["1020"]})  # another user, same browser
    run_jobs(context)
    assert push_service.requests == 0


def test_a_notification_gone_from_the_stream_is_skipped(
    context: WorkerContext, store: PushSubscriptions, push_service: PushService
) -> None:
    subscription = subscribe(store, push_service.subscriber(), *PM)
    send_push(subscription.id, "1-0")  # the job itself, on the installed context: no such entry any more
    assert push_service.requests == 0
    assert pushes(context) == {}
