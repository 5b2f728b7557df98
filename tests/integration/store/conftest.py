"""Store fixtures: every test runs on SQLite and on a real PostgreSQL, each time on a freshly migrated database."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from devenv.postgres_server import PostgresUnavailable, spawn_postgres
from store import NewCommand, Store, make_engine, upgrade


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """TEST_POSTGRES_URL if set, else a cluster spawned for this session (never the machine's own on 5432)."""
    if os.environ.get("TEST_POSTGRES_URL"):
        yield os.environ["TEST_POSTGRES_URL"]
        return
    try:
        server = spawn_postgres()
    except PostgresUnavailable as exc:
        pytest.skip(f"PostgreSQL variant skipped: {exc}")
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database: a SQLite file, or a fresh PostgreSQL schema (search_path set in the URL)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
        return
    base = make_url(request.getfixturevalue("postgres_url"))
    if base.drivername == "postgresql":
        base = base.set(drivername="postgresql+psycopg")
    schema = f"t_{uuid.uuid4().hex[:16]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield base.update_query_dict({"options": f"-csearch_path={schema} -clock_timeout=20s"}).render_as_string(
            hide_password=False
        )
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """A migrated database."""
    engine = make_engine(database_url)
    upgrade(engine)
    yield engine
    engine.dispose()


class FakeClock:
    """A clock the test moves; each reading is 1 ms after the previous one, so order by time is well defined."""

    def __init__(self) -> None:
        self.now = datetime(2024, 5, 1, 8, 0, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(milliseconds=1)
        return self.now

    def advance(self, seconds: float) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(engine: Engine, clock: FakeClock) -> Store:
    return Store(engine, clock=clock)


def new_command(**overrides: object) -> NewCommand:
    """A valid confirmation command; override any field."""
    fields: dict[str, object] = {
        "type": "operation.confirm",
        "requested_by": "supervisor1",
        "role": "Supervisor",
        "target_type": "ProductionOrder",
        "target_id": "1000001",
        "payload": {"operation": "0010", "yield": {"quantity": "5", "unit": "PC"}},
        "idempotency_key": str(uuid.uuid4()),
        "attributes": {"WorkCenter": ["WC-ASSY"]},
        "correlation_id": "corr-1",
    }
    fields.update(overrides)
    return NewCommand(**fields)  # type: ignore[arg-type]


@pytest.fixture
def make_command() -> Callable[..., NewCommand]:
    return new_command
