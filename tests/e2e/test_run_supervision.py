"""The run command restarts a child that dies, says so, and Ctrl-C still stops everything."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from devenv.redis_server import free_port
from tests.e2e.test_run_command import _alive, _descendants
from tests.e2e.writeback_env import poll

ROOT = Path(__file__).resolve().parents[2]


def _workers(launcher: int) -> list[int]:
    """Descendants of the launcher running `python -m workers` (the worker, not the watchdog)."""
    found = []
    for pid in _descendants(launcher):
        try:
            args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[:-1]
        except OSError:
            continue
        if args[1:] == [b"-m", b"workers"] and _alive(pid):
            found.append(pid)
    return found


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc").exists(), reason="process tree is read from /proc")
def test_a_killed_worker_is_restarted_and_ctrl_c_still_stops_everything(tmp_path: Path) -> None:
    port, mock_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "SAP_URL", "DATABASE_URL")}
    env.update(PORT=str(port), MOCK_SAP_PORT=str(mock_port), DATABASE_URL=f"sqlite:///{tmp_path / 'run.db'}")
    env.update(APPROUTER_PORT="0")  # the router is test_run_command's; here it would only cost start-up time
    log = tmp_path / "run.log"
    with open(log, "wb") as sink:
        launcher = subprocess.Popen(
            [sys.executable, "-m", "devenv.run"], cwd=ROOT, env=env, stdout=sink, stderr=subprocess.STDOUT
        )
    try:

        def ready() -> bool:
            try:
                return requests.get(f"http://127.0.0.1:{port}/health/ready", timeout=5).status_code == 200
            except requests.RequestException:
                return launcher.poll() is not None  # let the assertion below say why

        poll(ready, 120, "the run command to be ready", interval=0.5)
        assert launcher.poll() is None, log.read_text()
        (first,) = poll(lambda: _workers(launcher.pid), 30, "the worker process")

        os.kill(first, signal.SIGKILL)
        restarted = poll(
            lambda: re.search(r"run: worker restarted \(pid (\d+)", log.read_text()),
            30,
            "the run command to restart the worker",
        )
        text = log.read_text()
        assert re.search(
            r"run: worker exited with status -9 \(SIGKILL\) after \d+s; restarting it in .+ \(restart 1\)", text
        )
        second = int(restarted.group(1))
        assert second != first and second in _workers(launcher.pid)
        time.sleep(2)
        assert _alive(second), log.read_text()  # it came up for good, not into a crash loop
        assert launcher.poll() is None

        processes = _descendants(launcher.pid)
        launcher.send_signal(signal.SIGINT)
        launcher.wait(timeout=60)
    finally:
        if launcher.poll() is None:
            launcher.kill()
    text = log.read_text()
    assert launcher.returncode == 0, text
    assert "all processes stopped" in text
    assert text.count("restarted (pid") == 1  # only the worker, once
    time.sleep(0.5)
    assert not [pid for pid in processes if _alive(pid)], text
