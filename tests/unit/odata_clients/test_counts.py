"""Badge counts below the API: the fan-out helper, and `$count` reads against a scripted local SAP."""

from __future__ import annotations

import contextvars
import datetime as dt
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from odata_clients.clients import TASKPROCESSING, ODataClient
from odata_clients.destinations import build_destination
from odata_clients.errors import ConcurrencyLimitError, SapAuthError, SapProtocolError
from odata_clients.fanout import parallel_limit, run_all
from odata_clients.gateways.tasks import TASK_PRIORITIES, TasksGateway
from odata_clients.http import SapHttp
from odata_clients.resilience import Bulkhead, current_deadline, deadline

# -- run_all ---------------------------------------------------------------------------------------------

ASKED: contextvars.ContextVar[str] = contextvars.ContextVar("asked", default="unset")


def test_run_all_returns_every_result_by_name() -> None:
    calls = {name: (lambda name=name: name.upper()) for name in ("a", "b", "c", "d", "e")}
    assert run_all(calls, limit=3) == {"a": "A", "b": "B", "c": "C", "d": "D", "e": "E"}


def test_run_all_has_exactly_limit_calls_in_flight() -> None:
    limit = 3
    # Each cohort of `limit` calls meets at the barrier: fewer in flight and it breaks (timeout), more and
    # the counter shows it.
    barrier = threading.Barrier(limit, timeout=10)
    lock = threading.Lock()
    in_flight = peak = 0

    def call() -> int:
        nonlocal in_flight, peak
        with lock:
            in_flight += 1
            peak = max(peak, in_flight)
        barrier.wait()
        with lock:
            in_flight -= 1
        return 1

    results = run_all({str(i): call for i in range(2 * limit)}, limit=limit)
    assert sum(results.values()) == 2 * limit
    assert peak == limit


def test_calls_keep_the_callers_context_and_deadline() -> None:
    token = ASKED.set("the request's")
    try:
        with deadline(30) as budget:
            seen = run_all({str(i): lambda: (ASKED.get(), current_deadline()) for i in range(4)}, limit=4)
    finally:
        ASKED.reset(token)
    assert set(seen.values()) == {("the request's", budget)}


def test_the_first_failure_in_order_is_raised() -> None:
    release = threading.Event()

    def slow_ok() -> int:
        release.wait(10)
        return 1

    def first() -> int:
        release.set()
        raise KeyError("first")

    def second() -> int:
        raise ValueError("second")

    with pytest.raises(KeyError, match="first"):
        run_all({"ok": slow_ok, "first": first, "second": second}, limit=3)


def test_limit_one_runs_in_the_callers_thread() -> None:
    caller = threading.get_ident()
    assert set(run_all({"a": threading.get_ident, "b": threading.get_ident}, limit=1).values()) == {caller}


@pytest.mark.parametrize(("bulkhead", "expected"), [(1, 1), (2, 1), (3, 1), (4, 2), (8, 4), (64, 4)])
def test_one_request_takes_at_most_half_the_bulkhead(bulkhead: int, expected: int) -> None:
    assert parallel_limit(Bulkhead("s4", bulkhead, queue_timeout=1)) == expected


def test_when_sap_slots_are_busy_a_requests_calls_take_their_turns() -> None:
    bulkhead = Bulkhead("s4", 8, queue_timeout=1)
    taken = [bulkhead.__enter__() for _ in range(7)]
    assert parallel_limit(bulkhead) == 1  # one slot free: no fan-out, one call at a time
    for slot in taken:
        slot.__exit__()
    assert parallel_limit(bulkhead) == 4


def test_a_call_the_bulkhead_refuses_in_parallel_is_run_again_in_the_callers_thread() -> None:
    caller = threading.get_ident()
    attempts: list[int] = []

    def refused_in_a_helper_thread() -> str:
        attempts.append(threading.get_ident())
        if threading.get_ident() != caller:
            raise ConcurrencyLimitError("busy", destination="s4")
        return "done"

    assert run_all({"a": refused_in_a_helper_thread, "b": lambda: "ok"}, limit=2) == {"a": "done", "b": "ok"}
    assert attempts[-1] == caller and len(attempts) == 2


# -- $count against a scripted SAP -----------------------------------------------------------------------


class Answers:
    """What the scripted SAP answers per `$count`: by a word in the $filter, else `default`."""

    def __init__(self) -> None:
        self.by_word: dict[str, tuple[int, str]] = {}
        self.default: tuple[int, str] = (200, "3")
        self.paths: list[str] = []


@pytest.fixture
def scripted() -> Iterator[tuple[str, Answers]]:
    answers = Answers()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            answers.paths.append(self.path)
            clause = parse_qs(urlsplit(self.path).query).get("$filter", [""])[0]
            status, body = next((a for w, a in answers.by_word.items() if w in clause), answers.default)
            payload = body.encode()
            self.send_response(status)
            kind = "application/json" if body.startswith("{") else "text/plain; charset=utf-8"
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", answers
    server.shutdown()
    server.server_close()


def tasks_gateway(url: str) -> TasksGateway:
    destination = build_destination("s4", url, user="EXEC_ANNA", password="pw", max_attempts=1)
    return TasksGateway(ODataClient(SapHttp(destination), TASKPROCESSING))


SAP_400 = '{"error":{"code":"/IWBEP/CM_MGW_RT/004","message":{"lang":"en","value":"Property IsEscalated not found"}}}'
NOW = dt.datetime(2026, 11, 26, 9, 30, tzinfo=dt.UTC)


def test_each_count_is_one_count_request(scripted: tuple[str, Answers]) -> None:
    url, answers = scripted
    counts = tasks_gateway(url).open_counts(now=NOW)
    assert counts.open == counts.overdue == counts.escalated == 3
    assert dict(counts.by_priority) == dict.fromkeys(TASK_PRIORITIES, 3)
    assert len(answers.paths) == 3 + len(TASK_PRIORITIES)
    assert all(urlsplit(p).path.endswith("/TaskCollection/$count") for p in answers.paths)
    assert any(
        "CompletionDeadLine lt datetime'2026-11-26T09:30:00'" in parse_qs(urlsplit(p).query)["$filter"][0]
        for p in answers.paths
    )


def test_escalated_is_unknown_where_sap_cannot_filter_on_it(scripted: tuple[str, Answers]) -> None:
    url, answers = scripted
    answers.by_word["IsEscalated"] = (400, SAP_400)
    counts = tasks_gateway(url).open_counts(now=NOW)
    assert counts.escalated is None
    assert counts.open == 3 and counts.overdue == 3


def test_other_refusals_of_the_escalated_count_are_not_hidden(scripted: tuple[str, Answers]) -> None:
    url, answers = scripted
    answers.by_word["IsEscalated"] = (403, "")
    with pytest.raises(SapAuthError):
        tasks_gateway(url).open_counts(now=NOW)


@pytest.mark.parametrize("body", ["<html>Logon</html>", "", "-1", "3.0", "١٢"])
def test_an_answer_that_is_not_a_count_is_a_protocol_error(scripted: tuple[str, Answers], body: str) -> None:
    url, answers = scripted
    answers.default = (200, body)
    with pytest.raises(SapProtocolError, match="not a number"):
        tasks_gateway(url).open_counts(now=NOW)
