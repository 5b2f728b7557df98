"""`Webhooks`: outbound webhooks an integration admin registered, and their deliveries (an outbox like the commands).

A delivery is one notification for one webhook: `pending` until the receiver answers 2xx (`succeeded`), `dead`
after the last attempt (an admin may requeue it), `cancelled` when its webhook was deleted first. Its
`next_attempt_at` is when the next attempt is due; while an attempt runs it is the attempt's lease, so the
reconciler leaves a delivery alone that a live worker is sending, and takes it up again if that worker died.
"""

from __future__ import annotations

import base64
import builtins
import secrets
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from store.db import Repository, page_limit
from store.models import WebhookDeliveryRow, WebhookRow
from store.records import Page, StoreError

SECRET_PREFIX = "whsec_"  # the Standard Webhooks form: whsec_ + base64 of the key's bytes
SECRET_BYTES = 32
ALL_TYPES = "*"


class DeliveryStatus(StrEnum):
    PENDING = "pending"  # waiting for its first attempt, for a retry's back-off, or being sent now
    SUCCEEDED = "succeeded"  # the receiver answered 2xx
    DEAD = "dead"  # out of attempts (or the receiver answered 410 Gone): the webhook dead letters
    CANCELLED = "cancelled"  # its webhook was deleted before it could be delivered


@dataclass(frozen=True)
class Webhook:
    id: str
    url: str
    event_types: list[str]  # "*", exact types, or "<prefix>.*"
    description: str | None
    created_by: str
    created_at: datetime
    active: bool
    secret: str = field(repr=False)  # the HMAC key; never logged, shown to the admin only when registered

    def subscribes(self, event_type: str) -> bool:
        return any(subscribes(pattern, event_type) for pattern in self.event_types)


@dataclass(frozen=True)
class WebhookDelivery:
    id: str
    webhook_id: str
    event_id: str  # the notification's id: the webhook-id header, the same on every attempt
    event_type: str
    payload: dict[str, Any]
    status: DeliveryStatus
    attempts: int
    last_error: dict[str, Any] | None  # {"kind", "status", "message"} of the last failed attempt
    created_at: datetime
    updated_at: datetime
    next_attempt_at: datetime | None
    finished_at: datetime | None


class WebhookNotFound(StoreError, LookupError):
    def __init__(self, webhook_id: str) -> None:
        super().__init__(f"no webhook {webhook_id!r}")
        self.webhook_id = webhook_id


class DeliveryNotFound(StoreError, LookupError):
    def __init__(self, delivery_id: str) -> None:
        super().__init__(f"no webhook delivery {delivery_id!r}")
        self.delivery_id = delivery_id


class InvalidDeliveryTransition(StoreError):
    """The delivery is not in a state that allows this (e.g. requeueing one that is not dead)."""

    def __init__(self, delivery: WebhookDelivery, action: str, reason: str | None = None) -> None:
        super().__init__(f"cannot {action} webhook delivery {delivery.id}: {reason or f'it is {delivery.status}'}")
        self.delivery = delivery
        self.action = action


def subscribes(pattern: str, event_type: str) -> bool:
    """Whether one subscription pattern ("*", an exact type, "<prefix>.*") takes `event_type`."""
    if pattern == ALL_TYPES:
        return True
    if pattern.endswith(".*"):
        return event_type.startswith(pattern[:-1])  # keeps the dot: "order.*" does not take "orders.x"
    return pattern == event_type


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def _to_webhook(row: WebhookRow) -> Webhook:
    return Webhook(
        id=row.id,
        url=row.url,
        event_types=list(row.event_types),
        description=row.description,
        created_by=row.created_by,
        created_at=row.created_at,
        active=row.active,
        secret=row.secret,
    )


def _to_delivery(row: WebhookDeliveryRow) -> WebhookDelivery:
    return WebhookDelivery(
        id=row.id,
        webhook_id=row.webhook_id,
        event_id=row.event_id,
        event_type=row.event_type,
        payload=row.payload,
        status=DeliveryStatus(row.status),
        attempts=row.attempts,
        last_error=row.last_error,
        created_at=row.created_at,
        updated_at=row.updated_at,
        next_attempt_at=row.next_attempt_at,
        finished_at=row.finished_at,
    )


def _delivery_conditions(status: str | None, webhook_id: str | None) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if status is not None:
        conditions.append(WebhookDeliveryRow.status == DeliveryStatus(status).value)
    if webhook_id is not None:
        conditions.append(WebhookDeliveryRow.webhook_id == webhook_id)
    return conditions


class Webhooks(Repository):
    """Webhooks and their deliveries; every method is one transaction. Thread-safe, like `Store`."""

    # -- webhooks (the admin) ------------------------------------------------------------------------

    def register(
        self, url: str, event_types: Sequence[str], description: str | None, created_by: str
    ) -> tuple[Webhook, str]:
        """A new active webhook and its signing secret (`whsec_...`), which the caller shows once."""
        secret = new_secret()
        with self._write_session() as session:
            row = WebhookRow(
                id=str(uuid.uuid4()),
                url=url,
                event_types=list(event_types),
                secret=secret,
                description=description,
                created_by=created_by,
                created_at=self._now(),
                active=True,
            )
            session.add(row)
        return _to_webhook(row), secret

    def list(self, *, include_inactive: bool = False) -> builtins.list[Webhook]:
        """Webhooks, oldest first; the deleted ones only with `include_inactive`."""
        query = select(WebhookRow).order_by(WebhookRow.created_at, WebhookRow.id)
        if not include_inactive:
            query = query.where(WebhookRow.active.is_(True))
        with self._read() as session:
            return [_to_webhook(row) for row in session.execute(query).scalars()]

    def get(self, webhook_id: str) -> Webhook | None:
        with self._read() as session:
            row = session.get(WebhookRow, webhook_id)
            return _to_webhook(row) if row is not None else None

    def deactivate(self, webhook_id: str) -> Webhook:
        """Stop delivering to it: it stays on record (its deliveries name it); its pending and dead deliveries are
        cancelled (a dead one could never be retried, and would keep the dead-delivery alert firing).
        Deactivating one already inactive changes nothing. Raises `WebhookNotFound`."""
        with self._write_session() as session:
            row = session.get(WebhookRow, webhook_id, with_for_update=True)
            if row is None:
                raise WebhookNotFound(webhook_id)
            if row.active:
                row.active = False
                now = self._now()
                open_ = session.execute(
                    select(WebhookDeliveryRow).where(
                        WebhookDeliveryRow.webhook_id == webhook_id,
                        WebhookDeliveryRow.status.in_((DeliveryStatus.PENDING.value, DeliveryStatus.DEAD.value)),
                    )
                ).scalars()
                for delivery in open_:
                    self._finish(delivery, DeliveryStatus.CANCELLED, now)
            return _to_webhook(row)

    def matching(self, event_type: str) -> builtins.list[Webhook]:
        """The active webhooks subscribed to `event_type`."""
        return [webhook for webhook in self.list() if webhook.subscribes(event_type)]

    # -- deliveries (the workers) ----------------------------------------------------------------------

    def plan(
        self, webhook_id: str, event_id: str, event_type: str, payload: Mapping[str, Any]
    ) -> WebhookDelivery | None:
        """A pending delivery, due now; None when this webhook has one for this event already (planned twice)."""
        now = self._now()
        row = WebhookDeliveryRow(
            id=str(uuid.uuid4()),
            webhook_id=webhook_id,
            event_id=event_id,
            event_type=event_type,
            payload=dict(payload),
            status=DeliveryStatus.PENDING.value,
            attempts=0,
            created_at=now,
            updated_at=now,
            next_attempt_at=now,
        )
        try:
            with self._write_session() as session:
                session.add(row)
        except IntegrityError:
            # The unique (webhook_id, event_id): a dispatcher that crashed after planning plans it again.
            if self._find(webhook_id, event_id) is None:
                raise
            return None
        return _to_delivery(row)

    def _find(self, webhook_id: str, event_id: str) -> WebhookDelivery | None:
        with self._read() as session:
            row = session.execute(
                select(WebhookDeliveryRow).where(
                    WebhookDeliveryRow.webhook_id == webhook_id, WebhookDeliveryRow.event_id == event_id
                )
            ).scalar_one_or_none()
            return _to_delivery(row) if row is not None else None

    def get_delivery(self, delivery_id: str) -> WebhookDelivery | None:
        with self._read() as session:
            row = session.get(WebhookDeliveryRow, delivery_id)
            return _to_delivery(row) if row is not None else None

    def start(self, delivery_id: str, *, lease: timedelta) -> WebhookDelivery | None:
        """Take a due pending delivery for one attempt: attempts + 1, and `next_attempt_at` pushed out by `lease`
        (how long the attempt may take) so no other job takes it meanwhile. None when it is not pending, not due,
        or another attempt holds it: there is nothing to send. Raises `DeliveryNotFound`."""
        with self._write_session() as session:
            row = self._locked(session, delivery_id)
            now = self._now()
            if row.status != DeliveryStatus.PENDING or (row.next_attempt_at is not None and row.next_attempt_at > now):
                return None
            row.attempts += 1
            row.updated_at = now
            row.next_attempt_at = now + lease
            return _to_delivery(row)

    def succeed(self, delivery_id: str) -> WebhookDelivery | None:
        """`pending` -> `succeeded`; None when it was not pending any more (cancelled meanwhile)."""
        return self._end(delivery_id, DeliveryStatus.SUCCEEDED, None)

    def dead(self, delivery_id: str, error: Mapping[str, Any]) -> WebhookDelivery | None:
        """`pending` -> `dead` with the last error; None when it was not pending any more."""
        return self._end(delivery_id, DeliveryStatus.DEAD, error)

    def cancel(self, delivery_id: str) -> WebhookDelivery | None:
        """`pending` -> `cancelled` (its webhook is gone); None when it was not pending any more."""
        return self._end(delivery_id, DeliveryStatus.CANCELLED, None)

    def fail(self, delivery_id: str, error: Mapping[str, Any], *, next_attempt_at: datetime) -> WebhookDelivery | None:
        """A failed attempt with a retry to come: the error recorded, due again at `next_attempt_at` (the caller's
        back-off). None when it was not pending any more."""
        with self._write_session() as session:
            row = self._locked(session, delivery_id)
            if row.status != DeliveryStatus.PENDING:
                return None
            row.last_error = dict(error)
            row.updated_at = self._now()
            row.next_attempt_at = next_attempt_at
            return _to_delivery(row)

    def _end(self, delivery_id: str, status: DeliveryStatus, error: Mapping[str, Any] | None) -> WebhookDelivery | None:
        with self._write_session() as session:
            row = self._locked(session, delivery_id)
            if row.status != DeliveryStatus.PENDING:
                return None
            if error is not None:
                row.last_error = dict(error)
            self._finish(row, status, self._now())
            return _to_delivery(row)

    @staticmethod
    def _finish(row: WebhookDeliveryRow, status: DeliveryStatus, now: datetime) -> None:
        row.status = status.value
        row.updated_at = row.finished_at = now
        row.next_attempt_at = None

    @staticmethod
    def _locked(session: Session, delivery_id: str) -> WebhookDeliveryRow:
        # Locked (PostgreSQL): two jobs of one delivery decide one after the other.
        row = session.get(WebhookDeliveryRow, delivery_id, with_for_update=True)
        if row is None:
            raise DeliveryNotFound(delivery_id)
        return row

    def due(self, now: datetime | None = None, limit: int = 100) -> builtins.list[WebhookDelivery]:
        """Pending deliveries whose next attempt is due (or whose attempt's lease ran out), longest due first."""
        now = now or self._now()
        query = (
            select(WebhookDeliveryRow)
            .where(
                WebhookDeliveryRow.status == DeliveryStatus.PENDING.value,
                WebhookDeliveryRow.next_attempt_at <= now,
            )
            .order_by(WebhookDeliveryRow.next_attempt_at, WebhookDeliveryRow.id)
            .limit(page_limit(limit))
        )
        with self._read() as session:
            return [_to_delivery(row) for row in session.execute(query).scalars()]

    # -- the delivery list and dead letters (the admin) --------------------------------------------------

    def list_deliveries(
        self, *, status: str | None = None, webhook_id: str | None = None, limit: int = 50, cursor: str | None = None
    ) -> Page[WebhookDelivery]:
        """Deliveries, newest first, keyset-paged like the store's lists."""
        conditions = _delivery_conditions(status, webhook_id)
        return self._newest_first(WebhookDeliveryRow, _to_delivery, conditions, limit, cursor)

    def count_deliveries(self, *, status: str | None = None, webhook_id: str | None = None) -> int:
        """How many deliveries `list_deliveries` pages through."""
        query = select(func.count()).select_from(WebhookDeliveryRow).where(*_delivery_conditions(status, webhook_id))
        with self._read() as session:
            return int(session.execute(query).scalar_one())

    def list_dead(self, *, limit: int = 50, cursor: str | None = None) -> Page[WebhookDelivery]:
        """The webhook dead letters, newest first."""
        return self.list_deliveries(status=DeliveryStatus.DEAD, limit=limit, cursor=cursor)

    def requeue(self, delivery_id: str) -> WebhookDelivery:
        """`dead` -> `pending`, due now, with a fresh attempt budget (attempts back to 0; the last error stays for
        reference). Raises `DeliveryNotFound`, or `InvalidDeliveryTransition` unless it is dead and
        its webhook still active."""
        with self._write_session() as session:
            row = self._locked(session, delivery_id)
            if row.status != DeliveryStatus.DEAD:
                raise InvalidDeliveryTransition(_to_delivery(row), "requeue")
            webhook = session.get(WebhookRow, row.webhook_id)
            if webhook is None or not webhook.active:
                raise InvalidDeliveryTransition(_to_delivery(row), "requeue", "its webhook was deleted")
            now = self._now()
            row.status = DeliveryStatus.PENDING.value
            row.attempts = 0
            row.updated_at = row.next_attempt_at = now
            row.finished_at = None
            return _to_delivery(row)
