"""Alembic environment: runs on the connection that store.migrate hands over (no alembic.ini, no URL here)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from store.models import Base

connection = context.config.attributes.get("connection")
if not isinstance(connection, Connection):
    raise RuntimeError("run migrations through store.migrate (python -m store upgrade), not the alembic CLI")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    # SQLite cannot ALTER most things in place; batch mode rebuilds tables for future migrations.
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
