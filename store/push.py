"""Web Push subscriptions: one row per browser endpoint (by its sha256), owned by the user who last subscribed it."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urlsplit

from sqlalchemy import ColumnElement, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from store.canonical import sha256_hex
from store.db import Repository
from store.models import PushSubscriptionRow


@dataclass(frozen=True)
class PushSubscription:
    """A stored subscription. The endpoint is a capability (whoever knows it can push): kept out of reprs."""

    id: str
    endpoint: str = field(repr=False)
    p256dh: str = field(repr=False)
    auth: str = field(repr=False)
    user_name: str
    roles: tuple[str, ...]
    attributes: Mapping[str, tuple[str, ...]]
    created_at: datetime
    updated_at: datetime
    last_sent_at: datetime | None

    @property
    def origin(self) -> str:
        """The push service, safe to show and log: scheme and host of the endpoint."""
        return endpoint_origin(self.endpoint)


def endpoint_origin(endpoint: str) -> str:
    parts = urlsplit(endpoint)
    host = parts.hostname or ""
    return f"{parts.scheme}://{host}{f':{parts.port}' if parts.port else ''}"


def endpoint_hash(endpoint: str) -> str:
    return sha256_hex(endpoint)


def _to_subscription(row: PushSubscriptionRow) -> PushSubscription:
    return PushSubscription(
        id=row.id,
        endpoint=row.endpoint,
        p256dh=row.p256dh,
        auth=row.auth,
        user_name=row.user_name,
        roles=tuple(row.roles),
        attributes={name: tuple(values) for name, values in row.attributes.items()},
        created_at=row.created_at,
        updated_at=row.updated_at,
        last_sent_at=row.last_sent_at,
    )


class PushSubscriptions(Repository):
    """Subscriptions as the web layer stores them and the workers deliver to. Every method is one transaction."""

    def subscribe(
        self,
        user_name: str,
        roles: Collection[str],
        attributes: Mapping[str, Collection[str]],
        endpoint: str,
        p256dh: str,
        auth: str,
        *,
        keep: int | None = None,
    ) -> tuple[PushSubscription, bool]:
        """Store or refresh the endpoint's subscription for `user_name`; `(subscription, created)`.

        created is False when the user re-subscribes an endpoint they own (keys and role snapshot refreshed).
        An endpoint another user owned becomes this user's under a new id (a browser changed hands): jobs
        queued for the old owner find nothing. `keep`: the user's newest subscriptions kept, older ones dropped.
        """
        try:
            return self._subscribe(user_name, roles, attributes, endpoint, p256dh, auth, keep)
        except IntegrityError:
            # Two requests inserted the same new endpoint at once (PostgreSQL): the loser updates the winner's row.
            return self._subscribe(user_name, roles, attributes, endpoint, p256dh, auth, keep)

    def _subscribe(
        self,
        user_name: str,
        roles: Collection[str],
        attributes: Mapping[str, Collection[str]],
        endpoint: str,
        p256dh: str,
        auth: str,
        keep: int | None,
    ) -> tuple[PushSubscription, bool]:
        now = self._now()
        snapshot = {
            "user_name": user_name,
            "roles": sorted(roles),
            "attributes": {name: list(values) for name, values in attributes.items()},
            "p256dh": p256dh,
            "auth": auth,
            "updated_at": now,
        }
        with self._write_session() as session:
            key = endpoint_hash(endpoint)
            row = session.execute(
                select(PushSubscriptionRow).where(PushSubscriptionRow.endpoint_hash == key).with_for_update()
            ).scalar_one_or_none()
            created = row is None or row.user_name != user_name
            if row is None:
                row = PushSubscriptionRow(id=str(uuid.uuid4()), endpoint_hash=key, endpoint=endpoint, created_at=now)
                session.add(row)
            elif created:
                row.id, row.created_at, row.last_sent_at = str(uuid.uuid4()), now, None
            for name, value in snapshot.items():
                setattr(row, name, value)
            session.flush()
            if keep is not None:
                self._drop_oldest(session, user_name, keep)
            return _to_subscription(row), created

    @staticmethod
    def _drop_oldest(session: Session, user_name: str, keep: int) -> None:
        ids = session.execute(
            select(PushSubscriptionRow.id)
            .where(PushSubscriptionRow.user_name == user_name)
            .order_by(PushSubscriptionRow.updated_at.desc(), PushSubscriptionRow.id.desc())
            .offset(keep)
        ).scalars()
        stale = list(ids)
        if stale:
            session.execute(delete(PushSubscriptionRow).where(PushSubscriptionRow.id.in_(stale)))

    def unsubscribe(self, user_name: str, endpoint: str) -> bool:
        """Remove the user's subscription of `endpoint`; False when they have none (another user's stays)."""
        with self._write_session() as session:
            result = session.execute(
                delete(PushSubscriptionRow).where(
                    PushSubscriptionRow.endpoint_hash == endpoint_hash(endpoint),
                    PushSubscriptionRow.user_name == user_name,
                )
            )
            return bool(getattr(result, "rowcount", 0))

    def get(self, subscription_id: str) -> PushSubscription | None:
        with self._read() as session:
            row = session.get(PushSubscriptionRow, subscription_id)
            return _to_subscription(row) if row is not None else None

    def list_for_user(self, user_name: str, *, renewed_since: datetime | None = None) -> list[PushSubscription]:
        """The user's subscriptions, oldest first; with `renewed_since`, only those sent again since then."""
        query = (
            select(PushSubscriptionRow)
            .where(PushSubscriptionRow.user_name == user_name, *_renewed(renewed_since))
            .order_by(PushSubscriptionRow.created_at, PushSubscriptionRow.id)
        )
        with self._read() as session:
            return [_to_subscription(row) for row in session.execute(query).scalars()]

    def all_active(self, *, renewed_since: datetime | None = None) -> list[PushSubscription]:
        """Every subscription (until a push service says one expired), loaded at once; with `renewed_since`, only
        those their app sent again since then (the roles and attributes stored with them are that recent).

        Fine for a plant's few hundred devices; page through them if that ever grows to many thousands.
        """
        query = (
            select(PushSubscriptionRow)
            .where(*_renewed(renewed_since))
            .order_by(PushSubscriptionRow.created_at, PushSubscriptionRow.id)
        )
        with self._read() as session:
            return [_to_subscription(row) for row in session.execute(query).scalars()]

    def remove(self, subscription_id: str) -> bool:
        """Forget a subscription (its push service answered 404/410: it expired or was unsubscribed)."""
        with self._write_session() as session:
            result = session.execute(delete(PushSubscriptionRow).where(PushSubscriptionRow.id == subscription_id))
            return bool(getattr(result, "rowcount", 0))

    def mark_sent(self, subscription_id: str) -> None:
        with self._write_session() as session:
            session.execute(
                update(PushSubscriptionRow)
                .where(PushSubscriptionRow.id == subscription_id)
                .values(last_sent_at=self._now())
            )


def _renewed(since: datetime | None) -> list[ColumnElement[bool]]:
    return [] if since is None else [PushSubscriptionRow.updated_at >= since]
