"""Delivery counters shared by every process (Redis), read by /metrics at scrape time like the outbox numbers."""

from __future__ import annotations

import redis
import structlog

from notifications.bus import DEFAULT_PREFIX

log = structlog.get_logger(__name__)

CHANNELS = ("push", "webhook", "sap_event")
OUTCOMES = ("delivered", "failed", "retried", "dead", "expired", "duplicate", "received")


def stats_key(prefix: str = DEFAULT_PREFIX) -> str:
    return f"{prefix}:notifications:stats"


def record(connection: redis.Redis, channel: str, outcome: str, prefix: str = DEFAULT_PREFIX) -> None:
    """Count one delivery outcome; never raises (a lost count must not fail a delivery)."""
    try:
        connection.hincrby(stats_key(prefix), f"{channel}:{outcome}", 1)
    except redis.RedisError as exc:
        log.warning("notification_stat_not_recorded", channel=channel, outcome=outcome, error=type(exc).__name__)


def read(connection: redis.Redis, prefix: str = DEFAULT_PREFIX) -> dict[tuple[str, str], int]:
    """(channel, outcome) -> count since Redis last lost its data (a counter reset, as Prometheus expects them)."""
    raw = connection.hgetall(stats_key(prefix))
    counts: dict[tuple[str, str], int] = {}
    for field, value in raw.items():
        name = field.decode() if isinstance(field, bytes) else str(field)
        channel, _, outcome = name.partition(":")
        counts[(channel, outcome)] = int(value)
    return counts
