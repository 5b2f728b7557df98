"""CSRF tokens: fetched lazily, bound to their cookies, cached per destination and identity."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable

from requests.cookies import RequestsCookieJar

# Methods SAP Gateway guards with a CSRF token; `$batch` is always POST so it is covered.
MODIFYING_METHODS = frozenset({"POST", "PUT", "PATCH", "MERGE", "DELETE"})


class CsrfContext:
    """One SAP session as SAP sees it: the cookies SAP set and the token bound to them.

    Every call of one identity (reads too) carries these cookies, so the token stays valid.
    """

    def __init__(self) -> None:
        self.token: str | None = None
        self.cookies = RequestsCookieJar()
        self.lock = threading.Lock()


class CsrfManager:
    """Token cache per identity (the destination owns one manager), bounded LRU, safe across threads.

    A token refused with `403 x-csrf-token: Required` is invalidated once; threads that sent the
    same stale token concurrently share the single re-fetch instead of each fetching its own.
    """

    def __init__(self, max_identities: int = 1024) -> None:
        self._max = max_identities
        self._contexts: OrderedDict[str, CsrfContext] = OrderedDict()
        self._lock = threading.Lock()

    def context(self, identity: str) -> CsrfContext:
        with self._lock:
            context = self._contexts.get(identity)
            if context is None:
                context = self._contexts[identity] = CsrfContext()
                while len(self._contexts) > self._max:
                    self._contexts.popitem(last=False)
            else:
                self._contexts.move_to_end(identity)
            return context

    @staticmethod
    def token(context: CsrfContext, fetch: Callable[[CsrfContext], str]) -> str:
        """The cached token, or one fetched now (only one thread fetches; the others wait for it)."""
        token = context.token
        if token is not None:
            return token
        with context.lock:
            if context.token is None:
                context.token = fetch(context)
            return context.token

    @staticmethod
    def invalidate(context: CsrfContext, stale: str) -> None:
        """Forget `stale` unless another thread already replaced it."""
        with context.lock:
            if context.token == stale:
                context.token = None
