"""Retry policy of writeback jobs: which SAP errors end a command, and the back-off before the next attempt."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from odata_clients.errors import (
    SapAuthError,
    SapDestinationError,
    SapError,
    SapPreconditionFailed,
    SapProtocolError,
    SapRateLimited,
)
from store import Status


def classify(error: SapError) -> Status | None:
    """None for a transient error (try again later), else how the command ends.

    412: someone changed the object since the user read it -> conflict. SAP refusing our credentials
    (401/403 on a technical or propagated call, a CSRF token refused even after a fresh fetch) is a
    configuration problem, not the user's fault, and so is a destination that cannot be used (missing in the
    Destination service, the wrong kind) -> dead (an admin requeues it once fixed; the alert fires).
    An answer we cannot interpret (protocol) may hide an applied change -> dead, for a person to look at.
    Everything else that is not transient (400 with SAP's message, 404, 428) is a rejection.
    """
    if error.transient:
        return None
    if isinstance(error, SapPreconditionFailed):
        return Status.CONFLICT
    if isinstance(error, (SapAuthError, SapDestinationError, SapProtocolError)):
        return Status.DEAD
    return Status.REJECTED


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential back-off with "equal jitter": attempt n waits between d/2 and d, d = min(cap, base * 2**(n-1)).

    Half the delay is fixed so a retry never comes straight back; the random half spreads the commands
    that failed together (one SAP outage) so they do not all return at the same instant.
    """

    max_attempts: int
    base: float
    cap: float
    rand: Callable[[], float] = field(default=random.random, compare=False)

    def __post_init__(self) -> None:
        if self.max_attempts < 1 or self.base <= 0 or self.cap < self.base:
            raise ValueError("need max_attempts >= 1 and 0 < base <= cap")

    def ceiling(self, attempt: int) -> float:
        return float(min(self.cap, self.base * 2 ** min(max(attempt, 1) - 1, 62)))

    def delay(self, attempt: int, error: SapError | None = None) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based); SAP's Retry-After is a floor."""
        ceiling = self.ceiling(attempt)
        delay = ceiling / 2 + self.rand() * ceiling / 2
        if isinstance(error, SapRateLimited) and error.retry_after:
            delay = max(delay, min(error.retry_after, self.cap))
        return delay

    def exhausted(self, attempts: int) -> bool:
        """True when `attempts` attempts have been made and no further one is allowed."""
        return attempts >= self.max_attempts

    def next_attempt_at(self, now: datetime, attempt: int, error: SapError | None = None) -> datetime:
        return now + timedelta(seconds=self.delay(attempt, error))
