"""Writeback throughput and latency: supervisor confirmations through the API and the workers, beside the same SAP
calls replayed straight to the mock.

Each scenario starts a stack of its own on free ports: mock SAP, Redis, a store (a SQLite file, the embedded default,
or a fresh PostgreSQL database), the API under gunicorn (as devenv/run.py starts it) and N `python -m workers`.
  (a) burst: BURST confirmations of 1 unit, POSTed by 8 client threads, each with its own Idempotency-Key, round-robin
      over one operation of each of ORDERS production orders at work centre ASSY1010 (commands of one order are
      applied one at a time, so one order would measure only that); from the first POST to the last `finished_at`.
  (b) baseline: the SAP calls those very commands made (read back from their audit events: method and path), replayed
      one after another on one keep-alive session, as one worker does. (a) and (b) alternate, ROUNDS times.
  (c) latency: confirmations POSTed at RATE/s for SECONDS (1 worker); from the 202 answer to `finished_at`.
  (d) RQ floor (1 worker): BURST no-op RQ jobs through one SimpleWorker, beside the same replay. With one RQ job
      per command (DESIGN.md), RQ's time plus the replayed SAP calls bound what any store or API could reach.
Run: .venv/bin/python bench/writeback_bench.py [--burst 300 --rate 20 --seconds 30 --workers 1,2,4]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.dev_idp import mint_token  # noqa: E402
from bench.processes import wait_until_ok  # noqa: E402
from bench.report import Result, machine, percentile, table  # noqa: E402
from devenv.postgres_server import SpawnedPostgres, spawn_postgres  # noqa: E402
from devenv.redis_server import SpawnedRedis, die_with_parent, free_port, spawn_redis  # noqa: E402
from runtime.settings import DEV_ISSUER, from_env  # noqa: E402
from store import Command, Store, upgrade  # noqa: E402

PYTHON = sys.executable
SUPERVISOR = "SUP_ASSY1010"
TECH = ("EXT_API_TECH", "tech-pass-1")
CLIENT_THREADS = 8
TIMEOUT = 600.0


@dataclass
class Stack:
    api: str
    sap: str
    store: Store
    token: str
    redis_url: str


@contextlib.contextmanager
def stack(database_url: str, workers: int) -> Iterator[Stack]:
    """mock SAP, Redis, the API and `workers` workers over `database_url`; everything stops on exit."""
    processes: list[subprocess.Popen[bytes]] = []
    redis_server: SpawnedRedis | None = None
    metrics_dir = tempfile.mkdtemp(prefix="bench-metrics-")
    handle, name = tempfile.mkstemp(prefix="writeback-bench-", suffix=".log")  # the stack's logs: kept if it fails
    os.close(handle)
    log = Path(name)
    port, mock_port = free_port(), free_port()
    env = {
        **os.environ,
        "APP_ENV": "development",
        "PORT": str(port),
        "DATABASE_URL": database_url,
        "SAP_URL": f"http://127.0.0.1:{mock_port}",
        "LOG_LEVEL": "WARNING",
        "LOG_FORMAT": "json",
        "PROMETHEUS_MULTIPROC_DIR": metrics_dir,
    }

    def start(*args: str) -> subprocess.Popen[bytes]:
        with open(log, "ab") as sink:
            process = subprocess.Popen(
                [PYTHON, *args],
                cwd=ROOT,
                env=env,
                start_new_session=True,
                preexec_fn=die_with_parent,  # even if this benchmark is killed
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
        processes.append(process)
        return process

    store = Store.from_url(database_url)
    try:
        redis_server = spawn_redis()
        env["REDIS_URL"] = redis_server.url
        # As devenv/run.py starts it: SAP trusts the development identity provider's tokens.
        jwks = f"http://127.0.0.1:{port}/dev-idp/token_keys"
        mock = start(
            "-m", "mock_sap", "--port", str(mock_port), "--trusted-issuer", DEV_ISSUER, "--trusted-jwks-url", jwks
        )
        wait_until_ok(f"{env['SAP_URL']}/mock-admin/health", mock, "mock SAP")
        upgrade(store.engine)
        api = start("-m", "gunicorn", "-c", "gunicorn.conf.py", "--bind", f"127.0.0.1:{port}", "wsgi:app")
        for _ in range(workers):
            start("-m", "workers")
        wait_until_ok(f"http://127.0.0.1:{port}/health/ready", api, "the API")
        attributes = {"Plant": ["1010"], "WorkCenter": ["ASSY1010"]}
        token = mint_token(from_env(env), SUPERVISOR, ["Supervisor"], attributes)
        yield Stack(f"http://127.0.0.1:{port}", env["SAP_URL"], store, token, redis_server.url)
        log.unlink()
    except BaseException:
        print(f"the stack's log: {log}", file=sys.stderr)
        raise
    finally:
        for process in reversed(processes):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        if redis_server is not None:
            redis_server.stop()
        store.engine.dispose()
        shutil.rmtree(metrics_dir, ignore_errors=True)


# -- the client side ------------------------------------------------------------------------------


def pick_operations(stack: Stack, orders: int, units_needed: int) -> list[dict[str, Any]]:
    """One open operation of each of `orders` orders with at least `units_needed` to go, most to go first."""
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {stack.token}"
    best: dict[str, dict[str, Any]] = {}
    cursor: str | None = None
    while True:
        params = {"limit": "200", **({"cursor": cursor} if cursor else {})}
        page = session.get(f"{stack.api}/api/v1/work-orders", params=params, timeout=60)
        page.raise_for_status()
        for item in page.json()["items"]:
            to_go = float(item["quantity_to_go"]["value"])
            if to_go >= units_needed and to_go > float(best.get(item["order_id"], {}).get("to_go", 0)):
                best[item["order_id"]] = {"id": item["id"], "unit": item["planned_quantity"]["unit"], "to_go": to_go}
        cursor = page.json().get("next_cursor")
        if not cursor:
            break
    chosen = sorted(best.values(), key=lambda op: -op["to_go"])[:orders]
    if len(chosen) < orders:
        raise SystemExit(f"only {len(chosen)} orders have {units_needed} units to go; ask for fewer --orders")
    return chosen


class Poster:
    """POSTs confirmations through the API from a few client threads (a session each: keep-alive)."""

    def __init__(self, stack: Stack, operations: list[dict[str, Any]]) -> None:
        self.stack, self.operations = stack, operations
        self._local = threading.local()
        self._next = 0
        self._lock = threading.Lock()
        self.pool = ThreadPoolExecutor(CLIENT_THREADS)

    def _session(self) -> requests.Session:
        if not hasattr(self._local, "session"):
            self._local.session = requests.Session()
            self._local.session.headers["Authorization"] = f"Bearer {self.stack.token}"
        session: requests.Session = self._local.session
        return session

    def post_one(self) -> tuple[str, datetime]:
        """One confirmation on the next operation in turn; (command id, when the 202 arrived)."""
        with self._lock:
            operation = self.operations[self._next % len(self.operations)]
            self._next += 1
        response = self._session().post(
            f"{self.stack.api}/api/v1/work-orders/{operation['id']}/confirmations",
            json={"yield_quantity": "1", "unit": operation["unit"], "text": "bench"},
            headers={"Idempotency-Key": str(uuid.uuid4())},
            timeout=60,
        )
        answered = datetime.now(UTC)
        if response.status_code != 202:
            raise SystemExit(f"POST answered {response.status_code}: {response.text[:300]}")
        return str(response.json()["id"]), answered

    def burst(self, count: int) -> list[str]:
        return [command_id for command_id, _ in self.pool.map(lambda _: self.post_one(), range(count))]

    def steady(self, rate: float, seconds: float) -> list[tuple[str, datetime]]:
        """POSTs started at `rate` per second (on schedule, whatever the answers take) for `seconds`."""
        started = time.monotonic()
        futures = []
        for n in range(int(rate * seconds)):
            time.sleep(max(0.0, started + n / rate - time.monotonic()))
            futures.append(self.pool.submit(self.post_one))
        return [future.result() for future in futures]


def wait_ended(store: Store, ids: list[str]) -> dict[str, Command]:
    """The commands once all have ended; stops the run if one did not succeed."""
    wanted = set(ids)
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        statuses = store.stats().counts
        waiting = sum(n for (status, _), n in statuses.items() if status in ("accepted", "running", "in_doubt"))
        if not waiting:
            break
        time.sleep(0.1)
    found: dict[str, Command] = {}
    cursor: str | None = None
    while True:
        page = store.list_for_user(SUPERVISOR, limit=500, cursor=cursor)
        found.update((c.id, c) for c in page.items if c.id in wanted)
        cursor = page.next_cursor
        if not cursor:
            break
    failed = [c for c in found.values() if c.status.value != "succeeded"]
    if failed or len(found) != len(wanted):
        raise SystemExit(
            f"{len(found)}/{len(wanted)} found, not succeeded: {[(c.status, c.last_error) for c in failed][:3]}"
        )
    return found


def apply_burst(stack: Stack, poster: Poster, count: int) -> tuple[float, list[Command]]:
    """Commands per second from the first POST to the last success, and the commands."""
    started = datetime.now(UTC)
    ids = poster.burst(count)
    commands = wait_ended(stack.store, ids)
    last = max(c.finished_at for c in commands.values() if c.finished_at is not None)
    return count / (last - started).total_seconds(), list(commands.values())


def recorded_calls(store: Store, commands: list[Command]) -> list[tuple[str, str, Command]]:
    """(method, path, command) of every SAP call of the commands' successful attempts, in the order they were made."""
    by_id = {c.id: c for c in commands}
    calls: list[tuple[str, str, Command]] = []
    for command in sorted(commands, key=lambda c: c.finished_at or c.created_at):
        events = store.list_audit(command_id=command.id, limit=50).items
        for event in reversed(events):
            if event.event == "attempt_succeeded":
                calls += [(c["method"], c["path"], by_id[command.id]) for c in event.sent["calls"]]
    return calls


def replay(sap: str, calls: list[tuple[str, str, Command]]) -> float:
    """Seconds to make the same calls on one keep-alive session (a fresh confirmation for each POST)."""
    session = requests.Session()
    session.auth = TECH
    session.headers["Accept"] = "application/json"
    conf = "/sap/opu/odata/sap/API_PROD_ORDER_CONFIRMATION_2_SRV/"
    fetched = session.head(f"{sap}{conf}", headers={"X-CSRF-Token": "Fetch"}, params={"sap-client": "100"}, timeout=30)
    token = fetched.headers["x-csrf-token"]  # as the worker holds one from earlier writes
    started = time.perf_counter()
    for method, path, command in calls:
        if method == "POST":
            p = command.payload
            body = {
                "OrderID": p["order_id"],
                "OrderOperation": p["operation"],
                "Sequence": p["sequence"],
                "ConfirmationUnit": p["yield_quantity"]["unit"],
                "ConfirmationYieldQuantity": "1",
                "IsFinalConfirmation": False,
                "ExternalSystemConfirmation": str(uuid.uuid4()),
                "ConfirmationText": "bench",
                "WorkCenter": p["work_center"],
                "Plant": p["plant"],
            }
            response = session.post(f"{sap}{path}", json=body, headers={"X-CSRF-Token": token}, timeout=30)
        elif method == "HEAD":
            response = session.head(f"{sap}{path}", headers={"X-CSRF-Token": "Fetch"}, timeout=30)
            token = response.headers.get("x-csrf-token", token)
        else:
            response = session.request(method, f"{sap}{path}", timeout=30)
        if response.status_code >= 400:
            raise SystemExit(f"replayed {method} {path} answered {response.status_code}: {response.text[:300]}")
    return time.perf_counter() - started


def noop(index: int) -> int:
    """The job of the RQ floor: nothing to do."""
    return index


def rq_floor(redis_url: str, count: int) -> float:
    """Jobs per second RQ alone manages: `count` no-op jobs enqueued by the POSTing threads' number of threads,
    then run by one SimpleWorker (what `python -m workers` runs) in this process. The design enqueues one RQ job
    per command (DESIGN.md, the write path), so this bounds a writeback burst whatever the store and SAP cost."""
    from redis import Redis
    from rq import Queue, SimpleWorker

    connection = Redis.from_url(redis_url)
    queue = Queue("bench-rq-floor", connection=connection)  # not the writeback queue: the workers ignore it
    with ThreadPoolExecutor(CLIENT_THREADS) as pool:
        # As workers/enqueue.py enqueues a writeback: by path, a job id of its own, no result kept.
        list(pool.map(lambda i: queue.enqueue("bench.writeback_bench.noop", i, result_ttl=0), range(count)))
    started = time.perf_counter()
    SimpleWorker([queue], connection=connection).work(burst=True, logging_level="WARNING")
    elapsed = time.perf_counter() - started
    connection.close()
    return count / elapsed


# -- scenarios -------------------------------------------------------------------------------------


def _load() -> str:
    return "load " + "/".join(f"{v:.1f}" for v in os.getloadavg())


def scenario(
    args: argparse.Namespace, name: str, database_url: str, workers: int, latency: bool
) -> tuple[list[Result], float]:
    """Burst (and latency) results of one stack; also the burst throughput, for the scaling rows."""
    results: list[Result] = []
    needed = (args.rounds * 2 * args.burst + (args.rate * args.seconds if latency else 0)) // args.orders + 5
    with stack(database_url, workers) as running:
        operations = pick_operations(running, args.orders, int(needed))
        poster = Poster(running, operations)
        wait_ended(running.store, poster.burst(len(operations)))  # warm-up: metadata, CSRF tokens, pools
        ours, theirs, floors = [], [], []
        for _ in range(args.rounds):
            throughput, commands = apply_burst(running, poster, args.burst)
            calls = recorded_calls(running.store, commands)
            ours.append(throughput)
            theirs.append(len(commands) / replay(running.sap, calls))
            if latency:  # once per store, beside the same replay
                floors.append(rq_floor(running.redis_url, args.burst))
        per_command = len(calls) / len(commands)
        best, base = max(ours), max(theirs)
        results.append(
            Result(
                f"burst {args.burst}, {name}, {workers} worker(s) ({_load()})",
                best,
                base,
                "cmd/s",
                f"{per_command:.1f} SAP calls/cmd replayed",
                higher_is_better=True,
                target=">= 0.5x" if workers == 1 else "rises with workers",
            )
        )
        if floors:
            rq = max(floors)
            results.append(
                Result(
                    f"RQ alone, {args.burst} no-op jobs, 1 SimpleWorker ({_load()})",
                    rq,
                    base,
                    "jobs/s",
                    f"{per_command:.1f} SAP calls/cmd replayed",
                    higher_is_better=True,
                )
            )
            results.append(  # one job per command: its RQ time and its SAP calls, and nothing else
                Result(
                    "ceiling of one RQ job per command: RQ alone + the replayed SAP calls, no store, no API",
                    1 / (1 / rq + 1 / base),
                    base,
                    "cmd/s",
                    f"{per_command:.1f} SAP calls/cmd replayed",
                    higher_is_better=True,
                )
            )
        print(
            f"{name} x{workers}: bursts {[round(x, 1) for x in ours]} replay {[round(x, 1) for x in theirs]}"
            f" rq floor {[round(x, 1) for x in floors]}",
            file=sys.stderr,
            flush=True,
        )
        if latency:
            sent = poster.steady(args.rate, args.seconds)
            done = wait_ended(running.store, [command_id for command_id, _ in sent])
            waits = [
                (done[command_id].finished_at - answered).total_seconds() * 1000  # type: ignore[operator]
                for command_id, answered in sent
            ]
            for p, target in ((50, "p50 < 50 ms"), (99, "p99 < 250 ms")):
                results.append(
                    Result(
                        f"accept-to-applied p{p} at {args.rate:g}/s for {args.seconds:g}s, {name} ({_load()})",
                        percentile(waits, p),
                        None,
                        "ms",
                        target=target,
                    )
                )
        poster.pool.shutdown()
    return results, best


@contextlib.contextmanager
def postgres_databases(url: str | None) -> Iterator[Iterator[str]]:
    """Fresh databases on `url`, or on a PostgreSQL spawned for the run (fsync off there: say so when comparing)."""
    server: SpawnedPostgres | None = None
    if url is None:
        server = spawn_postgres()
        url = server.url
    base = make_url(url)
    if base.drivername == "postgresql":
        base = base.set(drivername="postgresql+psycopg")
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    names: list[str] = []

    def fresh() -> Iterator[str]:
        while True:
            names.append(f"bench_{uuid.uuid4().hex[:12]}")
            with admin.connect() as connection:
                connection.execute(text(f'CREATE DATABASE "{names[-1]}"'))
            yield base.set(database=names[-1]).render_as_string(hide_password=False)

    try:
        yield fresh()
    finally:
        with admin.connect() as connection:
            for name in names:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
        if server is not None:
            server.stop()


# `python -m bench --quick`: a smoke run of the same scenarios, a few seconds each.
QUICK = {"burst": 30, "orders": 10, "rounds": 1, "rate": 10.0, "seconds": 3.0, "workers": [1, 2]}


def run(args: argparse.Namespace) -> list[Result]:
    if getattr(args, "quick", False):
        args = argparse.Namespace(**{**vars(args), **QUICK})
    results: list[Result] = []
    workdir = Path(tempfile.mkdtemp(prefix="writeback-bench-"))
    try:
        if not args.skip_sqlite:
            sqlite = f"sqlite:///{workdir / 'store.db'}"
            results += scenario(args, "SQLite", sqlite, 1, latency=True)[0]
        # The spawned cluster is a test one: fsync off, so its commits cost less than SQLite's FULL-synced ones.
        postgres = "PostgreSQL" if args.postgres_url else "PostgreSQL (fsync off)"
        with postgres_databases(args.postgres_url) as databases:
            first: float | None = None
            for workers in args.workers:
                rows, throughput = scenario(args, postgres, next(databases), workers, latency=workers == 1)
                results += rows
                if first is None:
                    first = throughput
                else:
                    results.append(
                        Result(
                            f"burst scaling, {postgres}, {workers} workers vs 1",
                            throughput,
                            first,
                            "cmd/s",
                            "1 worker",
                            higher_is_better=True,
                            target="> 1x",
                        )
                    )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return results


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--burst", type=int, default=300, help="confirmations per burst (default 300)")
    parser.add_argument("--orders", type=int, default=20, help="production orders the confirmations spread over")
    parser.add_argument("--rounds", type=int, default=2, help="burst/replay rounds per scenario; the best counts")
    parser.add_argument("--rate", type=float, default=20, help="confirmations per second for the latency run")
    parser.add_argument("--seconds", type=float, default=30, help="length of the latency run")
    parser.add_argument(
        "--workers", type=lambda s: [int(n) for n in s.split(",")], default=[1, 2, 4], help="on PostgreSQL"
    )
    parser.add_argument("--postgres-url", help="a PostgreSQL server to create databases on (default: spawn one)")
    parser.add_argument("--skip-sqlite", action="store_true")
    return parser.parse_args(argv)


def main() -> int:
    args = parse_args()
    results = run(args)
    print(machine())
    print(table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
