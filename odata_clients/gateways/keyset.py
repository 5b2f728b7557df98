"""Keyset paging over OData V2: `$orderby` on the sort keys and a unique key, `$filter` "after" the last row."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Generic, TypeVar

from odata_clients import convert

T = TypeVar("T")

# A position is a list of JSON values, one per sort key: what a cursor carries between requests.
Position = list[Any]


class InvalidPosition(ValueError):
    """A position that does not fit the sort keys (another sort, another version): not ours to page from."""


@dataclass(frozen=True)
class SortKey:
    """One `$orderby` term: an SAP property and its direction."""

    name: str
    descending: bool = False


@dataclass(frozen=True)
class KeysetPage(Generic[T]):
    """Up to `limit` items; `next_after` is the last item's position when more follow (None on the last page).

    `total` is SAP's count of the whole list (filters, no paging) when it was asked for.
    """

    items: list[T]
    total: int | None = None
    next_after: Position | None = None


def sort_keys(sort: Sequence[str], fields: Mapping[str, tuple[str, bool]], unique: Sequence[str]) -> list[SortKey]:
    """Canonical sort names (`-created` descending) -> SortKeys, closed by the `unique` key properties.

    `fields` maps a canonical name to (SAP property, inverted): inverted where the user's "ascending" is SAP's
    descending (priority: 1 is very high). The unique key makes the order total, so a position is exact;
    its properties already in the sort keep the user's direction.
    """
    keys: list[SortKey] = []
    for term in sort:
        descending = term.startswith("-")
        name = term.lstrip("-+")
        if name not in fields:
            raise ValueError(f"cannot sort by {name!r}; use one of {sorted(fields)}")
        prop, inverted = fields[name]
        if any(key.name == prop for key in keys):
            raise ValueError(f"sort key {name!r} given twice")
        keys.append(SortKey(prop, descending != inverted))
    keys += [SortKey(prop) for prop in unique if all(key.name != prop for key in keys)]
    return keys


def order_by(keys: Sequence[SortKey]) -> str:
    return ",".join(f"{key.name} {'desc' if key.descending else 'asc'}" for key in keys)


def position_of(raw: Mapping[str, Any], keys: Sequence[SortKey], types: Mapping[str, str]) -> Position:
    """The sort-key values of one row (pyodata's values or SAP's JSON) as JSON values, exact to the millisecond."""
    return [_to_json(types[key.name], raw.get(key.name)) for key in keys]


def after_filter(keys: Sequence[SortKey], types: Mapping[str, str], position: Sequence[Any]) -> str | None:
    """The `$filter` of every row after `position` in the order of `keys`; None when no row can follow.

    For keys k1..kn: (k1 after v1) or (k1 eq v1 and k2 after v2) or ... SAP sorts null (and ABAP's initial
    values, which Gateway shows as null) first in ascending order and last in descending order, so
    "after null" ascending is `ne null`, descending nothing; "after v" descending also takes the nulls.
    """
    if not isinstance(position, list | tuple) or len(position) != len(keys):
        raise InvalidPosition("the position does not match the sort keys")
    literals = [literal(types[key.name], value) for key, value in zip(keys, position, strict=True)]
    terms: list[str] = []
    equal: list[str] = []
    for key, value in zip(keys, literals, strict=True):
        if value == "null":
            after = None if key.descending else f"{key.name} ne null"
        elif key.descending:
            after = f"({key.name} lt {value} or {key.name} eq null)"
        else:
            after = f"{key.name} gt {value}"
        if after is not None:
            terms.append(" and ".join([*equal, after]))
        equal.append(f"{key.name} eq {value}")
    if not terms:
        return None
    return "(" + " or ".join(f"({term})" if " and " in term else term for term in terms) + ")"


def literal(edm_type: str, value: Any) -> str:
    """A position value as SAP's URI literal of the property's EDM type (strings quoted with '' escapes)."""
    if value is None:
        return "null"
    try:
        if edm_type == "Edm.String" and isinstance(value, str):
            return convert.string_literal(value)
        if edm_type == "Edm.DateTime" and isinstance(value, str):
            return f"datetime'{_iso(dt.datetime.fromisoformat(value)).removesuffix('Z')}'"
        if edm_type == "Edm.DateTimeOffset" and isinstance(value, str):
            return f"datetimeoffset'{_iso(dt.datetime.fromisoformat(value))}'"
        if edm_type in ("Edm.Byte", "Edm.SByte", "Edm.Int16", "Edm.Int32") and _is_int(value):
            return str(value)
        if edm_type == "Edm.Int64" and _is_int(value):
            return f"{value}L"
        if edm_type == "Edm.Decimal" and isinstance(value, str):
            return convert.decimal_literal(Decimal(value))
        if edm_type == "Edm.Boolean" and isinstance(value, bool):
            return "true" if value else "false"
        if edm_type == "Edm.Guid" and isinstance(value, str):
            return f"guid'{uuid.UUID(value)}'"
    except (ValueError, InvalidOperation) as exc:
        raise InvalidPosition(f"{value!r} is not an {edm_type} value") from exc
    raise InvalidPosition(f"{value!r} is not an {edm_type} value the keyset can use")


def _to_json(edm_type: str, value: Any) -> Any:
    if value is None or (value == "" and edm_type != "Edm.String"):
        return None
    if edm_type in ("Edm.DateTime", "Edm.DateTimeOffset"):
        moment = value if isinstance(value, dt.datetime) else convert.parse_json_datetime(str(value))
        aware = moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
        return _iso(aware)
    if edm_type == "Edm.Decimal":
        return str(value)
    if edm_type == "Edm.Int64":
        return int(value)
    if edm_type == "Edm.Guid":
        return str(uuid.UUID(str(value)))
    return value


def _iso(moment: dt.datetime) -> str:
    """UTC, `Z`, milliseconds only when present: SAP's DateTime holds at most milliseconds on the wire."""
    utc = (moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)).astimezone(dt.UTC)
    spec = "milliseconds" if utc.microsecond else "seconds"
    return utc.replace(tzinfo=None).isoformat(timespec=spec) + "Z"


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
