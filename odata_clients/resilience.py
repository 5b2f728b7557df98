"""Retry policy with back-off and jitter, a circuit breaker and a bulkhead (concurrency limit)."""

from __future__ import annotations

import enum
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from odata_clients.errors import CircuitOpenError, ConcurrencyLimitError

# Statuses that mean "SAP or a proxy in front of it is briefly unable": worth another read.
RETRYABLE_STATUSES = frozenset({429, 502, 503, 504})
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential back-off with full jitter, for idempotent reads only.

    `delay(n)` is the pause after the n-th failed attempt (1-based); a Retry-After hint wins
    when it is larger, and a hint above `max_retry_after` means "give up now".
    """

    max_attempts: int = 3
    base: float = 0.2
    cap: float = 5.0
    max_retry_after: float = 10.0
    rand: Callable[[], float] = field(default=random.random, compare=False, repr=False)

    def should_retry(self, method: str, attempt: int, *, retry_after: float | None = None) -> bool:
        if method.upper() not in IDEMPOTENT_METHODS or attempt >= self.max_attempts:
            return False
        return retry_after is None or retry_after <= self.max_retry_after

    def delay(self, attempt: int, *, retry_after: float | None = None) -> float:
        ceiling = min(self.cap, self.base * 2.0 ** (attempt - 1))
        # Full jitter: spreads the retries of many clients that failed together.
        pause = ceiling * self.rand()
        if retry_after is not None:
            pause = max(pause, retry_after)
        return pause


class BreakerState(enum.IntEnum):
    """Numeric values are what the Prometheus gauge shows."""

    CLOSED = 0
    HALF_OPEN = 1
    OPEN = 2


class CircuitBreaker:
    """Opens after `failure_threshold` consecutive failures; after `recovery_time` lets one probe through.

    The probe's success closes the breaker, its failure re-opens it for another `recovery_time`.
    Thread-safe; the clock is injectable for tests.
    """

    def __init__(
        self,
        name: str,
        *,
        failure_threshold: int = 5,
        recovery_time: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        on_change: Callable[[str, BreakerState], None] | None = None,
    ) -> None:
        self.name = name
        self.failure_threshold = failure_threshold
        self.recovery_time = recovery_time
        self._clock = clock
        self._on_change = on_change
        self._lock = threading.Lock()
        self._state = BreakerState.CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._probe_in_flight = False

    @property
    def state(self) -> BreakerState:
        with self._lock:
            if self._state is BreakerState.OPEN and self._clock() - self._opened_at >= self.recovery_time:
                return BreakerState.HALF_OPEN
            return self._state

    def before_call(self) -> None:
        """Raise CircuitOpenError unless a call may go out now (closed, or the single half-open probe)."""
        with self._lock:
            if self._state is BreakerState.CLOSED:
                return
            if self._state is BreakerState.OPEN:
                remaining = self.recovery_time - (self._clock() - self._opened_at)
                if remaining > 0:
                    raise CircuitOpenError(
                        f"circuit for {self.name} is open; next probe in {remaining:.1f}s", destination=self.name
                    )
                self._set(BreakerState.HALF_OPEN)
            if self._probe_in_flight:
                raise CircuitOpenError(
                    f"circuit for {self.name} is half-open and its probe is in flight", destination=self.name
                )
            self._probe_in_flight = True

    def record_success(self) -> None:
        with self._lock:
            self._failures = 0
            self._probe_in_flight = False
            if self._state is not BreakerState.CLOSED:
                self._set(BreakerState.CLOSED)

    def record_failure(self) -> None:
        with self._lock:
            self._probe_in_flight = False
            if self._state is BreakerState.HALF_OPEN:
                self._open()
                return
            self._failures += 1
            if self._state is BreakerState.CLOSED and self._failures >= self.failure_threshold:
                self._open()

    def release_probe(self) -> None:
        """The call ended with neither verdict (e.g. a local error): let another probe try."""
        with self._lock:
            self._probe_in_flight = False

    def _open(self) -> None:
        self._opened_at = self._clock()
        self._failures = 0
        self._set(BreakerState.OPEN)

    def _set(self, state: BreakerState) -> None:
        self._state = state
        if self._on_change is not None:
            self._on_change(self.name, state)


class Bulkhead:
    """At most `limit` calls in flight per destination, so a slow SAP cannot hold every web thread."""

    def __init__(self, name: str, limit: int, queue_timeout: float) -> None:
        self.name = name
        self.limit = limit
        self.queue_timeout = queue_timeout
        self._semaphore = threading.BoundedSemaphore(limit)

    def __enter__(self) -> Bulkhead:
        if not self._semaphore.acquire(timeout=self.queue_timeout):
            raise ConcurrencyLimitError(
                f"{self.limit} calls to {self.name} already in flight; none finished within {self.queue_timeout:g}s",
                destination=self.name,
            )
        return self

    def __exit__(self, *exc: object) -> None:
        self._semaphore.release()
