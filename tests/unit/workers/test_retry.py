"""Back-off bounds and jitter, and which SAP errors end a command."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from odata_clients.errors import (
    CircuitOpenError,
    SapAuthError,
    SapBusinessError,
    SapCsrfError,
    SapError,
    SapLocked,
    SapNotFound,
    SapPreconditionFailed,
    SapPreconditionRequired,
    SapProtocolError,
    SapRateLimited,
    SapTimeout,
    SapUnavailable,
    error_from_response,
)
from store import Status
from workers.retry import RetryPolicy, classify


@pytest.mark.parametrize(
    ("error", "ending"),
    [
        (SapTimeout("t"), None),
        (SapUnavailable("503", status=503), None),
        (SapRateLimited("429", status=429), None),
        (SapLocked("423", status=423), None),
        (CircuitOpenError("open"), None),
        (SapPreconditionFailed("412", status=412), Status.CONFLICT),
        (SapBusinessError("400", status=400), Status.REJECTED),
        (SapAuthError("403", status=403), Status.DEAD),  # our credentials: configuration, not the user's fault
        (SapAuthError("401", status=401), Status.DEAD),
        (SapCsrfError("403", status=403), Status.DEAD),
        (SapNotFound("404", status=404), Status.REJECTED),
        (SapPreconditionRequired("428", status=428), Status.REJECTED),
        (SapProtocolError("junk"), Status.DEAD),
    ],
)
def test_classification(error: SapError, ending: Status | None) -> None:
    assert classify(error) == ending


@pytest.mark.parametrize(
    ("status", "ending"),
    [(500, None), (502, None), (503, None), (504, None), (429, None), (423, None), (400, Status.REJECTED),
     (403, Status.DEAD), (409, Status.REJECTED), (412, Status.CONFLICT)],
)  # fmt: skip
def test_classification_of_http_statuses(status: int, ending: Status | None) -> None:
    assert classify(error_from_response(status, {}, b"")) == ending


def test_delay_doubles_up_to_the_cap_and_stays_within_half_and_full() -> None:
    low = RetryPolicy(max_attempts=10, base=1.0, cap=30.0, rand=lambda: 0.0)
    high = RetryPolicy(max_attempts=10, base=1.0, cap=30.0, rand=lambda: 0.999999)
    ceilings = [1, 2, 4, 8, 16, 30, 30, 30]
    for attempt, ceiling in enumerate(ceilings, start=1):
        assert low.delay(attempt) == pytest.approx(ceiling / 2)
        assert high.delay(attempt) == pytest.approx(ceiling, rel=1e-5)


def test_jitter_spreads_commands_that_failed_together() -> None:
    policy = RetryPolicy(max_attempts=5, base=2.0, cap=60.0)
    delays = [policy.delay(3) for _ in range(200)]
    assert all(4.0 <= d <= 8.0 for d in delays)
    assert len({round(d, 3) for d in delays}) > 100


def test_huge_attempt_numbers_do_not_overflow() -> None:
    assert RetryPolicy(max_attempts=3, base=1.0, cap=5.0, rand=lambda: 1.0).delay(10_000) == 5.0


def test_retry_after_is_a_floor_but_capped() -> None:
    policy = RetryPolicy(max_attempts=5, base=1.0, cap=20.0, rand=lambda: 0.0)
    assert policy.delay(1, SapRateLimited("429", retry_after=7.0)) == 7.0
    assert policy.delay(1, SapRateLimited("429", retry_after=999.0)) == 20.0


def test_exhausted_after_max_attempts() -> None:
    policy = RetryPolicy(max_attempts=3, base=1.0, cap=2.0)
    assert [policy.exhausted(n) for n in (1, 2, 3, 4)] == [False, False, True, True]


def test_next_attempt_at_is_in_the_future() -> None:
    now = datetime(2024, 1, 1, tzinfo=UTC)
    at = RetryPolicy(max_attempts=3, base=1.0, cap=2.0, rand=lambda: 0.5).next_attempt_at(now, 1)
    assert at == now + timedelta(seconds=0.75)


@pytest.mark.parametrize("bad", [{"max_attempts": 0}, {"base": 0.0}, {"cap": 0.5}])
def test_nonsense_policies_are_refused(bad: dict[str, float]) -> None:
    fields: dict[str, float] = {"max_attempts": 3, "base": 1.0, "cap": 2.0, **bad}
    with pytest.raises(ValueError):
        RetryPolicy(**fields)  # type: ignore[arg-type]
