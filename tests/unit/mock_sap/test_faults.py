"""Fault parsing and the split of a request's faults into what strikes before and after processing."""

from __future__ import annotations

from typing import Any

import pytest

from mock_sap.faults import FaultInjector, parse_fault


def test_phase_defaults_to_before():
    assert parse_fault({"drop": True}).phase == "before"


@pytest.mark.parametrize(
    "data",
    [
        {"phase": "later"},
        {"phase": "AFTER"},
        {"phase": ["after"]},
        {"phase": "after", "locked": True},
        {"phase": "after", "csrf_expire": True},
    ],
)
def test_bad_phase_is_refused(data: dict[str, Any]):
    with pytest.raises(ValueError, match="phase"):
        parse_fault(data)


def test_decide_puts_after_faults_apart():
    injector = FaultInjector(seed=1)
    injector.add(parse_fault({"service": "S", "latency_ms": 100}))
    injector.add(parse_fault({"service": "S", "phase": "after", "latency_ms": 250, "drop": True}))
    injector.add(parse_fault({"service": "S", "phase": "after", "status": 504, "methods": ["POST"]}))
    read = injector.decide("S", "GET")
    assert (read.latency_ms, read.drop, read.error) == (100, False, None)
    assert (read.after.latency_ms, read.after.drop, read.after.error) == (250, True, None)
    write = injector.decide("S", "POST")
    assert write.error is None
    assert write.after.error is not None and write.after.error.status == 504
    assert len(write.faults) == 3
    assert injector.decide("OTHER", "POST").faults == []
