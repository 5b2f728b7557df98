"""SAP <-> canonical value conversions: /Date(ms)/, Decimal strings, 'X' flags, Edm.Time, GUIDs, literals.

Every decoder accepts both SAP's JSON wire form and the Python value pyodata already made of it
(pyodata turns Edm.DateTime into an aware datetime but leaves Decimal, Time and Guid as strings),
so gateways convert the same way whichever path a value took. Floats are refused everywhere.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import uuid
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation

UTC = dt.UTC
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=UTC)
_JSON_DATE = re.compile(r"^/Date\((?P<ms>-?\d+)(?P<offset>[+-]\d{4})?\)/$")
_EDM_TIME = re.compile(r"^PT(?:(?P<h>\d+)H)?(?:(?P<m>\d+)M)?(?:(?P<s>\d+)(?:\.(?P<f>\d+))?S)?$")
_TIMESTAMP14 = re.compile(r"^\d{14}$")


class ConversionError(ValueError):
    """A value from or for SAP does not have the expected shape."""


# -- decimals ----------------------------------------------------------------------------------------


def _no_float(value: object) -> None:
    if isinstance(value, float):
        raise TypeError("floats are not accepted for quantities or amounts; use Decimal or a string")


def decimal_from_sap(value: str | int | Decimal | None) -> Decimal | None:
    """Edm.Decimal arrives as a JSON string ("10.000"); None/"" stays None."""
    _no_float(value)
    if value is None or value == "":
        return None
    return _decimal_from_text(value if isinstance(value, str) else str(value))


@functools.lru_cache(maxsize=4096)  # quantities repeat across rows; a Decimal is immutable, so one can be shared
def _decimal_from_text(value: str) -> Decimal:
    try:
        result = Decimal(value)
    except InvalidOperation:
        raise ConversionError(f"not a decimal: {value!r}") from None
    if not result.is_finite():
        raise ConversionError(f"not a finite decimal: {value!r}")
    return result


def decimal_to_sap(value: Decimal | int | str, places: int | None = 3) -> str:
    """A Decimal as SAP's JSON string, fixed to `places` decimals (Decimal(13,3) -> "10.500")."""
    _no_float(value)
    number = Decimal(value)
    if not number.is_finite():
        raise ConversionError(f"not a finite decimal: {value!r}")
    if places is None:
        return format(number, "f")
    quantum = Decimal(1).scaleb(-places)
    rounded = number.quantize(quantum)
    if rounded != number:
        raise ConversionError(f"{value} has more than {places} decimal places")
    return format(rounded, "f")


def decimal_literal(value: Decimal | int | str) -> str:
    """An Edm.Decimal URI literal (`10.5M`); pyodata does not add the M for function parameters."""
    _no_float(value)
    number = Decimal(value)
    text = format(number.normalize(), "f") if number == number.to_integral() else format(number, "f")
    return f"{text}M"


# -- flags and booleans ------------------------------------------------------------------------------


def flag_from_sap(value: str | bool | None) -> bool:
    """ABAP flags: 'X' is true, '' (or space, or null) is false. Real Edm.Boolean passes through."""
    if value == "X":  # the common cases first: a list reads a dozen flags per row
        return True
    if value == "" or value is None:
        return False
    if isinstance(value, bool):
        return value
    if value is None:
        return False
    text = value.strip().upper()
    if text == "X":
        return True
    if text == "":
        return False
    raise ConversionError(f"not an ABAP flag: {value!r}")


def flag_to_sap(value: bool) -> str:
    return "X" if value else ""


# -- dates and times -----------------------------------------------------------------------------------


def parse_json_datetime(value: str) -> dt.datetime:
    """`/Date(ms)/` (UTC) or `/Date(ms+hhmm)/` to an aware datetime."""
    match = _JSON_DATE.match(value.strip())
    if not match:
        raise ConversionError(f"not an OData V2 JSON date: {value!r}")
    moment = _EPOCH + dt.timedelta(milliseconds=int(match["ms"]))
    offset = match["offset"]
    if offset:
        sign = 1 if offset[0] == "+" else -1
        # The OData V2 JSON offset counts minutes (+0060 is one hour), as pyodata reads it too.
        minutes = int(offset[1:])
        return moment.astimezone(dt.timezone(sign * dt.timedelta(minutes=minutes)))
    return moment


def format_json_datetime(value: dt.datetime, *, with_offset: bool = False) -> str:
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    ms = (aware - _EPOCH) // dt.timedelta(milliseconds=1)
    if not with_offset:
        return f"/Date({ms})/"
    offset = aware.utcoffset() or dt.timedelta()
    return f"/Date({ms}{int(offset / dt.timedelta(minutes=1)):+05d})/"


def _to_datetime(value: str | dt.datetime) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return parse_json_datetime(value)


def date_from_sap(value: str | dt.datetime | None) -> str | None:
    """Edm.DateTime with display-format Date (midnight UTC) to an ISO 8601 date, "2024-01-31"."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return _date_from_json(value)
    return _to_datetime(value).astimezone(UTC).date().isoformat()


# A list of orders repeats the same few dates, times and timestamps: each distinct wire value is parsed once.
_parsed_once = functools.lru_cache(maxsize=4096)


@_parsed_once
def _date_from_json(value: str) -> str:
    return parse_json_datetime(value).astimezone(UTC).date().isoformat()


def date_to_sap(value: str | dt.date) -> dt.datetime:
    """An ISO date to the aware midnight-UTC datetime pyodata writes as `/Date(ms)/`."""
    day = dt.date.fromisoformat(value) if isinstance(value, str) else value
    if isinstance(day, dt.datetime):
        raise ConversionError("a date was expected, not a datetime")
    return dt.datetime(day.year, day.month, day.day, tzinfo=UTC)


def date_to_json(value: str | dt.date) -> str:
    return format_json_datetime(date_to_sap(value))


def datetime_from_sap(value: str | dt.datetime | None) -> str | None:
    """Edm.DateTime / DateTimeOffset to ISO 8601 in UTC with a Z, "2024-01-31T14:05:00Z"."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return _datetime_from_json(value)
    return _iso_utc(_to_datetime(value))


@_parsed_once
def _datetime_from_json(value: str) -> str:
    return _iso_utc(parse_json_datetime(value))


def _iso_utc(value: dt.datetime) -> str:
    moment = value.astimezone(UTC)
    return moment.isoformat(timespec="milliseconds" if moment.microsecond else "seconds").replace("+00:00", "Z")


def datetime_to_sap(value: str | dt.datetime) -> dt.datetime:
    """An ISO 8601 timestamp (with Z or offset; naive means UTC) to an aware UTC datetime."""
    moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00")) if isinstance(value, str) else value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def time_from_sap(value: str | dt.time | dt.timedelta | None) -> str | None:
    """Edm.Time ("PT15H51M04S") to an ISO 8601 time of day, "15:51:04"."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return _time_of_day(int(value.total_seconds()), value)
    return _time_from_json(value)


@_parsed_once
def _time_from_json(value: str) -> str:
    match = _EDM_TIME.match(value.strip())
    if not match or value.strip() == "PT":
        raise ConversionError(f"not an Edm.Time duration: {value!r}")
    return _time_of_day(int(match["h"] or 0) * 3600 + int(match["m"] or 0) * 60 + int(match["s"] or 0), value)


def _time_of_day(seconds: int, value: object) -> str:
    if not 0 <= seconds < 86400:
        raise ConversionError(f"Edm.Time out of a day's range: {value!r}")
    return dt.time(seconds // 3600, seconds % 3600 // 60, seconds % 60).isoformat()


def time_to_sap(value: str | dt.time) -> str:
    """ "15:51:04" to "PT15H51M04S"."""
    moment = dt.time.fromisoformat(value) if isinstance(value, str) else value
    return f"PT{moment.hour:02d}H{moment.minute:02d}M{moment.second:02d}S"


def timestamp_from_sap(value: str | None) -> str | None:
    """A String(14) ABAP timestamp "20240131140500" (UTC, like LastChangeDateTime) to ISO 8601 with Z."""
    if value is None or value.strip() in ("", "0" * 14):
        return None
    return _timestamp_from_text(value.strip())


@_parsed_once
def _timestamp_from_text(text: str) -> str:
    if not _TIMESTAMP14.match(text):
        # Some services carry the timestamp as a full Edm.DateTimeOffset instead.
        if text.startswith("/Date("):
            return _datetime_from_json(text)
        raise ConversionError(f"not an ABAP timestamp: {text!r}")
    parts = (text[0:4], text[4:6], text[6:8], text[8:10], text[10:12], text[12:14])
    year, month, day, hour, minute, second = (int(part) for part in parts)
    try:
        dt.datetime(year, month, day, hour, minute, second)  # refuses month 13, February 30, hour 24, ...
    except ValueError:
        raise ConversionError(f"not an ABAP timestamp: {text!r}") from None
    return "{}-{}-{}T{}:{}:{}Z".format(*parts)


def timestamp_to_sap(value: str | dt.datetime) -> str:
    return datetime_to_sap(value).strftime("%Y%m%d%H%M%S")


# -- GUIDs -----------------------------------------------------------------------------------------------


def guid_from_sap(value: str | uuid.UUID | None) -> str | None:
    """Edm.Guid (any case, with or without dashes) to the canonical lower-case dashed form."""
    if value is None or value == "":
        return None
    if isinstance(value, uuid.UUID):
        return str(value)
    try:
        return str(uuid.UUID(value.strip().removeprefix("guid'").removesuffix("'")))
    except ValueError:
        raise ConversionError(f"not a GUID: {value!r}") from None


def guid_to_sap(value: str | uuid.UUID) -> str:
    result = guid_from_sap(value)
    if result is None:
        raise ConversionError("empty GUID")
    return result


def guid_literal(value: str | uuid.UUID) -> str:
    return f"guid'{guid_to_sap(value)}'"


# -- strings, numbers and $filter --------------------------------------------------------------------


def text_from_sap(value: str | None) -> str:
    """SAP strings may be null or padded with blanks; canonical strings are trimmed, never None."""
    return "" if value is None else value.strip()


def int_from_sap(value: str | int | None) -> int | None:
    """Int32 arrives as a number, Int64 as a string; both become int."""
    _no_float(value)
    if value is None or value == "":
        return None
    return int(value)


def string_literal(value: str) -> str:
    """An OData string literal: quotes doubled, so `O'Brien` is `'O''Brien'`."""
    return "'" + str(value).replace("'", "''") + "'"


def eq(field: str, value: str) -> str:
    return f"{field} eq {string_literal(value)}"


def any_of(field: str, values: Iterable[str]) -> str:
    """`(F eq 'a' or F eq 'b')`: how attribute filters (plants, work centres) are pushed down to SAP."""
    unique = list(dict.fromkeys(values))
    if not unique:
        raise ValueError(f"any_of({field}) needs at least one value")
    return "(" + " or ".join(eq(field, value) for value in unique) + ")"


def datetime_literal(value: str | dt.date | dt.datetime) -> str:
    """An Edm.DateTime literal, `datetime'2024-01-31T00:00:00'` (UTC)."""
    if isinstance(value, dt.datetime) or (isinstance(value, str) and "T" in value):
        moment = datetime_to_sap(value)
    else:
        moment = date_to_sap(value)
    return f"datetime'{moment.replace(tzinfo=None).isoformat(timespec='seconds')}'"


def and_all(*clauses: str | None) -> str | None:
    """Join non-empty clauses with `and`; None when there is nothing to filter."""
    present = [clause for clause in clauses if clause]
    return " and ".join(present) if present else None
