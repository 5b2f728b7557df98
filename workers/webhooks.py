"""Outbound webhooks: a delivery per subscribed webhook for each notification, and `deliver`, the RQ job sending one.

Deliveries follow the Standard Webhooks spec (https://www.standardwebhooks.com): a JSON POST signed over
`{webhook-id}.{webhook-timestamp}.{body}` (notifications/signing.py), the notification's id as `webhook-id` on
every attempt so receivers can drop repeats. 2xx is success; anything else (3xx included: redirects are not
followed) is retried with back-off until `webhook_max_attempts`, then the delivery is dead; 410 Gone is the
receiver asking us to stop, so the delivery is dead at once and the webhook is deactivated, as the spec advises.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import redis
import requests
import structlog
from rq import Queue
from rq.job import Job, JobStatus

from notifications import Published, signing
from notifications.egress import not_public
from notifications.stats import record
from runtime.settings import Settings
from store.webhooks import DeliveryNotFound, Webhook, WebhookDelivery, Webhooks
from workers import queues
from workers.bootstrap import WorkerContext, get_context
from workers.retry import RetryPolicy

log = structlog.get_logger(__name__)

JOB_FUNCTION = "workers.webhooks.deliver"
CHANNEL = "webhook"  # notifications.stats channel
ERROR_TEXT = 500  # characters of the receiver's answer kept with a failed attempt
GONE = 410


def job_id(delivery_id: str) -> str:
    return f"webhook-{delivery_id}"


def webhooks(context: WorkerContext) -> Webhooks:
    return Webhooks(context.store.engine)


def retry_policy(settings: Settings) -> RetryPolicy:
    return RetryPolicy(
        max_attempts=settings.webhook_max_attempts,
        base=settings.webhook_backoff_base,
        cap=max(settings.webhook_backoff_max, settings.webhook_backoff_base),
    )


# -- planning (the dispatcher) -----------------------------------------------------------------------------


def plan_webhooks(context: WorkerContext, published: Published) -> None:
    """A delivery and its job for every active webhook subscribed to the notification's type.

    Idempotent: a notification dispatched again (after a crash) finds its deliveries planned already and adds
    none; one whose job was lost with the crash is enqueued by the reconciler, being due.
    """
    store = webhooks(context)
    notification = published.notification
    subscribed = store.matching(notification.type)
    if not subscribed:
        return
    payload = notification.public(published.id)
    for webhook in subscribed:
        delivery = store.plan(webhook.id, published.id, notification.type, payload)
        if delivery is None:
            record(context.redis, CHANNEL, "duplicate")
            continue
        enqueue_delivery(context.redis, delivery.id)


def enqueue_delivery(connection: redis.Redis, delivery_id: str) -> bool:
    """Enqueue the delivery's job; False (and a warning) when Redis is away: the reconciler enqueues it later."""
    try:
        _enqueue(connection, delivery_id)
    except redis.RedisError as exc:
        log.warning("webhook_enqueue_failed", delivery_id=delivery_id, error=type(exc).__name__)
        return False
    return True


def enqueue_due_deliveries(context: WorkerContext, limit: int = 500) -> int:
    """Enqueue the jobs of pending deliveries that are due (a retry's back-off is over, a job was lost, or a
    worker died mid-attempt), skipping those whose job waits in the queue already; how many it enqueued."""
    enqueued = 0
    for delivery in webhooks(context).due(limit=limit):
        try:
            status = context.redis.hget(Job.key_for(job_id(delivery.id)), "status")
            if (status.decode() if isinstance(status, bytes) else status) == JobStatus.QUEUED.value:
                continue
            _enqueue(context.redis, delivery.id)
        except redis.RedisError as exc:
            log.warning("webhook_enqueue_failed", delivery_id=delivery.id, error=type(exc).__name__)
            break  # Redis is away: the next pass tries them all again
        enqueued += 1
    return enqueued


def _enqueue(connection: redis.Redis, delivery_id: str) -> None:
    # result_ttl=0: the store records the outcome, so RQ forgets a finished job at once.
    Queue(queues.NOTIFICATIONS, connection=connection).enqueue(
        JOB_FUNCTION,
        delivery_id,
        job_id=job_id(delivery_id),
        description=f"webhook delivery {delivery_id}",
        result_ttl=0,
    )


# -- delivering (the job) -----------------------------------------------------------------------------------


def deliver(delivery_id: str) -> None:
    """The RQ job. Safe to run any number of times: only a due pending delivery is sent, by one attempt at a time."""
    try:
        send(get_context(), delivery_id)
    finally:
        structlog.contextvars.clear_contextvars()


def send(context: WorkerContext, delivery_id: str) -> WebhookDelivery | None:
    """One attempt; the delivery as it ends the attempt, or None when there was nothing to send."""
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(delivery_id=delivery_id)
    settings, store = context.settings, webhooks(context)
    try:
        delivery = store.start(delivery_id, lease=_lease(settings))
    except DeliveryNotFound:
        log.warning("webhook_delivery_unknown")
        return None
    if delivery is None:  # ended, not due yet, or another attempt is sending it now
        log.info("webhook_delivery_nothing_to_do")
        return None
    structlog.contextvars.bind_contextvars(
        webhook_id=delivery.webhook_id,
        event_id=delivery.event_id,
        event_type=delivery.event_type,
        attempt=delivery.attempts,
    )
    webhook = store.get(delivery.webhook_id)
    if webhook is None or not webhook.active:
        log.info("webhook_delivery_cancelled", reason="the webhook was deleted")
        return store.cancel(delivery.id)
    policy = retry_policy(settings)
    if delivery.attempts > policy.max_attempts:
        # Attempts that kept dying with their worker (the lease ran out each time) end here.
        used_up: dict[str, Any] = {
            "kind": "out_of_attempts",
            "status": None,
            "message": f"{delivery.attempts - 1} attempts",
        }
        return _dead(context, store, delivery, used_up)
    started = time.monotonic()
    error, retry_after = _post(webhook, delivery, settings)
    duration_ms = round((time.monotonic() - started) * 1000)
    if error is None:
        log.info("webhook_delivered", duration_ms=duration_ms)
        record(context.redis, CHANNEL, "delivered")
        return store.succeed(delivery.id)
    if error["status"] == GONE:
        ended = _dead(context, store, delivery, error)
        store.deactivate(webhook.id)
        log.warning("webhook_deactivated_by_receiver", status=GONE)
        return ended
    if policy.exhausted(delivery.attempts):
        return _dead(context, store, delivery, error)
    delay = policy.delay(delivery.attempts)
    if retry_after is not None:  # the receiver's Retry-After is a floor, within our cap
        delay = max(delay, min(retry_after, policy.cap))
    next_at = datetime.now(UTC) + timedelta(seconds=delay)
    log.warning(
        "webhook_delivery_failed",
        kind=error["kind"],
        status=error["status"],
        duration_ms=duration_ms,
        next_attempt_at=next_at.isoformat(),
    )
    record(context.redis, CHANNEL, "retried")
    return store.fail(delivery.id, error, next_attempt_at=next_at)


def _dead(
    context: WorkerContext, store: Webhooks, delivery: WebhookDelivery, error: dict[str, Any]
) -> WebhookDelivery | None:
    log.warning("webhook_delivery_dead", kind=error["kind"], status=error["status"], attempts=delivery.attempts)
    record(context.redis, CHANNEL, "dead")
    return store.dead(delivery.id, error)


def _lease(settings: Settings) -> timedelta:
    """How long one attempt may hold a delivery: a connect and a read timeout, and room to record the outcome."""
    return timedelta(seconds=2 * settings.webhook_timeout + 30)


def _post(
    webhook: Webhook, delivery: WebhookDelivery, settings: Settings
) -> tuple[dict[str, Any] | None, float | None]:
    """POST the signed delivery; (None, None) on 2xx, else the error and the receiver's Retry-After (seconds)."""
    if settings.is_production and (problem := not_public(webhook.url)):
        return {"kind": "not_public", "status": None, "message": problem}, None
    body = orjson.dumps(delivery.payload, option=orjson.OPT_SORT_KEYS)
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": f"{settings.app_name}-webhooks/1",
        signing.ID_HEADER: delivery.event_id,
        signing.TIMESTAMP_HEADER: str(timestamp),
        signing.SIGNATURE_HEADER: signing.sign(webhook.secret, delivery.event_id, timestamp, body),
    }
    try:
        # stream: only the start of the answer is read, however much a receiver sends back.
        with requests.post(
            webhook.url,
            data=body,
            headers=headers,
            timeout=settings.webhook_timeout,
            allow_redirects=False,
            stream=True,
        ) as response:
            if 200 <= response.status_code < 300:
                return None, None
            return {"kind": "http", "status": response.status_code, "message": _answer(response)}, _retry_after(
                response
            )
    except requests.Timeout as exc:
        return {"kind": "timeout", "status": None, "message": str(exc)[:ERROR_TEXT]}, None
    except requests.RequestException as exc:
        return {"kind": "connection", "status": None, "message": f"{type(exc).__name__}: {exc}"[:ERROR_TEXT]}, None


def _answer(response: requests.Response) -> str:
    if response.is_redirect:
        location = response.headers.get("Location", "")
        return f"redirected to {location} (redirects are not followed: register that URL instead)"[:ERROR_TEXT]
    try:
        start = next(response.iter_content(4 * ERROR_TEXT), b"")
    except requests.RequestException:
        start = b""
    return start.decode("utf-8", "replace")[:ERROR_TEXT]


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After", "").strip()
    return float(value) if value.isascii() and value.isdigit() and len(value) <= 9 else None
