"""The outbox: accept with idempotency, worker transitions and their audit events, reconciler, dead letters."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta

import pytest

from store import (
    Command,
    CommandNotFound,
    IdempotencyConflict,
    InvalidCursor,
    InvalidTransition,
    NewCommand,
    SerialKeyBusy,
    Status,
    Store,
)
from store.canonical import iso_utc
from tests.integration.store.conftest import FakeClock

MakeCommand = Callable[..., NewCommand]


def events_of(store: Store, command: Command) -> list[str]:
    return [e.event for e in reversed(store.list_audit(command_id=command.id, limit=500).items)]


def test_accept_stores_the_command_and_its_accepted_event(store: Store, make_command: MakeCommand) -> None:
    new = make_command(if_match='W/"etag-1"', serial_key=None)
    command, created = store.accept(new)
    assert created
    assert command.status is Status.ACCEPTED and command.attempts == 0
    assert command.serial_key == "ProductionOrder:1000001" and command.object == "ProductionOrder:1000001"
    assert command.payload == new.payload and command.attributes == {"WorkCenter": ["WC-ASSY"]}
    assert command.if_match == 'W/"etag-1"' and command.created_at.tzinfo is not None
    assert store.get(command.id) == command
    [event] = store.list_audit(command_id=command.id).items
    assert (event.event, event.actor, event.on_behalf_of, event.role) == (
        "accepted",
        "supervisor1",
        "supervisor1",
        "Supervisor",
    )
    assert event.sent == new.payload and event.object == "ProductionOrder:1000001"
    assert event.correlation_id == "corr-1"


def test_same_key_same_payload_is_the_same_command(store: Store, make_command: MakeCommand) -> None:
    first, created = store.accept(make_command(idempotency_key="k-1"))
    # Key order of the payload and a newer ETag do not make it another request.
    again, created_again = store.accept(
        make_command(
            idempotency_key="k-1",
            payload={"yield": {"unit": "PC", "quantity": "5"}, "operation": "0010"},
            if_match='W/"newer"',
        )
    )
    assert created and not created_again
    assert again == first
    assert events_of(store, first) == ["accepted"]


def test_same_key_other_payload_is_refused(store: Store, make_command: MakeCommand) -> None:
    first, _ = store.accept(make_command(idempotency_key="k-1"))
    with pytest.raises(IdempotencyConflict) as caught:
        store.accept(make_command(idempotency_key="k-1", payload={"operation": "0020"}))
    assert caught.value.existing.id == first.id
    with pytest.raises(IdempotencyConflict):
        store.accept(make_command(idempotency_key="k-1", target_id="1000002"))
    # The key belongs to the user: another user may use the same key.
    other, created = store.accept(make_command(idempotency_key="k-1", requested_by="supervisor2"))
    assert created and other.id != first.id
    assert store.list_audit(limit=100).items[0].command_id == other.id
    assert len(store.list_audit(limit=100).items) == 2


def test_floats_are_refused_before_anything_is_written(store: Store, make_command: MakeCommand) -> None:
    with pytest.raises(TypeError, match="float"):
        store.accept(make_command(payload={"quantity": 5.5}))
    assert store.list_audit().items == []


def test_concurrent_accepts_with_one_key_make_one_command(store: Store, make_command: MakeCommand) -> None:
    new = make_command(idempotency_key="same-key")
    barrier = threading.Barrier(8)
    results: list[tuple[Command, bool]] = []
    errors: list[BaseException] = []

    def accept() -> None:
        barrier.wait()
        try:
            results.append(store.accept(new))
        except BaseException as exc:  # noqa: BLE001 - surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=accept) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert len(results) == 8
    assert len({command.id for command, _ in results}) == 1
    assert sum(created for _, created in results) == 1
    assert [e.event for e in store.list_audit(limit=100).items] == ["accepted"]
    assert store.verify_chain().ok


def test_happy_path_transitions_and_their_events(store: Store, make_command: MakeCommand) -> None:
    command, _ = store.accept(make_command())
    running = store.start_attempt(command.id)
    assert running is not None and running.status is Status.RUNNING and running.attempts == 1
    done = store.succeed(
        command.id,
        result={"ConfirmationGroup": "42"},
        sap_status=201,
        sap_message="Created",
        duration_ms=120,
        sent={"OrderID": "1000001"},
    )
    assert done.status is Status.SUCCEEDED and done.result == {"ConfirmationGroup": "42"}
    assert done.finished_at is not None and done.is_terminal
    assert events_of(store, command) == ["accepted", "attempt_started", "attempt_succeeded"]
    last = store.list_audit(command_id=command.id).items[0]
    assert (last.actor, last.on_behalf_of, last.sap_status, last.sap_message, last.duration_ms) == (
        "worker",
        "supervisor1",
        201,
        "Created",
        120,
    )
    assert last.sent == {"OrderID": "1000001"}
    # A duplicate job for a finished command is a no-op, and a late second finish is refused.
    assert store.start_attempt(command.id) is None
    with pytest.raises(InvalidTransition):
        store.succeed(command.id)


def test_transient_failure_schedules_a_retry(store: Store, make_command: MakeCommand, clock: FakeClock) -> None:
    command, _ = store.accept(make_command())
    store.start_attempt(command.id)
    due = clock.now + timedelta(seconds=30)
    error = {"status": 503, "code": "SERVICE_UNAVAILABLE", "message": "try later"}
    waiting = store.fail_transient(command.id, error=error, next_attempt_at=due, duration_ms=3000)
    assert waiting.status is Status.ACCEPTED and waiting.next_attempt_at == due
    assert waiting.last_error == error and waiting.attempts == 1
    failed, scheduled = reversed(store.list_audit(command_id=command.id).items[:2])
    assert (failed.event, failed.sap_status, failed.sap_message) == ("attempt_failed", 503, "try later")
    assert scheduled.event == "retry_scheduled"
    assert scheduled.detail == {"next_attempt_at": iso_utc(due), "attempts_so_far": 1}
    again = store.start_attempt(command.id)
    assert again is not None and again.attempts == 2 and again.next_attempt_at is None


@pytest.mark.parametrize("status", ["rejected", "conflict", "dead"])
def test_end_without_retry(store: Store, make_command: MakeCommand, status: str) -> None:
    command, _ = store.accept(make_command())
    store.start_attempt(command.id)
    error = {"status": 400, "code": "RU/123", "message": "Order is locked for confirmation"}
    ended = store.end(command.id, status, error=error, duration_ms=80)
    assert ended.status == status and ended.last_error == error and ended.finished_at is not None
    last = store.list_audit(command_id=command.id).items[0]
    assert (last.event, last.sap_status, last.sap_message) == (status, 400, "Order is locked for confirmation")
    assert store.start_attempt(command.id) is None


def test_invalid_endings_and_unknown_ids(store: Store, make_command: MakeCommand) -> None:
    command, _ = store.accept(make_command())
    with pytest.raises(ValueError, match="rejected, conflict or dead"):
        store.end(command.id, "succeeded", error={})
    with pytest.raises(CommandNotFound):
        store.start_attempt("no-such-id")
    assert store.get("no-such-id") is None


def test_one_running_command_per_serial_key(store: Store, make_command: MakeCommand) -> None:
    first, _ = store.accept(make_command())
    second, _ = store.accept(make_command())
    other_order, _ = store.accept(make_command(target_id="1000002"))
    assert store.start_attempt(first.id) is not None
    with pytest.raises(SerialKeyBusy) as busy:
        store.start_attempt(second.id)
    assert busy.value.running_id == first.id
    assert store.get(second.id).status is Status.ACCEPTED  # type: ignore[union-attr]
    assert store.start_attempt(other_order.id) is not None
    store.succeed(first.id)
    assert store.start_attempt(second.id) is not None


def test_concurrent_duplicate_jobs_start_one_attempt(store: Store, make_command: MakeCommand) -> None:
    command, _ = store.accept(make_command())
    barrier = threading.Barrier(6)
    started: list[Command | None] = []

    def start() -> None:
        barrier.wait()
        started.append(store.start_attempt(command.id))

    threads = [threading.Thread(target=start) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(started) == 6
    assert len([c for c in started if c is not None]) == 1
    assert store.get(command.id).attempts == 1  # type: ignore[union-attr]


def test_stranded_and_reconcile(store: Store, make_command: MakeCommand, clock: FakeClock) -> None:
    windows = {"accepted_older_than": timedelta(seconds=60), "running_older_than": timedelta(seconds=600)}
    lost_job, _ = store.accept(make_command())
    killed, _ = store.accept(make_command(target_id="2"))
    retrying, _ = store.accept(make_command(target_id="3"))
    finished, _ = store.accept(make_command(target_id="4"))
    store.start_attempt(killed.id)
    store.start_attempt(retrying.id)
    store.fail_transient(retrying.id, error={"status": 504}, next_attempt_at=clock.now + timedelta(seconds=120))
    store.start_attempt(finished.id)
    store.succeed(finished.id)

    assert store.stranded(**windows) == []
    clock.advance(61)
    assert [c.id for c in store.stranded(**windows)] == [lost_job.id]
    clock.advance(120)  # the retry has been due for more than a minute: its delayed job was lost
    assert [c.id for c in store.stranded(**windows)] == [lost_job.id, retrying.id]
    clock.advance(600)
    stranded = store.stranded(**windows)
    assert [c.id for c in stranded] == [lost_job.id, killed.id, retrying.id]
    assert [c.id for c in store.stranded(**windows, limit=1)] == [lost_job.id]

    reclaimed = store.reconcile(killed.id, **windows)
    assert reclaimed is not None and reclaimed.status is Status.ACCEPTED and reclaimed.attempts == 1
    assert store.list_audit(command_id=killed.id).items[0].detail == {
        "from": "running",
        "to": "accepted",
        "attempts_so_far": 1,
    }
    # A second reconciler (or the next pass) finds nothing left to claim.
    assert store.reconcile(killed.id, **windows) is None
    assert store.reconcile(finished.id, **windows) is None
    assert [c.id for c in store.stranded(**windows)] == [lost_job.id, retrying.id]
    restarted = store.start_attempt(killed.id)
    assert restarted is not None and restarted.attempts == 2


def test_dead_letters_requeue_and_discard(store: Store, make_command: MakeCommand) -> None:
    dead_ids = []
    for n in range(3):
        command, _ = store.accept(make_command(target_id=str(n)))
        store.start_attempt(command.id)
        dead_ids.append(store.end(command.id, "dead", error={"status": 503, "message": "gone"}).id)
    alive, _ = store.accept(make_command(target_id="alive"))
    assert [c.id for c in store.list_by_status("dead").items] == dead_ids[::-1]
    assert store.list_by_status("dead", type="task.decision").items == []

    requeued = store.requeue(dead_ids[0], admin="admin1", correlation_id="corr-admin")
    assert requeued.status is Status.ACCEPTED and requeued.attempts == 0 and requeued.finished_at is None
    event = store.list_audit(command_id=dead_ids[0]).items[0]
    assert (event.event, event.actor, event.role, event.on_behalf_of, event.correlation_id) == (
        "requeued",
        "admin1",
        "IntegrationAdmin",
        "supervisor1",
        "corr-admin",
    )
    assert event.detail == {"attempts_before": 1}

    discarded = store.discard(dead_ids[1], admin="admin1", reason="duplicate of a manual posting")
    assert discarded.status is Status.DISCARDED and discarded.is_terminal
    assert store.list_audit(command_id=dead_ids[1]).items[0].event == "discarded"
    assert [c.id for c in store.list_by_status("dead").items] == [dead_ids[2]]

    for action in (store.requeue, store.discard):
        for not_dead in (alive.id, dead_ids[0], dead_ids[1]):
            with pytest.raises(InvalidTransition):
                action(not_dead, admin="admin1")


def test_list_for_user_pages_newest_first(store: Store, make_command: MakeCommand) -> None:
    mine = [store.accept(make_command())[0] for _ in range(7)]
    store.accept(make_command(requested_by="someone-else"))
    store.start_attempt(mine[2].id)

    seen: list[str] = []
    cursor = None
    sizes = []
    while True:
        page = store.list_for_user("supervisor1", limit=3, cursor=cursor)
        seen += [c.id for c in page.items]
        sizes.append(len(page.items))
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert sizes == [3, 3, 1]
    assert seen == [c.id for c in reversed(mine)]
    assert [c.id for c in store.list_for_user("supervisor1", status="running").items] == [mine[2].id]
    assert store.list_for_user("nobody").items == []
    with pytest.raises(InvalidCursor):
        store.list_for_user("supervisor1", cursor="not-a-cursor")
    with pytest.raises(ValueError):
        store.list_for_user("supervisor1", status="bogus")


def test_stats(store: Store, make_command: MakeCommand, clock: FakeClock) -> None:
    empty = store.stats()
    assert empty.counts == {} and empty.oldest_waiting_seconds is None and empty.last_success_at is None
    waiting, _ = store.accept(make_command())
    done, _ = store.accept(make_command(type="order.release", target_id="9"))
    store.start_attempt(done.id)
    finished = store.succeed(done.id)
    clock.advance(10)
    stats = store.stats()
    assert stats.counts == {("accepted", "operation.confirm"): 1, ("succeeded", "order.release"): 1}
    assert stats.oldest_waiting_seconds == pytest.approx((clock.now - waiting.created_at).total_seconds())
    assert stats.last_success_at == finished.finished_at


def test_a_slow_worker_may_still_finish_a_reclaimed_command(
    store: Store, make_command: MakeCommand, clock: FakeClock
) -> None:
    """SAP applied it even though the reconciler gave up on the worker: record the success, do not lose it."""
    command, _ = store.accept(make_command())
    store.start_attempt(command.id)
    clock.advance(601)
    reclaimed = store.reconcile(
        command.id, accepted_older_than=timedelta(seconds=60), running_older_than=timedelta(seconds=600)
    )
    assert reclaimed is not None and reclaimed.status is Status.ACCEPTED
    done = store.succeed(command.id, sap_status=201)
    assert done.status is Status.SUCCEEDED
    assert store.start_attempt(command.id) is None  # the re-enqueued job then finds nothing to do
    assert events_of(store, command) == ["accepted", "attempt_started", "reconciled", "attempt_succeeded"]


def test_a_write_in_flight_makes_the_command_in_doubt_until_sap_is_asked(
    store: Store, make_command: MakeCommand, clock: FakeClock
) -> None:
    command, _ = store.accept(make_command())
    other, _ = store.accept(make_command(idempotency_key="k-next"))  # same order: waits while the first is in doubt
    store.start_attempt(command.id, actor="worker@a:1")
    sent = store.sending(command.id, "worker@a:1")
    assert sent.in_doubt_since == clock.now

    clock.advance(2)
    doubt = store.in_doubt(
        command.id,
        error={"kind": "timeout", "status": None, "message": "no answer", "may_have_applied": True},
        next_check_at=clock.now + timedelta(seconds=10),
        actor="worker@a:1",
    )
    assert doubt.status is Status.IN_DOUBT and doubt.attempts == 1 and doubt.in_doubt_since == sent.in_doubt_since
    with pytest.raises(SerialKeyBusy):
        store.start_attempt(other.id)
    # Not due yet; then due: the reconciler's first pass picks it up like a due retry.
    assert store.stranded(accepted_older_than=timedelta(0), running_older_than=timedelta(days=1)) == [other]
    clock.advance(10)
    assert [c.id for c in store.stranded(accepted_older_than=timedelta(0), running_older_than=timedelta(days=1))] == [
        command.id,
        other.id,
    ]

    # The next attempt only asks SAP (nothing there yet): it does not use up an attempt, and stays in doubt.
    asked = store.start_attempt(command.id, actor="worker@b:2")
    assert asked is not None and asked.attempts == 2 and asked.in_doubt_since == sent.in_doubt_since
    again = store.in_doubt(command.id, error=None, next_check_at=clock.now, asked_only=True, actor="worker@b:2")
    assert again.attempts == 1 and again.last_error is not None and again.last_error["kind"] == "timeout"

    # SAP answers the re-sent write with an error: it did not land, the doubt is over.
    store.start_attempt(command.id, actor="worker@b:2")
    store.sending(command.id, "worker@b:2")
    retry = store.fail_transient(
        command.id,
        error={"kind": "unavailable", "status": 503, "message": "busy"},
        next_attempt_at=clock.now,
        write_not_applied=True,
        actor="worker@b:2",
    )
    assert retry.status is Status.ACCEPTED and retry.in_doubt_since is None
    events = events_of(store, command)
    assert events.count("in_doubt") == 2 and store.verify_chain().ok


def test_only_the_runner_records_an_outcome_and_sends(store: Store, make_command: MakeCommand) -> None:
    command, _ = store.accept(make_command())
    store.start_attempt(command.id, actor="worker@a:1")
    with pytest.raises(InvalidTransition):
        store.sending(command.id, "worker@b:2")
    with pytest.raises(InvalidTransition):
        store.succeed(command.id, actor="worker@b:2")
    assert store.heartbeat("worker@b:2", [command.id]) == 0
    assert store.heartbeat("worker@a:1", [command.id]) == 1
    done = store.succeed(command.id, actor="worker@a:1")
    assert done.status is Status.SUCCEEDED


def test_a_worker_that_died_after_sending_leaves_its_command_in_doubt(
    store: Store, make_command: MakeCommand, clock: FakeClock
) -> None:
    before_write, _ = store.accept(make_command(idempotency_key="k-1", target_id="1000001"))
    after_write, _ = store.accept(make_command(idempotency_key="k-2", target_id="1000002"))
    for command in (before_write, after_write):
        store.start_attempt(command.id, actor="worker@dead:1")
    store.sending(after_write.id, "worker@dead:1")
    clock.advance(30)
    windows = {"accepted_older_than": timedelta(seconds=60), "running_older_than": timedelta(seconds=15)}
    assert {c.id for c in store.stranded(**windows)} == {before_write.id, after_write.id}
    first = store.reconcile(before_write.id, **windows)
    second = store.reconcile(after_write.id, **windows)
    assert first is not None and first.status is Status.ACCEPTED
    assert second is not None and second.status is Status.IN_DOUBT and second.in_doubt_since is not None
