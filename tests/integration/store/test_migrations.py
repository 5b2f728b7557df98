"""Migrations: an empty database gets the whole schema, and upgrading again changes nothing."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import inspect, text

from store import Store, make_engine, upgrade
from store.migrate import current_revision, head_revision
from tests.integration.store.conftest import new_command

ROOT = Path(__file__).resolve().parents[3]


def test_upgrade_on_empty_database_then_again_is_a_no_op(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        assert current_revision(engine) is None
        upgrade(engine)
        assert current_revision(engine) == head_revision() == "0004"
        tables = set(inspect(engine).get_table_names())
        assert {"writeback_commands", "audit_events", "audit_chain_head", "alembic_version"} <= tables
        upgrade(engine)  # second run: nothing to do, and no error
        assert current_revision(engine) == "0004"
        indexes = {ix["name"] for ix in inspect(engine).get_indexes("writeback_commands")}
        assert {"ix_writeback_commands_user_created", "ix_writeback_commands_status_updated"} <= indexes
    finally:
        engine.dispose()


def test_cli_upgrade_reads_database_url(tmp_path: Path) -> None:
    db = tmp_path / "sub" / "cli.db"
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{db}"}
    for _ in range(2):
        done = subprocess.run(
            [sys.executable, "-m", "store", "upgrade"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
        assert "revision 0004" in done.stdout
    current = subprocess.run(
        [sys.executable, "-m", "store", "current"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert current.returncode == 0 and "0004" in current.stdout


def test_concurrent_upgrades_both_succeed(database_url: str) -> None:
    """Web and worker instances may all run `upgrade` at start-up: one migrates, the others wait and find it done."""
    engine = make_engine(database_url)
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def run() -> None:
        barrier.wait()
        try:
            upgrade(engine)
        except BaseException as exc:  # noqa: BLE001 - surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=run, daemon=True) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    try:
        assert errors == []
        assert current_revision(engine) == "0004"
    finally:
        engine.dispose()


def test_0002_adds_a_nullable_traceparent_to_existing_commands(database_url: str) -> None:
    """A database at 0001 with commands in it upgrades in place; old commands have no traceparent."""
    engine = make_engine(database_url)
    try:
        upgrade(engine, "0001")
        assert "traceparent" not in {c["name"] for c in inspect(engine).get_columns("writeback_commands")}
        now = datetime.now(UTC)
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO writeback_commands (id, type, status, requested_by, role, attributes, target_type,"
                    " target_id, serial_key, payload, payload_hash, idempotency_key, attempts, created_at, updated_at)"
                    " VALUES ('old-1', 'operation.confirm', 'accepted', 'u', 'Supervisor', '{}', 'ProductionOrder',"
                    " '1', 'ProductionOrder:1', '{}', 'h', 'k', 0, :now, :now)"
                ),
                {"now": now if engine.dialect.name == "postgresql" else now.replace(tzinfo=None)},
            )
        upgrade(engine)
        assert current_revision(engine) == "0004"
        columns = {c["name"]: c for c in inspect(engine).get_columns("writeback_commands")}
        assert columns["traceparent"]["nullable"]
        store = Store(engine)
        old = store.get("old-1")
        assert old is not None and old.traceparent is None
        traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        new, created = store.accept(new_command(traceparent=traceparent))
        assert created and new.traceparent == traceparent
        assert store.get(new.id) == new
    finally:
        engine.dispose()
