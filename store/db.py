"""Engine construction and a connectivity check; SQLite by default, PostgreSQL in production."""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Connection, Engine, and_, create_engine, event, or_, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from store.canonical import decode_cursor, encode_cursor, iso_utc
from store.records import Page

# Execution option that marks a connection as about to write: on SQLite its transaction starts with
# BEGIN IMMEDIATE (takes the write lock up front) instead of a deferred BEGIN.
WRITE_OPTION = "store_write"
# How long a writer waits for its turn, like SQLite's busy timeout (connect_args["timeout"]) it stands in front of.
WRITE_WAIT = 30.0
MAX_PAGE = 500  # rows one list call returns at most
T = TypeVar("T")


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
        engine = create_engine(url, connect_args={"timeout": WRITE_WAIT})
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
            # Every commit reaches the disk before it returns, whatever the build's default (some builds use
            # NORMAL in WAL mode, which may lose the last commits on a power cut): an accepted writeback and a
            # write marked as sent must survive one.
            dbapi_connection.execute("PRAGMA synchronous=FULL")

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        write = connection.get_execution_options().get(WRITE_OPTION, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


class WriterQueue:
    """The writers of one SQLite file, in this process and in the others, take turns without sleeping in between.

    SQLite's busy handler polls the write lock with sleeps of 1, 2, 5, 10 ... 100 ms, so under a burst (the web
    tier's accepts beside a worker's transitions) a writer keeps sleeping long after the lock was released: the
    lock sits idle while requests wait. Our writers therefore queue before BEGIN IMMEDIATE: threads on a lock of
    this process, processes on an exclusive flock of `<database>.writers` polled every 0.2 ms; the database lock
    is then free whenever one of ours asks for it. Writers that do not queue (migrations, the sqlite3 shell)
    still meet SQLite's busy timeout. A process that dies in its turn loses the flock with its file descriptor.
    """

    POLL = 0.0002

    def __init__(self, path: Path, wait: float = WRITE_WAIT) -> None:
        self.path = path
        self.wait = wait
        self._threads = threading.Lock()
        self._fd: int | None = None
        self._pid = 0

    @contextlib.contextmanager
    def turn(self) -> Iterator[None]:
        deadline = time.monotonic() + self.wait
        if not self._threads.acquire(timeout=self.wait):
            raise TimeoutError(f"no turn to write {self.path} within {self.wait:g}s")
        try:
            fd = self._file()
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise TimeoutError(f"no turn to write {self.path} within {self.wait:g}s") from None
                    time.sleep(self.POLL)
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            self._threads.release()

    def _file(self) -> int:
        # One descriptor per process: a forked child (gunicorn's workers) must not share its parent's lock.
        if self._fd is None or self._pid != os.getpid():
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            self._pid = os.getpid()
        return self._fd


_queues: dict[str, WriterQueue] = {}
_queues_lock = threading.Lock()


def writer_turn(engine: Engine) -> AbstractContextManager[None]:
    """Wrap a write transaction on `engine` in this: its turn among the file's writers (SQLite), else nothing."""
    url = engine.url
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:" or url.query.get("uri"):
        return contextlib.nullcontext()
    path = os.path.realpath(url.database) + ".writers"
    with _queues_lock:
        queue = _queues.get(path)
        if queue is None:
            queue = _queues[path] = WriterQueue(Path(path))
    return queue.turn()


def ping(engine: Engine) -> None:
    """Raise unless the database answers a trivial query."""
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))


def utcnow() -> datetime:
    return datetime.now(UTC)


class Repository:
    """What every class of the store shares: its engine, a clock, and transactions (writes wait their turn)."""

    def __init__(self, engine: Engine, *, clock: Callable[[], datetime] = utcnow) -> None:
        self.engine = engine
        self._write_engine = engine.execution_options(**{WRITE_OPTION: True})
        self._clock = clock

    def _now(self) -> datetime:
        now = self._clock()
        if now.tzinfo is None:
            raise ValueError("the store's clock must return timezone-aware datetimes")
        return now.astimezone(UTC)

    @contextlib.contextmanager
    def _write_session(self) -> Iterator[Session]:
        """A write transaction, in its turn among the database's writers (see `WriterQueue`)."""
        with writer_turn(self.engine), Session(self._write_engine, expire_on_commit=False) as session, session.begin():
            yield session

    @contextlib.contextmanager
    def _read(self) -> Iterator[Session]:
        with Session(self.engine, expire_on_commit=False) as session, session.begin():
            yield session

    def _newest_first(
        self,
        model: Any,
        convert: Callable[[Any], T],
        conditions: list[ColumnElement[bool]],
        limit: int,
        cursor: str | None,
    ) -> Page[T]:
        """One page of `model`'s rows (with `created_at` and `id`) newest first, after `cursor`: keyset paging."""
        limit = page_limit(limit)
        if cursor is not None:
            created, last_id = decode_cursor(cursor, (str, str))
            created_at = datetime.fromisoformat(created)
            conditions = [
                *conditions,
                or_(model.created_at < created_at, and_(model.created_at == created_at, model.id < last_id)),
            ]
        query = select(model).where(*conditions).order_by(model.created_at.desc(), model.id.desc()).limit(limit + 1)
        with self._read() as session:
            rows = list(session.execute(query).scalars())
            items = [convert(row) for row in rows[:limit]]
        last = rows[limit - 1] if len(rows) > limit else None
        return Page(items, encode_cursor(iso_utc(last.created_at), last.id) if last is not None else None)


def page_limit(limit: int) -> int:
    """A page size within 1..MAX_PAGE (ValueError below 1)."""
    if limit < 1:
        raise ValueError("limit must be at least 1")
    return min(limit, MAX_PAGE)
