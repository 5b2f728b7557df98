"""Cursor paging for mobile clients: an opaque cursor bound to the query it was issued for."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NoReturn

import marshmallow as ma
from flask_smorest import abort

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
MAX_SKIP = 1_000_000  # far beyond any real list; a larger offset is a forged cursor


class PageArgsSchema(ma.Schema):
    """`limit` and `cursor`, shared by every list endpoint."""

    limit = ma.fields.Integer(
        load_default=DEFAULT_LIMIT,
        validate=ma.validate.Range(min=1, max=MAX_LIMIT),
        metadata={"description": f"Items per page (1-{MAX_LIMIT})"},
    )
    cursor = ma.fields.String(
        validate=ma.validate.Length(max=512),
        metadata={"description": "Opaque; pass `next_cursor` of the previous page, with the same filters"},
    )


def page_schema(item_schema: type[ma.Schema], name: str) -> type[ma.Schema]:
    """A `{items, next_cursor}` envelope schema for `item_schema`."""
    return ma.Schema.from_dict(
        {
            "items": ma.fields.List(ma.fields.Nested(item_schema), required=True),
            "next_cursor": ma.fields.String(
                allow_none=True, required=True, metadata={"description": "null on the last page"}
            ),
        },
        name=name,
    )


@dataclass(frozen=True)
class PageRequest:
    skip: int
    limit: int
    fingerprint: str

    def next_cursor(self, returned: int, has_more: bool) -> str | None:
        if not has_more:
            return None
        raw = json.dumps({"s": self.skip + returned, "q": self.fingerprint}, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _fingerprint(filters: Mapping[str, Any]) -> str:
    canonical = json.dumps({k: filters[k] for k in sorted(filters)}, default=str, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def invalid_cursor() -> NoReturn:
    """The one answer to a cursor we did not issue (every paged list uses it)."""
    abort(400, message="invalid cursor: pass next_cursor from the previous page unchanged")
    raise AssertionError("abort raises")  # for type checkers: flask-smorest's abort is not NoReturn


def page_request(args: Mapping[str, Any]) -> PageRequest:
    """Read `limit`/`cursor` from parsed query args; a cursor from another query is a 400."""
    filters = {k: v for k, v in args.items() if k not in ("limit", "cursor")}
    fingerprint = _fingerprint(filters)
    skip = 0
    if cursor := args.get("cursor"):
        try:
            decoded = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
            skip, issued_for = decoded["s"], str(decoded["q"])
        except (ValueError, KeyError, TypeError):
            invalid_cursor()
        if not isinstance(skip, int) or isinstance(skip, bool) or not 0 <= skip <= MAX_SKIP:
            invalid_cursor()
        if issued_for != fingerprint:
            abort(400, message="cursor belongs to a different query: keep the filters of the first page")
    return PageRequest(skip=skip, limit=int(args.get("limit", DEFAULT_LIMIT)), fingerprint=fingerprint)
