"""The embedded SQLite store commits durably: WAL, FULL synchronous (whatever the build's default), a busy timeout."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from store import upgrade
from store.db import WRITE_WAIT, make_engine


def test_every_connection_is_wal_full_sync_with_a_busy_timeout(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    try:
        upgrade(engine)
        with engine.connect() as connection:
            assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert connection.execute(text("PRAGMA synchronous")).scalar() == 2  # FULL
            assert connection.execute(text("PRAGMA busy_timeout")).scalar() == WRITE_WAIT * 1000
    finally:
        engine.dispose()
