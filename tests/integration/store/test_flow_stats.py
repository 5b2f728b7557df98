"""Store queries behind metrics and the health view: attempt outcomes in a window, last success per type."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from store import NewCommand, Store
from tests.integration.store.conftest import FakeClock

ERROR = {"status": 503, "message": "down"}


def test_attempt_outcomes_count_per_type_and_event_within_the_window(
    store: Store, clock: FakeClock, make_command: Callable[..., NewCommand]
) -> None:
    old, _ = store.accept(make_command(target_id="1"))
    store.start_attempt(old.id)
    store.end(old.id, "dead", error=ERROR)
    clock.advance(600)
    since = clock.now
    first, _ = store.accept(make_command(target_id="2"))
    store.start_attempt(first.id)
    store.fail_transient(first.id, error=ERROR, next_attempt_at=clock.now + timedelta(seconds=1))
    store.start_attempt(first.id)
    store.succeed(first.id)
    other, _ = store.accept(make_command(type="task.decision", target_id="3"))
    store.start_attempt(other.id)
    store.end(other.id, "conflict", error=ERROR)

    assert store.attempt_outcomes(since) == {
        ("operation.confirm", "attempt_failed"): 1,
        ("operation.confirm", "attempt_succeeded"): 1,
        ("task.decision", "conflict"): 1,
    }
    assert store.attempt_outcomes(since - timedelta(seconds=1200))[("operation.confirm", "dead")] == 1


def test_last_success_by_type(store: Store, clock: FakeClock, make_command: Callable[..., NewCommand]) -> None:
    assert store.last_success_by_type() == {}
    times = []
    for target in ("1", "2"):
        command, _ = store.accept(make_command(target_id=target))
        store.start_attempt(command.id)
        times.append(store.succeed(command.id).finished_at)
        clock.advance(60)
    failed, _ = store.accept(make_command(type="order.release", target_id="3"))
    store.start_attempt(failed.id)
    store.end(failed.id, "rejected", error=ERROR)
    assert store.last_success_by_type() == {"operation.confirm": times[-1]}
