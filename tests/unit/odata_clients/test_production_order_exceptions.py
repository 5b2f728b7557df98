"""Plant manager exceptions without HTTP: main status from flags, badge filters, missing parts, merging chunks."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from odata_clients.gateways.base import Row
from odata_clients.gateways.keyset import SortKey
from odata_clients.gateways.production_orders import (
    MISSING_ORDERS_PER_FILTER,
    compare_positions,
    component_filter,
    component_is_missing,
    messages_result,
    missing_components_filters,
    order_count_filters,
    order_filter,
    order_from_sap,
)
from odata_clients.models import SapMessageInfo

TODAY = dt.date(2026, 11, 26)


@pytest.mark.parametrize(
    ("flags", "code", "text"),
    [
        ({"OrderIsCreated": "X"}, "CRTD", "Created"),
        ({"OrderIsPartiallyReleased": "X"}, "PREL", "Partially released"),
        ({"OrderIsReleased": "X", "OrderIsPrinted": "X"}, "REL", "Released"),
        ({"OrderIsReleased": "X", "OrderIsPartiallyConfirmed": "X"}, "PCNF", "Partially confirmed"),
        ({"OrderIsReleased": "X", "OrderIsPartiallyConfirmed": "X", "OrderIsConfirmed": "X"}, "CNF", "Confirmed"),
        ({"OrderIsReleased": "X", "OrderIsConfirmed": "X", "OrderIsDelivered": "X"}, "DLV", "Delivered"),
        ({"OrderIsDelivered": "X", "OrderIsTechnicallyCompleted": "X"}, "TECO", "Technically completed"),
        ({"OrderIsTechnicallyCompleted": "X", "OrderIsClosed": "X"}, "CLSD", "Closed"),
        ({"OrderIsCreated": "X", "OrderIsMarkedForDeletion": "X"}, "DLFL", "Marked for deletion"),
        ({"OrderIsReleased": "X", "OrderIsLocked": "X"}, "REL", "Released"),
        ({}, "CRTD", "Created"),
    ],
)
def test_main_status_follows_sap_precedence(flags: dict[str, str], code: str, text: str) -> None:
    order = order_from_sap({"ManufacturingOrder": "1", "TotalQuantity": "1.000", **flags})
    assert order.status is not None
    assert (order.status.short_name, order.status.text) == (code, text)
    assert re.fullmatch(r"I\d{4}", order.status.code)


def test_a_status_name_that_repeats_the_abbreviation_gets_words() -> None:
    order = order_from_sap(
        {
            "TotalQuantity": "1.000",
            "to_ProductionOrderStatus": {
                "results": [
                    {"StatusCode": "I0002", "StatusShortName": "FREI", "StatusName": "Freigegeben"},
                    {"StatusCode": "I0045", "StatusShortName": "TECO", "StatusName": "TECO"},
                    {"StatusCode": "E0001", "StatusShortName": "QCHK", "StatusName": "", "IsUserStatus": True},
                ]
            },
        }
    )
    assert [s.text for s in order.statuses] == ["Freigegeben", "Technically completed", "QCHK"]


def test_badge_filters_and_the_release_window() -> None:
    filters = order_count_filters(["1010"], TODAY)
    assert "MfgOrderPlannedStartDate lt datetime'2026-12-03T00:00:00'" in filters["due_for_release"]
    wider = order_count_filters(["1010"], TODAY, release_window_days=14)
    assert "MfgOrderPlannedStartDate lt datetime'2026-12-10T00:00:00'" in wider["due_for_release"]
    assert {k: v for k, v in wider.items() if k != "due_for_release"} == {
        k: v for k, v in filters.items() if k != "due_for_release"
    }
    for days in (0, 61):
        with pytest.raises(ValueError):
            order_count_filters(["1010"], TODAY, release_window_days=days)


def test_the_list_filter_starts_with_the_badges_own() -> None:
    badge = order_count_filters(["1010", "1020"], TODAY)["late_to_start"]
    clause = order_filter(["1010", "1020"], status="created", material="FG-1", exception=badge)
    assert clause == f"{badge} and OrderIsReleased eq '' and Material eq 'FG-1'"
    assert clause.count("ProductionPlant eq '1010'") == 1


def test_missing_components_filters_come_in_disjoint_chunks() -> None:
    orders = [f"{1000000 + n}" for n in range(2 * MISSING_ORDERS_PER_FILTER + 5)]
    chunks = missing_components_filters(["1010"], [*orders, orders[0]])
    assert len(chunks) == 3
    named = [set(re.findall(r"ManufacturingOrder eq '(\d+)'", chunk)) for chunk in chunks]
    assert set().union(*named) == set(orders) and sum(len(n) for n in named) == len(orders)
    for chunk in chunks:
        assert chunk.startswith("(ProductionPlant eq '1010') and OrderIsTechnicallyCompleted eq ''")
    assert missing_components_filters(["1010"], []) == []
    with pytest.raises(ValueError):
        missing_components_filters([], orders)
    assert component_filter(["1010"]) == (
        "(ProductionPlant eq '1010') and ReservationIsFinallyIssued eq false and MatlCompIsMarkedForDeletion eq false"
    )


@pytest.mark.parametrize(
    ("required", "withdrawn", "confirmed", "missing"),
    [
        ("10.000", "0.000", "10.000", False),
        ("10.000", "0.000", "9.999", True),
        ("10.000", "4.000", "6.000", False),
        ("10.000", "4.000", "5.000", True),
        ("10.000", "10.000", "0.000", False),
        ("0.000", "0.000", "0.000", False),
    ],
)
def test_a_component_is_missing_when_the_check_confirmed_less_than_still_needed(
    required: str, withdrawn: str, confirmed: str, missing: bool
) -> None:
    row = Row({"RequiredQuantity": required, "WithdrawnQuantity": withdrawn, "ConfirmedAvailableQuantity": confirmed})
    assert component_is_missing(row) is missing


def test_positions_compare_in_sap_order() -> None:
    keys = [SortKey("MfgOrderPlannedStartDate", descending=True), SortKey("ManufacturingOrder")]
    types = {"MfgOrderPlannedStartDate": "Edm.DateTime", "ManufacturingOrder": "Edm.String"}
    later, earlier = ["2026-12-01T00:00:00Z", "1000002"], ["2026-11-01T00:00:00Z", "1000001"]
    assert compare_positions(keys, types, later, earlier) == -1, "descending: the later date first"
    assert compare_positions(keys, types, ["2026-12-01T00:00:00Z", "1000001"], later) == -1
    assert compare_positions(keys, types, [None, "1"], earlier) == 1, "descending: null last"
    ascending = [SortKey("MfgOrderPlannedStartDate"), SortKey("ManufacturingOrder")]
    assert compare_positions(ascending, types, [None, "1"], earlier) == -1, "ascending: null first"
    assert compare_positions(keys, types, later, list(later)) == 0


def test_messages_carry_their_severity_in_words() -> None:
    messages = [
        SapMessageInfo("W", "CO/263", "Availability check: 1 missing part(s) in order 1 (RM-X)"),
        SapMessageInfo("S", "CO/093", "Order 1 released"),
    ]
    assert messages_result(messages) == [
        {"severity": "warning", "code": "CO/263", "text": "Availability check: 1 missing part(s) in order 1 (RM-X)"},
        {"severity": "success", "code": "CO/093", "text": "Order 1 released"},
    ]
