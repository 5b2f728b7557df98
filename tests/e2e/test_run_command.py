"""The README's run command brings every process up on embedded defaults; Ctrl-C leaves none behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from devenv import approuter
from devenv.redis_server import free_port, wait_for_port

ROOT = Path(__file__).resolve().parents[2]


def _descendants(pid: int) -> set[int]:
    """Every live descendant of `pid`, read from /proc (Linux)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc").exists(), reason="process tree is read from /proc")
def test_run_command_starts_everything_and_ctrl_c_stops_everything(tmp_path: Path) -> None:
    port, mock_port, router_port = free_port(), free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "SAP_URL", "DATABASE_URL")}
    env.update(PORT=str(port), MOCK_SAP_PORT=str(mock_port), DATABASE_URL=f"sqlite:///{tmp_path / 'run.db'}")
    env.update(APPROUTER_PORT=str(router_port))
    launcher = subprocess.Popen(
        [sys.executable, "-m", "devenv.run"], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 120
        ready = None
        while time.monotonic() < deadline and launcher.poll() is None:
            try:
                ready = requests.get(f"http://127.0.0.1:{port}/health/ready", timeout=5)
                if ready.status_code == 200:
                    break
            except requests.RequestException:  # not listening yet, or still booting
                pass
            time.sleep(0.5)
        assert ready is not None and ready.status_code == 200, ready.text if ready is not None else "no answer"
        assert ready.json()["checks"] == {"redis": "ok", "database": "ok", "sap": "ok"}
        assert requests.get(f"http://127.0.0.1:{mock_port}/mock-admin/health", timeout=5).status_code == 200
        if approuter.installed():  # with Node.js: the router is up and sends a browser to sign in
            wait_for_port("127.0.0.1", router_port, timeout=60)
            first = requests.get(f"http://127.0.0.1:{router_port}/", allow_redirects=False, timeout=10)
            assert first.status_code in (200, 302), first.text  # the router's page that starts the sign-in

        processes = _descendants(launcher.pid)
        assert len(processes) >= 4  # redis, mock SAP, gunicorn (+ its workers), RQ worker
        launcher.send_signal(signal.SIGINT)
        output, _ = launcher.communicate(timeout=60)
    finally:
        if launcher.poll() is None:
            launcher.kill()
    text = output.decode(errors="replace")
    assert launcher.returncode == 0, text
    assert "all processes stopped" in text
    assert f"http://127.0.0.1:{port}" in text  # the banner printed the URLs
    if approuter.installed():
        assert f"Sign in        http://localhost:{router_port}" in text
    else:
        assert "Node.js (with npm) is not installed" in text
    time.sleep(0.5)
    assert not [pid for pid in processes if _alive(pid)], text
