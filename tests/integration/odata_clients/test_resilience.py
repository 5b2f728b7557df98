"""The issue's done-when list, against the live mock SAP and its fault injection."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest

from odata_clients.connectivity import SapConnectivity
from odata_clients.errors import (
    CircuitOpenError,
    SapPreconditionFailed,
    SapProtocolError,
    SapTimeout,
    SapUnavailable,
)
from odata_clients.http import record_calls
from odata_clients.resilience import BreakerState

from .conftest import PRODORD, clear_faults, csrf_fetches, stats

if TYPE_CHECKING:
    from tests.conftest import MockSap

PLANTS = ["1010", "1020"]


def unreleased_orders(sap: SapConnectivity, count: int) -> list[str]:
    page = sap.production_orders.search(PLANTS, status="created", top=count)
    assert len(page.items) == count, "the seed should hold enough unreleased orders"
    return [order.order_id for order in page.items]


def test_expired_csrf_token_costs_exactly_one_refetch_and_the_write_succeeds(
    sap: SapConnectivity, faults: Callable[..., None], mock_sap: MockSap
) -> None:
    first, second = unreleased_orders(sap, 2)
    before = stats(mock_sap)
    sap.production_orders.release(first)  # fetches the first token lazily
    faults(PRODORD, csrf_expire=True)
    with record_calls() as calls:
        sap.production_orders.release(second)
    after = stats(mock_sap)
    assert csrf_fetches(before, after) == 2
    posts = [c.status for c in calls if c.method == "POST"]
    assert posts == [403, 200]
    assert [c.method for c in calls] == ["POST", "HEAD", "POST"]
    assert sap.production_orders.get(second).is_released


def test_read_under_30_percent_503_succeeds_within_its_retry_budget(
    connect: Callable[..., SapConnectivity], faults: Callable[..., None]
) -> None:
    # 8 attempts: a read fails only if all 8 hit the 30% (p = 0.3**8 = 6.6e-5 per read).
    sap = connect(max_attempts=8)
    sap.clients[PRODORD].load()
    faults(PRODORD, status=503, rate=0.3)
    with record_calls() as calls:
        for _ in range(20):
            page = sap.production_orders.search(PLANTS, top=5)
            assert page.items
    assert max(c.attempt for c in calls) <= 8
    assert any(c.status == 503 for c in calls), "30% of ~20+ calls should have hit at least one 503"
    assert all(c.method == "GET" for c in calls)


def test_a_write_is_never_retried_on_503(sap: SapConnectivity, faults: Callable[..., None]) -> None:
    [order] = unreleased_orders(sap, 1)
    faults(PRODORD, status=503, rate=1.0, methods=["POST"])
    with record_calls() as calls, pytest.raises(SapUnavailable):
        sap.production_orders.release(order)
    posts = [c for c in calls if c.method == "POST"]
    assert len(posts) == 1 and posts[0].status == 503


def test_breaker_opens_after_threshold_fails_fast_and_closes_after_recovery(
    connect: Callable[..., SapConnectivity], faults: Callable[..., None], mock_sap: MockSap
) -> None:
    sap = connect(max_attempts=1, breaker_failure_threshold=3, breaker_recovery_time=0.5)
    sap.clients[PRODORD].load()
    faults(PRODORD, status=503, rate=1.0)
    for _ in range(3):
        with pytest.raises(SapUnavailable) as info:
            sap.production_orders.search(PLANTS, top=1)
        assert not isinstance(info.value, CircuitOpenError)
    assert sap.technical_http.breaker.state is BreakerState.OPEN
    with record_calls() as calls:
        started = time.perf_counter()
        with pytest.raises(CircuitOpenError):
            sap.production_orders.search(PLANTS, top=1)
        elapsed = time.perf_counter() - started
    assert elapsed < 0.010, f"fail-fast took {elapsed * 1000:.1f} ms"
    assert calls == [], "nothing was sent while the circuit is open"
    clear_faults(mock_sap)
    time.sleep(0.55)
    assert sap.technical_http.breaker.state is BreakerState.HALF_OPEN
    assert sap.production_orders.search(PLANTS, top=1).items  # the probe
    assert sap.technical_http.breaker.state is BreakerState.CLOSED


@pytest.mark.parametrize("write", [False, True], ids=["read", "write"])
def test_hanging_sap_times_out_within_the_configured_timeout_plus_10_percent(
    connect: Callable[..., SapConnectivity], faults: Callable[..., None], write: bool
) -> None:
    timeout = 1.0
    sap = connect(read_timeout=timeout, total_timeout=timeout, max_attempts=3)
    primer, order = unreleased_orders(sap, 2)
    if write:
        sap.production_orders.release(primer)  # the CSRF token is fetched before SAP starts hanging
    faults(PRODORD, hang=True, rate=1.0)
    started = time.perf_counter()
    with pytest.raises(SapTimeout):
        if write:
            sap.production_orders.release(order)
        else:
            sap.production_orders.get(order)
    elapsed = time.perf_counter() - started
    assert elapsed <= timeout * 1.1, f"timed out after {elapsed:.3f}s"


def test_stale_etag_is_a_typed_precondition_error_with_sap_message(sap: SapConnectivity) -> None:
    [order_id] = unreleased_orders(sap, 1)
    order = sap.production_orders.get(order_id)
    assert order.etag
    sap.production_orders.reschedule(order_id, etag=order.etag, planned_start="2030-01-07", planned_end="2030-01-14")
    fresh = sap.production_orders.get(order_id)
    assert fresh.planned_start == "2030-01-07"
    assert fresh.etag != order.etag
    with pytest.raises(SapPreconditionFailed) as info:
        sap.production_orders.reschedule(
            order_id, etag=order.etag, planned_start="2030-01-08", planned_end="2030-01-15"
        )
    error = info.value
    assert error.status == 412
    assert error.message and error.message != "SAP HTTP 412"  # SAP's own text is carried
    assert error.code
    assert sap.production_orders.get(order_id).planned_start == "2030-01-07"


def test_an_update_without_if_match_never_reaches_sap(sap: SapConnectivity, mock_sap: MockSap) -> None:
    [order_id] = unreleased_orders(sap, 1)
    with pytest.raises(ValueError):
        sap.production_orders.reschedule(order_id, etag="", planned_start="2030-01-07")
    with record_calls() as calls, pytest.raises(SapProtocolError, match="If-Match"):
        sap.technical_http.request(
            "PATCH",
            f"/sap/opu/odata/sap/API_PRODUCTION_ORDER_2_SRV/A_ProductionOrder_2('{order_id}')",
            service="/sap/opu/odata/sap/API_PRODUCTION_ORDER_2_SRV",
            json={"MfgOrderPlannedStartDate": "/Date(1893974400000)/"},
        )
    assert calls == []


def test_concurrent_writes_share_one_token_and_one_refetch(
    sap: SapConnectivity, faults: Callable[..., None], mock_sap: MockSap
) -> None:
    orders = unreleased_orders(sap, 9)
    before = stats(mock_sap)
    sap.production_orders.release(orders[0])
    faults(PRODORD, csrf_expire=True)
    errors: list[BaseException] = []

    def release(order: str) -> None:
        try:
            sap.production_orders.release(order)
        except BaseException as exc:  # noqa: BLE001 (collected for the assert below)
            errors.append(exc)

    threads = [threading.Thread(target=release, args=(order,)) for order in orders[1:]]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert csrf_fetches(before, stats(mock_sap)) == 2
