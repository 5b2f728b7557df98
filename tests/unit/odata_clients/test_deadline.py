"""The deadline of a unit of work: SapHttp's timeouts, retries, back-off, slot waits and CSRF fetches keep it."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from typing import Any

import pytest

from odata_clients.clients import ODataClient, ServiceSpec
from odata_clients.destinations import build_destination
from odata_clients.errors import ConcurrencyLimitError, SapTimeout, SapUnavailable
from odata_clients.http import SapHttp
from odata_clients.resilience import Bulkhead, current_deadline, deadline
from tests.unit.odata_clients.test_http import SERVICE, Script, make_handler


class Clock:
    """Time that moves only when the code under test sleeps (or the test says so)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def sap() -> Iterator[tuple[str, Script]]:
    script = Script()
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(script))
    server.daemon_threads = True  # a handler still hanging must not hold up the shutdown
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", script
    server.shutdown()
    server.server_close()


def http_for(url: str, clock: Clock, **tuning: Any) -> SapHttp:
    tuning.setdefault("read_timeout", 30.0)
    tuning.setdefault("breaker_failure_threshold", 100)
    destination = build_destination("s4", url, user="EXT_API_TECH", password="tech-pass-1", **tuning)
    return SapHttp(destination, sleep=clock.sleep, clock=clock, rand=lambda: 1.0)


def read_timeout_of(error: SapTimeout) -> float:
    found = re.search(r"/ ([0-9.]+)s read", error.message)
    assert found, error.message
    return float(found.group(1))


def test_nested_deadlines_keep_the_earlier_and_leaving_restores_the_outer() -> None:
    clock = Clock()
    assert current_deadline() is None
    with deadline(10, clock=clock) as outer:
        assert outer is not None and outer.remaining() == 10
        with deadline(3, clock=clock) as inner:
            assert current_deadline() is inner and inner is not None and inner.remaining() == 3
        with deadline(30, clock=clock) as longer:
            assert longer is outer  # an inner budget never extends the caller's
        with deadline(None, clock=clock) as unchanged:
            assert unchanged is outer
        assert current_deadline() is outer
    assert current_deadline() is None


def test_read_timeout_is_cut_to_the_time_left(sap: tuple[str, Script]) -> None:
    url, script = sap
    clock = Clock()
    http = http_for(url, clock, max_attempts=1)
    script.hang = 5.0
    with deadline(10, clock=clock):
        clock.now += 9.7  # earlier SAP calls of the request took most of it
        with pytest.raises(SapTimeout) as caught:
            http.request("GET", f"{SERVICE}/Things", service=SERVICE)
    assert read_timeout_of(caught.value) == pytest.approx(0.3)
    assert len(script.requests) == 1


def test_retries_and_back_off_stop_at_the_budget(sap: tuple[str, Script]) -> None:
    url, script = sap
    clock = Clock()
    http = http_for(url, clock, max_attempts=10, backoff_base=0.3, backoff_max=5.0)
    script.statuses = [503] * 20
    with deadline(1.0, clock=clock), pytest.raises(SapUnavailable) as caught:
        http.request("GET", f"{SERVICE}/Things", service=SERVICE)
    # Attempts at 0, 0.3 and 0.9 s; the next pause (1.2 s) would end past the deadline, so SAP's 503 is final.
    assert clock.sleeps == [pytest.approx(0.3), pytest.approx(0.6)]
    assert len(script.requests) == 3
    assert caught.value.status == 503

    script.requests.clear()
    with pytest.raises(SapUnavailable):
        http.request("GET", f"{SERVICE}/Things", service=SERVICE)
    assert len(script.requests) == 10  # without a deadline every attempt is made


def test_a_spent_budget_sends_nothing_and_is_not_held_against_sap(sap: tuple[str, Script]) -> None:
    url, script = sap
    clock = Clock()
    http = http_for(url, clock, breaker_failure_threshold=1)
    with deadline(2.0, clock=clock):
        clock.now += 2.5
        with pytest.raises(SapTimeout, match="budget"):
            http.request("GET", f"{SERVICE}/Things", service=SERVICE)
    assert script.requests == []
    http.request("GET", f"{SERVICE}/Things", service=SERVICE)  # the breaker (threshold 1) is still closed


def test_total_timeout_is_a_deadline_inside_the_callers_and_the_earlier_wins(sap: tuple[str, Script]) -> None:
    url, script = sap
    clock = Clock()
    script.hang = 5.0
    short_call = http_for(url, clock, max_attempts=1, total_timeout=0.3)
    with deadline(10, clock=clock), pytest.raises(SapTimeout) as caught:
        short_call.request("GET", f"{SERVICE}/Things", service=SERVICE)
    assert read_timeout_of(caught.value) == pytest.approx(0.3)
    long_call = http_for(url, clock, max_attempts=1, total_timeout=60)
    with deadline(0.2, clock=clock), pytest.raises(SapTimeout) as caught:
        long_call.request("GET", f"{SERVICE}/Things", service=SERVICE)
    assert read_timeout_of(caught.value) == pytest.approx(0.2)


def test_the_csrf_fetch_of_a_write_spends_the_same_budget(sap: tuple[str, Script]) -> None:
    url, script = sap
    clock = Clock()
    http = http_for(url, clock, backoff_base=0.2)
    script.hang = 5.0
    with deadline(0.25, clock=clock), pytest.raises(SapTimeout) as caught:
        http.request("POST", f"{SERVICE}/Things", service=SERVICE, json={"a": 1})
    # The fetch (a HEAD, so retried) timed out, paused 0.2 s and had 0.05 s left; the write never left.
    assert [r["method"] for r in script.requests] == ["HEAD", "HEAD"]
    assert clock.sleeps == [pytest.approx(0.2)]
    assert read_timeout_of(caught.value) == pytest.approx(0.05)


def test_waiting_for_a_slot_ends_at_the_deadline_not_the_queue_timeout() -> None:
    bulkhead = Bulkhead("s4", limit=1, queue_timeout=30.0)
    clock = Clock()
    with bulkhead:
        started = time.monotonic()
        with deadline(0.2), pytest.raises(ConcurrencyLimitError), bulkhead:
            pass
        assert time.monotonic() - started < 10  # far below the 30 s queue timeout
        with deadline(1.0, clock=clock), pytest.raises(ConcurrencyLimitError, match="after waiting 0s"):
            clock.now += 1.5  # spent: no wait at all
            with bulkhead:
                pass


def test_callers_beyond_the_bounded_waiters_fail_at_once() -> None:
    bulkhead = Bulkhead("s4", limit=1, queue_timeout=30.0, max_queued=1)
    waited: list[str] = []

    def wait() -> None:
        with bulkhead:
            waited.append("got the slot")

    with bulkhead:
        waiter = threading.Thread(target=wait)
        waiter.start()
        given_up_at = time.monotonic() + 10
        while bulkhead._waiting < 1 and time.monotonic() < given_up_at:
            time.sleep(0.01)
        started = time.monotonic()
        with pytest.raises(ConcurrencyLimitError, match="1 callers waiting"), bulkhead:
            pass
        assert time.monotonic() - started < 10  # at once, not after the 30 s queue timeout
    waiter.join()
    assert waited == ["got the slot"]


def test_a_thread_finding_no_metadata_loads_it_within_its_own_deadline_not_waiting_for_another(
    sap: tuple[str, Script],
) -> None:
    url, script = sap
    clock = Clock()
    http = http_for(url, clock, max_attempts=1, read_timeout=1.5)
    client = ODataClient(http, ServiceSpec("TEST_SRV", SERVICE))
    script.hang = 5.0
    outcome: list[Exception] = []

    def load() -> None:
        try:
            client.load()
        except SapTimeout as exc:
            outcome.append(exc)

    loader = threading.Thread(target=load)  # a worker-like caller: no deadline, the 1.5 s read timeout
    loader.start()
    waited_until = time.monotonic() + 5
    while not script.requests and time.monotonic() < waited_until:
        time.sleep(0.01)
    assert script.requests, "the loader never asked SAP for $metadata"
    with deadline(0.3, clock=clock), pytest.raises(SapTimeout) as caught:
        client.service()
    assert read_timeout_of(caught.value) == pytest.approx(0.3)  # its own call, with its own time left
    assert loader.is_alive()  # ... while the first load still waits for SAP
    loader.join()
    assert len(outcome) == 1 and [r["path"].split("?")[0] for r in script.requests] == [f"{SERVICE}/$metadata"] * 2
