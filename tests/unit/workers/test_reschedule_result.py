"""A reschedule that SAP applied stays applied when reading the new operation dates fails afterwards."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from odata_clients.errors import SapUnavailable
from workers.handlers import _operations_after


class _Orders:
    def __init__(self, answer: Any) -> None:
        self.answer = answer

    def get(self, order_id: str, **_: Any) -> Any:
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


def _attempt(answer: Any) -> Any:
    return SimpleNamespace(sap=SimpleNamespace(production_orders=_Orders(answer)))


def test_the_operations_as_sap_scheduled_them() -> None:
    order = SimpleNamespace(
        operations=[SimpleNamespace(operation="0010", earliest_start="2031-03-03", earliest_end=None)]
    )
    assert _operations_after(_attempt(order), "1000000") == [
        {"operation": "0010", "scheduled_start": "2031-03-03", "scheduled_end": None}
    ]


def test_a_failing_read_after_the_change_is_no_failure_of_the_change() -> None:
    assert _operations_after(_attempt(SapUnavailable("SAP is down", status=503)), "1000000") is None
