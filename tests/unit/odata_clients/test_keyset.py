"""Keyset paging's OData pieces: sort keys, SAP literals of a position, and the "after" filter with nulls."""

from __future__ import annotations

import datetime as dt

import pytest

from odata_clients.gateways.keyset import (
    InvalidPosition,
    SortKey,
    after_filter,
    literal,
    order_by,
    position_of,
    sort_keys,
)

FIELDS = {"created": ("CreatedOn", False), "priority": ("PriorityNumber", True), "id": ("InstanceID", False)}
TYPES = {"CreatedOn": "Edm.DateTime", "PriorityNumber": "Edm.Int32", "InstanceID": "Edm.String"}


def test_sort_names_become_sap_keys_closed_by_the_unique_key() -> None:
    keys = sort_keys(["-created", "priority"], FIELDS, ["InstanceID"])
    assert keys == [SortKey("CreatedOn", True), SortKey("PriorityNumber", True), SortKey("InstanceID")]
    assert order_by(keys) == "CreatedOn desc,PriorityNumber desc,InstanceID asc"
    # A unique key property the user sorts by keeps the user's direction and is not repeated.
    assert sort_keys(["-id"], FIELDS, ["InstanceID"]) == [SortKey("InstanceID", True)]


@pytest.mark.parametrize("sort", [["nonsense"], ["created", "-created"]])
def test_unknown_or_doubled_sort_names_are_refused(sort: list[str]) -> None:
    with pytest.raises(ValueError):
        sort_keys(sort, FIELDS, ["InstanceID"])


def test_after_a_descending_date_then_the_id() -> None:
    keys = [SortKey("CreatedOn", True), SortKey("InstanceID")]
    clause = after_filter(keys, TYPES, ["2024-06-03T10:15:00.123Z", "000001129101"])
    assert clause == (
        "((CreatedOn lt datetime'2024-06-03T10:15:00.123' or CreatedOn eq null)"
        " or (CreatedOn eq datetime'2024-06-03T10:15:00.123' and InstanceID gt '000001129101'))"
    )


def test_after_null_ascending_takes_every_value_descending_only_the_tie() -> None:
    ascending = [SortKey("CreatedOn"), SortKey("InstanceID")]
    assert after_filter(ascending, TYPES, [None, "7"]) == (
        "(CreatedOn ne null or (CreatedOn eq null and InstanceID gt '7'))"
    )
    descending = [SortKey("CreatedOn", True), SortKey("InstanceID")]
    assert after_filter(descending, TYPES, [None, "7"]) == "((CreatedOn eq null and InstanceID gt '7'))"
    assert after_filter([SortKey("CreatedOn", True)], TYPES, [None]) is None


def test_literals_are_sap_literals_of_the_property_type() -> None:
    assert literal("Edm.String", "O'Brien") == "'O''Brien'"
    assert literal("Edm.DateTime", "2024-01-31T00:00:00Z") == "datetime'2024-01-31T00:00:00'"
    assert literal("Edm.DateTimeOffset", "2024-01-31T10:00:00.5Z") == "datetimeoffset'2024-01-31T10:00:00.500Z'"
    assert literal("Edm.Int32", 3) == "3"
    assert literal("Edm.Int64", 3) == "3L"
    assert literal("Edm.Decimal", "10.500") == "10.500M"
    assert literal("Edm.Boolean", True) == "true"
    assert literal("Edm.String", None) == "null"


@pytest.mark.parametrize(
    ("edm_type", "value"),
    [("Edm.Int32", "3"), ("Edm.Int32", True), ("Edm.DateTime", "yesterday"), ("Edm.String", 7), ("Edm.Time", "x")],
)
def test_a_value_of_the_wrong_kind_is_an_invalid_position(edm_type: str, value: object) -> None:
    with pytest.raises(InvalidPosition):
        literal(edm_type, value)


def test_a_position_must_match_the_keys() -> None:
    keys = [SortKey("CreatedOn", True), SortKey("InstanceID")]
    for position in (["2024-01-31T00:00:00Z"], "2024-01-31", {"a": 1}, [1, 2]):
        with pytest.raises(InvalidPosition):
            after_filter(keys, TYPES, position)  # type: ignore[arg-type]


def test_positions_keep_milliseconds_from_pyodata_or_the_wire() -> None:
    keys = [SortKey("CreatedOn"), SortKey("InstanceID")]
    moment = dt.datetime(2024, 6, 3, 10, 15, 0, 123000, tzinfo=dt.UTC)
    assert position_of({"CreatedOn": moment, "InstanceID": "1"}, keys, TYPES) == ["2024-06-03T10:15:00.123Z", "1"]
    wire = {"CreatedOn": "/Date(1717409700123)/", "InstanceID": "1"}
    assert position_of(wire, keys, TYPES) == ["2024-06-03T10:15:00.123Z", "1"]
    assert position_of({"CreatedOn": None, "InstanceID": ""}, keys, TYPES) == [None, ""]
