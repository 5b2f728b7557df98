"""decision_from_log: the latest entry with a ResultType is the task's decision, in canonical values."""

from __future__ import annotations

import datetime as dt
from typing import Any

from odata_clients.gateways.base import Row
from odata_clients.gateways.tasks import decision_from_log
from odata_clients.models import TaskDecision


def entry(order: int, user: str, result: str | None = None, nature: str | None = None, **extra: Any) -> Row:
    return Row({"EventOrder": order, "PerformedBy": user, "Result": result, "ResultType": nature, **extra})


def test_no_entry_with_a_result_type_is_no_decision() -> None:
    assert decision_from_log([]) is None
    assert decision_from_log([entry(1, "REQ_DAVID"), entry(2, "EXEC_ANNA", "", "")]) is None


def test_the_highest_event_order_wins_whatever_the_order_of_entries() -> None:
    log = [
        entry(3, "EXEC_BEN", "Reject", "NEGATIVE", Timestamp="/Date(1717410000000)/"),
        entry(1, "REQ_DAVID"),
        entry(2, "EXEC_ANNA", "Approve", "POSITIVE", Timestamp="/Date(1717400000000)/"),
        entry(4, "EXEC_BEN"),
    ]
    assert decision_from_log(log) == TaskDecision("EXEC_BEN", "Reject", "NEGATIVE", "2024-06-03T10:20:00Z")


def test_values_as_pyodata_parses_them_and_end_timestamp_as_fallback() -> None:
    moment = dt.datetime(2024, 6, 3, 8, 0, tzinfo=dt.UTC)
    decision = decision_from_log([entry(2, " EXEC_ANNA ", "Approve", "POSITIVE", EndTimestamp=moment)])
    assert decision == TaskDecision("EXEC_ANNA", "Approve", "POSITIVE", "2024-06-03T08:00:00Z")
