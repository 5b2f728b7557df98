"""Web Push: a job per subscription a notification's audience admits; each sends it encrypted and VAPID-signed."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote

import orjson
import redis
import requests
import structlog
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid, VapidException
from pywebpush import WebPushException, webpush
from rq import Queue
from rq.job import Job

from access.policy import Principal, Role
from notifications import stats
from notifications.bus import Published
from notifications.model import Audience, Notification
from runtime import vapid
from runtime.settings import Settings
from store import PushSubscription, PushSubscriptions
from workers import queues
from workers.bootstrap import WorkerContext, get_context

log = structlog.get_logger(__name__)

JOB_FUNCTION = "workers.push.send_push"
CHANNEL = "push"
TIMEOUT = 10.0  # seconds for one push service request
VAPID_LIFETIME = 12 * 3600  # RFC 8292 allows at most 24 h; push services refuse tokens near that limit
RETRY_WAIT = 2.0  # before the one retry of a 429, 5xx or network error, unless Retry-After says otherwise
MAX_RETRY_WAIT = 10.0  # a job waits no longer than this for its retry
PLANNED_TTL = 24 * 3600  # how long "planned" is remembered: longer than a crashed dispatcher's entry stays pending
# RFC 8291: a 4096-byte message holds 3993 bytes of plaintext (86 bytes of header, 16 of tag, 1 of padding).
MAX_PLAINTEXT = 3993
MAX_TITLE, MAX_BODY = 100, 240
KNOWN_ROLES = frozenset(role.value for role in Role)

# Titles and bodies the service worker shows; str.format fields come from the notification's data.
TEXTS: Mapping[str, tuple[str, str]] = {
    "writeback.succeeded": ("Writeback succeeded", "{action}"),
    "writeback.rejected": ("Writeback rejected by SAP", "{action}{reason}"),
    "writeback.conflict": ("Writeback conflict", "{action}{reason}"),
    "writeback.dead": ("Writeback failed", "{action}{reason}"),
    "production-order.created": ("Order {order} created", "Plant {plant}"),
    "production-order.changed": ("Order {order} changed", "Plant {plant}"),
    "production-order.released": ("Order {order} released", "Plant {plant}"),
    "confirmation.created": ("Order {order} confirmed", "Plant {plant}"),
    "confirmation.cancelled": ("Confirmation of order {order} cancelled", "Plant {plant}"),
    "approval.created": ("New approval", "{title}"),
    "purchase-requisition.created": ("Purchase requisition {purchase_requisition} created", ""),
    "purchase-requisition.changed": ("Purchase requisition {purchase_requisition} changed", ""),
}
ACTIONS = {
    "task.decision": "Decision",
    "task.claim": "Claim",
    "task.release": "Release of a task",
    "task.forward": "Forward",
    "order.release": "Release",
    "order.reschedule": "Reschedule",
    "operation.confirm": "Confirmation",
    "confirmation.cancel": "Cancellation of a confirmation",
}


# -- planning (the dispatcher thread) --------------------------------------------------------------


def plan_push(context: WorkerContext, published: Published) -> None:
    """Queue one send per subscription whose owner may hear of it. Idempotent: a second call queues nothing."""
    audience = published.notification.audience
    if not audience.grants:
        return  # for webhooks only
    try:
        vapid.private_key(context.settings)
    except vapid.PushUnavailable:
        return  # push is off here (no VAPID key): nothing to send, and nothing to count as failed
    planned = f"{context.bus.key}:push-planned:{published.id}"
    queue = Queue(queues.NOTIFICATIONS, connection=context.redis)
    since = renewed_since(context.settings)
    for subscription in _candidates(PushSubscriptions(context.store.engine), audience, since):
        if audience.admits(owner(subscription)):
            _enqueue_once(context.redis, queue, planned, subscription.id, published.id)


def renewed_since(settings: Settings) -> datetime:
    """Subscriptions their app has not sent again since then push nothing: their stored rights may be stale."""
    return datetime.now(UTC) - timedelta(seconds=settings.push_subscription_max_age)


def _candidates(store: PushSubscriptions, audience: Audience, since: datetime) -> list[PushSubscription]:
    users = audience.users()
    if len(users) == len(audience.grants):  # named users only (writebacks, approvals): theirs, not everyone's
        return [subscription for user in users for subscription in store.list_for_user(user, renewed_since=since)]
    return store.all_active(renewed_since=since)


def _enqueue_once(connection: redis.Redis, queue: Queue, planned: str, subscription_id: str, event_id: str) -> None:
    job_id = f"push_{subscription_id}_{event_id}"  # RQ ids take letters, digits, "_" and "-" only (no ":")
    # A finished job is gone at once (result_ttl=0), so the job id alone would not stop a re-plan from sending twice.
    if connection.sismember(planned, subscription_id) or Job.exists(job_id, connection=connection):
        return
    queue.enqueue(JOB_FUNCTION, subscription_id, event_id, job_id=job_id, result_ttl=0, description=f"push {event_id}")
    with connection.pipeline() as pipe:
        pipe.sadd(planned, subscription_id)
        pipe.expire(planned, PLANNED_TTL)
        pipe.execute()


def owner(subscription: PushSubscription) -> Principal:
    """The subscriber as they were when subscribing: the read rules apply to this snapshot."""
    return Principal(
        user_name=subscription.user_name,
        roles=frozenset(Role(name) for name in subscription.roles if name in KNOWN_ROLES),
        attributes=subscription.attributes,
    )


# -- sending (the RQ job) --------------------------------------------------------------------------


def send_push(subscription_id: str, event_id: str) -> None:
    """The RQ job: push one notification to one subscription; the outcome is counted, never raised."""
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(push_subscription=subscription_id, event_id=event_id)
    try:
        deliver(get_context(), subscription_id, event_id)
    finally:
        structlog.contextvars.clear_contextvars()


@dataclass(frozen=True)
class Answer:
    """What the push service said (status None: no answer, or we never sent), how long to wait, why it failed."""

    status: int | None
    error: str = ""
    retry_after: float = RETRY_WAIT
    unreachable: bool = False  # a timeout or a broken connection: worth the one retry, like a 5xx

    @property
    def transient(self) -> bool:
        return self.unreachable or self.status == 429 or (self.status is not None and self.status >= 500)


def deliver(context: WorkerContext, subscription_id: str, event_id: str) -> str | None:
    """Send it; the outcome counted (delivered, expired, failed), None when there was nothing to send."""
    published = context.bus.get(event_id)
    if published is None:
        log.info("push_event_gone")  # trimmed from the stream: too old to be worth showing
        return None
    store = PushSubscriptions(context.store.engine)
    subscription = store.get(subscription_id)
    if subscription is None or subscription.updated_at < renewed_since(context.settings):
        log.info("push_subscription_gone")
        return None
    principal = owner(subscription)
    # Checked again: the endpoint may have changed hands since planning.
    if not published.notification.audience.admits(principal):
        log.info("push_not_for_owner", origin=subscription.origin)
        return None
    try:
        key = vapid.private_key(context.settings)
    except vapid.PushUnavailable as exc:
        log.warning("push_unavailable", error=str(exc))
        return _count(context, "failed")
    data = payload(published, principal)
    answer = _post(context.settings, key, subscription, data)
    if answer.transient:
        _count(context, "retried")
        time.sleep(answer.retry_after)
        answer = _post(context.settings, key, subscription, data)
    return _conclude(context, store, subscription, answer)


def _conclude(context: WorkerContext, store: PushSubscriptions, subscription: PushSubscription, answer: Answer) -> str:
    if answer.status is not None and 200 <= answer.status < 300:
        store.mark_sent(subscription.id)
        log.info("push_delivered", origin=subscription.origin, status=answer.status)
        return _count(context, "delivered")
    if answer.status in (404, 410):  # RFC 8030: the subscription expired or the user revoked it
        store.remove(subscription.id)
        log.info("push_subscription_expired", origin=subscription.origin, status=answer.status)
        return _count(context, "expired")
    log.warning("push_failed", origin=subscription.origin, status=answer.status, error=answer.error)
    return _count(context, "failed")


def _count(context: WorkerContext, outcome: str) -> str:
    stats.record(context.redis, CHANNEL, outcome)
    return outcome


def _post(settings: Settings, key: ec.EllipticCurvePrivateKey, subscription: PushSubscription, data: bytes) -> Answer:
    # A fresh claims dict each time: pywebpush writes `aud` (the endpoint's origin) into the one it is given.
    claims: dict[str, str | int] = {"sub": settings.vapid_subject, "exp": int(time.time()) + VAPID_LIFETIME}
    info = {"endpoint": subscription.endpoint, "keys": {"p256dh": subscription.p256dh, "auth": subscription.auth}}
    try:
        response = webpush(
            info, data, vapid_private_key=Vapid(key), vapid_claims=claims, ttl=settings.push_ttl, timeout=TIMEOUT
        )
    except WebPushException as exc:
        failed = exc.response
        if failed is None:
            return Answer(None, _redacted(str(exc), subscription))
        error = _redacted(f"{failed.status_code} {failed.reason}: {failed.text}", subscription)
        return Answer(failed.status_code, error, _retry_after(failed))
    except requests.RequestException as exc:
        return Answer(None, type(exc).__name__, unreachable=True)
    except (VapidException, ValueError) as exc:  # our configuration (VAPID_SUBJECT) or an unusable key
        return Answer(None, _redacted(f"{type(exc).__name__}: {exc}", subscription))
    return Answer(int(response.status_code))


def _retry_after(response: Any) -> float:
    """Retry-After in seconds (a number or an HTTP date), capped; RETRY_WAIT when absent or unreadable."""
    raw = str(response.headers.get("Retry-After") or "").strip()
    if not raw:
        return RETRY_WAIT
    try:
        seconds = float(raw) if raw.isdigit() else parsedate_to_datetime(raw).timestamp() - time.time()
    except (TypeError, ValueError):
        return RETRY_WAIT
    return min(max(seconds, 0.0), MAX_RETRY_WAIT)


def _redacted(text: str, subscription: PushSubscription) -> str:
    """An error for the log: the endpoint (a capability) replaced by its origin, and short."""
    return text.replace(subscription.endpoint, f"{subscription.origin}/...")[:300]


# -- the message -----------------------------------------------------------------------------------


def payload(published: Published, principal: Principal) -> bytes:
    """What the service worker receives: the public notification, a title and body to show, where to open."""
    notification = published.notification
    title, body = texts(notification)
    message: dict[str, Any] = {**notification.public(published.id), "title": title, "body": body}
    message["url"] = deep_link(notification, principal)
    encoded = orjson.dumps(message)
    if len(encoded) > MAX_PLAINTEXT:  # too large for one push message: the app reads the details itself
        del message["data"]
        encoded = orjson.dumps(message)
    return encoded


def texts(notification: Notification) -> tuple[str, str]:
    title, body = TEXTS.get(notification.type, (notification.type, ""))
    fields = _Fields({key: "" if value is None else value for key, value in notification.data.items()})
    if notification.type.startswith("writeback."):
        fields.update(_writeback_fields(notification.data))
    return title.format_map(fields)[:MAX_TITLE], body.format_map(fields)[:MAX_BODY]


class _Fields(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return ""


def _writeback_fields(data: Mapping[str, Any]) -> dict[str, str]:
    target = data.get("target") or {}
    action = ACTIONS.get(str(data.get("type")), "Change")
    if target.get("type") == "ProductionOrder":
        action = f"{action}, order {target.get('id')}"
    message = data.get("message")
    return {"action": action, "reason": f": {message}" if message else ""}


def deep_link(notification: Notification, principal: Principal) -> str:
    """Where the reference app shows it (/app/#/...); the writebacks' list when there is no better place."""
    family = notification.type.partition(".")[0]
    data = notification.data
    order = quote(str(data.get("order") or ""), safe="")
    if family == "production-order" and order:
        return f"/app/#/orders/{order}"
    if family == "confirmation" and order:
        if principal.has(Role.PLANT_MANAGER) and data.get("plant") in principal.plants:
            return f"/app/#/orders/{order}"
        if data.get("operation"):
            return f"/app/#/work/{order}-{quote(str(data['operation']), safe='')}"
    if family == "approval":
        approval = str(data.get("approval_id") or "")
        return f"/app/#/approvals/{quote(approval, safe='')}" if approval else "/app/#/approvals"
    return "/app/#/activity"
