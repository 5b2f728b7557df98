"""A few independent SAP reads of one unit of work at once, each inside that unit's deadline and context."""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

from odata_clients.errors import ConcurrencyLimitError
from odata_clients.resilience import Bulkhead

T = TypeVar("T")

# Per unit of work (one API request): a handful of parallel reads shorten a home screen's wait, more would let
# one request take most of the process's SAP slots (the bulkhead) from the requests queued behind it.
MAX_PARALLEL_CALLS = 4


def parallel_limit(bulkhead: Bulkhead) -> int:
    """How many calls one unit of work may have in flight: at most half the bulkhead, never more than 4, and
    no more than the slots free now (when SAP is busy, a request's calls take their turns one at a time)."""
    return max(1, min(MAX_PARALLEL_CALLS, bulkhead.limit // 2, bulkhead.free()))


def run_all(calls: Mapping[str, Callable[[], T]], *, limit: int = MAX_PARALLEL_CALLS) -> dict[str, T]:
    """Run `calls` with at most `limit` at a time and return their results by name.

    Each call runs in a copy of the caller's context, so the request's SAP deadline, its request id in the
    logs, the trace and any call recorder follow it into the worker thread (threads do not inherit context
    variables). The first failure, in the order of `calls`, is raised once every started call has ended;
    calls not yet started are cancelled. Every SAP call keeps the deadline, so nothing here waits unbounded.
    """
    if limit <= 1 or len(calls) <= 1:
        return {name: call() for name, call in calls.items()}
    with ThreadPoolExecutor(max_workers=min(limit, len(calls)), thread_name_prefix="sap-fanout") as pool:
        # One context copy per call: a Context cannot be entered by two threads at once.
        futures: dict[str, Future[T]] = {
            name: pool.submit(contextvars.copy_context().run, call) for name, call in calls.items()
        }
        try:
            results: dict[str, T] = {}
            for name, future in futures.items():
                try:
                    results[name] = future.result()
                except ConcurrencyLimitError:
                    # Parallel is opportunistic: a call the process's SAP slots refused takes its turn here,
                    # waiting like any single call would, instead of failing the whole screen.
                    results[name] = calls[name]()
            return results
        except BaseException:
            for future in futures.values():
                future.cancel()
            raise
