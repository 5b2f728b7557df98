"""Push subscriptions on SQLite and PostgreSQL: one row per endpoint, moved to whoever subscribed it last."""

from __future__ import annotations

import threading

from sqlalchemy import Engine

from store import PushSubscriptions
from tests.integration.store.conftest import FakeClock

PLANT = {"Plant": ["1010"]}


def endpoint(n: int) -> str:
    return f"https://fcm.googleapis.com/fcm/send/token-{n}"


def test_subscribe_refresh_and_unsubscribe(engine: Engine) -> None:
    clock = FakeClock()
    store = PushSubscriptions(engine, clock=clock)
    first, created = store.subscribe("PM_1010", ["PlantManager"], PLANT, endpoint(1), "key-1", "auth-1")
    assert created and first.origin == "https://fcm.googleapis.com"
    assert (first.roles, first.attributes) == (("PlantManager",), {"Plant": ("1010",)})

    again, created = store.subscribe("PM_1010", ["PlantManager", "Supervisor"], PLANT, endpoint(1), "key-2", "a-2")
    assert not created
    assert (again.id, again.created_at) == (first.id, first.created_at)
    assert (again.p256dh, again.auth, again.roles) == ("key-2", "a-2", ("PlantManager", "Supervisor"))
    assert again.updated_at > first.updated_at

    store.mark_sent(first.id)
    sent = store.get(first.id)
    assert sent is not None and sent.last_sent_at is not None
    assert not store.unsubscribe("SOMEONE_ELSE", endpoint(1))
    assert store.unsubscribe("PM_1010", endpoint(1))
    assert store.get(first.id) is None and not store.unsubscribe("PM_1010", endpoint(1))


def test_another_user_takes_the_endpoint_over_under_a_new_id(engine: Engine) -> None:
    store = PushSubscriptions(engine, clock=FakeClock())
    anna, _ = store.subscribe("ANNA", ["PlantManager"], PLANT, endpoint(1), "k", "a")
    store.mark_sent(anna.id)
    ben, created = store.subscribe("BEN", ["Executive"], {}, endpoint(1), "k", "a")
    assert created and ben.id != anna.id and ben.last_sent_at is None
    assert store.get(anna.id) is None  # a job queued for Anna's subscription finds nothing
    assert store.list_for_user("ANNA") == [] and [s.id for s in store.list_for_user("BEN")] == [ben.id]
    assert [s.id for s in store.all_active()] == [ben.id]


def test_keep_drops_the_least_recently_renewed(engine: Engine) -> None:
    store = PushSubscriptions(engine, clock=FakeClock())
    ids = [store.subscribe("PM_1010", [], {}, endpoint(n), "k", "a", keep=3)[0].id for n in range(3)]
    store.subscribe("PM_1010", [], {}, endpoint(0), "k", "a", keep=3)  # renewed: now the newest
    store.subscribe("OTHER", [], {}, endpoint(9), "k", "a", keep=1)  # other users' count apart
    store.subscribe("PM_1010", [], {}, endpoint(3), "k", "a", keep=3)
    kept = {s.endpoint for s in store.list_for_user("PM_1010")}
    assert kept == {endpoint(0), endpoint(2), endpoint(3)}
    assert store.get(ids[1]) is None and store.remove(ids[0]) and not store.remove(ids[0])
    assert len(store.list_for_user("OTHER")) == 1


def test_concurrent_subscribes_of_one_endpoint_leave_one_row(engine: Engine) -> None:
    store = PushSubscriptions(engine)
    results: list[bool] = []
    errors: list[BaseException] = []

    def subscribe() -> None:
        try:
            results.append(store.subscribe("PM_1010", [], {}, endpoint(1), "k", "a")[1])
        except BaseException as exc:  # any error fails the test below
            errors.append(exc)

    threads = [threading.Thread(target=subscribe) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert sorted(results) == [False] * 7 + [True]
    assert len(store.all_active()) == 1
