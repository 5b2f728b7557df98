"""What the role packages share: strict input fields, quantity/amount schemas, the SAP caller, list envelopes."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import marshmallow as ma

from access.policy import Principal
from odata_clients.destinations import Principal as SapPrincipal
from odata_clients.gateways.keyset import KeysetPage

# SAP keys are short upper-case alphanumerics; anything else in a path parameter is a 404, not a query.
# \Z, not $: `$` also matches before a trailing newline ("1000123\n").
SAP_KEY = re.compile(r"[A-Za-z0-9_-]{1,40}\Z")


def sap_principal(principal: Principal) -> SapPrincipal:
    """The caller as SAP sees them: SAP user names are upper case; the token proves the identity."""
    return SapPrincipal(user=principal.user_name.upper(), token=principal.token)


def page_result(page: KeysetPage[Any], request: Any) -> dict[str, Any]:
    """The `{items, next_cursor, total}` envelope; `request` is the app's PageRequest, which signs the cursor."""
    return {"items": page.items, "next_cursor": request.cursor_after(page.next_after), "total": page.total}


class StrictSchema(ma.Schema):
    """Unknown fields are rejected, not ignored (marshmallow's default, stated for the reader)."""

    class Meta:
        unknown = ma.RAISE


def decimal_string(example: str, **kwargs: Any) -> ma.fields.Decimal:
    """A Decimal on the wire as a JSON string, never a float, and documented as such."""
    metadata = {"type": "string", "format": "decimal", "pattern": r"^-?\d+(\.\d+)?$", "example": example}
    return ma.fields.Decimal(as_string=True, metadata=metadata, **kwargs)


class QuantitySchema(ma.Schema):
    value = decimal_string("120.000", required=True)
    unit = ma.fields.String(required=True, metadata={"example": "PC"})


class AmountSchema(ma.Schema):
    value = decimal_string("1499.90", required=True)
    currency = ma.fields.String(required=True, metadata={"example": "EUR"})


def date_field(description: str, example: str = "2026-11-26", **kwargs: Any) -> ma.fields.String:
    """ISO 8601 dates travel as strings (`2026-11-26`), as the canonical models hold them."""
    metadata = {"description": description, "format": "date", "example": example}
    return ma.fields.String(allow_none=True, metadata=metadata, **kwargs)


def datetime_field(description: str, example: str = "2026-11-26T08:00:00Z", **kwargs: Any) -> ma.fields.String:
    metadata = {"description": description, "format": "date-time", "example": example}
    return ma.fields.String(allow_none=True, metadata=metadata, **kwargs)


# OpenAPI parameters of the command endpoints (enforced in app/writebacks.py and the reschedule view).
IDEMPOTENCY_KEY_PARAMETER = {
    "in": "header",
    "name": "Idempotency-Key",
    "required": True,
    "schema": {"type": "string", "pattern": r"^[A-Za-z0-9._:~-]{1,128}$"},
    "description": "Unique per intended change (e.g. a UUID). Same key and body: the same writeback back; "
    "same key, other body: 422.",
}
IF_MATCH_PARAMETER = {
    "in": "header",
    "name": "If-Match",
    "required": True,
    "schema": {"type": "string", "maxLength": 255, "pattern": r'^(W/)?"[\x21\x23-\x7e]+"$'},
    "description": "The order's `sap_etag` as last read (one ETag, e.g. `W/\"'20240603101500'\"`); passed on to "
    "SAP, which refuses a stale one (412). `*` is refused (428): it would overwrite changes you have not seen.",
}


# -- strict input fields: what a body or query may hold, refused with a message naming the field ----------

SAP_QUANTITY_PLACES = 3  # SAP's Decimal(13,3)
MAX_SAP_QUANTITY = Decimal("9999999999.999")
# ASCII digits only: `\d` (and Decimal()) would also take "١٢", "１２", "1_0", "1e3", " 1" and "+1".
_PLAIN_DECIMAL = re.compile(r"[0-9]+(?:\.[0-9]+)?\Z")
SEND_DECIMAL_STRINGS = 'send quantities as decimal strings, e.g. "12.5"'
QUANTITY_RULES = (
    'A JSON string holding a plain decimal: ASCII digits, optionally "." and at most 3 decimals, e.g. "12.5" '
    "(no sign, exponent, spaces or underscores). Never rounded: more than 3 decimals is refused. JSON integers "
    "(12) are accepted too, being exact; JSON numbers with a fraction or exponent (12.5) are refused, since a "
    "float may already have lost digits. At most 9999999999.999 (SAP's Decimal(13,3))."
)


class SapQuantity(ma.fields.Field[Decimal]):
    """A Decimal(13,3) quantity in, quantized to 3 places out; see QUANTITY_RULES."""

    def __init__(self, description: str, *, example: str = "12.5", **kwargs: Any) -> None:
        metadata = {
            "description": f"{description}. {QUANTITY_RULES}",
            "type": "string",
            "format": "decimal",
            "pattern": r"^[0-9]{1,10}(\.[0-9]{1,3})?$",
            "example": example,
        }
        super().__init__(metadata=metadata, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any) -> Decimal:
        if isinstance(value, float):
            raise ma.ValidationError(SEND_DECIMAL_STRINGS)
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise ma.ValidationError(f"not a quantity: {SEND_DECIMAL_STRINGS}")
        if isinstance(value, str) and not _PLAIN_DECIMAL.match(value):
            raise ma.ValidationError(
                'not a plain decimal: use ASCII digits with an optional "." and fraction, e.g. "12.5" '
                '(no sign, exponent, spaces, "_" or NaN/Infinity)'
            )
        number = Decimal(value)
        exponent = number.as_tuple().exponent
        if isinstance(exponent, int) and -exponent > SAP_QUANTITY_PLACES:
            raise ma.ValidationError(
                f"has more than {SAP_QUANTITY_PLACES} decimal places; SAP keeps {SAP_QUANTITY_PLACES} and "
                "we never round: send at most 3"
            )
        if not Decimal(0) <= number <= MAX_SAP_QUANTITY:
            raise ma.ValidationError(f"must be between 0 and {MAX_SAP_QUANTITY} (SAP's Decimal(13,3))")
        return number.quantize(Decimal(1).scaleb(-SAP_QUANTITY_PLACES))


class JsonBoolean(ma.fields.Boolean):
    """true or false as JSON booleans only: marshmallow's Boolean also reads "yes", "true", 1 and "on"."""

    default_error_messages = {"invalid": "must be a JSON boolean, true or false (not a string or a number)"}

    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


class FullMatch(ma.validate.Regexp):
    """A Regexp validator matching the whole value: with re.match a `$` lets a trailing newline through."""

    def __call__(self, value: Any) -> Any:
        if self.regex.fullmatch(value) is None:
            raise ma.ValidationError(self._format_error(value))
        return value


# C0 controls, DEL and C1 controls; lone surrogates (JSON "\ud800") are not text and cannot be stored as UTF-8.
_ONE_LINE_REFUSED = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_MULTI_LINE_REFUSED = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


class CleanText(ma.validate.Validator):
    """No control characters (tab and line breaks only where multi-line), and SAP's length in characters."""

    def __init__(self, max_length: int, multiline: bool) -> None:
        self.max_length = max_length
        self.multiline = multiline
        self.refused = _MULTI_LINE_REFUSED if multiline else _ONE_LINE_REFUSED

    def __call__(self, value: str) -> str:
        if found := self.refused.search(value):
            char, position = found.group(), found.start() + 1
            if "\ud800" <= char <= "\udfff":
                raise ma.ValidationError(f"contains an unpaired surrogate (U+{ord(char):04X}) at position {position}")
            allowed = "tab and line breaks are allowed" if self.multiline else "one line: no tabs or line breaks"
            raise ma.ValidationError(
                f"contains a control character (U+{ord(char):04X}) at position {position}; {allowed}"
            )
        # ABAP counts UTF-16 code units: an emoji takes two of SAP's characters (Length() counts code points).
        if len(value) <= self.max_length < len(value.encode("utf-16-le")) // 2:
            raise ma.ValidationError(
                f"longer than {self.max_length} characters as SAP counts them "
                "(emoji and other characters beyond U+FFFF count twice)"
            )
        return value


def free_text(max_length: int, description: str, *, multiline: bool = False, **kwargs: Any) -> ma.fields.String:
    """A text bound for SAP or the audit trail: length capped, control characters refused (never stripped)."""
    controls = "control characters (U+0000-U+001F, U+007F-U+009F) are refused with 422, not stripped"
    rules = f"line breaks and tabs are allowed, other {controls}" if multiline else f"one line: {controls}"
    metadata = {
        "description": f"{description}. At most {max_length} characters (beyond U+FFFF, e.g. emoji, count twice, "
        f"as in SAP); {rules}",
        **kwargs.pop("metadata", {}),
    }
    validators = [ma.validate.Length(max=max_length), CleanText(max_length, multiline)]
    return ma.fields.String(validate=validators, metadata=metadata, **kwargs)


# SAP's Edm.DateTime and ABAP timestamps span 0001-01-01 to 9999-12-31, but at those edges an offset
# (0001-01-01T00:00:00+14:00) has no UTC datetime in Python. Nothing in SAP changed before 1970, and a
# filter beyond 2099 is a typo: this window is far from both edges.
EARLIEST_INSTANT = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
LATEST_INSTANT = dt.datetime(2099, 12, 31, 23, 59, 59, tzinfo=dt.UTC)
INSTANT_RANGE = "between 1970-01-01T00:00:00Z and 2099-12-31T23:59:59Z"


class Instant(ma.fields.DateTime):
    """An ISO 8601 date-time within INSTANT_RANGE, loaded as an aware UTC datetime (never an overflow later)."""

    default_error_messages = {
        "invalid": "not an ISO 8601 date-time (e.g. 2026-11-26T08:00:00Z)",
        "range": f"must be {INSTANT_RANGE}",
        "offset": "give a UTC offset, e.g. 2026-11-26T08:00:00Z or 2026-11-26T09:00:00+01:00",
    }

    def __init__(self, *, require_offset: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.require_offset = require_offset

    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any) -> dt.datetime:
        parsed = super()._deserialize(value, attr, data, **kwargs)
        if parsed.tzinfo is None:
            if self.require_offset:
                raise self.make_error("offset")
            parsed = parsed.replace(tzinfo=dt.UTC)
        try:
            utc = parsed.astimezone(dt.UTC)
        except OverflowError:  # e.g. 9999-12-31T23:59:59-14:00
            raise self.make_error("range") from None
        if not EARLIEST_INSTANT <= utc <= LATEST_INSTANT:
            raise self.make_error("range")
        return utc


LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
_VISIBLE_ASCII = re.compile(r"[\x21-\x7e]+")


def outbound_url(value: str, *, production: bool) -> str:
    """A URL the workers may call (a push endpoint, a webhook): absolute, visible ASCII, no credentials or
    fragment, https; http only to this machine outside production (a stand-in or a receiver under development).
    Raises `ma.ValidationError` saying which rule it breaks."""
    if not _VISIBLE_ASCII.fullmatch(value):
        raise ma.ValidationError("must be a URL of visible ASCII characters (no spaces)")
    try:
        parts = urlsplit(value)
        host, _ = parts.hostname, parts.port  # port: raises ValueError when not a number in range
    except ValueError as exc:
        raise ma.ValidationError(f"not a URL: {exc}") from None
    if parts.scheme not in ("https", "http") or not host:
        raise ma.ValidationError("must be an absolute https:// URL with a host")
    if parts.username is not None or parts.password is not None or parts.fragment:
        raise ma.ValidationError("must not carry credentials or a #fragment")
    if parts.scheme == "http" and (production or host not in LOCAL_HOSTS):
        raise ma.ValidationError("must be https:// (http:// only to localhost or 127.0.0.1, outside production)")
    return value
