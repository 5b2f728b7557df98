"""`python3 dev.py run`: Redis (unless REDIS_URL is set), mock SAP (unless SAP_URL is set), the API and
one worker, on embedded defaults. Ctrl-C (or SIGTERM) stops every process it started."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import FrameType

import requests

from devenv.redis_server import SpawnedRedis, die_with_parent, spawn_redis, wait_for_port
from runtime.settings import DEV_ISSUER, from_env

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


def _remove_default_store() -> None:
    database = Path(from_env({}).database_url.removeprefix("sqlite:///"))
    for path in (database, database.with_name(database.name + "-wal"), database.with_name(database.name + "-shm")):
        path.unlink(missing_ok=True)


def _port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


class Launcher:
    """Starts children in their own process groups so that shutdown order is ours, not the terminal's."""

    def __init__(self) -> None:
        self.children: list[tuple[str, subprocess.Popen[bytes]]] = []
        self.redis: SpawnedRedis | None = None
        self.metrics_dir: str | None = None

    def start(self, name: str, args: list[str], env: dict[str, str]) -> None:
        process = subprocess.Popen(args, cwd=ROOT, env=env, start_new_session=True, preexec_fn=die_with_parent)
        self.children.append((name, process))

    def exited(self) -> tuple[str, int] | None:
        for name, process in self.children:
            if (code := process.poll()) is not None:
                return name, code
        return None

    def stop(self) -> None:
        for _, process in reversed(self.children):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        for name, process in reversed(self.children):
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                print(f"run: {name} did not stop in time; killing it", flush=True)
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        if self.redis:
            self.redis.stop()
        if self.metrics_dir:
            shutil.rmtree(self.metrics_dir, ignore_errors=True)


def _wait_ready(url: str, launcher: Launcher, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if crashed := launcher.exited():
            raise RuntimeError(f"{crashed[0]} exited with status {crashed[1]} during start-up")
        try:
            if requests.get(url, timeout=5).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"{url} did not answer 200 within {timeout:.0f}s")


def main() -> int:
    env = dict(os.environ)
    port = int(env.setdefault("PORT", "8080"))
    if not _port_is_free(port):
        print(f"run: port {port} is taken; set PORT to a free one", file=sys.stderr)
        return 2
    env.setdefault("APP_ENV", "development")
    launcher = Launcher()

    def on_signal(signum: int, _: FrameType | None) -> None:
        raise KeyboardInterrupt(signal.Signals(signum).name)

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, on_signal)

    try:
        if not env.get("REDIS_URL"):
            launcher.redis = spawn_redis()
            env["REDIS_URL"] = launcher.redis.url
        if not env.get("SAP_URL") and not env.get("DATABASE_URL"):
            # The mock SAP starts from its seed every run; a store remembering last run's writebacks would
            # disagree with it (a "succeeded" approval whose task is open again). Both start fresh.
            _remove_default_store()
        if not env.get("SAP_URL"):
            mock_port = int(env.get("MOCK_SAP_PORT", "8081"))
            if not _port_is_free(mock_port):
                print(f"run: port {mock_port} is taken; set MOCK_SAP_PORT or SAP_URL", file=sys.stderr)
                return 2
            env["SAP_URL"] = f"http://127.0.0.1:{mock_port}"
            # The mock trusts the dev identity provider, so the executive's inbox is read as the executive.
            jwks = f"http://127.0.0.1:{port}/dev-idp/token_keys"
            mock_args = ["--host", "127.0.0.1", "--port", str(mock_port), "--trusted-issuer", DEV_ISSUER]
            mock_args += ["--trusted-jwks-url", jwks]
            launcher.start("mock_sap", [PYTHON, "-m", "mock_sap", *mock_args], env)
            wait_for_port("127.0.0.1", mock_port, timeout=120)
        # Every process writes its metrics into one folder, so /metrics adds them up (prometheus multiprocess).
        launcher.metrics_dir = tempfile.mkdtemp(prefix="sapext-metrics-")
        env["PROMETHEUS_MULTIPROC_DIR"] = launcher.metrics_dir
        # The schema first: the API and the worker both expect the outbox and the audit trail to exist.
        subprocess.run([PYTHON, "-m", "store", "upgrade"], cwd=ROOT, env=env, check=True)
        launcher.start(
            "api",
            [PYTHON, "-m", "gunicorn", "-c", "gunicorn.conf.py", "--bind", f"127.0.0.1:{port}", "wsgi:app"],
            env,
        )
        launcher.start("worker", [PYTHON, "-m", "workers"], env)
        launcher.start("watchdog", [PYTHON, "-m", "workers", "watchdog"], env)
        base = f"http://127.0.0.1:{port}"
        _wait_ready(f"{base}/health/ready", launcher)
        print(_banner(base, env), flush=True)
        while not (crashed := launcher.exited()):
            time.sleep(0.5)
        print(f"run: {crashed[0]} exited with status {crashed[1]}; stopping the rest", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nrun: stopping ...", flush=True)
        return 0
    except (RuntimeError, TimeoutError, subprocess.CalledProcessError) as exc:
        print(f"run: {exc}; stopping the rest", file=sys.stderr)
        return 1
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)  # a second Ctrl-C must not cut the clean-up short
        launcher.stop()
        print("run: all processes stopped", flush=True)


def _banner(base: str, env: dict[str, str]) -> str:
    token = ".venv/bin/flask --app wsgi dev-token"
    return f"""
================================================================================
 SAP extension API is up
   API            {base}
   API docs       {base}/docs         (OpenAPI: {base}/openapi.json)
   Readiness      {base}/health/ready
   SAP (OData)    {env["SAP_URL"]}
   Redis          {env["REDIS_URL"]}

 A token per role (development identity provider), from another terminal:
   EXEC=$({token} --user EXEC_ANNA --role-collection Executive)
   PM=$({token} --user PM_1010 --role-collection PlantManager --attribute Plant=1010)
   SUP=$({token} --user SUP_ASSY1010 --role-collection Supervisor \\
         --attribute Plant=1010 --attribute WorkCenter=ASSY1010)
   ADMIN=$({token} --user OPS_ADMIN --role-collection IntegrationAdmin)
   curl -s -H "Authorization: Bearer $PM" {base}/api/v1/production-orders?limit=2

 Press Ctrl-C to stop everything.
================================================================================
"""


if __name__ == "__main__":
    sys.exit(main())
