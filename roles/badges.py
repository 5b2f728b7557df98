"""What the badge-count endpoints share: count fields, and which calendar day is "today" at a plant."""

from __future__ import annotations

import datetime as dt
import functools
import zoneinfo
from typing import Any

import marshmallow as ma

# SAP's APIs carry no plant time zone, so the caller names one (default UTC).
DEFAULT_TIME_ZONE = "UTC"
# In the tz database but no place: the server's own zone, and a placeholder that means "zone unknown".
_NOT_PLACES = frozenset({"localtime", "Factory"})
TIME_ZONE_RULES = (
    "IANA time zone of the plant (e.g. Europe/Berlin, America/Los_Angeles; case-sensitive). It decides which "
    "calendar day is today: SAP's planned dates are calendar days without a zone, and SAP's APIs name no time "
    f"zone for a plant. Default {DEFAULT_TIME_ZONE}. Plants in several zones: ask once per plant."
)


@functools.cache
def known_time_zones() -> frozenset[str]:
    """The tz database of this machine (system zoneinfo or the tzdata package), read once."""
    return frozenset(zoneinfo.available_timezones() - _NOT_PLACES) | {DEFAULT_TIME_ZONE}


def _known(name: str) -> str:
    if name not in known_time_zones():
        raise ma.ValidationError(
            f"unknown time zone {name[:64]!r}: use an IANA name such as Europe/Berlin or America/Los_Angeles"
        )
    return name


def time_zone_field(**kwargs: Any) -> ma.fields.String:
    return ma.fields.String(
        load_default=DEFAULT_TIME_ZONE,
        validate=[ma.validate.Length(min=1, max=64), _known],
        metadata={"description": TIME_ZONE_RULES, "example": "Europe/Berlin"},
        **kwargs,
    )


def today_in(time_zone: str, now: dt.datetime | None = None) -> dt.date:
    """The calendar day it is in `time_zone` at `now` (default: this moment)."""
    moment = now or dt.datetime.now(dt.UTC)
    return moment.astimezone(zoneinfo.ZoneInfo(time_zone)).date()


class DayCountsSchema(ma.Schema):
    """What every count that depends on "today" says about the day it was taken for."""

    time_zone = ma.fields.String(
        required=True, metadata={"description": "The time zone `today` was taken in (`tz`)", "example": "Europe/Berlin"}
    )
    today = ma.fields.Date(
        required=True, metadata={"description": "The calendar day the counts are for", "example": "2026-11-26"}
    )


def count_field(description: str, example: int, *, allow_none: bool = False) -> ma.fields.Integer:
    """A badge number as SAP counted it (`$count`)."""
    return ma.fields.Integer(
        required=True,
        allow_none=allow_none,
        metadata={"description": description, "example": example, "minimum": 0},
    )
