"""$filter: parsing, typed literals, compilation to predicates and SAP's 400s."""

from __future__ import annotations

import datetime as dt

import pytest

from mock_sap.edm import EntityType, Property, boolean, date, decimal, ms_from_date, string, time, typed
from mock_sap.errors import ODataError
from mock_sap.filter_parser import Binary, Literal, Member, compile_filter, parse_filter

TYPE = EntityType(
    "T",
    keys=("Id",),
    properties=[
        string("Id", 10, nullable=False),
        string("Plant", 4),
        flag := Property("Released", "Edm.String", max_length=1),
        decimal("Qty", 13, 3),
        date("Start"),
        time("At"),
        boolean("Final"),
        typed("Ext", "Edm.Guid"),
        typed("Big", "Edm.Int64"),
        typed("Stamp", "Edm.DateTimeOffset"),
        string("Secret", 10, filterable=False),
    ],
)
GUID = "0f8fad5b-d9cb-469f-a165-70867728950e"


def row(**values: object) -> tuple[object, ...]:
    base: dict[str, object] = {
        "Id": "1",
        "Plant": "1010",
        "Released": "X",
        "Qty": 10_500,
        "Start": ms_from_date(dt.date(2024, 1, 31)),
        "At": 8 * 3600,
        "Final": False,
        "Ext": GUID,
        "Big": 0,
        "Stamp": ms_from_date(dt.date(2024, 1, 31)),
        "Secret": "s",
    }
    base.update(values)
    return tuple(base[p.name] for p in TYPE.properties)


def matches(expression: str, **values: object) -> bool:
    predicate, _ = compile_filter(expression, TYPE)
    return predicate(row(**values))


def test_precedence_and_binds_tighter_than_or() -> None:
    node = parse_filter("Plant eq '1010' or Plant eq '1020' and Released eq 'X'")
    assert isinstance(node, Binary) and node.op == "or"
    assert isinstance(node.right, Binary) and node.right.op == "and"
    assert node.left == Binary("eq", Member("Plant"), Literal("Edm.String", "1010"))


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("Plant eq '1010' and Released eq 'X'", True),
        ("Plant eq '1010' and Released ne 'X'", False),
        ("not (Plant eq '1020') and (Released eq '' or Qty gt 10M)", True),
        ("Qty gt 10.5M", False),
        ("Qty ge 10.5M and Qty le 10.500M", True),
        ("Qty lt 11", True),
        ("Start eq datetime'2024-01-31T00:00:00'", True),
        ("Start gt datetime'2024-01-31T00:00'", False),
        ("Stamp eq datetimeoffset'2024-01-31T00:00:00Z'", True),
        ("At eq time'PT08H00M00S'", True),
        (f"Ext eq guid'{GUID.upper()}'", True),
        ("Big eq 0L", True),
        ("Final eq false", True),
        ("Final", False),
        ("substringof('01', Plant)", True),
        ("substringof('01', Plant) eq true", True),
        ("startswith(Plant, '10') and endswith(Plant, '10')", True),
        ("tolower(Id) eq '1'", True),
        ("length(Plant) eq 4", True),
    ],
)
def test_operators_functions_and_typed_literals(expression: str, expected: bool) -> None:
    assert matches(expression) is expected


def test_string_literal_with_escaped_quote() -> None:
    assert matches("Plant eq 'O''Neil'", Plant="O'Neil")


def test_null_comparisons() -> None:
    assert matches("Start eq null", Start=None)
    assert not matches("Start gt datetime'2000-01-01T00:00:00'", Start=None)


def test_index_terms_are_top_level_equalities_in_internal_form() -> None:
    _, terms = compile_filter("Plant eq '1010' and (Released eq 'X' or Qty eq 1M) and Qty eq 2.5M", TYPE)
    assert terms == [("Plant", "1010"), ("Qty", 2500)]


@pytest.mark.parametrize(
    ("expression", "code"),
    [
        ("Nope eq 1", "/IWBEP/CM_MGW_RT/004"),
        ("Secret eq 's'", "/IWBEP/CM_MGW_RT/021"),
        ("Plant eq", "/IWBEP/CM_MGW_RT/022"),
        ("Plant eq '1010' and", "/IWBEP/CM_MGW_RT/022"),
        ("(Plant eq '1010'", "/IWBEP/CM_MGW_RT/022"),
        ("Plant eq 1010", "/IWBEP/CM_MGW_RT/022"),
        ("Start eq '2024-01-01'", "/IWBEP/CM_MGW_RT/022"),
        ("Plant eq 'x' $", "/IWBEP/CM_MGW_RT/022"),
        ("frobnicate(Plant)", "/IWBEP/CM_MGW_RT/022"),
    ],
)
def test_invalid_filters_are_400_with_gateway_codes(expression: str, code: str) -> None:
    with pytest.raises(ODataError) as caught:
        compile_filter(expression, TYPE)
    assert caught.value.status == 400
    assert caught.value.code == code


def test_unused_flag_property_is_part_of_the_type() -> None:
    assert TYPE.by_name["Released"] is flag
