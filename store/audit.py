"""The append-only audit trail: appending under the chain-head lock, listing, and verifying the hash chain."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from store.canonical import GENESIS_HASH, chain_hash, iso_utc
from store.models import AuditRow, ChainHeadRow
from store.records import AuditEvent, VerifyResult

_VERIFY_BATCH = 1000


def lock_head(session: Session) -> ChainHeadRow:
    """Lock the one chain-head row for the rest of the transaction.

    Every write transaction of the store starts here, so writers are serialised in one order (no
    deadlocks) and appends can never fork the chain. On SQLite the BEGIN IMMEDIATE of the write engine
    already holds the database's write lock and FOR UPDATE is not rendered.
    """
    return session.execute(select(ChainHeadRow).where(ChainHeadRow.id == 1).with_for_update()).scalar_one()


def hashed_fields(row: AuditRow) -> dict[str, Any]:
    """The fields a hash covers: everything but the hashes themselves (prev_hash is chained in front)."""
    return {
        "id": row.id,
        "at": iso_utc(row.at),
        "command_id": row.command_id,
        "event": row.event,
        "actor": row.actor,
        "on_behalf_of": row.on_behalf_of,
        "role": row.role,
        "object": row.object,
        "sent": row.sent,
        "detail": row.detail,
        "sap_status": row.sap_status,
        "sap_message": row.sap_message,
        "duration_ms": row.duration_ms,
        "correlation_id": row.correlation_id,
    }


def append_event(
    session: Session,
    head: ChainHeadRow,
    *,
    at: datetime,
    event: str,
    actor: str,
    command_id: str | None = None,
    on_behalf_of: str | None = None,
    role: str | None = None,
    object: str | None = None,
    sent: Any = None,
    detail: Mapping[str, Any] | None = None,
    sap_status: int | None = None,
    sap_message: str | None = None,
    duration_ms: int | None = None,
    correlation_id: str | None = None,
) -> AuditRow:
    """Add the next link of the chain to `session`; `head` must come from `lock_head` in the same transaction."""
    row = AuditRow(
        id=head.last_id + 1,
        at=at,
        command_id=command_id,
        event=str(event),
        actor=actor,
        on_behalf_of=on_behalf_of,
        role=role,
        object=object,
        sent=sent,
        detail=dict(detail) if detail is not None else None,
        sap_status=sap_status,
        sap_message=sap_message,
        duration_ms=duration_ms,
        correlation_id=correlation_id,
        prev_hash=head.last_hash,
    )
    row.hash = chain_hash(row.prev_hash, hashed_fields(row))
    session.add(row)
    head.last_id = row.id
    head.last_hash = row.hash
    return row


def to_event(row: AuditRow) -> AuditEvent:
    return AuditEvent(
        id=row.id,
        at=row.at,
        event=row.event,
        actor=row.actor,
        command_id=row.command_id,
        on_behalf_of=row.on_behalf_of,
        role=row.role,
        object=row.object,
        sent=row.sent,
        detail=row.detail,
        sap_status=row.sap_status,
        sap_message=row.sap_message,
        duration_ms=row.duration_ms,
        correlation_id=row.correlation_id,
        prev_hash=row.prev_hash,
        hash=row.hash,
    )


def verify(session: Session) -> VerifyResult:
    """Recompute the chain from the first entry; the session must read one snapshot (see Store.verify_chain).

    Checks, in order, for each entry: ids have no gap (a deleted entry), prev_hash is the previous entry's
    hash (an entry rewritten with a fresh hash, or inserted), and the hash matches the content (an
    altered entry). Finally the chain head must point at the last entry (a cut-off or forged tail).
    """
    head = session.execute(select(ChainHeadRow).where(ChainHeadRow.id == 1)).scalar_one()
    prev_hash, last_id, checked = GENESIS_HASH, 0, 0
    while True:
        rows = session.execute(select(AuditRow).where(AuditRow.id > last_id).order_by(AuditRow.id).limit(_VERIFY_BATCH))
        batch = list(rows.scalars())
        if not batch:
            break
        for row in batch:
            if row.id != last_id + 1:
                reason = f"entry {last_id + 1} is missing (the next entry is {row.id}): deleted"
                return VerifyResult(False, checked, last_id + 1, reason)
            if row.prev_hash != prev_hash:
                return VerifyResult(
                    False, checked, row.id, f"prev_hash does not match the hash of entry {last_id} (chain broken)"
                )
            if chain_hash(row.prev_hash, hashed_fields(row)) != row.hash:
                return VerifyResult(False, checked, row.id, "hash does not match the entry's content (entry altered)")
            prev_hash, last_id, checked = row.hash, row.id, checked + 1
        session.expunge_all()  # keep memory flat on long trails
    if head.last_id > last_id:
        reason = f"the chain head says the trail ends at entry {head.last_id}, the table ends at {last_id}"
        return VerifyResult(False, checked, last_id + 1, reason)
    if head.last_id < last_id:
        reason = f"entry {head.last_id + 1} is past the chain head (appended behind the store's back)"
        return VerifyResult(False, checked, head.last_id + 1, reason)
    if head.last_hash != prev_hash:
        return VerifyResult(False, checked, last_id, "the last entry's hash differs from the chain head's")
    return VerifyResult(True, checked)
