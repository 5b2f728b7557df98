"""EDM values: the JSON wire format and URI literals SAP uses, from one internal representation."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from mock_sap.edm import (
    Parameter,
    ValueError_,
    boolean,
    date,
    decimal,
    from_json,
    ms_from_date,
    parameter_value,
    parse_literal,
    string,
    time,
    to_json,
    typed,
)

QTY = decimal("Qty", 13, 3)


def test_json_wire_formats() -> None:
    day = ms_from_date(dt.date(2017, 4, 13))
    assert to_json(QTY, 10_000) == "10.000"
    assert to_json(QTY, -5) == "-0.005"
    assert to_json(decimal("P", 5, 0), 7) == "7"
    assert to_json(date("D"), day) == "/Date(1492041600000)/"
    assert to_json(typed("O", "Edm.DateTimeOffset"), day) == "/Date(1492041600000+0000)/"
    assert to_json(time("T"), 15 * 3600 + 51 * 60 + 4) == "PT15H51M04S"
    assert to_json(typed("L", "Edm.Int64"), 5) == "5"
    assert to_json(boolean("B"), True) is True
    assert to_json(string("S", 1), "") == ""


def test_payload_values_are_checked_against_facets() -> None:
    assert from_json(QTY, "12.5") == 12_500
    assert from_json(QTY, 3) == 3_000
    assert from_json(date("D"), "/Date(1492041600000)/") == 1492041600000
    assert from_json(date("D"), "2017-04-13T00:00:00") == 1492041600000
    assert from_json(time("T"), "PT01H02M03S") == 3723
    assert from_json(typed("G", "Edm.Guid"), "0F8FAD5B-D9CB-469F-A165-70867728950E") == (
        "0f8fad5b-d9cb-469f-a165-70867728950e"
    )
    for prop, raw in ((QTY, "1.2345"), (QTY, "12345678901"), (string("S", 2), "abc"), (boolean("B"), "x")):
        with pytest.raises(ValueError_):
            from_json(prop, raw)


@pytest.mark.parametrize(
    ("text", "kind", "value"),
    [
        ("'it''s'", "Edm.String", "it's"),
        ("10.5M", "Edm.Decimal", Decimal("10.5")),
        ("0L", "Edm.Int64", 0),
        ("42", "Edm.Int32", 42),
        ("true", "Edm.Boolean", True),
        ("datetime'2017-04-13T00:00'", "Edm.DateTime", 1492041600000),
        ("time'PT10H'", "Edm.Time", 36000),
        ("null", "Null", None),
    ],
)
def test_uri_literals(text: str, kind: str, value: object) -> None:
    assert parse_literal(text) == (kind, value)


def test_decimal_parameters_accept_pyodata_form_without_suffix() -> None:
    param = Parameter("Q", "Edm.Decimal", precision=13, scale=3)
    assert parameter_value(param, "10M") == parameter_value(param, "10") == 10_000
