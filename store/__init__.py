"""Durable records: the writeback outbox and the append-only audit trail (SQLAlchemy 2)."""

from __future__ import annotations

from store.api import Store, request_fingerprint
from store.canonical import InvalidCursor
from store.db import make_engine, ping
from store.migrate import upgrade
from store.push import PushSubscription, PushSubscriptions
from store.records import (
    ENDINGS,
    ERROR_EVENTS,
    OUTCOME_EVENTS,
    TERMINAL,
    AuditEvent,
    Command,
    CommandNotFound,
    Event,
    IdempotencyConflict,
    InvalidTransition,
    NewCommand,
    Page,
    SerialKeyBusy,
    Status,
    StoreError,
    StoreStats,
    VerifyResult,
)
from store.webhooks import (
    DeliveryNotFound,
    DeliveryStatus,
    InvalidDeliveryTransition,
    Webhook,
    WebhookDelivery,
    WebhookNotFound,
    Webhooks,
)

__all__ = [
    "ENDINGS",
    "ERROR_EVENTS",
    "OUTCOME_EVENTS",
    "TERMINAL",
    "AuditEvent",
    "Command",
    "CommandNotFound",
    "DeliveryNotFound",
    "DeliveryStatus",
    "Event",
    "IdempotencyConflict",
    "InvalidCursor",
    "InvalidDeliveryTransition",
    "InvalidTransition",
    "NewCommand",
    "Page",
    "PushSubscription",
    "PushSubscriptions",
    "SerialKeyBusy",
    "Status",
    "Store",
    "StoreError",
    "StoreStats",
    "VerifyResult",
    "Webhook",
    "WebhookDelivery",
    "WebhookNotFound",
    "Webhooks",
    "make_engine",
    "ping",
    "request_fingerprint",
    "upgrade",
]
