"""Engine construction and a connectivity check; SQLite by default, PostgreSQL in production."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url

# Execution option that marks a connection as about to write: on SQLite its transaction starts with
# BEGIN IMMEDIATE (takes the write lock up front) instead of a deferred BEGIN.
WRITE_OPTION = "store_write"


def make_engine(database_url: str) -> Engine:
    """An engine for `database_url`; nothing connects until first use.

    For a SQLite file the parent folder is created, so the embedded default works on a fresh clone; a new
    file is readable by its owner only.
    A bare `postgresql://` URL gets the psycopg 3 driver (the only one installed).
    """
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        in_memory = not url.database or url.database == ":memory:"
        if not in_memory and not url.query.get("uri"):
            _create_private(Path(str(url.database)))
        engine = create_engine(url, connect_args={"timeout": 30})
        _take_over_sqlite_transactions(engine, wal=not in_memory)
        return engine
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    return create_engine(url, pool_pre_ping=True)


def _create_private(path: Path) -> None:
    """The database file (0600) and any folder we make for it (0700): it holds the audit trail and payloads.

    SQLite gives its -wal and -shm files the database file's mode. Existing files and folders keep theirs.
    """
    missing = [parent for parent in (path.parent, *path.parent.parents) if not parent.exists()]
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=0o700)
        except FileExistsError:  # another process made it meanwhile
            continue
        folder.chmod(0o700)  # mkdir's mode is reduced by the umask; this is exact
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))  # an empty file is an empty database
    except FileExistsError:
        pass


def _take_over_sqlite_transactions(engine: Engine, wal: bool) -> None:
    """SQLAlchemy's recipe for pysqlite: we emit BEGIN ourselves, so transactions mean what they say.

    pysqlite's legacy mode starts no transaction for SELECT and DDL, and a deferred transaction that
    reads before it writes can fail with "database is locked" at the upgrade (the busy timeout does not
    help there). With BEGIN IMMEDIATE for writers, SQLite serialises them at BEGIN, and the busy timeout
    makes the others wait instead of failing.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # pysqlite must not emit BEGIN on its own
        if wal:
            # Readers do not block the writer nor the writer the readers (web + worker on one file).
            dbapi_connection.execute("PRAGMA journal_mode=WAL")

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        write = connection.get_execution_options().get(WRITE_OPTION, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def ping(engine: Engine) -> None:
    """Raise unless the database answers a trivial query."""
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))
