"""The live event stream, `GET /api/v1/events` (Server-Sent Events), as an ASGI app of its own process.

Why a process of its own, on asyncio: a stream is open for as long as the app is, and the API's gthread
workers hold a thread per open request, so a few hundred idle phones would take every thread the API has.
On an event loop an idle stream is a coroutine waiting on its queue: a few KB, no thread. The API stays on
threads because its work (pyodata, JWT checks, the store) blocks. gunicorn runs both: `-k asgi` here.

One reader per process follows the Redis stream (notifications/bus.py) and hands each entry to the open
streams whose user the notification's audience admits, so every instance sees every event, wherever it was
published. A client that reconnects with Last-Event-ID first gets what it missed, read back from the stream.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs

import orjson
import redis
import redis.asyncio as aioredis
import structlog
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from access.policy import Principal, Role
from app.auth import AuthError, IdentityProviderUnavailable, JwksKeys, StaticKeys, TokenValidator, bearer_challenge
from notifications import presence
from notifications.bus import Published, id_after, parse_entries, stream_key, text, valid_id
from runtime.logs import configure_logging
from runtime.settings import Settings, from_env
from runtime.user_assertion import load_or_create_key, public_key_set

log = structlog.get_logger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

PATH = "/api/v1/events"
QUEUE_SIZE = 256  # a stream this far behind is closed; its client resumes from Last-Event-ID
CATCH_UP_LIMIT = 1000  # entries read back per reconnect; older gaps get a `reset` event
BLOCK_S = 5.0  # the reader's blocking wait on Redis
REDIS_CONNECTIONS = 32  # per process: the reader, and streams reading back what they missed
RETRY_MS = 3000  # the client's reconnect delay (the SSE `retry:` field)
PRESENCE_EVERY = 300.0  # seconds between "still here" marks of a connected user (the inbox poller's active set)
STREAM_ROLES = frozenset({Role.EXECUTIVE, Role.PLANT_MANAGER, Role.SUPERVISOR, Role.INTEGRATION_ADMIN})
CORS = [
    # Bearer tokens are never ambient (no cookies), so any origin may read a stream it holds a token for.
    (b"access-control-allow-origin", b"*"),
    (b"access-control-expose-headers", b"content-type"),
]

registry = CollectorRegistry()
STREAMS = Gauge("event_streams", "Open event streams (SSE) of this process.", registry=registry)
SENT = Counter("event_stream_events", "Events written to streams, by type.", ["type"], registry=registry)
DROPPED = Counter("event_stream_overflows", "Streams closed because their client fell behind.", registry=registry)
LAG = Histogram(
    "event_delivery_lag_seconds",
    "From a notification's publication to its hand-over to a stream of this process.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
    registry=registry,
)


def _sse(event_id: str | None, event: str, data: Any) -> bytes:
    head = (f"id: {event_id}\n" if event_id else "") + f"event: {event}\n"
    return head.encode() + b"data: " + orjson.dumps(data) + b"\n\n"


@dataclass(eq=False)
class Listener:
    """One open stream: whose it is and the events waiting to be written to it."""

    principal: Principal
    # Each event with its bytes, encoded once for every stream it goes to; None: overflowed, end the stream.
    queue: asyncio.Queue[tuple[Published, bytes] | None] = field(default_factory=lambda: asyncio.Queue(QUEUE_SIZE))
    overflowed: bool = False

    def offer(self, published: Published, encoded: bytes) -> None:
        if self.overflowed or not published.notification.audience.admits(self.principal):
            return
        try:
            self.queue.put_nowait((published, encoded))
        except asyncio.QueueFull:
            self.overflowed = True  # the writer ends the stream; the client resumes from its last id
            DROPPED.inc()
            with contextlib.suppress(asyncio.QueueFull):
                self.queue.get_nowait()
                self.queue.put_nowait(None)


class Hub:
    """The process's one reader of the Redis stream and the set of open streams it feeds."""

    def __init__(self, connection: aioredis.Redis, key: str) -> None:
        self.redis = connection
        self.key = key
        self.listeners: set[Listener] = set()
        self.following = asyncio.Event()  # set once the reader knows where the stream stands
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._follow())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _follow(self) -> None:
        last = "$"
        pause = 0.5
        while True:
            try:
                if last == "$":
                    # Pin the start to the stream's newest id, so nothing published during a reconnect is missed.
                    newest: Any = await self.redis.xrevrange(self.key, count=1)
                    last = text(newest[0][0]) if newest else "0-0"
                    self.following.set()
                replies: Any = await self.redis.xread({self.key: last}, block=int(BLOCK_S * 1000), count=500)
                pause = 0.5
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("event_stream_reader_failed", error=f"{type(exc).__name__}: {exc}")
                await asyncio.sleep(pause)
                pause = min(pause * 2, 10.0)
                continue
            now = time.time()
            for _, entries in replies or ():
                for published in parse_entries(entries):
                    last = published.id
                    LAG.observe(max(0.0, now - published.notification.time.timestamp()))
                    encoded = _event(published)
                    for listener in tuple(self.listeners):
                        listener.offer(published, encoded)

    async def missed(self, after: str) -> tuple[list[Published], bool]:
        """What came after `after` (oldest first), and whether a gap lies before it (trimmed or too many)."""
        first: Any = await self.redis.xrange(self.key, count=1)
        if first and id_after(text(first[0][0]), after):
            # The stream's oldest entry is newer than the client's last one: was anything trimmed between?
            before_first = await self.redis.xrevrange(self.key, max=after, count=1)
            trimmed = not before_first and after != "0-0"
        else:
            trimmed = False
        entries = await self.redis.xrange(self.key, min=f"({after}", count=CATCH_UP_LIMIT + 1)
        published = list(parse_entries(entries))
        return published[:CATCH_UP_LIMIT], trimmed or len(published) > CATCH_UP_LIMIT


class EventStreamApp:
    """ASGI: `GET /api/v1/events` for signed-in users; `/health/live` and `/metrics` for the platform."""

    def __init__(self, settings: Settings | None = None, validator: TokenValidator | None = None) -> None:
        self.settings = settings or from_env(calls_sap=False)
        self.validator = validator or _validator(self.settings)
        self.hub: Hub | None = None
        self.presence_redis = redis.Redis.from_url(self.settings.redis_url, socket_timeout=2.0)

    def _hub(self) -> Hub:
        if self.hub is None:  # built inside the worker's event loop, on first use
            # The socket timeout outlasts the blocking read (redis-py's default of 5 s would cut each one short).
            # A bounded pool: a storm of reconnecting clients reads back in turn instead of opening a connection each.
            pool = aioredis.BlockingConnectionPool.from_url(
                self.settings.redis_url, socket_timeout=BLOCK_S + 10, max_connections=REDIS_CONNECTIONS, timeout=10
            )
            connection = aioredis.Redis(connection_pool=pool)
            self.hub = Hub(connection, stream_key())
            self.hub.start()
        return self.hub

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        path, method = scope["path"], scope["method"]
        if path == "/health/live" and method in ("GET", "HEAD"):
            await _plain(send, 200, b'{"status":"UP"}', b"application/json")
        elif path == "/metrics" and method == "GET":
            await _plain(send, 200, generate_latest(registry), CONTENT_TYPE_LATEST.encode())
        elif path.rstrip("/") == PATH and method == "OPTIONS":
            await _preflight(send)
        elif path.rstrip("/") == PATH and method == "GET":
            await self._stream(scope, receive, send)
        elif path.rstrip("/") == PATH:
            await _error(send, 405, "use GET to open the event stream", [(b"allow", b"GET, OPTIONS")])
        else:
            await _error(send, 404, f"no such endpoint here: this process serves only GET {PATH}")

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                configure_logging(
                    self.settings.log_level, self.settings.log_format, app=self.settings.app_name, process="events"
                )
                self._hub()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self.hub is not None:
                    await self.hub.stop()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _stream(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        principal, expires = await self._authenticate(headers, send)
        if principal is None:
            return
        last_id = headers.get("last-event-id") or _query(scope, "last_event_id")
        if last_id and not valid_id(last_id):
            await _error(send, 400, "Last-Event-ID is not an id this stream sent: reconnect without it")
            return
        hub = self._hub()
        try:
            # A stream that answered 200 misses nothing published afterwards: the reader must have its start.
            await asyncio.wait_for(hub.following.wait(), timeout=5)
        except TimeoutError:
            await _error(
                send, 503, "the event bus (Redis) is not reachable; reconnect shortly", [(b"retry-after", b"5")]
            )
            return
        listener = Listener(principal)
        hub.listeners.add(listener)  # before reading back, so nothing published meanwhile is missed
        STREAMS.inc()
        disconnected = asyncio.Event()
        watcher = asyncio.get_running_loop().create_task(_watch_disconnect(receive, disconnected))
        log.info("event_stream_opened", user=principal.user_name, resumed_from=last_id or None)
        try:
            await send({"type": "http.response.start", "status": 200, "headers": _stream_headers()})
            await _write(send, f"retry: {RETRY_MS}\n: connected\n\n".encode())
            sent_up_to = await self._catch_up(hub, listener, last_id, send) if last_id else None
            await self._mark_present(principal)
            await self._pump(listener, sent_up_to, expires, disconnected, send)
        except OSError:
            pass  # the client went away while we wrote
        except redis.RedisError as exc:
            # Reading back failed after the 200: end the stream; the client reconnects with its last id.
            log.warning("event_stream_read_back_failed", error=type(exc).__name__)
        finally:
            hub.listeners.discard(listener)
            STREAMS.dec()
            watcher.cancel()
            log.info("event_stream_closed", user=principal.user_name)

    async def _authenticate(self, headers: dict[str, str], send: Send) -> tuple[Principal | None, float]:
        scheme, _, raw = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not raw.strip():
            await _error(send, 401, "missing bearer token: send 'Authorization: Bearer <JWT>'", _challenge(None))
            return None, 0.0
        try:
            principal = await asyncio.to_thread(
                self.validator.validate, raw.strip(), max_lifetime=self.settings.jwt_max_lifetime
            )
        except AuthError as exc:
            await _error(send, 401, str(exc), _challenge(str(exc)))
            return None, 0.0
        except IdentityProviderUnavailable as exc:
            await _error(send, 503, str(exc), [(b"retry-after", b"30")])
            return None, 0.0
        if not principal.roles & STREAM_ROLES:
            await _error(send, 403, "your user has none of the roles this API serves; ask an administrator")
            return None, 0.0
        return principal, _expiry(raw)

    async def _catch_up(self, hub: Hub, listener: Listener, last_id: str, send: Send) -> str:
        missed, gap = await hub.missed(last_id)
        if gap:
            # More was missed than the stream keeps: the client should reload what it shows.
            await _write(send, _sse(None, "reset", {"reason": "events were missed; reload the data you show"}))
        sent_up_to = last_id
        for published in missed:
            if published.notification.audience.admits(listener.principal):
                await _write(send, _event(published))
            sent_up_to = published.id
        return sent_up_to

    async def _pump(
        self, listener: Listener, sent_up_to: str | None, expires: float, disconnected: asyncio.Event, send: Send
    ) -> None:
        heartbeat = self.settings.events_heartbeat
        next_presence = time.monotonic() + PRESENCE_EVERY
        while not disconnected.is_set():
            remaining = expires - time.time()
            if remaining <= 0:
                # The token ran out: the client reconnects with a fresh one and resumes from its last id.
                await _write(send, _sse(None, "token-expired", {"message": "sign in again and reconnect"}))
                return
            try:
                item = await asyncio.wait_for(listener.queue.get(), timeout=min(heartbeat, remaining))
            except TimeoutError:
                await _write(send, b": keep-alive\n\n")
                if time.monotonic() > next_presence:
                    next_presence = time.monotonic() + PRESENCE_EVERY
                    await self._mark_present(listener.principal)
                continue
            if item is None:  # overflowed
                return
            published, encoded = item
            if sent_up_to is not None and not id_after(published.id, sent_up_to):
                continue  # already sent while catching up
            await _write(send, encoded)
            SENT.labels(published.notification.type).inc()

    async def _mark_present(self, principal: Principal) -> None:
        try:
            await asyncio.to_thread(presence.touch, self.presence_redis, principal.user_name, principal.roles)
        except Exception as exc:  # the inbox poller misses this user for a while; the stream goes on
            log.warning("presence_not_recorded", error=type(exc).__name__)


def _event(published: Published) -> bytes:
    return _sse(published.id, published.notification.type, published.notification.public(published.id))


async def _write(send: Send, body: bytes) -> None:
    await send({"type": "http.response.body", "body": body, "more_body": True})


async def _watch_disconnect(receive: Receive, disconnected: asyncio.Event) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            disconnected.set()
            return


def _stream_headers() -> list[tuple[bytes, bytes]]:
    return [
        (b"content-type", b"text/event-stream; charset=utf-8"),
        (b"cache-control", b"no-store"),
        (b"x-accel-buffering", b"no"),  # nginx and similar proxies: do not buffer the stream
        *CORS,
    ]


async def _plain(send: Send, status: int, body: bytes, content_type: bytes) -> None:
    await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", content_type)]})
    await send({"type": "http.response.body", "body": body})


async def _preflight(send: Send) -> None:
    headers = [
        *CORS,
        (b"access-control-allow-methods", b"GET"),
        (b"access-control-allow-headers", b"authorization, last-event-id"),
        (b"access-control-max-age", b"600"),
    ]
    await send({"type": "http.response.start", "status": 204, "headers": headers})
    await send({"type": "http.response.body", "body": b""})


async def _error(send: Send, status: int, message: str, extra: list[tuple[bytes, bytes]] | None = None) -> None:
    body = orjson.dumps({"code": status, "status": HTTPStatus(status).phrase, "message": message})
    headers = [(b"content-type", b"application/json"), *CORS, *(extra or [])]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _challenge(problem: str | None) -> list[tuple[bytes, bytes]]:
    value = bearer_challenge(problem) if problem else 'Bearer realm="sap-extension-api"'
    return [(b"www-authenticate", value.encode("latin-1", "replace"))]


def _query(scope: Scope, name: str) -> str | None:
    values = parse_qs(scope.get("query_string", b"").decode("latin-1")).get(name)
    return values[0] if values else None


def _expiry(raw: str) -> float:
    """The token's exp (already verified): the stream ends then, and the client reconnects signed in anew."""
    try:
        payload = raw.split(".")[1]
        claims = orjson.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return float(claims["exp"])
    except (IndexError, KeyError, TypeError, ValueError):
        return time.time() + 300


def _validator(settings: Settings) -> TokenValidator:
    keys: JwksKeys | StaticKeys
    if settings.dev_idp_enabled:
        keys = StaticKeys(public_key_set(load_or_create_key(settings.dev_idp_key_file)))
    else:
        keys = JwksKeys(settings.jwks_url)
    return TokenValidator(settings.jwt_issuer, settings.xsappname, keys, settings.jwt_leeway)


def create_app(settings: Settings | None = None) -> EventStreamApp:
    return EventStreamApp(settings)
