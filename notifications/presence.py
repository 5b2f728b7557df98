"""Who is active: users seen recently (an open event stream), per role, so pollers read only their deltas."""

from __future__ import annotations

import time
from collections.abc import Iterable

import redis

from notifications.bus import DEFAULT_PREFIX

DEFAULT_WINDOW = 24 * 3600.0  # seconds since a user was last seen during which they count as active
# Entries older than this are dropped (at every touch, and by `prune`): longer than any window asked for.
RETAIN = 7 * 24 * 3600


def presence_key(role: str, prefix: str = DEFAULT_PREFIX) -> str:
    return f"{prefix}:presence:{role}"


def touch(
    connection: redis.Redis,
    user_name: str,
    roles: Iterable[str],
    *,
    now: float | None = None,
    prefix: str = DEFAULT_PREFIX,
) -> None:
    """Record that `user_name` is active now in each of `roles`: one round trip. Raises redis.RedisError."""
    moment = time.time() if now is None else now
    pipe = connection.pipeline(transaction=False)
    for role in dict.fromkeys(str(role) for role in roles):
        key = presence_key(role, prefix)
        pipe.zadd(key, {user_name: moment})
        # Pruned here so that the set never outgrows its users; the key goes when nobody of the role comes back.
        pipe.zremrangebyscore(key, "-inf", f"({moment - RETAIN}")
        pipe.expire(key, RETAIN)
    pipe.execute()


def active(
    connection: redis.Redis,
    role: str,
    since_seconds: float = DEFAULT_WINDOW,
    *,
    now: float | None = None,
    prefix: str = DEFAULT_PREFIX,
) -> list[str]:
    """The users of `role` seen within the last `since_seconds`, most recently seen first."""
    moment = time.time() if now is None else now
    names = connection.zrevrangebyscore(presence_key(role, prefix), "+inf", moment - since_seconds)
    return [name.decode() if isinstance(name, bytes) else str(name) for name in names]


def prune(
    connection: redis.Redis,
    roles: Iterable[str],
    older_than: float = RETAIN,
    *,
    now: float | None = None,
    prefix: str = DEFAULT_PREFIX,
) -> int:
    """Forget the users of `roles` not seen for `older_than` seconds; how many were forgotten."""
    moment = time.time() if now is None else now
    pipe = connection.pipeline(transaction=False)
    for role in dict.fromkeys(str(role) for role in roles):
        pipe.zremrangebyscore(presence_key(role, prefix), "-inf", f"({moment - older_than}")
    return sum(int(removed) for removed in pipe.execute())
