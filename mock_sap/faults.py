"""Fault injection: errors, latency, hangs, dropped connections, CSRF expiry and locked orders."""

from __future__ import annotations

import random
import threading
from dataclasses import asdict, dataclass, field

from mock_sap.errors import ODataError

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "MERGE", "DELETE"})
FIELDS = {
    "service",
    "status",
    "rate",
    "latency_ms",
    "hang",
    "drop",
    "csrf_expire",
    "retry_after",
    "locked",
    "methods",
    "hang_seconds",
    "phase",
}
PHASES = ("before", "after")
# What a fault can still do once SAP has applied the request; the rest only make sense before it.
AFTER_EFFECTS = ("latency_ms", "hang", "drop", "status")


@dataclass
class Fault:
    service: str = "*"
    status: int | None = None
    rate: float = 1.0
    latency_ms: int = 0
    hang: bool = False
    drop: bool = False
    csrf_expire: bool = False
    retry_after: int | None = None
    locked: bool = False
    methods: list[str] | None = None
    hang_seconds: float = 300.0
    # "after": SAP processes (and commits) the request first; only then the answer is late, lost or an error.
    phase: str = "before"
    id: int = 0

    def matches(self, service: str, method: str) -> bool:
        if self.service not in ("*", service):
            return False
        if not self.methods:
            return True
        wanted = {m.upper() for m in self.methods}
        if "WRITES" in wanted or "WRITE" in wanted:
            wanted |= WRITE_METHODS
        if "READS" in wanted or "READ" in wanted:
            wanted |= {"GET", "HEAD"}
        return method in wanted

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def parse_fault(data: object) -> Fault:
    if not isinstance(data, dict):
        raise ValueError("a fault is a JSON object")
    unknown = set(data) - FIELDS
    if unknown:
        raise ValueError(f"unknown fault fields: {sorted(unknown)}")
    fault = Fault(**data)
    if not 0.0 <= float(fault.rate) <= 1.0:
        raise ValueError("rate must be between 0 and 1")
    if fault.status is not None and not 400 <= int(fault.status) <= 599:
        raise ValueError("status must be an HTTP error status (400-599)")
    if fault.methods is not None and not isinstance(fault.methods, list):
        raise ValueError("methods must be a list of HTTP methods")
    if fault.phase not in PHASES:
        raise ValueError(f"phase must be one of {list(PHASES)}, got {fault.phase!r}")
    if fault.phase == "after" and (fault.locked or fault.csrf_expire):
        raise ValueError(f"phase 'after' applies to {list(AFTER_EFFECTS)}; locked and csrf_expire act before")
    return fault


@dataclass
class Effects:
    """What the faults of one phase ask for."""

    latency_ms: int = 0
    hang_seconds: float = 0.0
    drop: bool = False
    error: ODataError | None = None
    locked: bool = False


@dataclass
class Decision(Effects):
    """What the faults chosen for one request ask for: before processing, and `after` it."""

    after: Effects = field(default_factory=Effects)
    faults: list[Fault] = field(default_factory=list)


STATUS_TEXTS = {
    429: ("/IWFND/CM_BEC/026", "Too many requests; try again later"),
    500: ("/IWBEP/CM_MGW_RT/000", "Internal server error"),
    502: ("/IWFND/CM_BEC/076", "HTTP request failed: bad gateway"),
    503: ("/IWFND/CM_BEC/026", "Service temporarily unavailable"),
    504: ("/IWFND/CM_BEC/024", "Request timed out in the backend system"),
    423: ("CO/027", "Order is currently being processed by another user"),
}


class FaultInjector:
    def __init__(self, seed: int | None) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._next_id = 1
        self._rng = random.Random(seed)
        self.released = threading.Event()  # set when faults are cleared: hanging requests give up

    def add(self, fault: Fault) -> Fault:
        with self._lock:
            fault.id = self._next_id
            self._next_id += 1
            self._faults.append(fault)
            self.released.clear()
            return fault

    def list(self) -> list[dict[str, object]]:
        with self._lock:
            return [f.as_dict() for f in self._faults]

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()
            self.released.set()

    def decide(self, service: str, method: str) -> Decision:
        decision = Decision()
        with self._lock:
            for fault in self._faults:
                if not fault.matches(service, method):
                    continue
                if fault.rate < 1.0 and self._rng.random() >= fault.rate:
                    continue
                decision.faults.append(fault)
                effects = decision.after if fault.phase == "after" else decision
                effects.latency_ms += int(fault.latency_ms)
                if fault.hang:
                    effects.hang_seconds = max(effects.hang_seconds, float(fault.hang_seconds))
                if fault.drop:
                    effects.drop = True
                if fault.locked:
                    effects.locked = True
                if fault.status is not None and effects.error is None:
                    status = int(fault.status)
                    code, text = STATUS_TEXTS.get(status, ("/IWBEP/CM_MGW_RT/000", f"Injected error {status}"))
                    headers = {}
                    if fault.retry_after is not None and status in (429, 503):
                        headers["Retry-After"] = str(int(fault.retry_after))
                    effects.error = ODataError(status, code, text, headers=headers)
        return decision
