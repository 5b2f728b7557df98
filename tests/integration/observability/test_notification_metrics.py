"""/metrics reports the event side: delivery outcomes from every process, the dispatch backlog, the webhook outbox."""

from __future__ import annotations

import redis

from app import create_app
from notifications import EventBus, notices
from notifications import stats as delivery_stats
from runtime.settings import Settings
from store import Store
from store.webhooks import Webhooks
from tests.integration.observability.test_metrics import scrape, value
from workers.dispatcher import GROUP

NOTIFICATIONS_DB = 13  # a Redis db of its own: no worker of another test reads this bus meanwhile


def test_delivery_outcomes_backlog_and_webhook_outbox_are_scraped(obs_settings: Settings, store: Store) -> None:
    obs_app = create_app(
        obs_settings.replace(redis_url=obs_settings.redis_url.rsplit("/", 1)[0] + f"/{NOTIFICATIONS_DB}")
    )
    connection: redis.Redis = obs_app.extensions["redis"]
    bus = EventBus(connection)
    connection.delete(bus.key, delivery_stats.stats_key())
    before = scrape(obs_app)
    assert value(before, "notification_dispatch_lag") == 0  # no worker has read the bus yet: nothing behind

    bus.publish(notices.production_order("changed", "1000001", "1010"))
    connection.xgroup_create(bus.key, GROUP, id="0")  # a dispatcher that has not read it yet
    bus.publish(notices.production_order("released", "1000001", "1010"))
    delivery_stats.record(connection, "webhook", "retried")
    delivery_stats.record(connection, "webhook", "retried")
    delivery_stats.record(connection, "push", "expired")
    webhooks = Webhooks(obs_app.extensions["store"].engine)
    hook, _ = webhooks.register("https://receiver.example/hook", ["*"], None, "admin")
    webhooks.plan(hook.id, "1-0", "production-order.changed", {"id": "1-0"})

    samples = scrape(obs_app)
    (group,) = connection.xinfo_groups(bus.key)
    undelivered = connection.xrange(bus.key, min=f"({group['last-delivered-id'].decode()}")
    assert value(samples, "notification_dispatch_lag") == len(undelivered) >= 1  # the group has not read them
    assert value(samples, "notification_dispatch_oldest_seconds") >= 0
    assert value(samples, "notification_deliveries_total", channel="webhook", outcome="retried") == 2
    assert value(samples, "notification_deliveries_total", channel="push", outcome="expired") == 1
    assert value(samples, "webhook_deliveries", status="pending") == 1
    assert value(samples, "webhook_deliveries", status="dead") == 0
