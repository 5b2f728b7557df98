"""Paging for every list: `limit`, `include_total`, and signed keyset cursors bound to the query they came from."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import marshmallow as ma
from flask import current_app, g, request
from flask_smorest import abort

from app.errors import INVALID_CURSOR
from runtime.secret_files import read_or_create
from runtime.settings import ConfigError, Settings
from store import Page

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
MAX_CURSOR_LENGTH = 1024
MAX_SORT_KEYS = 3
CURSOR_VERSION = 1
# Not part of a query's identity: a client may change the page size or ask for the total on any page.
PAGING_ARGS = ("limit", "cursor", "include_total")
# `@blp.arguments(Schema, **QUERY_ARGS)`: anything wrong in the query string is a 400 (the URL is malformed),
# while a body that parses but does not validate stays a 422.
QUERY_ARGS: dict[str, Any] = {"location": "query", "as_kwargs": True, "error_status_code": 400}
SECRET_FILE = "paging-secret"


class QueryInteger(ma.fields.Integer):
    """A whole number in a query string as plain ASCII digits: no sign, spaces, "_" or other scripts' digits
    (Python's int() takes "1_0" and "１２")."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        digits = value.removeprefix("-") if isinstance(value, str) else ""
        if not (digits.isascii() and digits.isdigit() and len(digits) <= 9):
            raise ma.ValidationError("must be a whole number in ASCII digits, e.g. 50")
        return int(value)  # a negative one is refused by the field's range, with its message


class PageArgsSchema(ma.Schema):
    """`limit`, `cursor` and `include_total`, shared by every list endpoint."""

    class Meta:
        unknown = ma.RAISE

    limit = QueryInteger(
        load_default=DEFAULT_LIMIT,
        validate=ma.validate.Range(
            min=1, max=MAX_LIMIT, error=f"must be between 1 and {MAX_LIMIT} (the maximum); follow next_cursor for more"
        ),
        metadata={
            "description": f"Items per page, 1 to {MAX_LIMIT}; always honoured (fewer only on the last page). "
            f"Above {MAX_LIMIT} is a 400",
            "example": DEFAULT_LIMIT,
        },
    )
    cursor = ma.fields.String(
        # Empty is a 400 too: a client sending its null cursor as "" would otherwise get page one forever.
        validate=ma.validate.Length(min=1, max=MAX_CURSOR_LENGTH),
        metadata={
            "description": "Opaque and signed: `next_cursor` of the previous page, unchanged, with the same filters "
            "and sort (limit and include_total may change); omit it for the first page. Items decided, released "
            "or leaving the list meanwhile are neither skipped nor repeated; an item whose sort key itself "
            "changes (a rescheduled order under a date sort, any change under last_changed) moves to its new "
            "place and may show up again: de-duplicate by id. Any other value is a 400"
        },
    )
    include_total = ma.fields.Boolean(
        load_default=False,
        metadata={"description": "Also return `total`, the number of items of the whole list (one count more)"},
    )


def sort_field(names: Collection[str], default: Sequence[str], description: str) -> ma.fields.List[str]:
    """`sort=-created&sort=priority`: up to MAX_SORT_KEYS of `names`, each ascending or `-` descending."""
    choices = sorted([*names, *(f"-{name}" for name in names)], key=lambda choice: (choice.lstrip("-"), choice))

    def distinct(keys: list[str]) -> None:
        seen = [key.lstrip("-") for key in keys]
        if doubled := sorted({name for name in seen if seen.count(name) > 1}):
            raise ma.ValidationError(f"sort by {', '.join(doubled)} only once")

    return ma.fields.List(
        ma.fields.String(validate=ma.validate.OneOf(choices)),
        load_default=lambda: list(default),
        validate=[ma.validate.Length(min=1, max=MAX_SORT_KEYS), distinct],
        metadata={
            "description": f"{description}. Up to {MAX_SORT_KEYS} keys, the first sorts first; `-` for descending. "
            f"Default: {','.join(default)}. A unique key always closes the order, so pages are stable",
            "example": list(default),
        },
    )


def page_schema(item_schema: type[ma.Schema], name: str) -> type[ma.Schema]:
    """A `{items, next_cursor, total}` envelope schema for `item_schema`."""
    return ma.Schema.from_dict(
        {
            "items": ma.fields.List(ma.fields.Nested(item_schema), required=True),
            "next_cursor": next_cursor_field(),
            "total": total_field(),
        },
        name=name,
    )


def next_cursor_field() -> ma.fields.String:
    return ma.fields.String(
        allow_none=True,
        required=True,
        metadata={"description": "Pass as `cursor` for the next page; null on the last page"},
    )


def total_field() -> ma.fields.Integer:
    return ma.fields.Integer(
        allow_none=True,
        required=True,
        metadata={"description": "Items in the whole list when `include_total=true` was asked; else null"},
    )


@dataclass(frozen=True)
class PageRequest:
    """A list request's paging: how many, after which position (None: from the start), whether to count."""

    limit: int
    after: Any
    include_total: bool
    query: str
    key: bytes

    def cursor_after(self, position: Any) -> str | None:
        """The signed cursor of the page after `position` (the last item's sort key); None on the last page."""
        return None if position is None else seal(self.key, self.query, position)

    def store_page(self, page: Page[Any], count: Callable[[], int]) -> dict[str, Any]:
        """The `{items, next_cursor, total}` envelope of a store list; `count` runs only when the total was asked."""
        return {
            "items": page.items,
            "next_cursor": self.cursor_after(page.next_cursor),
            "total": count() if self.include_total else None,
        }

    @property
    def store_cursor(self) -> str | None:
        """The store's own keyset cursor, carried inside ours (lists of the store: writebacks, the audit trail)."""
        if self.after is not None and not isinstance(self.after, str):
            invalid_cursor()
        return self.after


def invalid_cursor() -> NoReturn:
    """The one answer to a cursor we did not issue (every paged list uses it)."""
    abort(400, message=INVALID_CURSOR)
    raise AssertionError("abort raises")  # for type checkers: flask-smorest's abort is not NoReturn


def page_request(args: Mapping[str, Any]) -> PageRequest:
    """Read `limit`/`cursor`/`include_total` from parsed query args, in a request.

    The cursor must be one we signed for this endpoint, this caller and these filters and sort; a cursor of
    another query is a 400 too (its position means nothing in another order or list).
    """
    key: bytes = current_app.extensions["paging_key"]
    principal = g.get("principal")
    query = _fingerprint(
        request.endpoint or "",
        principal.user_name if principal is not None else "",
        {name: value for name, value in args.items() if name not in PAGING_ARGS},
    )
    after = None
    if cursor := args.get("cursor"):
        issued_for, after = unseal(key, cursor)
        if not hmac.compare_digest(issued_for, query):
            abort(400, message="cursor belongs to a different query: keep the filters and sort of the first page")
    return PageRequest(
        limit=int(args.get("limit", DEFAULT_LIMIT)),
        after=after,
        include_total=bool(args.get("include_total", False)),
        query=query,
        key=key,
    )


def seal(key: bytes, query: str, position: Any) -> str:
    """`<payload>.<mac>`, both base64url: the payload is readable JSON, but only we can make one that verifies."""
    payload = json.dumps({"v": CURSOR_VERSION, "q": query, "a": position}, separators=(",", ":")).encode()
    body = _b64encode(payload)
    return f"{body}.{_b64encode(_mac(key, body.encode()))}"


def unseal(key: bytes, cursor: str) -> tuple[str, Any]:
    """(query fingerprint, position) of a cursor `seal` made with `key`; anything else is invalid_cursor()."""
    try:
        body, mac = cursor.encode("ascii").split(b".")
        if not hmac.compare_digest(_b64decode(mac), _mac(key, body)):
            invalid_cursor()
        payload = json.loads(_b64decode(body))
        if not isinstance(payload, dict) or payload.get("v") != CURSOR_VERSION or not isinstance(payload.get("q"), str):
            invalid_cursor()
        return payload["q"], payload.get("a")
    except (ValueError, KeyError):
        invalid_cursor()


def paging_key(settings: Settings) -> bytes:
    """The cursor-signing key: from PAGING_SECRET, else (development only) a secret kept beside the dev IdP key."""
    secret = settings.paging_secret
    if not secret:
        if settings.is_production:
            raise ConfigError("production needs PAGING_SECRET: one random secret shared by every instance")
        secret = read_or_create(
            Path(settings.dev_idp_key_file).with_name(SECRET_FILE), lambda: secrets.token_urlsafe(48)
        ).strip()
    # Derived, so the configured secret is never itself the MAC key of data that clients see.
    return hmac.new(secret.encode(), b"sap-extension-api paging cursor", hashlib.sha256).digest()


def _fingerprint(endpoint: str, user: str, filters: Mapping[str, Any]) -> str:
    canonical = json.dumps(
        {"e": endpoint, "u": user, "f": {name: filters[name] for name in sorted(filters)}},
        default=str,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()[:24]


def _mac(key: bytes, body: bytes) -> bytes:
    return hmac.new(key, body, hashlib.sha256).digest()


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _b64decode(text: bytes) -> bytes:
    # validate=True: a character outside the alphabet is an error, not silently dropped.
    return base64.b64decode(text + b"=" * (-len(text) % 4), altchars=b"-_", validate=True)
