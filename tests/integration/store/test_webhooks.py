"""Webhooks and their deliveries on SQLite and PostgreSQL: matching, one delivery per event, attempts and requeue."""

from __future__ import annotations

import base64
from datetime import timedelta

import pytest
from sqlalchemy import Engine

from store import DeliveryNotFound, DeliveryStatus, InvalidDeliveryTransition, Webhooks
from tests.integration.store.conftest import FakeClock

LEASE = timedelta(seconds=50)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def hooks(engine: Engine, clock: FakeClock) -> Webhooks:
    return Webhooks(engine, clock=clock)


def test_a_secret_is_standard_webhooks_shaped_and_kept_out_of_reprs(hooks: Webhooks) -> None:
    webhook, secret = hooks.register("https://a.example/hook", ["*"], "MES", "ADMIN")
    assert secret.startswith("whsec_") and len(base64.b64decode(secret.removeprefix("whsec_"))) == 32
    assert hooks.get(webhook.id) == webhook and webhook.secret == secret
    assert secret not in repr(webhook)
    other, other_secret = hooks.register("https://a.example/hook", ["*"], None, "ADMIN")
    assert other_secret != secret


def test_matching_takes_all_exact_types_and_prefixes_of_active_webhooks(hooks: Webhooks) -> None:
    every, _ = hooks.register("https://a.example/all", ["*"], None, "ADMIN")
    orders, _ = hooks.register("https://a.example/orders", ["production-order.*"], None, "ADMIN")
    dead, _ = hooks.register("https://a.example/dead", ["writeback.dead", "approval.created"], None, "ADMIN")
    gone, _ = hooks.register("https://a.example/gone", ["*"], None, "ADMIN")
    hooks.deactivate(gone.id)

    def ids(event_type: str) -> set[str]:
        return {webhook.id for webhook in hooks.matching(event_type)}

    assert ids("production-order.released") == {every.id, orders.id}
    assert ids("writeback.dead") == {every.id, dead.id}
    assert ids("writeback.succeeded") == {every.id}
    assert ids("production-orderly.x") == {every.id}  # the prefix ends at its dot
    assert [webhook.id for webhook in hooks.list()] == [every.id, orders.id, dead.id]
    assert gone.id in {webhook.id for webhook in hooks.list(include_inactive=True)}


def test_a_delivery_is_planned_once_per_webhook_and_event(hooks: Webhooks) -> None:
    first, _ = hooks.register("https://a.example/1", ["*"], None, "ADMIN")
    second, _ = hooks.register("https://a.example/2", ["*"], None, "ADMIN")
    planned = hooks.plan(first.id, "1714550400000-0", "writeback.dead", {"id": "1714550400000-0"})
    assert planned is not None and planned.status == DeliveryStatus.PENDING and planned.attempts == 0
    assert hooks.plan(first.id, "1714550400000-0", "writeback.dead", {"id": "1714550400000-0"}) is None
    assert hooks.plan(second.id, "1714550400000-0", "writeback.dead", {"id": "1714550400000-0"}) is not None
    assert hooks.count_deliveries() == 2
    assert hooks.count_deliveries(webhook_id=first.id) == 1


def test_attempts_lease_back_off_and_dead_then_requeue(hooks: Webhooks, clock: FakeClock) -> None:
    webhook, _ = hooks.register("https://a.example/1", ["*"], None, "ADMIN")
    planned = hooks.plan(webhook.id, "1-0", "writeback.dead", {})
    assert planned is not None
    assert [d.id for d in hooks.due()] == [planned.id]

    started = hooks.start(planned.id, lease=LEASE)
    assert started is not None and started.attempts == 1
    assert hooks.start(planned.id, lease=LEASE) is None  # a second job while the first sends: nothing to do
    assert hooks.due() == []
    clock.advance(51)
    assert [d.id for d in hooks.due()] == [planned.id]  # its worker died: the lease ran out

    retry_at = clock.advance(0) + timedelta(seconds=10)
    failed = hooks.fail(planned.id, {"kind": "http", "status": 500, "message": "boom"}, next_attempt_at=retry_at)
    assert failed is not None and failed.next_attempt_at == retry_at
    assert failed.last_error == {"kind": "http", "status": 500, "message": "boom"}
    assert hooks.due() == [] and hooks.start(planned.id, lease=LEASE) is None  # backing off
    clock.advance(11)
    assert hooks.start(planned.id, lease=LEASE) is not None

    dead = hooks.dead(planned.id, {"kind": "http", "status": 503, "message": "still down"})
    assert dead is not None and dead.status == DeliveryStatus.DEAD and dead.attempts == 2 and dead.finished_at
    assert hooks.start(planned.id, lease=LEASE) is None and hooks.succeed(planned.id) is None
    assert [d.id for d in hooks.list_dead().items] == [planned.id]

    requeued = hooks.requeue(planned.id)
    assert requeued.status == DeliveryStatus.PENDING and requeued.attempts == 0 and requeued.finished_at is None
    with pytest.raises(InvalidDeliveryTransition, match="it is pending"):
        hooks.requeue(planned.id)
    assert hooks.start(planned.id, lease=LEASE) is not None
    succeeded = hooks.succeed(planned.id)
    assert succeeded is not None and succeeded.status == DeliveryStatus.SUCCEEDED
    with pytest.raises(DeliveryNotFound):
        hooks.requeue("no-such-delivery")


def test_deleting_a_webhook_cancels_its_pending_and_dead_deliveries(hooks: Webhooks) -> None:
    webhook, _ = hooks.register("https://a.example/1", ["*"], None, "ADMIN")
    pending = hooks.plan(webhook.id, "1-0", "writeback.dead", {})
    dead = hooks.plan(webhook.id, "2-0", "writeback.dead", {})
    assert pending is not None and dead is not None
    hooks.start(dead.id, lease=LEASE)
    hooks.dead(dead.id, {"kind": "timeout", "status": None, "message": "slow"})

    assert hooks.deactivate(webhook.id).active is False
    for delivery in (pending, dead):  # a dead one could never be retried: it would be a dead letter forever
        cancelled = hooks.get_delivery(delivery.id)
        assert cancelled is not None and cancelled.status == DeliveryStatus.CANCELLED
    assert hooks.list_dead().items == []
    with pytest.raises(InvalidDeliveryTransition):
        hooks.requeue(dead.id)


def test_deliveries_are_listed_newest_first_in_pages(hooks: Webhooks) -> None:
    webhook, _ = hooks.register("https://a.example/1", ["*"], None, "ADMIN")
    planned = [hooks.plan(webhook.id, f"{n}-0", "writeback.dead", {"n": n}) for n in range(5)]
    first = hooks.list_deliveries(limit=3)
    assert first.next_cursor is not None
    second = hooks.list_deliveries(limit=3, cursor=first.next_cursor)
    assert second.next_cursor is None
    assert [d.id for d in first.items + second.items] == [d.id for d in reversed(planned) if d is not None]
    assert hooks.list_deliveries(status="succeeded").items == []
