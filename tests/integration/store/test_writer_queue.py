"""SQLite writers take turns through `<database>.writers`: across threads and processes, never both at once."""

from __future__ import annotations

import contextlib
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from store.db import WriterQueue, make_engine, writer_turn

HOLD = """
import sys, time
from pathlib import Path
from store.db import WriterQueue
with WriterQueue(Path(sys.argv[1])).turn():
    print("holding", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def test_a_process_waits_for_another_process_turn(tmp_path: Path) -> None:
    lock = tmp_path / "store.db.writers"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(lock), "0.5"], stdout=subprocess.PIPE, cwd=Path(__file__).parents[3]
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == b"holding"
        started = time.monotonic()
        with WriterQueue(lock).turn():
            waited = time.monotonic() - started
        assert 0.2 < waited < 5
    finally:
        holder.wait(timeout=10)
    assert stat.S_IMODE(lock.stat().st_mode) & 0o077 == 0  # private, like the database beside it


def test_threads_of_one_process_take_turns(tmp_path: Path) -> None:
    queue = WriterQueue(tmp_path / "store.db.writers")
    inside = 0
    most = 0
    guard = threading.Lock()

    def write() -> None:
        nonlocal inside, most
        for _ in range(20):
            with queue.turn():
                with guard:
                    inside += 1
                    most = max(most, inside)
                time.sleep(0.001)
                with guard:
                    inside -= 1

    threads = [threading.Thread(target=write) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert most == 1


def test_no_turn_within_the_wait_is_an_error(tmp_path: Path) -> None:
    lock = tmp_path / "store.db.writers"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(lock), "3"], stdout=subprocess.PIPE, cwd=Path(__file__).parents[3]
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == b"holding"
        with pytest.raises(TimeoutError), WriterQueue(lock, wait=0.2).turn():
            pass
    finally:
        holder.wait(timeout=10)


def test_only_sqlite_files_queue(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    try:
        with writer_turn(engine):
            assert (tmp_path / "store.db.writers").exists()
    finally:
        engine.dispose()
    for url in ("sqlite://", "postgresql://nobody@127.0.0.1:1/none"):  # nothing connects to build the engine
        other = make_engine(url)
        assert isinstance(writer_turn(other), contextlib.nullcontext)
        other.dispose()
