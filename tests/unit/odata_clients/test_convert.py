"""Round trips SAP <-> canonical for every field type the gateways use; floats are refused."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from odata_clients import convert

UTC = dt.UTC


@given(st.decimals(min_value=Decimal("-9999999999.999"), max_value=Decimal("9999999999.999"), places=3))
def test_decimal_round_trip(value: Decimal) -> None:
    wire = convert.decimal_to_sap(value)
    assert isinstance(wire, str)
    assert convert.decimal_from_sap(wire) == value


def test_decimal_keeps_scale_and_rejects_floats() -> None:
    assert convert.decimal_to_sap(Decimal("10.5")) == "10.500"
    assert convert.decimal_from_sap("10.000") == Decimal("10.000")
    assert convert.decimal_from_sap("") is None
    assert convert.decimal_from_sap(None) is None
    with pytest.raises(TypeError):
        convert.decimal_from_sap(1.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        convert.decimal_to_sap(1.5)  # type: ignore[arg-type]
    with pytest.raises(convert.ConversionError):
        convert.decimal_to_sap(Decimal("1.2345"))
    with pytest.raises(convert.ConversionError):
        convert.decimal_from_sap("abc")


def test_decimal_literal_adds_m_suffix() -> None:
    assert convert.decimal_literal(Decimal("10")) == "10M"
    assert convert.decimal_literal(Decimal("10.000")) == "10M"
    assert convert.decimal_literal(Decimal("10.5")) == "10.5M"
    assert convert.decimal_literal(Decimal("-2.25")) == "-2.25M"


@given(st.booleans())
def test_flag_round_trip(value: bool) -> None:
    assert convert.flag_from_sap(convert.flag_to_sap(value)) is value


def test_flag_values() -> None:
    assert convert.flag_from_sap("X") is True
    assert convert.flag_from_sap("") is False
    assert convert.flag_from_sap(" ") is False
    assert convert.flag_from_sap(None) is False
    assert convert.flag_from_sap(True) is True
    with pytest.raises(convert.ConversionError):
        convert.flag_from_sap("Y")


@given(st.dates(min_value=dt.date(1753, 1, 1), max_value=dt.date(9999, 12, 31)))
def test_date_round_trip_wire_and_pyodata(day: dt.date) -> None:
    iso = day.isoformat()
    wire = convert.date_to_json(iso)
    assert wire.startswith("/Date(") and wire.endswith(")/")
    assert convert.date_from_sap(wire) == iso
    assert convert.date_from_sap(convert.date_to_sap(iso)) == iso


def test_date_known_value() -> None:
    assert convert.date_from_sap("/Date(1492041600000)/") == "2017-04-13"
    assert convert.date_to_json("2017-04-13") == "/Date(1492041600000)/"
    assert convert.date_from_sap(None) is None
    assert convert.date_to_sap("2017-04-13") == dt.datetime(2017, 4, 13, tzinfo=UTC)


@given(st.datetimes(min_value=dt.datetime(1900, 1, 1), max_value=dt.datetime(9999, 1, 1), timezones=st.just(UTC)))
def test_datetime_round_trip(moment: dt.datetime) -> None:
    moment = moment.replace(microsecond=moment.microsecond // 1000 * 1000)
    iso = convert.datetime_from_sap(convert.format_json_datetime(moment))
    assert iso is not None and iso.endswith("Z")
    assert convert.datetime_to_sap(iso) == moment


def test_datetime_offset_form() -> None:
    assert convert.datetime_from_sap("/Date(1492041600000+0060)/") == "2017-04-13T00:00:00Z"
    moment = convert.parse_json_datetime("/Date(1492041600000+0060)/")
    assert moment.utcoffset() == dt.timedelta(hours=1)
    assert convert.format_json_datetime(moment, with_offset=True) == "/Date(1492041600000+0060)/"
    with pytest.raises(convert.ConversionError):
        convert.parse_json_datetime("2017-04-13")


@given(st.times())
def test_time_round_trip(moment: dt.time) -> None:
    moment = moment.replace(microsecond=0)
    wire = convert.time_to_sap(moment.isoformat())
    assert convert.time_from_sap(wire) == moment.isoformat()


def test_time_values() -> None:
    assert convert.time_from_sap("PT15H51M04S") == "15:51:04"
    assert convert.time_from_sap("PT00H00M00S") == "00:00:00"
    assert convert.time_from_sap("PT8H") == "08:00:00"
    assert convert.time_to_sap("15:51:04") == "PT15H51M04S"
    assert convert.time_from_sap(None) is None
    with pytest.raises(convert.ConversionError):
        convert.time_from_sap("PT25H")
    with pytest.raises(convert.ConversionError):
        convert.time_from_sap("15:51")


def test_abap_timestamp_round_trip() -> None:
    assert convert.timestamp_from_sap("20240131140500") == "2024-01-31T14:05:00Z"
    assert convert.timestamp_to_sap("2024-01-31T14:05:00Z") == "20240131140500"
    assert convert.timestamp_from_sap("") is None
    assert convert.timestamp_from_sap("00000000000000") is None


@given(st.uuids())
def test_guid_round_trip(value: uuid.UUID) -> None:
    assert convert.guid_from_sap(convert.guid_to_sap(value)) == str(value)
    assert convert.guid_from_sap(str(value).upper().replace("-", "")) == str(value)


def test_guid_literal() -> None:
    value = "0f8fad5b-d9cb-469f-a165-70867728950e"
    assert convert.guid_literal(value) == f"guid'{value}'"
    with pytest.raises(convert.ConversionError):
        convert.guid_from_sap("nope")


@given(st.text())
def test_string_literal_escapes_quotes(value: str) -> None:
    literal = convert.string_literal(value)
    assert literal.startswith("'") and literal.endswith("'")
    assert literal[1:-1].replace("''", "'") == value


def test_filters() -> None:
    assert convert.any_of("ProductionPlant", ["1010", "1020", "1010"]) == (
        "(ProductionPlant eq '1010' or ProductionPlant eq '1020')"
    )
    assert convert.eq("Material", "O'Brien") == "Material eq 'O''Brien'"
    assert convert.datetime_literal("2024-01-31") == "datetime'2024-01-31T00:00:00'"
    assert convert.datetime_literal("2024-01-31T10:00:00Z") == "datetime'2024-01-31T10:00:00'"
    assert convert.and_all("a eq 1", None, "", "b eq 2") == "a eq 1 and b eq 2"
    assert convert.and_all(None) is None
    with pytest.raises(ValueError):
        convert.any_of("Plant", [])


def test_ints() -> None:
    assert convert.int_from_sap("42") == 42
    assert convert.int_from_sap(7) == 7
    assert convert.int_from_sap(None) is None
    assert convert.text_from_sap(None) == ""
    assert convert.text_from_sap(" A ") == "A"
