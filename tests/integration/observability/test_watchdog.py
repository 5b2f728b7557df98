"""The watchdog: each condition fires once per incident and resolves once, on a real webhook and a real Redis."""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import redis

from runtime.settings import Settings
from store import Store
from tests.integration.observability.conftest import FakeClock, Webhook, run_to
from workers import watchdog
from workers.watchdog import BREAKER_OPEN, DEAD_LETTERS, ERROR_RATE_HIGH, STOPPED_FLOWING, Watchdog


class Probe:
    def __init__(self) -> None:
        self.reason: str | None = None

    def __call__(self) -> str | None:
        return self.reason


def make(store: Store, settings: Settings, clock: FakeClock, prefix: str, hook: Webhook, **changes: Any) -> Watchdog:
    settings = settings.replace(alert_webhook_url=hook.url, **changes)
    return Watchdog(
        store, redis.Redis.from_url(settings.redis_url), settings, probe=PROBE, clock=lambda: clock.now, prefix=prefix
    )


PROBE = Probe()


def test_stopped_flowing_fires_once_and_resolves_once(
    store: Store, obs_settings: Settings, clock: FakeClock, webhook: Webhook
) -> None:
    PROBE.reason = None
    prefix = f"test:{uuid.uuid4().hex}"
    dog = make(store, obs_settings, clock, prefix, webhook, alert_stopped_flowing_after=60)
    run_to(store, "succeeded")
    waiting = run_to(store, "accepted")

    clock.advance(30)
    assert STOPPED_FLOWING not in (dog.tick() or {})
    clock.advance(40)
    for _ in range(3):
        assert STOPPED_FLOWING in (dog.tick() or {})
    assert webhook.of(STOPPED_FLOWING) == ["firing"]
    body = webhook.received[0]
    assert set(body) >= {"alert", "status", "summary", "details", "since"}
    assert body["details"]["waiting"] == 1

    # A restarted watchdog (new instance, old lease released) knows the incident: no second "firing".
    dog.release()
    dog = make(store, obs_settings, clock, prefix, webhook, alert_stopped_flowing_after=60)
    dog.tick()
    assert webhook.of(STOPPED_FLOWING) == ["firing"]

    store.start_attempt(waiting)
    store.succeed(waiting)
    dog.tick()
    dog.tick()
    assert webhook.of(STOPPED_FLOWING) == ["firing", "resolved"]


def test_dead_letters_error_rate_and_sap_down(
    store: Store, obs_settings: Settings, clock: FakeClock, webhook: Webhook
) -> None:
    PROBE.reason = None
    dog = make(
        store,
        obs_settings,
        clock,
        f"test:{uuid.uuid4().hex}",
        webhook,
        alert_error_rate_min_attempts=3,
        alert_error_rate_threshold=0.5,
        alert_breaker_open_after=60,
        alert_error_rate_window=60,
    )
    run_to(store, "succeeded")
    run_to(store, "conflict")  # a conflict is not an error
    run_to(store, "rejected")
    assert dog.tick() == {}

    dead = run_to(store, "dead")  # 2 errors of 4 attempts: 50 % is not above the threshold
    assert set(dog.tick() or {}) == {DEAD_LETTERS}
    run_to(store, "rejected", "task.decision")  # 3 of 5
    assert set(dog.tick() or {}) == {DEAD_LETTERS, ERROR_RATE_HIGH}

    PROBE.reason = "unreachable: ConnectionError"
    dog.tick()
    clock.advance(61)
    store.discard(dead, admin="ops")
    assert set(dog.tick() or {}) == {BREAKER_OPEN}  # the window moved past the failures too
    PROBE.reason = None
    dog.tick()

    assert webhook.of(DEAD_LETTERS) == ["firing", "resolved"]
    assert webhook.of(ERROR_RATE_HIGH) == ["firing", "resolved"]
    assert webhook.of(BREAKER_OPEN) == ["firing", "resolved"]


def test_a_failed_notification_is_retried_and_only_the_leader_notifies(
    store: Store, obs_settings: Settings, clock: FakeClock, webhook: Webhook
) -> None:
    PROBE.reason = None
    prefix = f"test:{uuid.uuid4().hex}"
    leader = make(store, obs_settings, clock, prefix, webhook)
    other = make(store, obs_settings, clock, prefix, webhook)
    run_to(store, "dead")
    webhook.status = 503
    assert leader.tick() is not None
    assert other.tick() is None  # the lease is taken
    assert webhook.of(DEAD_LETTERS) == []
    webhook.status = 200
    leader.tick()
    other.tick()
    assert webhook.of(DEAD_LETTERS) == ["firing"]
    assert watchdog.active_incidents(leader.redis, prefix)[DEAD_LETTERS]["notified"] is True


def test_the_loop_notifies_within_its_interval_and_stops(
    store: Store, obs_settings: Settings, clock: FakeClock, webhook: Webhook
) -> None:
    PROBE.reason = None
    dog = make(store, obs_settings, clock, f"test:{uuid.uuid4().hex}", webhook, watchdog_interval=0.05)
    stop = threading.Event()
    thread = threading.Thread(target=dog.run, args=(stop,), daemon=True)
    thread.start()
    run_to(store, "dead")
    deadline = time.monotonic() + 5
    while not webhook.of(DEAD_LETTERS) and time.monotonic() < deadline:
        time.sleep(0.02)
    stop.set()
    thread.join(timeout=5)
    assert webhook.of(DEAD_LETTERS) == ["firing"]
    assert not thread.is_alive()
    assert dog.acquire()  # the stopped loop released its lease
    dog.release()
