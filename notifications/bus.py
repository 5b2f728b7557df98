"""The event bus: one Redis stream every web instance and worker reads, so an event reaches them all.

A stream rather than pub/sub: entries have ids that order them, a reconnecting client resumes from its
Last-Event-ID by reading what it missed, and the dispatcher's consumer group hands each entry to one worker.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson
import redis
import structlog

from notifications.model import Notification

log = structlog.get_logger(__name__)

DEFAULT_PREFIX = "sapext"
DEFAULT_RETAIN = 10_000  # entries kept for resuming streams: hours of a busy plant's events


def stream_key(prefix: str = DEFAULT_PREFIX) -> str:
    return f"{prefix}:notifications"


@dataclass(frozen=True)
class Published:
    """A notification as the bus holds it: with the stream id that orders it and resumes after it."""

    id: str
    notification: Notification


def text(value: Any) -> str:
    """A Redis reply's bytes (or str) as str."""
    return value.decode() if isinstance(value, bytes) else str(value)


def parse_entries(entries: Iterable[tuple[Any, Any]] | None) -> Iterator[Published]:
    """Stream entries (as redis-py returns them, bytes or str) as Published; a malformed one is skipped."""
    for raw_id, fields in entries or ():
        entry_id = text(raw_id)
        try:
            body = fields.get(b"n", fields.get("n"))
            yield Published(entry_id, Notification.from_json(orjson.loads(body)))
        except (TypeError, ValueError, KeyError, AttributeError) as exc:
            log.warning("notification_entry_unreadable", entry_id=entry_id, error=f"{type(exc).__name__}: {exc}")


def id_after(a: str, b: str) -> bool:
    """Whether stream id `a` comes after `b` ("<ms>-<seq>")."""
    return _key(a) > _key(b)


def _key(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


def valid_id(entry_id: str) -> bool:
    """A Last-Event-ID we can resume from: a stream id, nothing else reaches Redis."""
    ms, sep, seq = entry_id.partition("-")
    return bool(sep) and ms.isdigit() and seq.isdigit() and len(entry_id) <= 41


class EventBus:
    """Publishes notifications and reads them back (sync; the event stream server reads with redis.asyncio)."""

    def __init__(self, connection: redis.Redis, prefix: str = DEFAULT_PREFIX, retain: int = DEFAULT_RETAIN) -> None:
        self.redis = connection
        self.key = stream_key(prefix)
        self.retain = retain

    def publish(self, notification: Notification) -> str:
        """Append it for every instance; its stream id. Raises redis.RedisError (callers decide if that matters)."""
        entry_id = self.redis.xadd(
            self.key, {"n": orjson.dumps(notification.to_json())}, maxlen=self.retain, approximate=True
        )
        return entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)

    def after(self, last_id: str, count: int = 1000) -> list[Published]:
        """What came after `last_id`, oldest first, at most `count`."""
        return list(parse_entries(self.redis.xrange(self.key, min=f"({last_id}", count=count)))

    def get(self, entry_id: str) -> Published | None:
        found = list(parse_entries(self.redis.xrange(self.key, min=entry_id, max=entry_id, count=1)))
        return found[0] if found else None
