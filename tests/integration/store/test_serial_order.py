"""Commands of one serialisation key start one at a time and, for the worker (`in_order`), in accept order."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta

import pytest

from store import NewCommand, SerialKeyBusy, Status, Store
from tests.integration.store.conftest import FakeClock

MakeCommand = Callable[..., NewCommand]
TRANSIENT = {"kind": "unavailable", "status": 503, "message": "Service temporarily unavailable"}


def test_an_older_waiting_command_goes_first(store: Store, make_command: MakeCommand) -> None:
    first, second, third = (store.accept(make_command())[0] for _ in range(3))
    other_order, _ = store.accept(make_command(target_id="1000002"))

    with pytest.raises(SerialKeyBusy) as busy:
        store.start_attempt(third.id, in_order=True)
    assert busy.value.running_id in (first.id, second.id)
    assert store.get(third.id).status is Status.ACCEPTED  # type: ignore[union-attr]
    assert store.start_attempt(other_order.id, in_order=True) is not None  # another order does not wait
    assert store.next_in_line(first.serial_key) == first.id

    assert store.start_attempt(first.id, in_order=True) is not None
    assert store.next_in_line(first.serial_key) is None  # one is running
    store.succeed(first.id)
    assert store.next_in_line(first.serial_key) == second.id
    with pytest.raises(SerialKeyBusy):
        store.start_attempt(third.id, in_order=True)
    assert store.start_attempt(second.id, in_order=True) is not None


def test_a_retry_waiting_out_its_back_off_lets_the_later_ones_go_ahead(
    store: Store, make_command: MakeCommand, clock: FakeClock
) -> None:
    first, second, third = (store.accept(make_command())[0] for _ in range(3))
    store.start_attempt(first.id, in_order=True)
    store.fail_transient(first.id, error=TRANSIENT, next_attempt_at=clock.now + timedelta(seconds=30))

    assert store.next_in_line(first.serial_key) == second.id
    assert store.start_attempt(second.id, in_order=True) is not None
    store.succeed(second.id)
    clock.advance(30)  # the retry is due: it goes before the commands accepted after it
    assert store.next_in_line(first.serial_key) == first.id
    with pytest.raises(SerialKeyBusy) as busy:
        store.start_attempt(third.id, in_order=True)
    assert busy.value.running_id == first.id
    assert store.start_attempt(first.id, in_order=True) is not None
    store.end(first.id, "dead", error=TRANSIENT, write_not_applied=True)
    assert store.next_in_line(first.serial_key) == third.id  # a dead letter holds nothing back
    assert store.start_attempt(third.id, in_order=True) is not None


def test_the_command_in_doubt_keeps_the_key_from_an_older_requeued_one(
    store: Store, make_command: MakeCommand, clock: FakeClock
) -> None:
    older, newer = (store.accept(make_command())[0] for _ in range(2))
    store.start_attempt(older.id, in_order=True)
    store.end(older.id, "dead", error=TRANSIENT, write_not_applied=True)
    store.start_attempt(newer.id, in_order=True, actor="worker@a:1")
    store.sending(newer.id, "worker@a:1")
    store.in_doubt(newer.id, error=None, next_check_at=clock.now, actor="worker@a:1")
    store.requeue(older.id, admin="ops")

    with pytest.raises(SerialKeyBusy) as busy:  # older, but the one in doubt may still land in SAP
        store.start_attempt(older.id, in_order=True)
    assert busy.value.running_id == newer.id
    assert store.next_in_line(older.serial_key) is None
    assert store.start_attempt(newer.id, in_order=True) is not None  # and it is not held back: no deadlock
    store.succeed(newer.id)
    assert store.next_in_line(older.serial_key) == older.id


def test_racing_workers_start_only_the_oldest(store: Store, make_command: MakeCommand) -> None:
    commands = [store.accept(make_command())[0] for _ in range(4)]
    barrier = threading.Barrier(len(commands))
    started: list[str] = []

    def start(command_id: str) -> None:
        barrier.wait()
        try:
            if store.start_attempt(command_id, in_order=True) is not None:
                started.append(command_id)
        except SerialKeyBusy:
            pass

    threads = [threading.Thread(target=start, args=(c.id,)) for c in reversed(commands)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert started == [commands[0].id]
