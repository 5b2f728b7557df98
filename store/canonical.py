"""Canonical JSON, hashes and opaque cursors: the byte-exact rules the hash chain depends on."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

# The prev_hash of the first audit event: a chain starts from a known constant, not from nothing.
GENESIS_HASH = "0" * 64


def _check(value: Any, path: str) -> None:
    # Floats are refused because their text form is not guaranteed to survive a JSON/JSONB round trip
    # byte for byte, and the hash chain and the idempotency fingerprint need exactly that.
    if value is None or isinstance(value, bool | int | str):
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"{path}: JSON object keys must be strings, got {key!r}")
            _check(item, f"{path}.{key}")
        return
    if isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _check(item, f"{path}[{index}]")
        return
    raise TypeError(
        f"{path}: {type(value).__name__} is not allowed in stored JSON (only str, int, bool, null, lists, objects;"
        " send decimals and timestamps as strings)"
    )


def canonical_json(value: Any) -> str:
    """One text for one value: sorted keys, no whitespace, UTF-8 kept; raises TypeError on floats and the like."""
    _check(value, "$")
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def iso_utc(moment: datetime) -> str:
    """A timezone-aware timestamp as fixed-width UTC ISO 8601 with microseconds, e.g. 2024-05-01T08:00:00.000000Z."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: the store only handles timezone-aware timestamps")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def chain_hash(prev_hash: str, fields: Mapping[str, Any]) -> str:
    """The hash of one audit event: sha256 over the previous hash followed by the canonical JSON of its fields."""
    return sha256_hex(prev_hash + canonical_json(dict(fields)))


class InvalidCursor(ValueError):
    """A paging cursor that this store did not hand out (or that belongs to another ordering)."""


def encode_cursor(*parts: str | int) -> str:
    """An opaque, URL-safe cursor for keyset paging."""
    raw = json.dumps(list(parts), separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, kinds: tuple[type, ...]) -> tuple[Any, ...]:
    """The parts of a cursor made by `encode_cursor`, checked against the expected `kinds`."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        parts = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise InvalidCursor(f"malformed cursor {cursor!r}") from exc
    if (
        not isinstance(parts, list)
        or len(parts) != len(kinds)
        or not all(isinstance(p, k) and not isinstance(p, bool) for p, k in zip(parts, kinds, strict=True))
    ):
        raise InvalidCursor(f"malformed cursor {cursor!r}")
    # Ids and offsets are database integers: a huge one is forged, not "the next page".
    if any(isinstance(p, int) and not 0 <= p < 2**63 for p in parts):
        raise InvalidCursor(f"malformed cursor {cursor!r}")
    return tuple(parts)
