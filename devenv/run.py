"""`python3 dev.py run`: Redis (unless REDIS_URL is set), mock SAP (unless SAP_URL is set), the API, one worker,
the watchdog and, with Node.js, SAP's application router in front (sign-in through the development identity
provider), on embedded defaults. A process that dies is restarted; Ctrl-C (or SIGTERM) stops them all.

DEV_BTP=true: SAP is reached as on SAP BTP, through mock_btp's Destination service (destinations S4HANA and
S4HANA_USER, bound in VCAP_SERVICES) and its Connectivity proxy (OnPremise, principal propagation for the inbox)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import requests

from devenv import approuter, btp
from devenv.procs import exit_status, ignore_stop_signals, interrupt_on_stop_signals, port_is_free
from devenv.redis_server import SpawnedRedis, die_with_parent, spawn_redis, wait_for_port
from runtime.settings import DEV_ISSUER, from_env

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


def _remove_default_store() -> None:
    database = Path(from_env({}).database_url.removeprefix("sqlite:///"))
    for suffix in ("", "-wal", "-shm", ".writers"):  # .writers: store.db's writer-queue lock file
        path = database.with_name(database.name + suffix)
        path.unlink(missing_ok=True)


# A child that dies within this many seconds of its start failed quickly; after GIVE_UP_AFTER quick failures
# in a row the run gives up (a crash loop, e.g. a bad setting, helps nobody by going on).
QUICK_FAILURE = 30.0
GIVE_UP_AFTER = 5
# Restart back-off: 0.5 s after a child that ran for a while, then doubling per quick failure, at most 10 s.
FIRST_DELAY = 0.5
MAX_DELAY = 10.0
# Said when a child starts again, where its restart is not invisible to the user.
RESTART_NOTES = {
    "redis": "it starts empty; the workers' reconcilers enqueue the accepted writebacks again",
    "mock_sap": "its data starts again from the seed",
}


class GaveUp(RuntimeError):
    """A child keeps dying right after it starts."""


@dataclass
class Child:
    """A supervised process: how to start it, the running one, and its restart history."""

    name: str
    spawn: Callable[[], subprocess.Popen[bytes]]
    process: subprocess.Popen[bytes]
    own_group: bool  # started in a process group of its own: signals go to the whole group
    started: float = field(default_factory=time.monotonic)
    restarts: int = 0
    quick_failures: int = 0  # in a row
    restart_at: float | None = None  # exited, waiting for its back-off

    def signal(self, sig: int) -> None:
        try:
            if self.own_group:
                os.killpg(self.process.pid, sig)
            else:
                self.process.send_signal(sig)
        except ProcessLookupError:
            pass


class Launcher:
    """Starts children in their own process groups so that shutdown order is ours, not the terminal's, and
    restarts any that dies (with back-off) until Ctrl-C."""

    def __init__(self, label: str = "run") -> None:
        self.label = label  # the prefix of its messages: which launcher speaks
        self.children: list[Child] = []
        self.redis: SpawnedRedis | None = None
        self.metrics_dir: str | None = None

    def start(self, name: str, args: list[str], env: dict[str, str], cwd: Path = ROOT) -> None:
        def spawn() -> subprocess.Popen[bytes]:
            return subprocess.Popen(args, cwd=cwd, env=env, start_new_session=True, preexec_fn=die_with_parent)

        self.children.append(Child(name, spawn, spawn(), own_group=True))

    def start_redis(self) -> str:
        """A Redis server of the run's own; restarted on the same port, so REDIS_URL stays right."""
        self.redis = spawn_redis()
        port = self.redis.port

        def spawn() -> subprocess.Popen[bytes]:
            if self.redis is not None:
                self.redis.stop()  # removes the dead server's work dir
            self.redis = spawn_redis(port=port)
            return self.redis.process

        self.children.append(Child("redis", spawn, self.redis.process, own_group=False))
        return self.redis.url

    def supervise(self) -> None:
        """Restart the children that exited, each after its back-off; `GaveUp` when one keeps dying."""
        for child in self.children:
            now = time.monotonic()
            if child.restart_at is None:
                code = child.process.poll()
                if code is None:
                    continue
                if child.own_group:
                    child.signal(signal.SIGKILL)  # what it leaves behind (gunicorn's workers) would hold its port
                self._schedule(child, f"exited with status {exit_status(code)} after {now - child.started:.0f}s", now)
            elif now >= child.restart_at:
                try:
                    child.process = child.spawn()
                except (OSError, TimeoutError) as exc:
                    child.started = now
                    self._schedule(child, f"could not be started ({exc})", now)
                    continue
                child.started, child.restart_at = now, None
                note = f"; {RESTART_NOTES[child.name]}" if child.name in RESTART_NOTES else ""
                restarted = f"{child.name} restarted (pid {child.process.pid}, restart {child.restarts}){note}"
                print(f"{self.label}: {restarted}", flush=True)

    def _schedule(self, child: Child, what: str, now: float) -> None:
        quick = now - child.started < QUICK_FAILURE
        child.quick_failures = child.quick_failures + 1 if quick else 0
        if child.quick_failures >= GIVE_UP_AFTER:
            raise GaveUp(
                f"{child.name} {what}; it failed {child.quick_failures} times in a row within {QUICK_FAILURE:.0f}s"
                f" of starting, giving up"
            )
        delay = min(FIRST_DELAY * 2**child.quick_failures, MAX_DELAY)
        child.restarts += 1
        child.restart_at = now + delay
        print(
            f"{self.label}: {child.name} {what}; restarting it in {delay:g}s (restart {child.restarts})",
            file=sys.stderr,
            flush=True,
        )

    def stop(self) -> None:
        # Redis last: the others record their shutdown in it.
        others = [c for c in reversed(self.children) if c.name != "redis"]
        self._stop([c for c in others if c.restart_at is None])
        self._stop([c for c in self.children if c.name == "redis" and c.restart_at is None])
        if self.redis:
            self.redis.stop()
        if self.metrics_dir:
            shutil.rmtree(self.metrics_dir, ignore_errors=True)

    def _stop(self, children: list[Child]) -> None:
        for child in children:
            if child.process.poll() is None:
                child.signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for child in children:
            try:
                child.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                print(f"{self.label}: {child.name} did not stop in time; killing it", flush=True)
                child.signal(signal.SIGKILL)
                child.process.wait()


def _wait_ready(url: str, launcher: Launcher, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        launcher.supervise()
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
    if not port_is_free(port):
        print(f"run: port {port} is taken; set PORT to a free one", file=sys.stderr)
        return 2
    env.setdefault("APP_ENV", "development")
    events_port = int(env.get("EVENTS_PORT", "8082"))  # the event stream's own process (app/event_stream.py)
    if not port_is_free(events_port):
        print(f"run: port {events_port} is taken; set EVENTS_PORT to a free one", file=sys.stderr)
        return 2
    env.setdefault("EVENTS_URL", f"http://127.0.0.1:{events_port}/api/v1/events")
    router_port = int(env.get("APPROUTER_PORT", "5000"))  # 0: no router (benchmarks, several stacks at once)
    with_router = router_port != 0 and approuter.installed() and from_env(env).dev_idp_enabled
    if with_router and not port_is_free(router_port):
        print(f"run: port {router_port} is taken; set APPROUTER_PORT to a free one", file=sys.stderr)
        return 2
    # DEV_BTP: mock_btp's config (with the destinations' credentials) lives in a folder of the run's own.
    btp_dir = tempfile.mkdtemp(prefix="sapext-btp-") if _dev_btp(env) else None
    mock_btp = None
    launcher = Launcher()
    interrupt_on_stop_signals()
    try:
        if not env.get("REDIS_URL"):
            env["REDIS_URL"] = launcher.start_redis()
        if not env.get("SAP_URL") and not env.get("DATABASE_URL"):
            # The mock SAP starts from its seed every run; a store remembering last run's writebacks would
            # disagree with it (a "succeeded" approval whose task is open again). Both start fresh.
            _remove_default_store()
        if not env.get("SAP_URL"):
            mock_port = int(env.get("MOCK_SAP_PORT", "8081"))
            if not port_is_free(mock_port):
                print(f"run: port {mock_port} is taken; set MOCK_SAP_PORT or SAP_URL", file=sys.stderr)
                return 2
            env["SAP_URL"] = f"http://127.0.0.1:{mock_port}"
            if btp_dir:
                mock_btp = btp.plan_mock_btp(Path(btp_dir), env["SAP_URL"], on_premise=True)
            # The mock trusts the dev identity provider, so the executive's inbox is read as the executive.
            jwks = f"http://127.0.0.1:{port}/dev-idp/token_keys"
            mock_args = ["--host", "127.0.0.1", "--port", str(mock_port), "--trusted-issuer", DEV_ISSUER]
            mock_args += ["--trusted-jwks-url", jwks]
            # Like an Event Mesh webhook subscription: the mock's business events go to the API's receiver.
            settings = from_env(env)
            mock_args += ["--event-webhook", f"http://127.0.0.1:{port}/api/v1/sap-events"]
            mock_args += ["--event-webhook-user", settings.sap_events_user]
            mock_args += ["--event-webhook-password", settings.sap_events_password]
            if mock_btp:  # principal propagation: the Cloud Connector's stand-in signs the user's token for SAP
                mock_args += btp.trust_args([(mock_btp.issuer, mock_btp.jwks_url)])
            launcher.start("mock_sap", [PYTHON, "-m", "mock_sap", *mock_args], env)
            wait_for_port("127.0.0.1", mock_port, timeout=120)
        if btp_dir:
            mock_btp = mock_btp or btp.plan_mock_btp(Path(btp_dir), env["SAP_URL"], on_premise=True)
            # It accepts the dev identity provider's users (and the worker's assertions, signed with its key).
            btp.start_mock_btp(launcher, mock_btp, [(DEV_ISSUER, f"http://127.0.0.1:{port}/dev-idp/token_keys")], env)
            env.update(btp.dev_btp_env(mock_btp))
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
        launcher.start("events", [PYTHON, "-m", "gunicorn", *events_server_args(events_port)], env)
        launcher.start("worker", [PYTHON, "-m", "workers"], env)
        launcher.start("watchdog", [PYTHON, "-m", "workers", "watchdog"], env)
        base = f"http://127.0.0.1:{port}"
        router = f"http://localhost:{router_port}" if with_router else None
        if with_router:
            router_env = approuter.bound_to_dev_idp(
                env, from_env(env), port=router_port, api_url=base, events_url=f"http://127.0.0.1:{events_port}"
            )
            launcher.start("approuter", approuter.command(), router_env, approuter.APPROUTER)
        _wait_ready(f"{base}/health/ready", launcher)
        print(_banner(base, env, router, mock_btp), flush=True)
        while True:
            launcher.supervise()
            time.sleep(0.5)
    except KeyboardInterrupt:
        print("\nrun: stopping ...", flush=True)
        return 0
    except (RuntimeError, TimeoutError, subprocess.CalledProcessError) as exc:
        print(f"run: {exc}; stopping the rest", file=sys.stderr)
        return 1
    finally:
        ignore_stop_signals()  # a second Ctrl-C must not cut the clean-up short
        launcher.stop()
        if btp_dir:
            shutil.rmtree(btp_dir, ignore_errors=True)
        print("run: all processes stopped", flush=True)


def events_server_args(port: int, host: str = "127.0.0.1") -> list[str]:
    """gunicorn's arguments for the event stream process on `port`."""
    return ["-c", "gunicorn_events.conf.py", "--bind", f"{host}:{port}", "app.event_stream:create_app()"]


def _dev_btp(env: dict[str, str]) -> bool:
    return env.get("DEV_BTP", "").strip().lower() in ("1", "true", "yes", "on")


def _banner(base: str, env: dict[str, str], router: str | None, mock_btp: btp.PlannedMockBtp | None = None) -> str:
    sap = env["SAP_URL"]
    if mock_btp:
        sap += f"   (through the Destination service {mock_btp.url} and the proxy {mock_btp.proxy_url})"
    token = ".venv/bin/flask --app wsgi dev-token"
    if router:
        sign_in = f"   Sign in        {router}   (SAP's application router; pick a user on the login page)"
    elif not approuter.installed():
        sign_in = f"   Sign in        not available: {approuter.NODE_MISSING}"
    else:
        sign_in = "   Sign in        no application router (APPROUTER_PORT=0, or JWKS_URL names your own IdP)"
    return f"""
================================================================================
 SAP extension API is up
{sign_in}
   Reference app  {f"{router}/app/   (through the router; or {base}/app/ directly)" if router else f"{base}/app/"}
   API            {base}
   Event stream   {env["EVENTS_URL"]}   (Server-Sent Events; the router serves it at /api/v1/events)
   API docs       {base}/docs         (OpenAPI: {base}/openapi.json)
   Readiness      {base}/health/ready
   SAP (OData)    {sap}
   Redis          {env["REDIS_URL"]}

 A token per role (development identity provider), from another terminal:
   EXEC=$({token} --user EXEC_ANNA --role-collection Executive)
   PM=$({token} --user PM_1010 --role-collection PlantManager --attribute Plant=1010)
   SUP=$({token} --user SUP_ASSY1010 --role-collection Supervisor \\
         --attribute Plant=1010 --attribute WorkCenter=ASSY1010)
   ADMIN=$({token} --user OPS_ADMIN --role-collection IntegrationAdmin)
   curl -s -H "Authorization: Bearer $PM" {base}/api/v1/production-orders?limit=2

 A process that dies is restarted (the log says which, and why). Press Ctrl-C to stop everything.
================================================================================
"""


if __name__ == "__main__":
    sys.exit(main())
