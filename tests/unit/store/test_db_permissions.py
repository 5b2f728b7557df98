"""A SQLite store we create is private to its owner: 0600 files, 0700 folders, whatever the umask."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from store import upgrade
from store.db import make_engine


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    previous = os.umask(0)  # the worst case: nothing masked off
    try:
        yield
    finally:
        os.umask(previous)


@pytest.mark.usefixtures("permissive_umask")
def test_a_fresh_database_and_its_folders_are_private(tmp_path: Path) -> None:
    database = tmp_path / "instance" / "nested" / "store.db"
    engine = make_engine(f"sqlite:///{database}")
    try:
        assert mode(tmp_path / "instance") == 0o700
        assert mode(tmp_path / "instance" / "nested") == 0o700
        assert mode(database) == 0o600
        upgrade(engine)  # real writes: SQLite adds its -wal and -shm files next to the database
        with engine.connect() as connection:
            assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            sidecars = [database.with_name(database.name + suffix) for suffix in ("-wal", "-shm")]
            assert all(path.exists() for path in sidecars)
            assert {path.name: mode(path) for path in sidecars} == {path.name: 0o600 for path in sidecars}
        assert mode(database) == 0o600
    finally:
        engine.dispose()


@pytest.mark.usefixtures("permissive_umask")
def test_an_existing_database_keeps_its_mode(tmp_path: Path) -> None:
    folder = tmp_path / "shared"
    folder.mkdir(mode=0o750)
    database = folder / "store.db"
    database.touch()
    database.chmod(0o640)  # an operator's choice, e.g. a backup group that may read it
    make_engine(f"sqlite:///{database}").dispose()
    assert (mode(folder), mode(database)) == (0o750, 0o640)


def test_in_memory_databases_create_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    make_engine("sqlite://").dispose()
    make_engine("sqlite:///:memory:").dispose()
    assert list(tmp_path.iterdir()) == []
