"""Delta pollers (issue 16): new inbox tasks of active executives, and changed production orders, as notifications.

Workflow tasks raise no S/4 business event, and installations without Event Mesh get no order events: these
pollers read SAP's deltas at an interval and publish what an event would (`notifications.notices`). One instance
polls at a time (a Redis lease per poller); checkpoints live in Redis, so another instance carries on from them.
Delivery is at least once: a poll that fails after publishing, or a leader that lost its lease mid-poll, may
publish a notification again, with the same `source_event`.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

import orjson
import redis
import structlog
from sqlalchemy.exc import SQLAlchemyError

from access.policy import Role
from notifications import notices, presence
from notifications.bus import DEFAULT_PREFIX as BUS_PREFIX
from notifications.bus import EventBus, text
from notifications.model import Notification
from notifications.sap_events import order_notification
from odata_clients.destinations import Principal
from odata_clients.errors import SapError
from odata_clients.gateways.keyset import Position
from odata_clients.gateways.production_orders import OrderChange
from odata_clients.gateways.tasks import TasksGateway
from store import PushSubscriptions
from workers.bootstrap import WorkerContext
from workers.lease import Lease
from workers.push import renewed_since

log = structlog.get_logger(__name__)

DEFAULT_PREFIX = "sapext:pollers"
TASK_PAGE = 100  # tasks per SAP request (SAP's own server page)
ORDER_PAGE = 500
# Pages per executive (or of orders) in one poll: a larger burst is read on by the next poll, from the checkpoint.
MAX_PAGES = 20
# How long an order's release state is remembered: an order unchanged for longer is judged by its release date.
ORDER_STATE_TTL = 35 * 24 * 3600
MIN_LEASE = 1.0  # seconds

Leading = Callable[[], bool]


class Poller(Protocol):
    name: str

    def poll(self, leading: Leading) -> int:
        """One poll; the notifications published. Stops early once `leading()` is False (the lease was lost)."""
        ...


# -- checkpoints ---------------------------------------------------------------------------------------------


def second(moment: str | None) -> str:
    """An ISO 8601 moment as a mark: UTC to the second, fixed width (marks compare as strings); "" for none."""
    if not moment:
        return ""
    parsed = dt.datetime.fromisoformat(moment.replace("Z", "+00:00"))
    return parsed.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _moment(mark: str) -> dt.datetime:
    return dt.datetime.fromisoformat(mark.replace("Z", "+00:00"))


@dataclass(frozen=True)
class Checkpoint:
    """How far a delta poll got: the newest second seen (`mark`) and the ids seen in that second.

    SAP compares times to the second (`ge` on a whole-second literal), so the rows of `mark`'s second come
    back on the next poll: their ids tell those already published from rows that arrived in the same second
    after the poll. No loss at the boundary, and no repeat.
    """

    mark: str = ""  # "" before anything was seen: every row is new
    seen: frozenset[str] = field(default_factory=frozenset)

    def is_new(self, mark: str, row_id: str) -> bool:
        return mark > self.mark or (mark == self.mark and row_id not in self.seen)

    def advance(self, rows: Iterable[tuple[str, str]]) -> Checkpoint:
        """Past `rows` ((mark, id) pairs)."""
        mark, seen = self.mark, set(self.seen)
        for row_mark, row_id in rows:
            if row_mark > mark:
                mark, seen = row_mark, {row_id}
            elif row_mark == mark:
                seen.add(row_id)
        return Checkpoint(mark, frozenset(seen))

    def to_json(self) -> bytes:
        return orjson.dumps({"mark": self.mark, "seen": sorted(self.seen)})

    @classmethod
    def from_json(cls, raw: bytes | str) -> Checkpoint:
        body = orjson.loads(raw)
        return cls(str(body.get("mark") or ""), frozenset(str(i) for i in body.get("seen") or ()))


def load_checkpoint(connection: redis.Redis, key: str) -> Checkpoint | None:
    raw = connection.get(key)
    if raw is None:
        return None
    try:
        return Checkpoint.from_json(raw)
    except (ValueError, TypeError, AttributeError):
        log.warning("poller_checkpoint_unreadable", key=key)
        return None  # started again like a first poll: nothing old is published


# -- the inbox poller ----------------------------------------------------------------------------------------


class InboxPoller:
    """For each active executive: their open tasks created since their checkpoint, read as them, published as
    `approval.created`. Active: seen on an event stream within `window` seconds, or with a push subscription.
    An executive's first poll (or the first after `window` away) only sets their checkpoint."""

    name = "inbox"

    def __init__(
        self,
        context: WorkerContext,
        *,
        window: float = presence.DEFAULT_WINDOW,
        prefix: str = DEFAULT_PREFIX,
        presence_prefix: str = BUS_PREFIX,
    ) -> None:
        self.context = context
        self.redis = context.redis
        self.bus: EventBus = context.bus
        self.subscriptions = PushSubscriptions(context.store.engine)
        self.window = window
        self.prefix = prefix
        self.presence_prefix = presence_prefix
        self._warned_no_signer = False

    def checkpoint_key(self, user: str) -> str:
        return f"{self.prefix}:inbox:checkpoint:{user}"

    def executives(self) -> list[str]:
        """The executives to poll: recently on an event stream, or with a push subscription."""
        names = set(presence.active(self.redis, Role.EXECUTIVE, self.window, prefix=self.presence_prefix))
        try:
            renewed = self.subscriptions.all_active(renewed_since=renewed_since(self.context.settings))
            names.update(s.user_name for s in renewed if Role.EXECUTIVE in s.roles)
        except SQLAlchemyError as exc:
            # The streams' executives are still polled; the push-only ones wait for the database.
            log.warning("inbox_poll_subscriptions_unreadable", error=f"{type(exc).__name__}: {exc}")
        return sorted(names)

    def poll(self, leading: Leading = lambda: True) -> int:
        if self.context.signer is None:
            if not self._warned_no_signer:
                log.warning("inbox_poll_disabled", reason="no SAP_USER_ASSERTION_KEY: cannot read inboxes as users")
                self._warned_no_signer = True
            return 0
        published = 0
        for user in self.executives():
            if not leading():
                break
            try:
                published += self.poll_user(user, leading)
            except redis.RedisError:
                raise  # nobody's checkpoint can be kept: the whole poll fails
            except SapError as exc:
                log.warning("inbox_poll_failed", user=user, error=exc.as_dict())
            except Exception:
                log.exception("inbox_poll_failed", user=user)
        return published

    def inbox(self, user: str) -> TasksGateway:
        """The tasks gateway acting as `user` with a fresh short-lived assertion (as the task commands do)."""
        signer = self.context.signer
        assert signer is not None
        token = signer.assertion(user, Role.EXECUTIVE)
        return self.context.sap.tasks.for_user(Principal(user.upper(), token))

    def poll_user(self, user: str, leading: Leading = lambda: True) -> int:
        key = self.checkpoint_key(user)
        gateway = self.inbox(user)
        start = load_checkpoint(self.redis, key)
        if start is None:
            self._save(key, self._first(gateway))
            return 0
        since = _moment(start.mark) if start.mark else None
        checkpoint, published, after = start, 0, None
        for _ in range(MAX_PAGES):
            page = gateway.created_since(since, top=TASK_PAGE, after=after)
            rows = [(second(task.created_on), task) for task in page.items]
            for mark, task in rows:
                if start.is_new(mark, task.task_id):
                    created = _moment(task.created_on) if task.created_on else None
                    self.bus.publish(
                        notices.approval(
                            task.origin,
                            task.task_id,
                            user,
                            title=task.title or None,
                            created_at=created,
                            source_event=f"task:{task.task_id}",
                        )
                    )
                    published += 1
            checkpoint = checkpoint.advance((mark, task.task_id) for mark, task in rows)
            self._save(key, checkpoint)
            if page.next_after is None or not leading():
                break
            after = page.next_after
        if published:
            log.info("inbox_poll_published", user=user, published=published)
        return published

    @staticmethod
    def _first(gateway: TasksGateway) -> Checkpoint:
        """Where a user's polling starts: their newest task's second (by SAP's clock), with the tasks of it."""
        newest = gateway.list_open(sort=("-created",), top=1).items
        if not newest or not newest[0].created_on:
            return Checkpoint()  # an empty inbox: whatever arrives in it later is new
        mark = second(newest[0].created_on)
        page = gateway.created_since(_moment(mark), top=TASK_PAGE)
        return Checkpoint(mark).advance(
            (second(task.created_on), task.task_id) for task in page.items if second(task.created_on) == mark
        )

    def _save(self, key: str, checkpoint: Checkpoint) -> None:
        # Kept while the user is active (every poll renews it): back after longer, their first poll starts anew.
        self.redis.set(key, checkpoint.to_json(), ex=max(1, int(self.window)))


# -- the order poller ----------------------------------------------------------------------------------------


class OrderPoller:
    """Production orders of every plant changed since the checkpoint (LastChangeDateTime), read as the technical
    user, published as `production-order.released` (it was not released at its last change we saw) or
    `production-order.changed`. The first poll only sets the checkpoint, at SAP's newest change.

    An order not seen changing before (its state is remembered ORDER_STATE_TTL) counts as released now when its
    release date is on or after the day before the checkpoint's: the release date is SAP's calendar day in the
    system's time zone, the checkpoint UTC, and a day's slack misses no release for that.
    `created` is not published: MfgOrderCreationDate/Time are local to the SAP system while the checkpoint is UTC.
    """

    name = "orders"

    def __init__(
        self, context: WorkerContext, *, prefix: str = DEFAULT_PREFIX, state_ttl: int = ORDER_STATE_TTL
    ) -> None:
        self.redis = context.redis
        self.bus: EventBus = context.bus
        self.orders = context.sap.production_orders
        self.prefix = prefix
        self.state_ttl = state_ttl

    @property
    def checkpoint_key(self) -> str:
        return f"{self.prefix}:orders:checkpoint"

    def state_key(self, order_id: str) -> str:
        return f"{self.prefix}:orders:released:{order_id}"

    def poll(self, leading: Leading = lambda: True) -> int:
        start = load_checkpoint(self.redis, self.checkpoint_key)
        if start is None:
            self._first()
            return 0
        checkpoint, published, after = start, 0, None
        for _ in range(MAX_PAGES):
            page = self.orders.changed_since(start.mark or None, top=ORDER_PAGE, after=after)
            rows = [(second(change.last_changed), change) for change in page.items]
            new = [(mark, change) for mark, change in rows if start.is_new(mark, change.order_id)]
            known = self._states(change.order_id for _, change in new)
            for mark, change in new:
                kind = self._kind(change, known.get(change.order_id), start.mark)
                self.bus.publish(self._notice(kind, change, source=f"order:{change.order_id}:{mark}"))
                published += 1
            self._remember(change for _, change in new)
            checkpoint = checkpoint.advance((mark, change.order_id) for mark, change in rows)
            self.redis.set(self.checkpoint_key, checkpoint.to_json())
            if page.next_after is None or not leading():
                break
            after = page.next_after
        if published:
            log.info("order_poll_published", published=published)
        return published

    def _notice(self, kind: str, change: OrderChange, *, source: str) -> Notification:
        """A release is told as SAP's event tells it (the operations' supervisors too), a change as it is. An order
        SAP cannot show now (archived, locked) is told to its plant: the poll must not stall on it."""
        plain = notices.production_order(kind, change.order_id, change.plant, source_event=source)
        if kind != "released":
            return plain
        try:
            return order_notification(self.orders, kind, change.order_id, source_event=source)
        except SapError as exc:
            log.warning("order_poller_release_plant_only", order=change.order_id, error=type(exc).__name__)
            return plain

    def _first(self) -> None:
        newest = second(self.orders.newest_change())
        checkpoint = Checkpoint()
        if newest:
            changes = self._changed_in(newest)
            self._remember(changes)
            checkpoint = Checkpoint(newest).advance((newest, change.order_id) for change in changes)
        self.redis.set(self.checkpoint_key, checkpoint.to_json())

    def _changed_in(self, mark: str) -> list[OrderChange]:
        changes: list[OrderChange] = []
        after: Position | None = None
        for _ in range(MAX_PAGES):
            page = self.orders.changed_since(mark, top=ORDER_PAGE, after=after)
            changes += [change for change in page.items if second(change.last_changed) == mark]
            if page.next_after is None:
                break
            after = page.next_after
        return changes

    @staticmethod
    def _kind(change: OrderChange, was_released: bool | None, checkpoint_mark: str) -> str:
        if not change.is_released:
            return "changed"
        if was_released is not None:
            return "changed" if was_released else "released"
        return "released" if _released_lately(change.released_on, checkpoint_mark) else "changed"

    def _states(self, order_ids: Iterable[str]) -> Mapping[str, bool]:
        ids = list(order_ids)
        if not ids:
            return {}
        values = self.redis.mget([self.state_key(order_id) for order_id in ids])
        return {order_id: text(value) == "1" for order_id, value in zip(ids, values, strict=True) if value is not None}

    def _remember(self, changes: Iterable[OrderChange]) -> None:
        pipe = self.redis.pipeline(transaction=False)
        for change in changes:
            pipe.set(self.state_key(change.order_id), "1" if change.is_released else "0", ex=self.state_ttl)
        pipe.execute()


def _released_lately(released_on: str | None, checkpoint_mark: str) -> bool:
    if not checkpoint_mark:
        return True  # SAP had no order at the first poll: every release came since
    if not released_on:
        return False
    day_before = _moment(checkpoint_mark).date() - dt.timedelta(days=1)
    return released_on >= day_before.isoformat()


# -- the thread ----------------------------------------------------------------------------------------------


def lease_seconds(interval: float) -> float:
    """A leader renews at every poll (and between executives); one that died hands over after 1.5 intervals."""
    return max(1.5 * interval, MIN_LEASE)


class PollerThread(threading.Thread):
    """One poller beside the worker loop until `stop()`, polling every `interval` while this instance holds the
    poller's lease. The others try to take it every half interval, so a dead leader's lease (1.5 intervals) is
    taken over within about two intervals. A failed poll (Redis, the database or SAP away) is logged, not fatal.
    """

    def __init__(
        self, poller: Poller, connection: redis.Redis, interval: float, *, prefix: str = DEFAULT_PREFIX
    ) -> None:
        super().__init__(name=f"poller-{poller.name}", daemon=True)  # daemon: never holds the process open
        self.poller = poller
        self.interval = interval
        self.lease = Lease(connection, f"{prefix}:{poller.name}:leader", int(lease_seconds(interval) * 1000))
        self.leading = False
        self._stopped = threading.Event()

    def run(self) -> None:
        log.info("poller_started", poller=self.poller.name, interval=self.interval)
        try:
            while not self._stopped.is_set():
                started = time.monotonic()
                self.tick()
                period = self.interval if self.leading else self.interval / 2
                self._stopped.wait(max(0.0, period - (time.monotonic() - started)))
        finally:
            if self.leading:
                try:
                    self.lease.release()
                except redis.RedisError:
                    pass  # the lease expires on its own

    def tick(self) -> int | None:
        """One turn that never raises: the notifications published, or None (another instance leads, or it failed)."""
        try:
            if not self._lead():
                return None
            return self.poller.poll(self._still_leading)
        except (redis.ConnectionError, redis.TimeoutError, SQLAlchemyError, SapError) as exc:
            # A dependency is away (every turn until it is back): one line, not a traceback each time.
            log.warning("poll_failed", poller=self.poller.name, error=f"{type(exc).__name__}: {exc}")
        except Exception:
            log.exception("poll_failed", poller=self.poller.name)
        return None

    def _lead(self) -> bool:
        was, self.leading = self.leading, self.lease.acquire()
        if self.leading != was:
            log.info("poller_leader" if self.leading else "poller_follower", poller=self.poller.name)
        return self.leading

    def _still_leading(self) -> bool:
        return not self._stopped.is_set() and self._lead()

    def stop(self, timeout: float = 5.0) -> None:
        self._stopped.set()
        if self.is_alive():
            self.join(timeout)


def poller_threads(context: WorkerContext) -> list[PollerThread]:
    """The pollers the settings turn on (an interval of 0 turns one off), not started."""
    settings = context.settings
    threads = []
    if settings.inbox_poll_interval > 0:
        threads.append(PollerThread(InboxPoller(context), context.redis, settings.inbox_poll_interval))
    if settings.order_poll_interval > 0:
        threads.append(PollerThread(OrderPoller(context), context.redis, settings.order_poll_interval))
    return threads
