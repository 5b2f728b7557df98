"""Engine construction and a connectivity check; SQLite by default, PostgreSQL in production."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url


def make_engine(database_url: str) -> Engine:
    """An engine for `database_url`; nothing connects until first use.

    For a SQLite file the parent folder is created, so the embedded default works on a fresh clone.
    """
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        return create_engine(url, connect_args={"timeout": 30})
    return create_engine(url, pool_pre_ping=True)


def ping(engine: Engine) -> None:
    """Raise unless the database answers a trivial query."""
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))
