"""Request counters that client tests assert on (`GET/DELETE /mock-admin/stats`)."""

from __future__ import annotations

import threading
from collections import defaultdict


class Stats:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.clear()

    def clear(self) -> None:
        with getattr(self, "_lock", threading.Lock()):
            self.requests: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
            self.counters: dict[str, int] = defaultdict(int)
            self.writes_by_service: dict[str, int] = defaultdict(int)
            self.statuses: dict[str, int] = defaultdict(int)

    def request(self, service: str, method: str) -> None:
        with self._lock:
            self.requests[service][method] += 1

    def count(self, name: str, amount: int = 1) -> None:
        with self._lock:
            self.counters[name] += amount

    def status(self, status: int) -> None:
        with self._lock:
            self.statuses[str(status)] += 1

    def write_applied(self, service: str) -> None:
        with self._lock:
            self.counters["writes_applied"] += 1
            self.writes_by_service[service] += 1

    def snapshot(self) -> dict[str, object]:
        with self._lock:
            counters = {name: 0 for name in ("csrf_fetches", "csrf_failures", "writes_applied", "faults_injected")}
            counters.update(self.counters)
            return {
                "requests": {service: dict(methods) for service, methods in self.requests.items()},
                "requests_total": sum(sum(m.values()) for m in self.requests.values()),
                **counters,
                "writes_by_service": dict(self.writes_by_service),
                "responses_by_status": dict(self.statuses),
            }
