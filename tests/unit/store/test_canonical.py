"""Canonical JSON, timestamps, chain hashes, cursors and request fingerprints: the exact rules hashes rely on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from store import NewCommand, request_fingerprint
from store.canonical import (
    GENESIS_HASH,
    InvalidCursor,
    canonical_json,
    chain_hash,
    decode_cursor,
    encode_cursor,
    iso_utc,
)


def test_canonical_json_is_one_text_per_value() -> None:
    assert canonical_json({"b": [1, True, None], "a": {"y": "ü", "x": "1.50"}}) == (
        '{"a":{"x":"1.50","y":"ü"},"b":[1,true,null]}'
    )
    assert canonical_json({"a": 1, "b": 2}) == canonical_json({"b": 2, "a": 1})
    assert canonical_json((1, 2)) == canonical_json([1, 2])


@pytest.mark.parametrize(
    "value",
    [{"q": 1.5}, {"q": Decimal("1.5")}, [datetime(2024, 1, 1, tzinfo=UTC)], {1: "int key"}, {"s": {1, 2}}],
)
def test_canonical_json_refuses_what_does_not_round_trip(value: object) -> None:
    with pytest.raises(TypeError, match=r"\$"):
        canonical_json(value)


def test_iso_utc_is_fixed_width_utc() -> None:
    cest = timezone(timedelta(hours=2))
    assert iso_utc(datetime(2024, 5, 1, 10, 0, tzinfo=cest)) == "2024-05-01T08:00:00.000000Z"
    assert iso_utc(datetime(2024, 5, 1, 8, 0, 0, 7, tzinfo=UTC)) == "2024-05-01T08:00:00.000007Z"
    with pytest.raises(ValueError, match="naive"):
        iso_utc(datetime(2024, 5, 1))


def test_chain_hash_covers_previous_hash_and_every_field() -> None:
    fields = {"id": 1, "event": "accepted", "actor": "alice"}
    first = chain_hash(GENESIS_HASH, fields)
    assert len(first) == 64 and first == chain_hash(GENESIS_HASH, dict(reversed(fields.items())))
    assert chain_hash("1" * 64, fields) != first
    assert chain_hash(GENESIS_HASH, {**fields, "actor": "mallory"}) != first


def test_cursor_round_trip_and_refusals() -> None:
    cursor = encode_cursor("2024-05-01T08:00:00.000000Z", "abc")
    assert "=" not in cursor
    assert decode_cursor(cursor, (str, str)) == ("2024-05-01T08:00:00.000000Z", "abc")
    assert decode_cursor(encode_cursor(42), (int,)) == (42,)
    refused: list[tuple[str, tuple[type, ...]]] = [
        ("%%%", (str, str)),  # not base64
        ("bm90IGpzb24", (str, str)),  # base64 of "not json"
        (encode_cursor(42), (str, str)),  # another ordering's cursor
        (encode_cursor(True), (int,)),  # bool is not an id
    ]
    for bad, kinds in refused:
        with pytest.raises(InvalidCursor):
            decode_cursor(bad, kinds)


def _command(**changes: object) -> NewCommand:
    fields: dict[str, object] = {
        "type": "order.reschedule",
        "requested_by": "pm1",
        "role": "PlantManager",
        "target_type": "ProductionOrder",
        "target_id": "1000001",
        "payload": {"start": "2024-06-01", "end": "2024-06-03"},
        "idempotency_key": "k",
    }
    fields.update(changes)
    return NewCommand(**fields)  # type: ignore[arg-type]


def test_request_fingerprint_is_about_the_request_not_the_envelope() -> None:
    base = request_fingerprint(_command())
    assert request_fingerprint(_command(payload={"end": "2024-06-03", "start": "2024-06-01"})) == base
    assert request_fingerprint(_command(if_match='W/"2"', correlation_id="c", idempotency_key="other")) == base
    assert request_fingerprint(_command(target_id="1000002")) != base
    assert request_fingerprint(_command(type="order.release")) != base
    assert request_fingerprint(_command(payload={"start": "2024-06-02", "end": "2024-06-03"})) != base
