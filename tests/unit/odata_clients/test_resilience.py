"""Retry policy and circuit breaker state machine with an injected clock; the bulkhead."""

from __future__ import annotations

import threading

import pytest

from odata_clients.errors import CircuitOpenError, ConcurrencyLimitError
from odata_clients.resilience import BreakerState, Bulkhead, CircuitBreaker, RetryPolicy


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_retry_only_idempotent_methods_within_budget() -> None:
    policy = RetryPolicy(max_attempts=3)
    assert policy.should_retry("GET", 1)
    assert policy.should_retry("head", 2)
    assert not policy.should_retry("GET", 3)
    for method in ("POST", "PATCH", "PUT", "MERGE", "DELETE"):
        assert not policy.should_retry(method, 1)


def test_retry_delay_is_exponential_with_full_jitter_and_cap() -> None:
    top = RetryPolicy(base=0.1, cap=1.0, rand=lambda: 1.0)
    assert [top.delay(n) for n in (1, 2, 3, 4, 5)] == [0.1, 0.2, 0.4, 0.8, 1.0]
    bottom = RetryPolicy(base=0.1, cap=1.0, rand=lambda: 0.0)
    assert bottom.delay(3) == 0.0


def test_retry_after_is_honoured_or_refused_when_too_long() -> None:
    policy = RetryPolicy(base=0.1, max_retry_after=5.0, rand=lambda: 0.5)
    assert policy.delay(1, retry_after=2.0) == 2.0
    assert policy.should_retry("GET", 1, retry_after=5.0)
    assert not policy.should_retry("GET", 1, retry_after=6.0)


def test_breaker_opens_after_threshold_and_fails_fast() -> None:
    clock = Clock()
    changes: list[BreakerState] = []
    breaker = CircuitBreaker(
        "s4", failure_threshold=3, recovery_time=10, clock=clock, on_change=lambda n, s: changes.append(s)
    )
    for _ in range(2):
        breaker.before_call()
        breaker.record_failure()
    assert breaker.state is BreakerState.CLOSED
    breaker.before_call()
    breaker.record_failure()
    assert breaker.state is BreakerState.OPEN
    with pytest.raises(CircuitOpenError) as info:
        breaker.before_call()
    assert info.value.transient
    assert changes == [BreakerState.OPEN]


def test_success_resets_the_consecutive_count() -> None:
    breaker = CircuitBreaker("s4", failure_threshold=2, clock=Clock())
    breaker.record_failure()
    breaker.record_success()
    breaker.record_failure()
    assert breaker.state is BreakerState.CLOSED


def test_half_open_allows_one_probe_success_closes() -> None:
    clock = Clock()
    breaker = CircuitBreaker("s4", failure_threshold=1, recovery_time=10, clock=clock)
    breaker.record_failure()
    clock.now += 9.9
    with pytest.raises(CircuitOpenError):
        breaker.before_call()
    clock.now += 0.1
    assert breaker.state is BreakerState.HALF_OPEN
    breaker.before_call()  # the probe
    with pytest.raises(CircuitOpenError):
        breaker.before_call()  # a second caller while the probe is out
    breaker.record_success()
    assert breaker.state is BreakerState.CLOSED
    breaker.before_call()


def test_half_open_probe_failure_reopens_for_another_period() -> None:
    clock = Clock()
    breaker = CircuitBreaker("s4", failure_threshold=1, recovery_time=10, clock=clock)
    breaker.record_failure()
    clock.now += 10
    breaker.before_call()
    breaker.record_failure()
    assert breaker.state is BreakerState.OPEN
    clock.now += 5
    with pytest.raises(CircuitOpenError):
        breaker.before_call()
    clock.now += 5
    breaker.before_call()


def test_released_probe_lets_the_next_caller_probe() -> None:
    clock = Clock()
    breaker = CircuitBreaker("s4", failure_threshold=1, recovery_time=1, clock=clock)
    breaker.record_failure()
    clock.now += 1
    breaker.before_call()
    breaker.release_probe()
    breaker.before_call()


def test_bulkhead_limits_concurrency() -> None:
    bulkhead = Bulkhead("s4", limit=2, queue_timeout=0.01)
    entered = threading.Event()
    with bulkhead, bulkhead:
        entered.set()
        with pytest.raises(ConcurrencyLimitError), bulkhead:
            pass
    with bulkhead:
        pass
