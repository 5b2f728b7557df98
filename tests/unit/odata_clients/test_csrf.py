"""CSRF cache: one fetch per identity, shared re-fetch after a refusal, bounded size."""

from __future__ import annotations

import threading
import time

from odata_clients.csrf import CsrfContext, CsrfManager


def test_fetches_lazily_once_even_under_concurrency() -> None:
    manager = CsrfManager()
    context = manager.context("~technical")
    fetches: list[int] = []

    def fetch(ctx: CsrfContext) -> str:
        fetches.append(1)
        time.sleep(0.05)
        return "T1"

    results: list[str] = []
    threads = [threading.Thread(target=lambda: results.append(manager.token(context, fetch))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == ["T1"] * 8
    assert len(fetches) == 1


def test_invalidate_only_forgets_the_stale_token() -> None:
    manager = CsrfManager()
    context = manager.context("user:ANNA")
    tokens = iter(["T1", "T2", "T3"])
    assert manager.token(context, lambda ctx: next(tokens)) == "T1"
    manager.invalidate(context, "T1")
    assert manager.token(context, lambda ctx: next(tokens)) == "T2"
    manager.invalidate(context, "T1")  # a second thread with the same stale token: no new fetch
    assert manager.token(context, lambda ctx: next(tokens)) == "T2"


def test_contexts_are_per_identity_and_bounded() -> None:
    manager = CsrfManager(max_identities=2)
    a = manager.context("a")
    assert manager.context("a") is a
    assert manager.context("b") is not a
    manager.context("c")
    assert manager.context("a") is not a  # evicted as least recently used
