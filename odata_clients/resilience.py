"""Retry policy with back-off and jitter, a circuit breaker, a bulkhead and the deadline of a unit of work."""

from __future__ import annotations

import contextvars
import enum
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
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


@dataclass(frozen=True)
class Deadline:
    """The moment (on `clock`) by which every SAP call of one unit of work, such as a web request, must end."""

    at: float
    budget: float  # the seconds it was given, for messages
    clock: Callable[[], float] = field(default=time.monotonic, compare=False, repr=False)

    def remaining(self) -> float:
        return self.at - self.clock()


_deadline: contextvars.ContextVar[Deadline | None] = contextvars.ContextVar("odata_clients_deadline", default=None)


def current_deadline() -> Deadline | None:
    """The deadline the SAP calls of this context must keep, if any."""
    return _deadline.get()


@contextmanager
def deadline(seconds: float | None, *, clock: Callable[[], float] = time.monotonic) -> Iterator[Deadline | None]:
    """Every SAP call made inside shares one budget of `seconds`: attempts, back-off pauses, waits for a
    bulkhead slot and CSRF fetches all spend it, and each read timeout is cut to the time left.

    Nested, the earlier deadline wins (an inner budget can shorten an outer one, never extend it);
    `None` adds no limit of its own. A context variable, so it follows the thread (or task) that set it.
    """
    outer = _deadline.get()
    if seconds is None:
        yield outer
        return
    chosen = Deadline(clock() + seconds, seconds, clock)
    if outer is not None and outer.remaining() <= seconds:
        chosen = outer
    token = _deadline.set(chosen)
    try:
        yield chosen
    finally:
        _deadline.reset(token)


class Bulkhead:
    """At most `limit` calls in flight and at most `max_queued` callers waiting for a slot.

    In a thread-per-request server every caller waiting for SAP holds a thread. Bounding both the calls
    in flight and the waiters keeps the other threads free for requests that never call SAP; callers
    beyond them fail at once instead of queueing. A waiter waits at most `queue_timeout`, and never past
    the current deadline. `max_queued=None` lets any number wait.
    """

    def __init__(self, name: str, limit: int, queue_timeout: float, max_queued: int | None = None) -> None:
        self.name = name
        self.limit = limit
        self.queue_timeout = queue_timeout
        self.max_queued = max_queued
        self._semaphore = threading.BoundedSemaphore(limit)
        self._lock = threading.Lock()
        self._waiting = 0
        self._in_flight = 0

    def free(self) -> int:
        """Slots free right now (a hint: another thread may take one the next moment)."""
        with self._lock:
            return self.limit - self._in_flight

    def __enter__(self) -> Bulkhead:
        if self._semaphore.acquire(blocking=False):
            self._entered()
            return self
        busy = f"{self.limit} calls to {self.name} already in flight"
        wait = self.queue_timeout
        if (budget := current_deadline()) is not None:
            wait = min(wait, budget.remaining())
        with self._lock:
            full = self.max_queued is not None and self._waiting >= self.max_queued
            if not full:
                self._waiting += 1
        if full:
            raise ConcurrencyLimitError(f"{busy} and {self.max_queued} callers waiting", destination=self.name)
        try:
            acquired = wait > 0 and self._semaphore.acquire(timeout=wait)
        finally:
            with self._lock:
                self._waiting -= 1
        if not acquired:
            raise ConcurrencyLimitError(f"{busy}; gave up after waiting {max(wait, 0.0):.3g}s", destination=self.name)
        self._entered()
        return self

    def _entered(self) -> None:
        with self._lock:
            self._in_flight += 1

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self._in_flight -= 1
        self._semaphore.release()
