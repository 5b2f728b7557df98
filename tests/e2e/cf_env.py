"""The local Cloud Foundry launcher (`python -m devenv.cf`) as the end-to-end tests drive it: its state file, tokens
from its XSUAA stand-in, and Cloud Foundry's stop checked (SIGTERM, no instance left for SIGKILL)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from app.dev_idp import mint_token
from devenv.cf import API, STOP_GRACE, xsuaa_settings
from devenv.cf_instance import group_alive
from devenv.postgres_server import postgres_bin_dir
from tests.e2e.writeback_env import poll

ROOT = Path(__file__).resolve().parents[2]
POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "")
needs_postgres = pytest.mark.skipif(
    not POSTGRES_URL and postgres_bin_dir() is None, reason="needs PostgreSQL (or TEST_POSTGRES_URL)"
)
STARTUP = 240.0  # seconds until every instance runs: the mock SAP builds its data first (slow on a busy machine)


def read_state(path: Path) -> dict[str, Any] | None:
    try:
        state: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError):  # not written yet
        return None
    return state


def all_instances(state: dict[str, Any]) -> list[dict[str, Any]]:
    return [i for app in state["apps"].values() for p in app["processes"].values() for i in p["instances"]]


@dataclass
class LocalCf:
    """A running launcher: its process, the state file it rewrites on every change, and its output."""

    process: subprocess.Popen[bytes]
    state_file: Path
    log: Path
    last: dict[str, Any] | None = None  # the newest state read

    def state(self) -> dict[str, Any]:
        """The launcher's state now (the last one read if the file is being replaced)."""
        self.last = read_state(self.state_file) or self.last
        assert self.last is not None, f"no state in {self.state_file}"
        return self.last

    @property
    def services(self) -> dict[str, Any]:
        services: dict[str, Any] = self.state()["services"]
        return services

    def instance(self, process_type: str, index: int, app: str = API) -> dict[str, Any]:
        instance: dict[str, Any] = self.state()["apps"][app]["processes"][process_type]["instances"][index]
        return instance

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def token(self, user: str, role_collections: list[str], attributes: dict[str, list[str]] | None = None) -> str:
        """A user token signed by the run's XSUAA stand-in, as `python3 dev.py cf token` prints it."""
        return mint_token(xsuaa_settings(self.services), user, role_collections, attributes or {})

    def wait_running(self, timeout: float = STARTUP) -> dict[str, Any]:
        def running() -> dict[str, Any] | None:
            assert self.process.poll() is None, (
                f"the launcher exited with {self.process.returncode}:\n{self.output()[-3000:]}"
            )
            current = read_state(self.state_file)
            return current if current and current["state"] == "running" else None

        state = poll(running, timeout, "every instance running", interval=0.5)
        assert state is not None  # poll returns a truthy value or fails
        self.last = state
        return state

    def stop(self, timeout: float) -> int:
        """Cloud Foundry's stop of everything (`cf stop`, Ctrl-C): SIGTERM to the launcher; its exit code."""
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the launcher still ran {timeout:g}s after SIGTERM:\n{self.output()[-3000:]}")


@contextlib.contextmanager
def local_cf(tmp_path: Path, *args: str) -> Iterator[LocalCf]:
    """`python -m devenv.cf ARGS` over PostgreSQL (TEST_POSTGRES_URL's server, else one it spawns), once every
    instance runs; whatever is left of it is killed on the way out."""
    state_file, log = tmp_path / "state.json", tmp_path / "cf.log"
    command = [sys.executable, "-m", "devenv.cf", *args, "--state", str(state_file)]
    command += ["--postgres-url", POSTGRES_URL] if POSTGRES_URL else []
    with open(log, "wb") as sink:
        process = subprocess.Popen(command, cwd=ROOT, stdout=sink, stderr=subprocess.STDOUT)
    cf = LocalCf(process, state_file, log)
    try:
        cf.wait_running()
        yield cf
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        last = read_state(state_file) or cf.last
        for instance in all_instances(last) if last else []:
            if instance["pid"] and group_alive(instance["pid"]):
                os.killpg(instance["pid"], signal.SIGKILL)


def assert_stopped_on_sigterm(cf: LocalCf, code: int) -> None:
    """The launcher ended cleanly and every instance stopped on SIGTERM within Cloud Foundry's grace."""
    output = cf.output()
    assert code == 0, output[-3000:]
    final = read_state(cf.state_file)
    assert final is not None and final["state"] == "stopped"
    stopped = all_instances(final)
    assert stopped and all(i["state"] == "stopped" and not i["killed"] for i in stopped), stopped
    assert "killed with SIGKILL" not in output
    assert not [i["pid"] for i in stopped if group_alive(i["pid"])]
    (took,) = re.findall(r"^cf: \d+ instances stopped on SIGTERM in ([\d.]+)s", output, re.MULTILINE)
    assert float(took) < STOP_GRACE
