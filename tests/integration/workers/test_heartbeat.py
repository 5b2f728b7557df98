"""The heartbeat and the reconciler against a real store and Redis: live commands kept, dead ones reclaimed."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Collection

import pytest
import redis
from rq import Queue, SimpleWorker, Worker
from sqlalchemy.exc import OperationalError

from devenv.redis_server import free_port
from store import Status, Store
from tests.conftest import MockSap
from tests.integration.workers.conftest import accept, confirm_payload, released_operation, supervisor_attributes
from workers import queues
from workers.bootstrap import WorkerContext
from workers.heartbeat import HandBackOnStop, HeartbeatThread, RqRegistrationThread, beating, stale_after
from workers.reconciler import ReconcilerThread, reconcile_once


def _fast(context: WorkerContext, interval: float) -> WorkerContext:
    return dataclasses.replace(context, settings=context.settings.replace(worker_heartbeat_interval=interval))


def _running(context: WorkerContext, sap: MockSap, *, skip: int = 0, runner: str | None = None) -> str:
    """A command in `running`, started by `runner` (this context's worker unless told)."""
    operation = released_operation(sap, skip=skip)
    command_id = accept(
        context,
        "operation.confirm",
        confirm_payload(operation),
        user="SUP_" + operation["WorkCenter"],
        role="Supervisor",
        target=("ProductionOrder", operation["ManufacturingOrder"]),
        attributes=supervisor_attributes(operation),
    ).id
    assert context.store.start_attempt(command_id, actor=runner or context.name) is not None
    return command_id


def _status(context: WorkerContext, command_id: str) -> Status:
    command = context.store.get(command_id)
    assert command is not None
    return command.status


def test_a_beating_worker_keeps_its_command_and_a_silent_one_loses_it_within_two_intervals(
    context: WorkerContext, trusting_sap: MockSap
) -> None:
    fast = _fast(context, 0.3)  # stale after 0.45 s
    command_id = _running(fast, trusting_sap)
    heartbeat = HeartbeatThread(fast)
    with beating(command_id):
        heartbeat.start()
        try:
            until = time.monotonic() + 1.5  # five intervals: three times the stale threshold
            while time.monotonic() < until:
                assert reconcile_once(fast) == 0
                time.sleep(0.05)
        finally:
            heartbeat.stop()
        silent_since = time.monotonic()  # the worker "dies" with its command still running
        assert heartbeat.beats >= 3 and _status(fast, command_id) == Status.RUNNING
        while reconcile_once(fast) == 0:
            assert time.monotonic() - silent_since < 2 * 0.3 + 1.0, "never reclaimed"
            time.sleep(0.02)
    # Nothing had been sent to SAP: handed back as accepted, to be started again.
    assert _status(fast, command_id) == Status.ACCEPTED


def test_a_stopping_worker_hands_back_its_unfinished_command_after_the_grace_and_exits(
    context: WorkerContext, trusting_sap: MockSap
) -> None:
    """SIGTERM (a deploy, `cf scale`) with a job still in SAP after WORKER_STOP_GRACE: the command is handed back
    at once, in doubt since its write had left, not after the heartbeat's 1.5 intervals; the process ends."""
    quick = dataclasses.replace(context, settings=context.settings.replace(worker_stop_grace=0.2))
    mine = _running(quick, trusting_sap)
    quick.store.sending(mine, quick.name)
    theirs = _running(quick, trusting_sap, skip=40, runner="worker@elsewhere:1")
    stopping, exits = threading.Event(), []
    with beating(mine):
        hand_back = HandBackOnStop(quick, stopping, exit=exits.append)
        hand_back.start()
        assert reconcile_once(quick) == 0  # not asked to stop: its heartbeat is fresh, nothing is reclaimed
        stopping.set()
        hand_back.join(5)
    assert exits == [0]
    assert reconcile_once(quick) == 1
    assert _status(quick, mine) == Status.IN_DOUBT  # the next attempt asks SAP before it writes again
    assert _status(quick, theirs) == Status.RUNNING  # another worker's command is not ours to hand back


def test_a_worker_whose_job_ended_within_the_grace_hands_back_nothing(context: WorkerContext) -> None:
    stopping, exits = threading.Event(), []
    quick = dataclasses.replace(context, settings=context.settings.replace(worker_stop_grace=0.05))
    hand_back = HandBackOnStop(quick, stopping, exit=exits.append)
    hand_back.start()
    stopping.set()
    hand_back.join(5)
    assert exits == []  # RQ's warm shutdown ends the process itself


def test_the_heartbeat_marks_only_this_workers_running_commands(context: WorkerContext, trusting_sap: MockSap) -> None:
    mine = _running(context, trusting_sap)
    theirs = _running(context, trusting_sap, skip=40, runner="worker@elsewhere:1")
    before = {i: context.store.get(i) for i in (mine, theirs)}
    time.sleep(0.01)
    with beating(mine), beating(theirs):
        assert HeartbeatThread(context).beat()
    after = {i: context.store.get(i) for i in (mine, theirs)}
    assert after[mine].heartbeat_at > before[mine].heartbeat_at  # type: ignore[operator, union-attr]
    assert after[theirs].heartbeat_at == before[theirs].heartbeat_at  # type: ignore[union-attr]


class _StoreAway:
    """The real store, except that its first `failures` heartbeats fail as if the database were unreachable."""

    def __init__(self, store: Store, failures: int) -> None:
        self._store = store
        self.failures = failures
        self.calls = 0

    def heartbeat(self, runner: str, command_ids: Collection[str]) -> int:
        self.calls += 1
        if self.calls <= self.failures:
            raise OperationalError("UPDATE writeback_commands", {}, Exception("could not connect to server"))
        return self._store.heartbeat(runner, command_ids)


def test_the_heartbeat_outlives_the_database_being_away(context: WorkerContext, trusting_sap: MockSap) -> None:
    command_id = _running(context, trusting_sap)
    store = _StoreAway(context.store, failures=3)
    away = dataclasses.replace(_fast(context, 0.4), store=store)  # type: ignore[arg-type]
    heartbeat = HeartbeatThread(away)
    before = context.store.get(command_id)
    with beating(command_id):
        heartbeat.start()
        try:
            deadline = time.monotonic() + 10
            while heartbeat.beats < 2 and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            heartbeat.stop()
    assert heartbeat.beats >= 2, "the heartbeat stopped after the failures"
    after = context.store.get(command_id)
    assert after.heartbeat_at > before.heartbeat_at  # type: ignore[operator, union-attr]
    assert after.status == Status.RUNNING  # type: ignore[union-attr]


def test_a_failed_beat_is_retried_within_a_quarter_interval(context: WorkerContext, trusting_sap: MockSap) -> None:
    command_id = _running(context, trusting_sap)
    store = _StoreAway(context.store, failures=1)
    heartbeat = HeartbeatThread(dataclasses.replace(_fast(context, 2.0), store=store))  # type: ignore[arg-type]
    with beating(command_id):
        started = time.monotonic()
        heartbeat.start()
        try:
            while heartbeat.beats < 1 and time.monotonic() - started < 10:
                time.sleep(0.01)
        finally:
            heartbeat.stop()
    # The beat after the failure came 0.5 s later, not a whole interval (2 s): a blip must not age the heartbeat.
    assert heartbeat.beats == 1 and store.calls == 2
    assert time.monotonic() - started < 1.5


def test_an_rq_worker_that_redis_forgot_is_registered_again(context: WorkerContext) -> None:
    queue = Queue(queues.WRITEBACKS, connection=context.redis)
    worker = SimpleWorker([queue], connection=context.redis, name=context.name)
    registration = RqRegistrationThread(context.redis, interval=60)
    registration.attach(worker)
    registration.keep_registered()
    assert Worker.count(queue=queue) == 0  # not born yet: RQ's registration would refuse a name already taken
    worker.register_birth()
    assert Worker.count(queue=queue) == 1

    context.redis.flushdb()  # a Redis restarted empty, or flushed
    assert Worker.count(queue=queue) == 0
    registration.keep_registered()
    assert [w.name for w in Worker.all(queue=queue)] == [context.name]

    worker.register_death()
    registration.keep_registered()
    assert Worker.count(queue=queue) == 0  # a worker that said goodbye stays gone


def test_the_rq_registration_outlives_redis_being_away(context: WorkerContext) -> None:
    nowhere = redis.Redis.from_url(f"redis://127.0.0.1:{free_port()}/0")  # nothing listens there
    worker = SimpleWorker([Queue(queues.WRITEBACKS, connection=context.redis)], connection=context.redis)
    worker.register_birth()
    registration = RqRegistrationThread(nowhere, interval=0.05)
    registration.attach(worker)
    registration.start()
    try:
        time.sleep(0.5)  # ten checks, each failing to reach Redis
        assert registration.is_alive()
    finally:
        registration.stop()
        worker.register_death()
        nowhere.close()
    assert not registration.is_alive()


def test_after_the_store_was_away_running_commands_get_a_stale_period_to_beat_again(
    context: WorkerContext, trusting_sap: MockSap, monkeypatch: pytest.MonkeyPatch
) -> None:
    fast = _fast(context, 0.2)
    command_id = _running(fast, trusting_sap)
    time.sleep(stale_after(fast.settings) + 0.1)  # its worker has not beaten for longer than the threshold
    reconciler = ReconcilerThread(fast)  # passes run by hand

    def away(**_: object) -> None:
        raise OperationalError("SELECT", {}, Exception("could not connect to server"))

    monkeypatch.setattr(fast.store, "stranded", away)
    assert reconciler.pass_once() is None
    monkeypatch.undo()
    # The store answers again, but no worker could write a heartbeat meanwhile: they get a stale period first.
    assert reconciler.pass_once() == 0
    assert _status(fast, command_id) == Status.RUNNING
    time.sleep(stale_after(fast.settings) + 0.05)
    assert reconciler.pass_once() == 1
    assert _status(fast, command_id) == Status.ACCEPTED
