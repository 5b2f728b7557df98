"""Reads through our API beside the very same SAP requests sent directly, measured side by side in one run.

Starts mock SAP and the local system (`python -m devenv.run` with SAP_URL pointing at that mock) on free ports,
at the default log level, with the API's output going to a log file. Then, interleaved:
  - latency: a plant manager's list of 50 orders and one order's detail, through the API (c) beside exactly the
    SAP request(s) the API made, read from the mock's request log and replayed (a) as raw HTTP with JSON
    parsing and (b) with pyodata directly, as an app would (entities iterated, values read);
  - throughput at 10 and 50 clients: the API list vs its SAP query straight to the mock, alternating rounds;
  - RSS of the API's gunicorn workers over a mix of requests (growth, second vs last quarter);
  - list latency at 1k vs 100k orders: two mocks, two systems, all four sides interleaved.
Targets (issue 12) are printed beside the figures; nothing here fails on them.

Run: `python -m bench --only read` (all benchmarks: `python3 dev.py bench`), or `python bench/read_bench.py`.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import http.client
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit

import requests

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # `python bench/read_bench.py` as well as `python -m bench`

import pyodata  # noqa: E402
from pyodata.v2 import model as odata_model  # noqa: E402

from bench.processes import wait_until_ok  # noqa: E402
from bench.report import Result, percentile, table  # noqa: E402
from devenv.redis_server import die_with_parent, free_port  # noqa: E402
from mock_sap.data.catalog import NAMED_PASSWORD, TECHNICAL_PASSWORD, TECHNICAL_USER  # noqa: E402
from odata_clients.clients import ALL_SERVICES  # noqa: E402
from runtime.settings import DEV_ISSUER  # noqa: E402

PYTHON = sys.executable
LIST_PATH = "/api/v1/production-orders?limit=50"
PM_TOKEN_ARGS = ["--user", "PM_1010", "--role-collection", "PlantManager", "--attribute", "Plant=1010"]
LATENCY_TARGET = "<= 1.3x"


def say(message: str) -> None:
    print(f"read_bench: {message}", file=sys.stderr, flush=True)


# -- settings ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """How long each scenario runs; `--quick` is a smoke run of a few seconds per scenario."""

    reps: int
    warmup: int
    throughput_seconds: float  # per side and concurrency, split over two alternating rounds
    clients: tuple[int, ...]
    rss_requests: int
    small_orders: int
    big_orders: int

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Plan:
        quick = bool(getattr(args, "quick", False))
        return cls(
            reps=getattr(args, "read_reps", None) or (20 if quick else 300),
            warmup=5 if quick else 30,
            throughput_seconds=getattr(args, "read_seconds", None) or (1.0 if quick else 10.0),
            clients=(10, 50),
            rss_requests=getattr(args, "rss_requests", None) or (2000 if quick else 20_000),
            small_orders=1000,
            big_orders=getattr(args, "big_orders", None) or (10_000 if quick else 100_000),
        )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The read benchmark's own options (defaults depend on --quick)."""
    group = parser.add_argument_group("read benchmark")
    group.add_argument("--read-reps", type=int, help="timed repetitions per latency case (default 300)")
    group.add_argument("--read-seconds", type=float, help="seconds per side and client count (default 10)")
    group.add_argument("--rss-requests", type=int, help="requests of the RSS run (default 20000)")
    group.add_argument("--big-orders", type=int, help="orders of the large mock (default 100000)")


# -- the system under test -----------------------------------------------------------------------------------


@dataclass
class Stack:
    """One mock SAP and one local system (API, worker, watchdog, Redis) in front of it."""

    name: str
    api: str  # http://127.0.0.1:PORT
    sap: str  # the mock's root URL
    launcher: subprocess.Popen[bytes]
    env: dict[str, str]
    log: Path
    seeded_seconds: float

    def token(self) -> str:
        command = [PYTHON, "-m", "flask", "--app", "wsgi", "dev-token", *PM_TOKEN_ARGS, "--lifetime", "14400"]
        result = subprocess.run(command, cwd=ROOT, env=self.env, capture_output=True, text=True, check=True)
        return result.stdout.strip().splitlines()[-1]

    def api_workers(self) -> list[int]:
        """The gunicorn worker pids: children of the gunicorn master the launcher started."""
        children = _children_by_parent()
        masters = [pid for pid in children.get(self.launcher.pid, []) if b"gunicorn" in _cmdline(pid)]
        return sorted(pid for master in masters for pid in children.get(master, []))


def _children_by_parent() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name in parentheses may contain spaces: the fields we want follow the last ")".
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(entry.name))
    return children


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def _stop(process: subprocess.Popen[bytes], sig: int, timeout: float = 60) -> None:
    if process.poll() is None:
        process.send_signal(sig)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextlib.contextmanager
def running_stack(work: Path, name: str, orders: int | None = None) -> Iterator[Stack]:
    """Mock SAP (`orders` production orders, else its default) and `python -m devenv.run` against it."""
    port, mock_port = free_port(), free_port()
    log = work / f"{name}.log"
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "MOCK_SAP_PORT", "LOG_LEVEL", "VCAP_SERVICES")}
    sap = f"http://127.0.0.1:{mock_port}"
    # The store of its own: never the developer's instance/sapext.db.
    env.update(PORT=str(port), SAP_URL=sap, DATABASE_URL=f"sqlite:///{work / name}.db", APP_ENV="development")
    env.update(APPROUTER_PORT="0")  # no application router: it would only take CPU from what is measured
    env.update(EVENTS_PORT=str(free_port()))  # the event stream's own port: two stacks run side by side (scale)
    # The same trust devenv.run gives the mock it starts itself.
    mock_args = ["--host", "127.0.0.1", "--port", str(mock_port), "--trusted-issuer", DEV_ISSUER]
    mock_args += ["--trusted-jwks-url", f"http://127.0.0.1:{port}/dev-idp/token_keys"]
    if orders is not None:
        mock_args += ["--orders", str(orders)]
    with log.open("wb") as out:
        started = time.monotonic()
        mock = subprocess.Popen(
            [PYTHON, "-m", "mock_sap", *mock_args],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent,
        )
        try:
            wait_until_ok(f"{sap}/mock-admin/health", mock, f"mock SAP (log {log})", 600)
            seeded = time.monotonic() - started
            launcher = subprocess.Popen(
                [PYTHON, "-m", "devenv.run"],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                preexec_fn=die_with_parent,
            )
            try:
                wait_until_ok(f"http://127.0.0.1:{port}/health/ready", launcher, f"devenv.run (log {log})", 180)
                yield Stack(name, f"http://127.0.0.1:{port}", sap, launcher, env, log, seeded)
            finally:
                _stop(launcher, signal.SIGINT)  # devenv.run stops its children in order
        finally:
            _stop(mock, signal.SIGTERM, timeout=20)


# -- what the API sends to SAP, and the same requests sent directly -------------------------------------------


@dataclass(frozen=True)
class SapCall:
    """One OData request as the mock recorded it (`GET /mock-admin/requests`)."""

    method: str
    path: str  # raw, e.g. /sap/opu/odata/sap/API_PRODUCTION_ORDER_2_SRV/A_ProductionOrder_2('1000000')
    query: str  # raw query string
    user: str

    @property
    def target(self) -> str:
        return f"{self.path}?{self.query}" if self.query else self.path

    @property
    def auth(self) -> tuple[str, str]:
        if self.user.upper() == TECHNICAL_USER:
            return TECHNICAL_USER, TECHNICAL_PASSWORD
        return self.user, NAMED_PASSWORD  # the named user's Basic logon: the closest to the API's propagation

    def same_as(self, other: SapCall) -> bool:
        """Same method, resource and query parameters (their order and percent-encoding aside)."""
        return (
            self.method == other.method
            and unquote(self.path) == unquote(other.path)
            and sorted(parse_qsl(self.query, keep_blank_values=True))
            == sorted(parse_qsl(other.query, keep_blank_values=True))
        )


def recorded_calls(sap: str) -> list[SapCall]:
    response = requests.get(f"{sap}/mock-admin/requests", timeout=10)
    if response.status_code == 404:
        raise RuntimeError("mock SAP has no GET /mock-admin/requests (request log): cannot see what the API sends")
    response.raise_for_status()
    return [SapCall(r["method"], r["path"], r["query"], r["user"]) for r in response.json()["requests"]]


def clear_calls(sap: str) -> None:
    requests.delete(f"{sap}/mock-admin/requests", timeout=10).raise_for_status()


def calls_made_by(sap: str, action: Callable[[], object]) -> list[SapCall]:
    """The SAP requests `action` makes; repeated until two runs agree, so that a background call of the
    worker or watchdog landing in the log cannot pass for one of the API's."""
    previous: list[SapCall] | None = None
    for _ in range(5):
        clear_calls(sap)
        action()
        calls = recorded_calls(sap)
        if previous is not None and len(calls) == len(previous) and all(map(SapCall.same_as, calls, previous)):
            return calls
        previous = calls
    raise RuntimeError(f"the SAP requests of one API call differ from run to run: {previous}")


class RawReplay:
    """The recorded requests as plain HTTP on a keep-alive session, each answer parsed as JSON."""

    def __init__(self, sap: str, calls: Sequence[SapCall]) -> None:
        self.calls = list(calls)
        self.sessions = {call.auth: _session(sap, call.auth) for call in calls}
        self.urls = [sap + call.target for call in calls]

    def __call__(self) -> None:
        for call, url in zip(self.calls, self.urls, strict=True):
            response = self.sessions[call.auth].request(call.method, url, timeout=60)
            response.raise_for_status()
            if response.headers.get("Content-Type", "").startswith("application/json"):
                response.json()  # a $count answers plain text


def _session(sap: str, auth: tuple[str, str]) -> requests.Session:
    session = requests.Session()
    session.auth = auth
    session.trust_env = False
    session.headers["Accept"] = "application/json"  # what the API's HTTP layer and pyodata send
    return session


def _service_root(path: str) -> tuple[str, str]:
    """`/sap/.../API_X_SRV/Set('1')` -> (`/sap/.../API_X_SRV`, `Set('1')`)."""
    for spec in ALL_SERVICES:
        for root in (spec.path, quote(spec.path, safe="/;=")):
            if path.startswith(root + "/"):
                return spec.path, path[len(root) + 1 :]
    raise ValueError(f"no known OData service in {path}")


def _parse_key(text: str) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """`'1000000'` or `A='x',B='y'`: string keys only (all our reads use them)."""

    def literal(value: str) -> str:
        if not (len(value) >= 2 and value[0] == value[-1] == "'"):
            raise ValueError(f"only string keys are replayed with pyodata, got {value!r}")
        return value[1:-1].replace("''", "'")

    if "=" not in text.split("'", 1)[0]:
        return (literal(text),), {}
    parts = dict(part.split("=", 1) for part in text.split(","))
    return (), {name: literal(value) for name, value in parts.items()}


class PyodataReplay:
    """The recorded requests built again with pyodata (same entity set, key, $filter, $select, $expand, $orderby,
    $top, inline count and other parameters), executed, and every entity's values read as an app reads them."""

    def __init__(self, sap: str, calls: Sequence[SapCall]) -> None:
        self.clients: dict[tuple[str, tuple[str, str]], Any] = {}
        self.steps = [self._step(sap, call) for call in calls]

    def __call__(self) -> None:
        for step in self.steps:
            step()

    def _client(self, sap: str, root: str, auth: tuple[str, str]) -> Any:
        key = (root, auth)
        if key not in self.clients:
            # retain_null: None for SAP's nulls, as our clients do; lenient about annotations SAP ships oddly.
            config = odata_model.Config(default_error_policy=odata_model.PolicyIgnore(), retain_null=True)
            self.clients[key] = pyodata.Client(f"{sap}{root}/", _session(sap, auth), config=config)
        return self.clients[key]

    def _step(self, sap: str, call: SapCall) -> Callable[[], None]:
        if call.method != "GET":
            raise ValueError(f"only reads are replayed, got {call.method} {call.path}")
        root, resource = _service_root(unquote(call.path))
        client = self._client(sap, root, call.auth)
        params = dict(parse_qsl(call.query, keep_blank_values=True))
        set_name, _, rest = resource.partition("(")
        entity_set = getattr(client.entity_sets, set_name)
        entity_type = client.schema.entity_set(set_name).entity_type
        select = [name for name in params.pop("$select", "").split(",") if name]
        expand = [name for name in params.pop("$expand", "").split(",") if name]
        if rest:
            key_text, _, tail = rest.partition(")")
            if tail:
                raise ValueError(f"navigation paths are not replayed: {resource}")
            args, kwargs = _parse_key(key_text)
            request = entity_set.get_entity(*args, **kwargs)
        else:
            request = entity_set.get_entities()
            if resource.endswith("/$count"):
                request = request.count()
            if "$filter" in params:
                request = request.filter(params.pop("$filter"))
            if "$orderby" in params:
                request = request.order_by(params.pop("$orderby"))
            if "$top" in params:
                request = request.top(int(params.pop("$top")))
            if "$skip" in params:
                request = request.skip(int(params.pop("$skip")))
            if params.pop("$inlinecount", None) == "allpages":
                request = request.count(inline=True)
        if select:
            request = request.select(",".join(select))
        if expand:
            request = request.expand(",".join(expand))
        for name, value in params.items():
            request = request.custom(name, value)
        # Read what was asked for: $select's properties, else all of the type's; then each expanded entity's.
        names = select or [p.name for p in entity_type.proprties()]
        navs = [(nav, [p.name for p in entity_type.nav_proprty(nav).to_role.entity_type.proprties()]) for nav in expand]

        def run() -> None:
            result = request.execute()
            if isinstance(result, int):
                return  # $count
            for entity in result if isinstance(result, list) else [result]:
                _read(entity, names, navs)

        return run


def _read(entity: Any, names: Sequence[str], navs: Sequence[tuple[str, Sequence[str]]]) -> None:
    for name in names:
        getattr(entity, name)
    for nav, nav_names in navs:
        related = getattr(entity, nav)
        for child in related if isinstance(related, list) else [related] if related is not None else []:
            for name in nav_names:
                getattr(child, name)


def check_replays(sap: str, calls: Sequence[SapCall], *replays: Callable[[], None]) -> None:
    """Each baseline must send exactly the API's requests: what the mock records proves it."""
    for replay in replays:
        sent = calls_made_by(sap, replay)
        if len(sent) != len(calls) or not all(map(SapCall.same_as, sent, calls)):
            raise RuntimeError(f"{type(replay).__name__} sent {sent}, the API sent {calls}")


# -- timing --------------------------------------------------------------------------------------------------


def interleaved(sides: dict[str, Callable[[], object]], reps: int, warmup: int) -> dict[str, list[float]]:
    """Milliseconds per call of each side; in repetition i the sides run in an order rotated by i, so that no
    side always follows the same one (caches, connection reuse, the scheduler)."""
    names = list(sides)
    times: dict[str, list[float]] = {name: [] for name in names}
    for rep in range(warmup + reps):
        shift = rep % len(names)
        for name in names[shift:] + names[:shift]:
            started = time.perf_counter()
            sides[name]()
            elapsed = (time.perf_counter() - started) * 1000
            if rep >= warmup:
                times[name].append(elapsed)
    return times


class ApiReader:
    """GET one API path on a keep-alive session as the plant manager, the JSON answer parsed."""

    def __init__(self, stack: Stack, path: str, token: str) -> None:
        self.url = stack.api + path
        self.session = requests.Session()
        self.session.trust_env = False
        self.session.headers["Authorization"] = f"Bearer {token}"

    def __call__(self) -> Any:
        response = self.session.get(self.url, timeout=60)
        response.raise_for_status()
        return response.json()


def latency_rows(
    case: str, times: dict[str, list[float]], api: str, pyodata_side: str, raw_side: str | None
) -> list[Result]:
    rows = []
    for p in (50, 90):
        ours = percentile(times[api], p)
        rows.append(
            Result(
                f"{case}, p{p}",
                ours,
                percentile(times[pyodata_side], p),
                "ms",
                "pyodata direct",
                target=LATENCY_TARGET if p == 50 else "",
            )
        )
        if raw_side:
            rows.append(Result(f"{case}, p{p}", ours, percentile(times[raw_side], p), "ms", "raw HTTP"))
    return rows


def _calls_note(calls: Sequence[SapCall]) -> str:
    return "1 SAP call" if len(calls) == 1 else f"{len(calls)} SAP calls, all replayed in the baselines"


def latency(stack: Stack, token: str, plan: Plan) -> tuple[list[Result], list[str]]:
    """List of 50 and one order's detail; returns the rows and the order ids seen (for the RSS mix)."""
    listing = ApiReader(stack, LIST_PATH, token)
    page = listing()
    ids = [item["order_id"] for item in page["items"]]
    cases = [
        ("PM list of 50 orders", listing),
        ("PM order detail", ApiReader(stack, f"/api/v1/production-orders/{ids[0]}", token)),
    ]
    results: list[Result] = []
    with forwarder(stack) as floor:
        for name, api in cases:
            api()  # metadata and connections warm before the request log is read
            calls = calls_made_by(stack.sap, api)
            raw, direct = RawReplay(stack.sap, calls), PyodataReplay(stack.sap, calls)
            check_replays(stack.sap, calls, raw, direct)
            say(f"{name}: the API sends {[c.target for c in calls]} as {calls[0].user}")
            sides: dict[str, Callable[[], object]] = {"raw": raw, "pyodata": direct, "api": api}
            if len(calls) == 1:
                sides["floor"] = ForwarderReader(floor, calls[0])
            times = interleaved(sides, plan.reps, plan.warmup)
            case = f"{name} ({_calls_note(calls)}; {plan.reps} reps)"
            results += latency_rows(case, times, "api", "pyodata", "raw")
            if "floor" in times:
                results.append(
                    Result(
                        f"{case}, p50: bare forwarder (API's gunicorn + Flask + urllib3 + orjson, none of its work)",
                        percentile(times["floor"], 50),
                        percentile(times["pyodata"], 50),
                        "ms",
                        "pyodata direct",
                    )
                )
    return results, ids


@contextlib.contextmanager
def forwarder(stack: Stack) -> Iterator[str]:
    """bench/forwarder.py under the API's gunicorn settings, against the stack's mock SAP: the floor."""
    port = free_port()
    env = {**stack.env, "SAP_URL": stack.sap}
    command = [PYTHON, "-m", "gunicorn", "-c", "gunicorn.conf.py", "--bind", f"127.0.0.1:{port}"]
    command += ["--no-control-socket", "bench.forwarder:app"]
    with stack.log.open("ab") as out:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, preexec_fn=die_with_parent
        )
    try:
        service = f"http://127.0.0.1:{port}/sap/opu/odata/sap/API_PRODUCTION_ORDER_2_SRV/"
        wait_until_ok(service, process, "the bare forwarder", 60)
        yield f"http://127.0.0.1:{port}"
    finally:
        _stop(process, signal.SIGTERM)


class ForwarderReader:
    """GET the API's one SAP request through the bare forwarder, the JSON answer parsed (as ApiReader does)."""

    def __init__(self, base: str, call: SapCall) -> None:
        self.url = base + call.target
        self.session = requests.Session()
        self.session.trust_env = False

    def __call__(self) -> Any:
        response = self.session.get(self.url, timeout=60)
        response.raise_for_status()
        return response.json()


# -- throughput ----------------------------------------------------------------------------------------------


class _Connection:
    """A cheap keep-alive HTTP client (http.client): one per client thread; reconnects if the server closed."""

    def __init__(self, base: str, headers: dict[str, str]) -> None:
        parts = urlsplit(base)
        self.connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=60)
        self.headers = headers

    def get(self, target: str) -> tuple[int, bytes]:
        for attempt in (1, 2):
            try:
                self.connection.request("GET", target, headers=self.headers)
                response = self.connection.getresponse()
                return response.status, response.read()
            except (http.client.HTTPException, OSError):
                self.connection.close()  # the next request opens a new connection
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        self.connection.close()


@dataclass(frozen=True)
class Round:
    ok: int
    failures: Counter[str]  # answers other than 200 by status, and connection errors by kind
    seconds: float
    client_cpu: float  # CPU seconds this process spent as the client


def load_round(base: str, target: str, headers: dict[str, str], clients: int, seconds: float) -> Round:
    """`clients` threads, each a keep-alive connection sending `target` back to back for `seconds`; answers
    completing after the window are not counted."""
    ok = [0] * clients
    failures = [Counter[str]() for _ in range(clients)]
    start = threading.Barrier(clients + 1)
    window: list[float] = []

    def client(index: int) -> None:
        connection = _Connection(base, headers)
        start.wait()
        end = window[0]
        try:
            while time.perf_counter() < end:
                try:
                    status, _ = connection.get(target)
                except (http.client.HTTPException, OSError) as exc:
                    failures[index][type(exc).__name__] += 1
                    continue
                if time.perf_counter() > end:
                    break
                if status == 200:
                    ok[index] += 1
                else:
                    failures[index][str(status)] += 1
        finally:
            connection.close()

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    cpu = time.process_time()
    window.append(time.perf_counter() + seconds)
    start.wait()
    for thread in threads:
        thread.join()
    return Round(sum(ok), sum(failures, Counter[str]()), seconds, time.process_time() - cpu)


def throughput(stack: Stack, token: str, plan: Plan) -> list[Result]:
    calls = calls_made_by(stack.sap, ApiReader(stack, LIST_PATH, token))
    if len(calls) != 1:
        raise RuntimeError(f"the list made {len(calls)} SAP calls; the mock side replays one: {calls}")
    call = calls[0]
    auth = "Basic " + base64.b64encode(":".join(call.auth).encode()).decode()
    sides = {
        "api": (stack.api, LIST_PATH, {"Authorization": f"Bearer {token}"}),
        "mock": (stack.sap, call.target, {"Authorization": auth, "Accept": "application/json"}),
    }
    results = []
    for clients in plan.clients:
        for base, target, headers in sides.values():
            load_round(base, target, headers, clients, min(1.0, plan.throughput_seconds / 2))  # warm-up
        rounds: dict[str, list[Round]] = {"api": [], "mock": []}
        half = plan.throughput_seconds / 2
        for side in ("api", "mock", "mock", "api"):  # ABBA: a drift over time weighs on both sides alike
            rounds[side].append(load_round(*sides[side], clients, half))
        rate = {side: sum(r.ok for r in rs) / sum(r.seconds for r in rs) for side, rs in rounds.items()}
        failed = {side: sum((r.failures for r in rs), Counter[str]()) for side, rs in rounds.items()}
        cpu = max(sum(r.client_cpu for r in rs) / sum(r.seconds for r in rs) for rs in rounds.values())
        say(
            f"throughput {clients} clients: API {rate['api']:.0f}/s, mock {rate['mock']:.0f}/s, client CPU {cpu:.0%}"
            f", not 200: {failed}"
        )
        note = "".join(
            f"{side} also answered {', '.join(f'{n}x {what}' for what, n in failures.most_common())}; "
            for side, failures in failed.items()
            if failures
        )
        results.append(
            Result(
                f"throughput, {clients} clients: API list vs its SAP query direct ({plan.throughput_seconds:g} s each;"
                f" {note}client: http.client threads, <= {cpu:.0%} CPU)",
                rate["api"],
                rate["mock"],
                "req/s",
                "mock direct",
                higher_is_better=True,
                target=">= 0.6x" if clients == 50 else "",
            )
        )
    return results


# -- memory --------------------------------------------------------------------------------------------------


def rss_growth(stack: Stack, token: str, ids: Sequence[str], plan: Plan) -> list[Result]:
    """`rss_requests` API requests (lists, next pages, details, badge counts) from 4 keep-alive clients; the
    workers' summed RSS is sampled 20 times; the last quarter's mean is compared with the second quarter's."""
    first = ApiReader(stack, "/api/v1/production-orders?limit=20", token)()
    cursor = quote(str(first["next_cursor"]), safe="")
    lists = [
        LIST_PATH,
        "/api/v1/production-orders?limit=50&status=released",
        "/api/v1/production-orders?limit=50&sort=-planned_start",
        f"/api/v1/production-orders?limit=20&cursor={cursor}",
    ]
    headers = {"Authorization": f"Bearer {token}"}
    local = threading.local()
    failures: Counter[str] = Counter()
    lock = threading.Lock()

    def target(i: int) -> tuple[str, str]:
        slot = i % 20  # of every 20: 9 lists, 8 details, 3 badge counts
        if slot < 9:
            return "list", lists[slot % len(lists)]
        if slot < 17:
            return "detail", f"/api/v1/production-orders/{ids[i % len(ids)]}"
        return "counts", "/api/v1/production-orders/counts"

    def send(i: int) -> None:
        if not hasattr(local, "connection"):
            local.connection = _Connection(stack.api, headers)
        kind, path = target(i)
        status, _ = local.connection.get(path)
        if status != 200:
            with lock:
                failures[f"{status} on {kind}"] += 1

    step = plan.rss_requests // 20
    samples: list[int] = []
    workers = stack.api_workers()
    if not workers:
        raise RuntimeError("no gunicorn worker processes found")
    with ThreadPoolExecutor(max_workers=4) as pool:
        for chunk in range(20):
            list(pool.map(send, range(chunk * step, (chunk + 1) * step)))
            samples.append(sum(rss_kib(pid) for pid in workers))
    if stack.api_workers() != workers:
        raise RuntimeError(f"gunicorn workers changed during the RSS run: {workers} -> {stack.api_workers()}")
    second, last = samples[5:10], samples[15:20]
    second_mb, last_mb = sum(second) / len(second) / 1024, sum(last) / len(last) / 1024
    growth = (last_mb / second_mb - 1) * 100
    say(f"RSS of {len(workers)} workers (MiB, every {step} requests): {[round(s / 1024) for s in samples]}")
    note = "".join(f", {n}x {what}" for what, n in failures.most_common())
    return [
        Result(
            f"RSS of the {len(workers)} API workers over {plan.rss_requests:,} requests: last vs second quarter, "
            f"growth {growth:+.1f}%{note}",
            last_mb,
            second_mb,
            "MiB",
            "second quarter",
            target="< 1.05x (growth < 5%)",
        )
    ]


# -- scale ---------------------------------------------------------------------------------------------------


def scale(work: Path, plan: Plan) -> list[Result]:
    """The list through the API and its SAP request via pyodata, against a small and a large mock, all four
    sides interleaved."""
    sizes = (plan.small_orders, plan.big_orders)
    with contextlib.ExitStack() as stacks:
        sides: dict[str, Callable[[], object]] = {}
        for orders in sizes:
            stack = stacks.enter_context(running_stack(work, f"orders{orders}", orders))
            say(f"mock with {orders:,} orders seeded and answering in {stack.seeded_seconds:.1f} s")
            api = ApiReader(stack, LIST_PATH, stack.token())
            api()
            calls = calls_made_by(stack.sap, api)
            direct = PyodataReplay(stack.sap, calls)
            check_replays(stack.sap, calls, direct)
            sides[f"api{orders}"], sides[f"pyodata{orders}"] = api, direct
        times = interleaved(sides, plan.reps, plan.warmup)
    small, big = sizes
    p50 = {name: percentile(values, 50) for name, values in times.items()}
    results = [
        Result(
            f"PM list of 50 at {orders:,} orders, p50 ({plan.reps} reps)",
            p50[f"api{orders}"],
            p50[f"pyodata{orders}"],
            "ms",
            "pyodata direct",
            target=LATENCY_TARGET,
        )
        for orders in sizes
    ]
    results.append(
        Result(
            f"PM list of 50, API p50: {big:,} vs {small:,} orders",
            p50[f"api{big}"],
            p50[f"api{small}"],
            "ms",
            f"{small:,} orders",
        )
    )
    results.append(
        Result(
            f"PM list of 50, pyodata direct p50: {big:,} vs {small:,} orders",
            p50[f"pyodata{big}"],
            p50[f"pyodata{small}"],
            "ms",
            f"{small:,} orders",
        )
    )
    return results


# -- entry points ----------------------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> list[Result]:
    plan = Plan.from_args(args)
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="sapext-read-bench-") as tmp:
        work = Path(tmp)
        with running_stack(work, "main") as stack:
            say(f"system up: API {stack.api}, mock SAP {stack.sap} (log {stack.log})")
            token = stack.token()
            rows, ids = latency(stack, token, plan)
            results += rows
            results += throughput(stack, token, plan)
            results += rss_growth(stack, token, ids, plan)
        results += scale(work, plan)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a smoke run: a few seconds per scenario")
    add_arguments(parser)
    print(table(run(parser.parse_args(argv))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
