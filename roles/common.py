"""What the role packages share: quantity/amount schemas, the SAP identity of a caller, list envelopes."""

from __future__ import annotations

import re
from typing import Any

import marshmallow as ma

from access.policy import Principal
from odata_clients.destinations import Principal as SapPrincipal
from odata_clients.models import Page

# SAP keys are short upper-case alphanumerics; anything else in a path parameter is a 404, not a query.
SAP_KEY = re.compile(r"^[A-Za-z0-9_-]{1,40}$")


def sap_principal(principal: Principal) -> SapPrincipal:
    """The caller as SAP sees them: SAP user names are upper case; the token proves the identity."""
    return SapPrincipal(user=principal.user_name.upper(), token=principal.token)


def page_result(page: Page[Any], skip: int, next_cursor: Any) -> dict[str, Any]:
    """The `{items, next_cursor}` envelope; `next_cursor` is the PageRequest method to call."""
    has_more = page.total is not None and skip + len(page.items) < page.total
    return {"items": page.items, "next_cursor": next_cursor(len(page.items), has_more)}


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


def date_field(description: str, **kwargs: Any) -> ma.fields.String:
    """ISO 8601 dates travel as strings (`2026-11-26`), as the canonical models hold them."""
    return ma.fields.String(allow_none=True, metadata={"description": description, "format": "date"}, **kwargs)


def datetime_field(description: str, **kwargs: Any) -> ma.fields.String:
    return ma.fields.String(allow_none=True, metadata={"description": description, "format": "date-time"}, **kwargs)


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
    "schema": {"type": "string", "maxLength": 255},
    "description": "The order's `sap_etag` as last read; passed on to SAP, which refuses a stale one (412).",
}
