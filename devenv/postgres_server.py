"""A real PostgreSQL for tests: TEST_POSTGRES_URL if set, else a throwaway cluster spawned on a free port."""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from devenv.redis_server import free_port


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL binaries here, or the cluster would not start; the message says which."""


def postgres_bin_dir() -> Path | None:
    """The folder with initdb and postgres: from PATH, else the newest /usr/lib/postgresql/*/bin (Debian)."""
    found = shutil.which("initdb")
    if found and shutil.which("postgres"):
        return Path(found).resolve().parent
    candidates = [Path(p) for p in glob.glob("/usr/lib/postgresql/*/bin") if (Path(p) / "initdb").exists()]
    candidates.sort(key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0, reverse=True)
    return candidates[0] if candidates else None


def _run_as() -> dict[str, Any]:
    """Popen arguments that drop root: PostgreSQL refuses to run as root, so use the `postgres` user."""
    if os.geteuid() != 0:
        return {}
    try:
        user = pwd.getpwnam("postgres")
    except KeyError:
        raise PostgresUnavailable("running as root and there is no 'postgres' user to run PostgreSQL as") from None
    return {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}


@dataclass
class SpawnedPostgres:
    """A postgres child process with its own data folder; `url` is a superuser URL for its `postgres` database."""

    process: subprocess.Popen[bytes]
    port: int
    workdir: Path

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)  # "fast" shutdown: no waiting for clients to leave
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def log_tail(self, lines: int = 20) -> str:
        log = self.workdir / "postgres.log"
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:]) if log.exists() else ""


def spawn_postgres(port: int | None = None, timeout: float = 30.0) -> SpawnedPostgres:
    """initdb a cluster in a temp folder and start it on 127.0.0.1:`port` (its socket stays in that folder).

    Durability is switched off (fsync, full pages): the cluster lives for one test session.
    """
    bin_dir = postgres_bin_dir()
    if bin_dir is None:
        raise PostgresUnavailable("no initdb/postgres on PATH nor in /usr/lib/postgresql/*/bin")
    run_as = _run_as()
    workdir = Path(tempfile.mkdtemp(prefix="postgres-"))
    if run_as:
        os.chown(workdir, run_as["user"], run_as["group"])
    data = workdir / "data"
    initdb = subprocess.run(
        [str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-locale"]
        + ["--no-sync"],
        cwd=workdir,
        capture_output=True,
        **run_as,
    )
    if initdb.returncode != 0:
        shutil.rmtree(workdir, ignore_errors=True)
        raise PostgresUnavailable(f"initdb failed: {initdb.stderr.decode(errors='replace').strip()[-500:]}")

    port = port or free_port()
    settings = {
        "listen_addresses": "127.0.0.1",
        "unix_socket_directories": str(workdir),
        "fsync": "off",
        "synchronous_commit": "off",
        "full_page_writes": "off",
        "max_connections": "200",
    }
    args = [str(bin_dir / "postgres"), "-D", str(data), "-p", str(port)]
    for name, value in settings.items():
        args += ["-c", f"{name}={value}"]
    with open(workdir / "postgres.log", "wb") as log:
        if run_as:
            os.chown(log.name, run_as["user"], run_as["group"])
        process = subprocess.Popen(args, cwd=workdir, stdout=log, stderr=subprocess.STDOUT, **run_as)
    server = SpawnedPostgres(process=process, port=port, workdir=workdir)
    try:
        _wait_ready(server, timeout)
    except PostgresUnavailable:
        server.stop()
        raise
    return server


def _wait_ready(server: SpawnedPostgres, timeout: float) -> None:
    """Until a query answers: the port opens before recovery has finished ("the database system is starting up")."""
    deadline = time.monotonic() + timeout
    while True:
        if server.process.poll() is not None:
            raise PostgresUnavailable(f"postgres exited with {server.process.returncode}:\n{server.log_tail()}")
        with contextlib.suppress(psycopg.OperationalError):
            with psycopg.connect(host="127.0.0.1", port=server.port, user="postgres", connect_timeout=2) as conn:
                conn.execute("SELECT 1")
                return
        if time.monotonic() > deadline:
            raise PostgresUnavailable(f"postgres did not answer within {timeout:.0f}s:\n{server.log_tail()}")
        time.sleep(0.1)
