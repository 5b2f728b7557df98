"""The delta pollers against a live mock SAP and real Redis: new inbox tasks and changed orders become notifications."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from typing import Any

import requests

from access.policy import Role
from notifications import Notification, presence
from store import PushSubscriptions
from tests.conftest import MockSap
from tests.integration.workers.conftest import PRODORD, TECH, clear_faults, mock_faults, order, sap_get
from workers.bootstrap import WorkerContext
from workers.pollers import Checkpoint, InboxPoller, OrderPoller, PollerThread, lease_seconds

EXECUTIVE = "EXEC_ANNA"
OTHER_EXECUTIVE = "EXEC_BEN"
OPEN_ORDER = (
    "OrderIsReleased eq '' and OrderIsPartiallyReleased eq '' and OrderIsTechnicallyCompleted eq ''"
    " and OrderIsClosed eq '' and OrderIsMarkedForDeletion eq ''"
)


def new_task(sap: MockSap, user: str) -> str:
    """A new task in `user`'s inbox, created in SAP now (the mock's admin API)."""
    response = requests.post(f"{sap.url}/mock-admin/tasks", json={"user": user}, timeout=10)
    assert response.status_code == 201, response.text
    return str(response.json()["InstanceID"])


def notifications(context: WorkerContext, type_: str) -> list[Notification]:
    return [p.notification for p in context.bus.after("0-0") if p.notification.type == type_]


def approvals(context: WorkerContext) -> list[tuple[str, tuple[str, ...]]]:
    """(task id, audience users) of each approval.created published, oldest first."""
    return [
        (str(n.data["approval_id"]).rpartition("~")[2], n.audience.users())
        for n in notifications(context, "approval.created")
    ]


def order_notices(context: WorkerContext, order_id: str) -> list[Notification]:
    return [
        p.notification
        for p in context.bus.after("0-0")
        if p.notification.type.startswith("production-order.") and p.notification.data["order"] == order_id
    ]


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def sap_write(sap: MockSap, method: str, path: str, **kwargs: Any) -> requests.Response:
    """A write to SAP by someone else (SAP GUI, another app): the technical user with a CSRF token."""
    session = requests.Session()
    session.auth = TECH
    token = session.head(f"{sap.url}{PRODORD}/", headers={"X-CSRF-Token": "Fetch"}, timeout=10).headers["x-csrf-token"]
    headers = {"X-CSRF-Token": token, "Accept": "application/json", **kwargs.pop("headers", {})}
    response = session.request(method, f"{sap.url}{path}", headers=headers, timeout=10, **kwargs)
    assert response.ok, response.text
    return response


def release_in_sap(sap: MockSap, order_id: str) -> None:
    sap_write(sap, "POST", f"{PRODORD}/ReleaseOrder", params={"ManufacturingOrder": f"'{order_id}'"})


def reschedule_in_sap(sap: MockSap, order_id: str) -> None:
    current = order(sap, order_id)
    start_ms = int(current["MfgOrderPlannedStartDate"][6:-2]) + 86_400_000
    sap_write(
        sap,
        "PATCH",
        f"{PRODORD}/A_ProductionOrder_2('{order_id}')",
        json={"MfgOrderPlannedStartDate": f"/Date({start_ms})/"},
        headers={"If-Match": current["__metadata"]["etag"]},
    )


def first_order(sap: MockSap, where: str) -> dict[str, Any]:
    rows = sap_get(sap, f"{PRODORD}/A_ProductionOrder_2", **{"$filter": where, "$top": "1"})["results"]
    assert rows, f"the seed has no order where {where}"
    return dict(rows[0])


# -- presence ------------------------------------------------------------------------------------------------


def test_presence_counts_users_seen_within_the_window_and_prunes_old_ones(context: WorkerContext) -> None:
    now = time.time()
    presence.touch(context.redis, "EXEC_GONE", [Role.EXECUTIVE], now=now - presence.RETAIN - 60)
    presence.touch(context.redis, "EXEC_OLD", [Role.EXECUTIVE], now=now - 2 * 3600)
    presence.touch(context.redis, EXECUTIVE, [Role.EXECUTIVE, Role.PLANT_MANAGER], now=now)

    assert presence.active(context.redis, Role.EXECUTIVE, 3600, now=now) == [EXECUTIVE]
    assert presence.active(context.redis, Role.EXECUTIVE, now=now) == [EXECUTIVE, "EXEC_OLD"]
    assert presence.active(context.redis, Role.PLANT_MANAGER, now=now) == [EXECUTIVE]
    assert presence.active(context.redis, Role.SUPERVISOR, now=now) == []
    # The week-old entry went with the next touch; prune takes what a shorter retention leaves behind.
    assert context.redis.zscore(presence.presence_key(Role.EXECUTIVE), "EXEC_GONE") is None
    assert presence.prune(context.redis, [Role.EXECUTIVE], 3600, now=now) == 1
    assert presence.active(context.redis, Role.EXECUTIVE, 7 * 24 * 3600, now=now) == [EXECUTIVE]


def test_an_executive_with_a_push_subscription_is_polled_too(context: WorkerContext) -> None:
    presence.touch(context.redis, EXECUTIVE, [Role.EXECUTIVE])
    subscriptions = PushSubscriptions(context.store.engine)
    subscriptions.subscribe(OTHER_EXECUTIVE, [Role.EXECUTIVE], {}, "https://push.example.com/ben", "p256dh", "auth")
    subscriptions.subscribe(
        "PM_1010", [Role.PLANT_MANAGER], {"Plant": ["1010"]}, "https://push.example.com/pm", "k", "a"
    )

    assert InboxPoller(context).executives() == [EXECUTIVE, OTHER_EXECUTIVE]


# -- the inbox poller ----------------------------------------------------------------------------------------


def test_checkpoint_tells_rows_of_its_own_second_apart() -> None:
    checkpoint = Checkpoint().advance([("2026-01-01T10:00:00Z", "A"), ("2026-01-01T10:00:01Z", "B")])
    assert checkpoint == Checkpoint("2026-01-01T10:00:01Z", frozenset({"B"}))
    # SAP answers `ge` with the whole second again: B was seen, C came in the same second after the poll.
    assert not checkpoint.is_new("2026-01-01T10:00:01Z", "B")
    assert checkpoint.is_new("2026-01-01T10:00:01Z", "C")
    assert not checkpoint.is_new("2026-01-01T10:00:00Z", "D")
    assert checkpoint.advance([("2026-01-01T10:00:01Z", "C")]).seen == {"B", "C"}
    assert Checkpoint.from_json(checkpoint.to_json()) == checkpoint


def test_a_task_created_after_the_first_poll_is_published_once(context: WorkerContext, trusting_sap: MockSap) -> None:
    presence.touch(context.redis, EXECUTIVE, [Role.EXECUTIVE])
    poller = InboxPoller(context)
    assert poller.poll() == 0  # the first poll only sets the checkpoint: none of the seeded tasks is announced

    task = new_task(trusting_sap, EXECUTIVE)
    new_task(trusting_sap, OTHER_EXECUTIVE)  # not active: not polled
    assert poller.poll() == 1
    [notice] = notifications(context, "approval.created")
    assert notice.audience.users() == (EXECUTIVE,)
    assert notice.data["approval_id"].rpartition("~")[2] == task
    assert notice.data["title"].startswith("Purchase Requisition")
    assert notice.data["created_at"] is not None
    assert notice.source_event == f"task:{task}"

    assert poller.poll() == 0  # SAP answers the task's second again: not published twice
    later = new_task(trusting_sap, EXECUTIVE)  # most likely within the same second as `task`
    assert poller.poll() == 1
    assert approvals(context) == [(task, (EXECUTIVE,)), (later, (EXECUTIVE,))]


def test_one_executives_sap_error_does_not_stop_the_others(context: WorkerContext, trusting_sap: MockSap) -> None:
    # Sorted before EXEC_ANNA, and SAP does not know the user: its inbox read fails with 401.
    presence.touch(context.redis, "AAA_NOT_IN_SAP", [Role.EXECUTIVE])
    presence.touch(context.redis, EXECUTIVE, [Role.EXECUTIVE])
    poller = InboxPoller(context)
    poller.poll()
    task = new_task(trusting_sap, EXECUTIVE)

    assert poller.poll() == 1
    assert approvals(context) == [(task, (EXECUTIVE,))]
    assert context.redis.get(poller.checkpoint_key("AAA_NOT_IN_SAP")) is None


def test_only_the_lease_holder_polls_and_another_takes_over_when_it_dies(
    context: WorkerContext, trusting_sap: MockSap
) -> None:
    presence.touch(context.redis, EXECUTIVE, [Role.EXECUTIVE])
    leader = PollerThread(InboxPoller(context), context.redis, 0.5)
    follower = PollerThread(InboxPoller(context), context.redis, 0.5)
    assert leader.tick() == 0
    assert follower.tick() is None

    first = new_task(trusting_sap, EXECUTIVE)
    assert follower.tick() is None  # it would have published the task
    assert approvals(context) == []
    assert leader.tick() == 1

    # The leader dies: it neither renews nor releases its lease.
    second = new_task(trusting_sap, EXECUTIVE)
    time.sleep(lease_seconds(0.5) + 0.1)
    assert follower.tick() == 1  # from the shared checkpoint: only the task the leader had not seen
    assert leader.tick() is None
    assert approvals(context) == [(first, (EXECUTIVE,)), (second, (EXECUTIVE,))]


def test_running_pollers_publish_a_new_task_once_and_release_the_lease_when_stopped(
    context: WorkerContext, trusting_sap: MockSap
) -> None:
    presence.touch(context.redis, EXECUTIVE, [Role.EXECUTIVE])
    threads = [PollerThread(InboxPoller(context), context.redis, 0.2) for _ in range(2)]
    for thread in threads:
        thread.start()
    try:
        wait_for(lambda: context.redis.exists(InboxPoller(context).checkpoint_key(EXECUTIVE)) == 1)
        task = new_task(trusting_sap, EXECUTIVE)
        wait_for(lambda: len(approvals(context)) > 0)
        time.sleep(1.0)  # several more polls of the leader, and tries of the other
        assert approvals(context) == [(task, (EXECUTIVE,))]
        assert sum(thread.leading for thread in threads) == 1
    finally:
        for thread in threads:
            thread.stop()
    assert not any(thread.is_alive() for thread in threads)
    assert context.redis.exists(threads[0].lease.key) == 0


# -- the order poller ----------------------------------------------------------------------------------------


def test_a_release_then_a_reschedule_are_published_for_the_plant(context: WorkerContext, trusting_sap: MockSap) -> None:
    poller = OrderPoller(context)
    assert poller.poll() == 0  # the first poll only sets the checkpoint
    target = first_order(trusting_sap, f"{OPEN_ORDER} and ProductionPlant eq '1010'")
    number = target["ManufacturingOrder"]

    release_in_sap(trusting_sap, number)
    assert poller.poll() == 1
    [released] = order_notices(context, number)
    assert released.type == "production-order.released"
    assert released.data == {"order": number, "plant": "1010"}
    plant_managers, *supervisors = [g.to_json() for g in released.audience.grants]
    assert plant_managers == {"role": "PlantManager", "plant": "1010"}
    # A release gives the operations' work centres work to confirm: their supervisors hear of it, as from SAP's event.
    assert supervisors and all(g["role"] == "Supervisor" and g["plant"] == "1010" for g in supervisors)
    assert poller.poll() == 0

    reschedule_in_sap(trusting_sap, number)
    assert poller.poll() == 1
    assert [n.type for n in order_notices(context, number)] == [
        "production-order.released",
        "production-order.changed",
    ]
    assert poller.poll() == 0


def test_a_change_to_an_order_released_days_ago_is_a_change(context: WorkerContext, trusting_sap: MockSap) -> None:
    poller = OrderPoller(context)
    poller.poll()
    days_ago = (dt.datetime.now(dt.UTC) - dt.timedelta(days=3)).strftime("%Y-%m-%dT00:00:00")
    target = first_order(
        trusting_sap,
        "OrderIsReleased eq 'X' and OrderIsTechnicallyCompleted eq '' and OrderIsClosed eq ''"
        f" and MfgOrderActualReleaseDate lt datetime'{days_ago}'",
    )
    number = target["ManufacturingOrder"]

    reschedule_in_sap(trusting_sap, number)
    assert poller.poll() == 1
    assert [(n.type, n.data["plant"]) for n in order_notices(context, number)] == [
        ("production-order.changed", target["ProductionPlant"])
    ]


def test_an_order_poll_that_fails_is_logged_and_the_next_one_catches_up(
    context: WorkerContext, trusting_sap: MockSap
) -> None:
    thread = PollerThread(OrderPoller(context), context.redis, 0.5)
    assert thread.tick() == 0
    number = first_order(trusting_sap, OPEN_ORDER)["ManufacturingOrder"]
    release_in_sap(trusting_sap, number)

    mock_faults(trusting_sap, service="API_PRODUCTION_ORDER_2_SRV", status=503, methods=["GET"])
    assert thread.tick() is None  # SAP away: logged, the checkpoint stays
    clear_faults(trusting_sap)
    assert thread.tick() == 1
    assert [n.type for n in order_notices(context, number)] == ["production-order.released"]
