"""ORM tables of the store; they never leave the package (records.py holds what callers get)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Dialect,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# JSONB on PostgreSQL (indexable, compact); key order does not matter because hashes use canonical JSON.
JsonType = JSON().with_variant(JSONB(), "postgresql")


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC in, timezone-aware UTC out, on every backend.

    SQLite has no time zones: values are stored as naive UTC text (fixed width, so text order is time order).
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: the store only handles timezone-aware timestamps")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UtcDateTime(), dict[str, Any]: JsonType, Any: JsonType}


class CommandRow(Base):
    __tablename__ = "writeback_commands"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    type: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    requested_by: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(64))
    attributes: Mapped[dict[str, Any]]
    target_type: Mapped[str] = mapped_column(String(64))
    target_id: Mapped[str] = mapped_column(String(255))
    serial_key: Mapped[str] = mapped_column(String(255))
    payload: Mapped[dict[str, Any]]
    payload_hash: Mapped[str] = mapped_column(String(64))
    idempotency_key: Mapped[str] = mapped_column(String(255))
    if_match: Mapped[str | None] = mapped_column(String(255))
    correlation_id: Mapped[str | None] = mapped_column(String(128))
    traceparent: Mapped[str | None] = mapped_column(String(128))  # migration 0002
    runner: Mapped[str | None] = mapped_column(String(255))  # migration 0003: the worker running it
    heartbeat_at: Mapped[datetime | None]  # migration 0003: when that worker last showed it is alive
    in_doubt_since: Mapped[datetime | None]  # migration 0003: SAP may have applied it; ask before re-sending
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[dict[str, Any] | None]
    result: Mapped[dict[str, Any] | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    next_attempt_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]

    __table_args__ = (
        UniqueConstraint("requested_by", "idempotency_key", name="uq_writeback_commands_idempotency"),
        Index("ix_writeback_commands_user_created", "requested_by", "created_at", "id"),
        Index("ix_writeback_commands_status_updated", "status", "updated_at"),
        Index("ix_writeback_commands_status_created", "status", "created_at", "id"),
        Index("ix_writeback_commands_serial_status", "serial_key", "status"),
    )


class AuditRow(Base):
    __tablename__ = "audit_events"

    # Assigned from the chain head under its lock, not by a sequence: ids are gap-free and in chain order,
    # so a deleted row shows as a gap and a rolled-back append leaves no hole.
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    at: Mapped[datetime]
    command_id: Mapped[str | None] = mapped_column(String(36), index=True)
    event: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(255), index=True)
    on_behalf_of: Mapped[str | None] = mapped_column(String(255), index=True)
    role: Mapped[str | None] = mapped_column(String(64))
    object: Mapped[str | None] = mapped_column(String(255), index=True)
    sent: Mapped[Any | None]
    detail: Mapped[dict[str, Any] | None]
    sap_status: Mapped[int | None] = mapped_column(Integer)
    sap_message: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[int | None] = mapped_column(Integer)
    correlation_id: Mapped[str | None] = mapped_column(String(128))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))

    __table_args__ = (Index("ix_audit_events_at", "at"),)


class ChainHeadRow(Base):
    """One row: the last audit id and hash. Locking it serialises every write; it also exposes a cut-off tail."""

    __tablename__ = "audit_chain_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_id: Mapped[int] = mapped_column(BigInteger)
    last_hash: Mapped[str] = mapped_column(String(64))


class PushSubscriptionRow(Base):
    """A browser's Web Push subscription (RFC 8030 endpoint + RFC 8291 keys) and whose it is."""

    __tablename__ = "push_subscriptions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    endpoint_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 of the endpoint: one row each
    endpoint: Mapped[str] = mapped_column(Text)
    p256dh: Mapped[str] = mapped_column(String(255))
    auth: Mapped[str] = mapped_column(String(255))
    user_name: Mapped[str] = mapped_column(String(255), index=True)
    # The subscriber's roles and attributes when they last subscribed: pushes obey the read rules as of then.
    roles: Mapped[Any]
    attributes: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    last_sent_at: Mapped[datetime | None]


class WebhookRow(Base):
    """An outbound webhook an integration admin registered: where, which event types, the signing secret."""

    __tablename__ = "webhooks"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    url: Mapped[str] = mapped_column(Text)
    event_types: Mapped[Any]  # list of notification types; ["*"] for all
    secret: Mapped[str] = mapped_column(String(255))  # HMAC key: needed in clear to sign, shown once to the admin
    description: Mapped[str | None] = mapped_column(String(255))
    created_by: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime]
    active: Mapped[bool]


class WebhookDeliveryRow(Base):
    """One notification to one webhook: pending until the receiver answers 2xx, dead after the last retry."""

    __tablename__ = "webhook_deliveries"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    webhook_id: Mapped[str] = mapped_column(String(36), index=True)
    event_id: Mapped[str] = mapped_column(String(64))  # the notification's stream id, also the Webhook-Id header
    event_type: Mapped[str] = mapped_column(String(128))
    payload: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[dict[str, Any] | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    next_attempt_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]

    __table_args__ = (
        UniqueConstraint("webhook_id", "event_id", name="uq_webhook_deliveries_event"),  # dispatched twice: once
        Index("ix_webhook_deliveries_status_next", "status", "next_attempt_at"),
    )
