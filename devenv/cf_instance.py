"""One app instance of the local Cloud Foundry run: started, health-checked, restarted and stopped as Diego does."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import requests

from devenv.cf_manifest import App, HealthCheck, Process
from devenv.procs import exit_status
from devenv.redis_server import die_with_parent

# Diego's crash policy: the first crashes in a row are restarted at once, then after 30 s, doubling up to 16 min;
# an instance that stayed up for 5 minutes starts its count again.
IMMEDIATE_RESTARTS = 3
BACKOFF_FIRST = 30.0
BACKOFF_MAX = 960.0
CRASH_RESET_AFTER = 300.0
STARTUP_CHECK_INTERVAL = 0.5  # seconds between health checks until the first one passes
LIVENESS_INTERVAL = 30.0  # then Diego checks every 30 s; a failed check crashes the instance
OUTPUT_LOCK = threading.Lock()  # one instance's line never splits another's


def restart_delay(crashes: int) -> float:
    """Seconds before the restart after the `crashes`-th crash in a row."""
    if crashes <= IMMEDIATE_RESTARTS:
        return 0.0
    return min(BACKOFF_FIRST * 2.0 ** (crashes - IMMEDIATE_RESTARTS - 1), BACKOFF_MAX)


def group_alive(pgid: int) -> bool:
    """Whether any process of the group lives (zombies do not count: an orphan's reaper may be slow or absent)."""
    proc = Path("/proc")
    if not proc.exists():
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return False
        return True
    for stat in proc.glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


def healthy(check: HealthCheck, port: int | None) -> bool:
    """One health check of a live instance, as Diego runs it."""
    if check.type == "process" or port is None:
        return True
    if check.type == "port":
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=check.invocation_timeout):
                return True
        except OSError:
            return False
    try:
        url = f"http://127.0.0.1:{port}{check.endpoint}"
        return requests.get(url, timeout=check.invocation_timeout, allow_redirects=False).status_code == 200
    except requests.RequestException:
        return False


@dataclass
class Instance:
    """An instance of one process type: `bash -c <command>` in a process group of its own, in the app's folder."""

    app: App
    process: Process
    index: int
    port: int | None
    folder: Path  # its HOME and TMPDIR live here, fresh at every start (a new container)
    environment: Callable[[Instance], dict[str, str]] = field(repr=False)
    state: str = "down"  # starting, running, crashed; stopped at the end
    guid: str = ""
    popen: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    started: float = 0.0  # monotonic
    since: float = field(default_factory=time.time)  # wall clock of the last state change
    restarts: int = 0
    crashes: int = 0  # in a row
    restart_at: float = 0.0
    next_check: float = 0.0
    last_crash: str = ""
    killed: bool = False  # needed SIGKILL at stop

    @property
    def name(self) -> str:
        return f"{self.app.name}/{self.process.type}/{self.index}"

    @property
    def url(self) -> str | None:
        return f"http://127.0.0.1:{self.port}" if self.port is not None else None

    @property
    def pid(self) -> int | None:
        """The process group (bash's pid): `os.killpg(pid, sig)` signals the whole instance."""
        return self.popen.pid if self.popen is not None else None

    def start(self) -> None:
        self.guid = str(uuid.uuid4())
        shutil.rmtree(self.folder, ignore_errors=True)
        for sub in ("home", "tmp"):
            (self.folder / sub).mkdir(parents=True)
        self.popen = subprocess.Popen(
            ["bash", "-c", self.process.command],
            cwd=self.app.path,
            env=self.environment(self),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
        assert self.popen.stdout is not None
        threading.Thread(target=_pump, args=(self.popen.stdout, f"[{self.name}]"), daemon=True).start()
        self.started = self.next_check = time.monotonic()
        self._become("starting")

    def tick(self, now: float) -> str | None:
        """Advance the instance's life; returns what happened worth telling (a message), if anything."""
        if self.state == "crashed":
            if now < self.restart_at:
                return None
            self.restarts += 1
            self.start()
            return f"{self.name} restarted (restart {self.restarts})"
        if self.state not in ("starting", "running") or self.popen is None:
            return None
        code = self.popen.poll()
        if code is not None:
            return self._crash(f"exited with status {exit_status(code)}", now)
        if self.state == "starting" and now - self.started > self.process.health_check.timeout:
            return self._crash(f"not healthy within {self.process.health_check.timeout:g}s", now)
        if now < self.next_check:
            return None
        ok = healthy(self.process.health_check, self.port)
        if self.state == "starting":
            self.next_check = now + STARTUP_CHECK_INTERVAL
            if ok:
                self.next_check = now + LIVENESS_INTERVAL
                self._become("running")
                return f"{self.name} is running ({now - self.started:.1f}s)"
            return None
        self.next_check = now + LIVENESS_INTERVAL
        return None if ok else self._crash("failed its health check", now)

    def _crash(self, why: str, now: float) -> str:
        self.signal(signal.SIGKILL)  # what it leaves behind (gunicorn's workers) would hold its port
        if self.popen is not None:
            self.popen.wait()
        if now - self.started >= CRASH_RESET_AFTER:
            self.crashes = 0
        self.crashes += 1
        delay = restart_delay(self.crashes)
        self.restart_at = now + delay
        self.last_crash = why
        self._become("crashed")
        return f"{self.name} crashed: {why} after {now - self.started:.0f}s; restarting it in {delay:g}s"

    def _become(self, state: str) -> None:
        self.state, self.since = state, time.time()

    def signal(self, sig: int) -> None:
        if self.popen is None:
            return
        try:
            os.killpg(self.popen.pid, sig)
        except ProcessLookupError:
            pass

    def alive(self) -> bool:
        """Any process of the instance left (bash may be gone while gunicorn still finishes its requests)."""
        if self.popen is None:
            return False
        self.popen.poll()  # reaps bash, so it does not count as a zombie member of the group
        return group_alive(self.popen.pid)

    def stopped(self, killed: bool) -> None:
        self.killed = killed
        self._become("stopped")

    def as_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "guid": self.guid,
            "pid": self.pid,
            "port": self.port,
            "url": self.url,
            "state": self.state,
            "since": round(self.since, 3),
            "restarts": self.restarts,
            "last_crash": self.last_crash or None,
            "killed": self.killed,
        }


def _pump(stream: IO[bytes], prefix: str) -> None:
    """An instance's output, line by line with its name in front (like `cf logs`)."""
    for raw in iter(stream.readline, b""):
        line = raw.decode(errors="replace").rstrip("\n")
        with OUTPUT_LOCK:
            sys.stdout.write(f"{prefix} {line}\n")
            sys.stdout.flush()
    stream.close()
