"""The audit trail: filters and paging, an unbroken chain under concurrent writers, and tampering detected."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import threading
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from store import AuditEvent, NewCommand, Store, VerifyResult
from store.audit import hashed_fields
from store.canonical import chain_hash
from store.models import AuditRow
from tests.integration.store.conftest import FakeClock

ROOT = Path(__file__).resolve().parents[3]
MakeCommand = Callable[..., NewCommand]


def make_trail(store: Store, make_command: MakeCommand) -> list[AuditEvent]:
    """Eight events for two users and two orders, oldest first."""
    a, _ = store.accept(make_command(requested_by="alice", target_id="1"))  # 1
    b, _ = store.accept(make_command(requested_by="bob", target_id="2"))  # 2
    store.start_attempt(a.id)  # 3
    store.succeed(a.id, sap_status=201, duration_ms=90)  # 4
    store.start_attempt(b.id)  # 5
    store.end(b.id, "dead", error={"status": 503, "message": "down"})  # 6
    store.requeue(b.id, admin="admin1")  # 7
    store.append(event="settings_changed", actor="admin1", role="IntegrationAdmin", detail={"retries": 5})  # 8
    events = list(reversed(store.list_audit(limit=100).items))
    assert [e.id for e in events] == list(range(1, 9))
    return events


def test_filters_and_paging(store: Store, make_command: MakeCommand, clock: FakeClock) -> None:
    events = make_trail(store, make_command)
    ids = lambda page: [e.id for e in page.items]  # noqa: E731

    assert ids(store.list_audit(user="alice")) == [4, 3, 1]
    assert ids(store.list_audit(user="bob")) == [7, 6, 5, 2]  # on whose behalf, too
    assert ids(store.list_audit(user="admin1")) == [8, 7]  # who acted
    assert ids(store.list_audit(object="ProductionOrder:2")) == [7, 6, 5, 2]
    assert ids(store.list_audit(since=events[2].at, until=events[5].at)) == [5, 4, 3]
    assert ids(store.list_audit(user="bob", since=events[5].at)) == [7, 6]

    pages, cursor = [], None
    while True:
        page = store.list_audit(limit=3, cursor=cursor)
        pages.append(ids(page))
        if not (cursor := page.next_cursor):
            break
    assert pages == [[8, 7, 6], [5, 4, 3], [2, 1]]
    first_page = store.list_audit(user="bob", limit=2)
    assert ids(first_page) == [7, 6]
    assert ids(store.list_audit(user="bob", limit=2, cursor=first_page.next_cursor)) == [5, 2]

    admin = events[7]
    assert (admin.command_id, admin.object, admin.detail) == (None, None, {"retries": 5})


def test_the_chain_links_every_event(store: Store, make_command: MakeCommand) -> None:
    events = make_trail(store, make_command)
    assert events[0].prev_hash == "0" * 64
    for previous, event in zip(events, events[1:], strict=False):
        assert event.prev_hash == previous.hash
    assert store.verify_chain() == VerifyResult(ok=True, checked=8)


def test_concurrent_writers_keep_one_unbroken_chain(store: Store, make_command: MakeCommand) -> None:
    writers, per_writer = 6, 8
    barrier = threading.Barrier(writers)
    errors: list[BaseException] = []

    def write(n: int) -> None:
        barrier.wait()
        try:
            for i in range(per_writer):
                if i % 2:
                    store.append(event="note", actor=f"writer-{n}", detail={"i": i})
                else:
                    command, _ = store.accept(make_command(requested_by=f"writer-{n}", target_id=f"{n}-{i}"))
                    store.start_attempt(command.id)
        except BaseException as exc:  # noqa: BLE001 - surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    expected = writers * (per_writer // 2) * 3  # each even step: accepted + attempt_started; each odd: one note
    assert store.verify_chain().ok
    assert store.verify_chain().checked == expected
    events = store.list_audit(limit=500).items
    assert sorted(e.id for e in events) == list(range(1, expected + 1))


def test_the_database_refuses_to_change_audit_rows(engine: Engine, store: Store, make_command: MakeCommand) -> None:
    make_trail(store, make_command)
    statements = [
        "UPDATE audit_events SET sap_message = 'edited' WHERE id = 3",
        "DELETE FROM audit_events WHERE id = 3",
        "DELETE FROM audit_events",
        "UPDATE audit_chain_head SET last_id = 2",
        "DELETE FROM audit_chain_head",
    ]
    if engine.dialect.name == "postgresql":
        statements.append("TRUNCATE audit_events")
    for statement in statements:
        with pytest.raises(DBAPIError, match="append-only|only moves forward"), engine.begin() as connection:
            connection.execute(text(statement))
    assert store.verify_chain().ok and store.verify_chain().checked == 8


def tamper(engine: Engine, *statements: str, **params: object) -> None:
    """Change the trail behind the store's back: what an intruder with table-owner rights could do."""
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text("ALTER TABLE audit_events DISABLE TRIGGER USER"))
            connection.execute(text("ALTER TABLE audit_chain_head DISABLE TRIGGER USER"))
        else:
            for trigger in ("audit_events_no_update", "audit_events_no_delete", "audit_chain_head_forward_only"):
                connection.execute(text(f"DROP TRIGGER {trigger}"))
        for statement in statements:
            connection.execute(text(statement), params)
        if engine.dialect.name == "postgresql":
            connection.execute(text("ALTER TABLE audit_events ENABLE TRIGGER USER"))
            connection.execute(text("ALTER TABLE audit_chain_head ENABLE TRIGGER USER"))


def rehashed(event: AuditEvent, **changes: object) -> tuple[AuditRow, str]:
    """The event with `changes` and a hash recomputed for them, as a careful forger would."""
    fields = {k: v for k, v in dataclasses.asdict(event).items() if k != "hash"}
    row = AuditRow(**{**fields, **changes})
    return row, chain_hash(row.prev_hash, hashed_fields(row))


def test_altered_entry_is_named(engine: Engine, store: Store, make_command: MakeCommand) -> None:
    make_trail(store, make_command)
    tamper(engine, "UPDATE audit_events SET sap_status = 200 WHERE id = 6")
    result = store.verify_chain()
    assert (result.ok, result.first_broken_id, result.checked) == (False, 6, 5)
    assert "altered" in str(result.reason)


def test_rewritten_entry_with_a_fresh_hash_breaks_the_next_link(
    engine: Engine, store: Store, make_command: MakeCommand
) -> None:
    events = make_trail(store, make_command)
    _, forged_hash = rehashed(events[3], actor="mallory")
    tamper(engine, "UPDATE audit_events SET actor = 'mallory', hash = :h WHERE id = 4", h=forged_hash)
    result = store.verify_chain()
    assert (result.ok, result.first_broken_id) == (False, 5)
    assert "prev_hash" in str(result.reason)


def test_deleted_entry_is_named(engine: Engine, store: Store, make_command: MakeCommand) -> None:
    make_trail(store, make_command)
    tamper(engine, "DELETE FROM audit_events WHERE id = 3")
    result = store.verify_chain()
    assert (result.ok, result.first_broken_id) == (False, 3)
    assert "missing" in str(result.reason)


def test_cut_off_tail_is_detected(engine: Engine, store: Store, make_command: MakeCommand) -> None:
    make_trail(store, make_command)
    tamper(engine, "DELETE FROM audit_events WHERE id >= 7")
    result = store.verify_chain()
    assert (result.ok, result.first_broken_id, result.checked) == (False, 7, 6)


def test_forged_append_is_detected(engine: Engine, store: Store, make_command: MakeCommand, clock: FakeClock) -> None:
    events = make_trail(store, make_command)
    forged, forged_hash = rehashed(
        events[-1], id=9, at=clock.now + timedelta(seconds=1), prev_hash=events[-1].hash, actor="mallory"
    )
    tamper(
        engine,
        "INSERT INTO audit_events (id, at, event, actor, prev_hash, hash, detail, role)"
        " VALUES (:id, :at, :event, :actor, :prev, :h, :detail, :role)",
        id=9,
        at=forged.at.replace(tzinfo=None) if engine.dialect.name == "sqlite" else forged.at,
        event=forged.event,
        actor="mallory",
        prev=forged.prev_hash,
        h=forged_hash,
        detail='{"retries": 5}',
        role="IntegrationAdmin",
    )
    result = store.verify_chain()
    assert (result.ok, result.first_broken_id) == (False, 9)
    assert "chain head" in str(result.reason)


def test_verify_audit_cli(engine: Engine, database_url: str, store: Store, make_command: MakeCommand) -> None:
    make_trail(store, make_command)

    def verify_audit() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "store", "--database-url", database_url, "verify-audit"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )

    ok = verify_audit()
    assert ok.returncode == 0, ok.stderr
    assert "audit trail OK: 8 entries verified" in ok.stdout
    tamper(engine, "UPDATE audit_events SET sap_message = 'all good' WHERE id = 6")
    broken = verify_audit()
    assert broken.returncode == 1
    assert "BROKEN at entry 6" in broken.stderr and "altered" in broken.stderr
