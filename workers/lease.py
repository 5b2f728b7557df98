"""A Redis leader lease: one holder across all instances, handed over when the holder stops renewing it."""

from __future__ import annotations

import uuid

import redis

# Take the lease if nobody holds it, renew it if we do; 1 when we are the leader afterwards.
_LEASE_SCRIPT = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('pexpire', KEYS[1], ARGV[2])
end
if redis.call('set', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
return 0
"""
_RELEASE_SCRIPT = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""


class Lease:
    """`acquire` takes or renews the lease for `ttl_ms`; a holder that stops renewing (it died) loses it then."""

    def __init__(self, connection: redis.Redis, key: str, ttl_ms: int, holder: str | None = None) -> None:
        self.redis = connection
        self.key = key
        self.ttl_ms = ttl_ms
        self.holder = holder or uuid.uuid4().hex

    def acquire(self) -> bool:
        """True while we hold the lease (taken now or renewed); raises redis.RedisError."""
        return bool(self.redis.eval(_LEASE_SCRIPT, 1, self.key, self.holder, self.ttl_ms))

    def release(self) -> None:
        """Give the lease up if it is still ours, so that another instance need not wait for it to expire."""
        self.redis.eval(_RELEASE_SCRIPT, 1, self.key, self.holder)
