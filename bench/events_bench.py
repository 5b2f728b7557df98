"""Idle event streams held by one event stream process, their memory, and how fast one event reaches them all.

The event stream server (gunicorn's asyncio worker, one process) with a Redis of its own; clients in two
processes of their own open `--sse-connections` streams and sit idle. Then one event at a time is published
on the bus (`--sse-events` of them, a second apart) and every client notes when it read it. Latency is from
just before the XADD to the client reading the event: the server's hand-over and the clients' own reading,
which competes for the same 2 cores, are both in it.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import redis  # noqa: E402

from app.dev_idp import mint_token  # noqa: E402
from bench.processes import wait_until_ok  # noqa: E402
from bench.report import Result, percentile  # noqa: E402
from devenv.redis_server import free_port, spawn_redis  # noqa: E402
from devenv.run import events_server_args  # noqa: E402
from notifications import EventBus, notices  # noqa: E402
from runtime.settings import from_env  # noqa: E402

CLIENT_PROCESSES = 2
USERS = 20  # distinct plant managers (each token is checked once, then remembered)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("events benchmark")
    group.add_argument("--sse-connections", type=int, default=2000, help="idle streams to hold (default 2000)")
    group.add_argument("--sse-events", type=int, default=20, help="events published one by one (default 20)")


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def _worker_pid(master: int) -> int:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    if len(children) != 1:
        raise RuntimeError(f"expected one gunicorn worker under {master}, found {children}")
    return int(children[0])


@contextmanager
def _stack(work: Path) -> Iterator[tuple[str, str, int, dict[str, str]]]:
    """Redis and the event stream server; (stream URL, redis URL, worker pid, env)."""
    redis_server = spawn_redis()
    port = free_port()
    env = {
        **os.environ,
        "APP_ENV": "development",
        "REDIS_URL": redis_server.url,
        "DEV_IDP_KEY_FILE": str(work / "dev-idp-key.json"),
        "LOG_LEVEL": "WARNING",
        "LOG_FORMAT": "json",
        "EVENTS_HEARTBEAT": "15",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", *events_server_args(port)], cwd=ROOT, env={**env, "PORT": str(port)}
    )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_ok(f"{url}/health/live", server, "the event stream server")
        yield url, redis_server.url, _worker_pid(server.pid), env
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        redis_server.stop()


async def _hold(port: int, tokens: list[str], count: int, events: int, ready: Any, results: Any) -> None:
    """Open `count` streams, report ready, then record when each event's id is read on each stream."""
    arrivals: dict[str, list[float]] = {}
    connected = 0

    async def one(index: int) -> None:
        nonlocal connected
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        token = tokens[index % len(tokens)]
        writer.write(
            f"GET /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
            "Accept: text/event-stream\r\n\r\n".encode()
        )
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        if b" 200 " not in head.split(b"\r\n", 1)[0]:
            raise RuntimeError(head.decode(errors="replace"))
        await reader.readuntil(b": connected")
        connected += 1
        seen = 0
        while seen < events:
            chunk = await reader.readuntil(b"\n\n")
            at = time.time()
            for line in chunk.split(b"\n"):
                if line.startswith(b"id: "):
                    arrivals.setdefault(line[4:].decode(), []).append(at)
                    seen += 1
        writer.close()

    tasks = [asyncio.create_task(one(i)) for i in range(count)]
    while connected < count:
        failed = [t for t in tasks if t.done() and t.exception() is not None]
        if failed:
            raise RuntimeError(f"a stream failed to open: {failed[0].exception()!r}")
        await asyncio.sleep(0.05)
    ready.set()
    await asyncio.gather(*tasks)
    results.put(arrivals)


def _client(port: int, tokens: list[str], count: int, events: int, ready: Any, results: Any) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, count + 256)), hard))
    asyncio.run(_hold(port, tokens, count, events, ready, results))


def run(args: argparse.Namespace) -> list[Result]:
    connections, events = args.sse_connections, args.sse_events
    if getattr(args, "quick", False):
        connections, events = min(connections, 200), min(events, 3)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, connections + 512)), hard))  # the server's
    with tempfile.TemporaryDirectory(prefix="bench-events-") as work, _stack(Path(work)) as stack:
        url, redis_url, worker, env = stack
        settings = from_env(env)
        tokens = [
            mint_token(settings, f"PM_{i:03d}", ["PlantManager"], {"Plant": ["1010"]}, lifetime=3600)
            for i in range(USERS)
        ]
        port = int(url.rsplit(":", 1)[1])
        before = _rss_kib(worker)
        context = multiprocessing.get_context("spawn")
        results = context.Queue()
        share = [
            connections // CLIENT_PROCESSES + (i < connections % CLIENT_PROCESSES) for i in range(CLIENT_PROCESSES)
        ]
        readies = [context.Event() for _ in share]
        clients = [
            context.Process(target=_client, args=(port, tokens, n, events, ready, results))
            for n, ready in zip(share, readies, strict=True)
        ]
        for process in clients:
            process.start()
        for ready in readies:
            if not ready.wait(300):
                raise RuntimeError("the streams did not all open within 300 s")
        time.sleep(2.0)  # settle: every stream past its first write
        held = _rss_kib(worker)
        bus = EventBus(redis.Redis.from_url(redis_url))
        published: dict[str, float] = {}
        for number in range(events):
            at = time.time()
            published[bus.publish(notices.production_order("changed", f"{number:07d}", "1010"))] = at
            time.sleep(1.0)
        arrivals: dict[str, list[float]] = {}
        for _ in clients:
            for event_id, times in results.get(timeout=120).items():
                arrivals.setdefault(event_id, []).extend(times)
        for process in clients:
            process.join(30)
    latencies = [(at - published[event_id]) * 1000 for event_id, times in arrivals.items() for at in times]
    last_per_event = [max(times) - published[event_id] for event_id, times in arrivals.items()]
    if len(latencies) != connections * events:
        raise RuntimeError(f"{len(latencies)} deliveries seen, {connections * events} expected")
    per_connection = (held - before) / connections
    label = f"{connections} idle streams, one process"
    return [
        Result(f"idle SSE streams held by one event stream process ({label})", connections, None, "streams",
               target=">= 2000"),
        Result(f"RSS of that process: idle, then with {connections} streams open", held / 1024, before / 1024,
               "MiB", baseline_label="before the streams"),
        Result("memory per idle stream (RSS growth / streams)", per_connection, None, "KiB"),
        Result(f"one event to all {connections} streams: p50 delivery ({events} events)",
               percentile(latencies, 50), None, "ms"),
        Result(f"one event to all {connections} streams: p99 delivery ({events} events)",
               percentile(latencies, 99), None, "ms"),
        Result(f"one event to all {connections} streams: the last stream, worst of {events} events",
               max(last_per_event) * 1000, None, "ms"),
    ]  # fmt: skip
