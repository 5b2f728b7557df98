"""S/4HANA business events pushed to webhook subscriptions the way SAP Event Mesh delivers them (see README)."""

from __future__ import annotations

import base64
import datetime as dt
import http.client
import json
import os
import threading
import uuid
from collections import deque
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlsplit

# Type strings follow SAP's documented scheme sap.s4.beh.<object>.v1.<Object>.<Operation>.v1 (Business
# Accelerator Hub event references, e.g. sap.s4.beh.purchaseorder.v1.PurchaseOrder.Created.v1). Of the ones
# below only ProductionOrder.Created.v1 and PurchaseRequisition.Created.v1 were seen in public material; the
# others are the scheme applied to the operation (unverified). SAP's references for these objects' payloads
# were not found: `data` follows the documented notification pattern (the key only; see README.md's table).
PRODUCTION_ORDER_CREATED = "sap.s4.beh.productionorder.v1.ProductionOrder.Created.v1"
PRODUCTION_ORDER_CHANGED = "sap.s4.beh.productionorder.v1.ProductionOrder.Changed.v1"
PRODUCTION_ORDER_RELEASED = "sap.s4.beh.productionorder.v1.ProductionOrder.Released.v1"
PURCHASE_REQUISITION_CREATED = "sap.s4.beh.purchaserequisition.v1.PurchaseRequisition.Created.v1"
PURCHASE_REQUISITION_CHANGED = "sap.s4.beh.purchaserequisition.v1.PurchaseRequisition.Changed.v1"
CONFIRMATION_CREATED = "sap.s4.beh.productionorderconfirmation.v1.ProductionOrderConfirmation.Created.v1"
CONFIRMATION_CANCELLED = "sap.s4.beh.productionorderconfirmation.v1.ProductionOrderConfirmation.Cancelled.v1"

# Structured mode: the whole CloudEvent is the body, as S/4HANA publishes it and Event Mesh forwards it.
CONTENT_TYPE = "application/cloudevents+json"
DELIVERY_LOG_SIZE = 2000
SUBSCRIPTION_FIELDS = {"url", "user", "password", "retry_initial", "retry_max", "max_attempts", "timeout"}


def event_source(system_id: str, client: str) -> str:
    """SAP's `source` of S/4HANA events: /default/sap.s4.beh/<SID>CLNT<client> (e.g. ER9CLNT001 in CAP's docs)."""
    return f"/default/sap.s4.beh/{system_id}CLNT{client}"


@dataclass(frozen=True)
class RetryPolicy:
    """Redelivery after a non-2xx answer or a connection error: exponential back-off, then give up."""

    initial: float = 0.5
    maximum: float = 30.0
    attempts: int = 10
    timeout: float = 10.0  # per attempt: connect and answer

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based)."""
        return float(min(self.initial * 2 ** (attempt - 1), self.maximum))

    def validated(self) -> RetryPolicy:
        if self.initial < 0 or self.maximum < 0 or self.timeout <= 0 or self.attempts < 1:
            raise ValueError("retry_initial and retry_max must be >= 0, timeout > 0, max_attempts >= 1")
        return self


@dataclass
class Subscription:
    """A webhook: where events go, with HTTP Basic credentials or none."""

    url: str
    user: str | None = None
    password: str | None = None
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    origin: str = "admin"  # "command-line" subscriptions survive a reset
    id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def as_dict(self) -> dict[str, object]:
        """What the admin API shows: never the password."""
        return {
            "id": self.id,
            "url": self.url,
            "user": self.user,
            "origin": self.origin,
            "retry_initial": self.retry.initial,
            "retry_max": self.retry.maximum,
            "max_attempts": self.retry.attempts,
            "timeout": self.retry.timeout,
        }

    def headers(self) -> dict[str, str]:
        headers = {"Content-Type": CONTENT_TYPE}
        if self.user is not None:
            token = base64.b64encode(f"{self.user}:{self.password or ''}".encode()).decode("ascii")
            headers["Authorization"] = f"Basic {token}"
        return headers


def parse_subscription(data: object, defaults: RetryPolicy) -> Subscription:
    """A subscription from the admin API's JSON body (ValueError when it is not one)."""
    if not isinstance(data, dict):
        raise ValueError("a subscription is a JSON object")
    unknown = set(data) - SUBSCRIPTION_FIELDS
    if unknown:
        raise ValueError(f"unknown subscription fields: {sorted(unknown)}")
    url = data.get("url")
    if not isinstance(url, str) or urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).hostname:
        raise ValueError("url must be an http(s) URL")
    user, password = data.get("user"), data.get("password")
    if password is not None and user is None:
        raise ValueError("password needs a user")
    if not all(value is None or isinstance(value, str) for value in (user, password)):
        raise ValueError("user and password must be strings")
    retry = replace(
        defaults,
        initial=float(data.get("retry_initial", defaults.initial)),
        maximum=float(data.get("retry_max", defaults.maximum)),
        attempts=int(data.get("max_attempts", defaults.attempts)),
        timeout=float(data.get("timeout", defaults.timeout)),
    ).validated()
    return Subscription(url=url, user=user, password=password, retry=retry)


def cloud_event(event_type: str, source: str, data: dict[str, object]) -> dict[str, object]:
    """A CloudEvents 1.0 event as S/4HANA publishes it (time in whole seconds, UTC, like SAP's examples)."""
    return {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "source": source,
        "type": event_type,
        "time": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "datacontenttype": "application/json",
        "data": data,
    }


class DeliveryLog:
    """Every delivery attempt, oldest first (`GET /mock-admin/event-deliveries`)."""

    def __init__(self, size: int = DELIVERY_LOG_SIZE) -> None:
        self._lock = threading.Lock()
        self._entries: deque[dict[str, object]] = deque(maxlen=size)

    def record(self, entry: dict[str, object]) -> None:
        with self._lock:
            self._entries.append(entry)

    def list(self) -> list[dict[str, object]]:
        with self._lock:
            return [dict(entry) for entry in self._entries]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


class _Courier:
    """Delivers one subscription's events in publication order on its own thread; a failing event holds the
    ones behind it until it is delivered or given up, as one queue pushed to one webhook does."""

    def __init__(self, subscription: Subscription, log: DeliveryLog) -> None:
        self.subscription = subscription
        self._log = log
        self._queue: deque[dict[str, object]] = deque()
        self._wake = threading.Condition()
        self._stopped = False
        self._generation = 0  # bumped when the queue is dropped: an event in flight is then abandoned
        self._thread: threading.Thread | None = None
        self._pid = 0

    def push(self, event: dict[str, object]) -> None:
        with self._wake:
            if self._stopped:
                return
            self._queue.append(event)
            self._ensure_thread()
            self._wake.notify()

    def drop_pending(self) -> None:
        with self._wake:
            self._queue.clear()
            self._generation += 1
            self._wake.notify()

    def stop(self) -> None:
        with self._wake:
            self._stopped = True
            self._queue.clear()
            self._generation += 1
            self._wake.notify()

    def _ensure_thread(self) -> None:
        # Started on first use: the mock is built in gunicorn's master and forked, and threads do not survive a fork.
        if self._thread is not None and self._pid == os.getpid() and self._thread.is_alive():
            return
        self._pid = os.getpid()
        self._thread = threading.Thread(target=self._run, name=f"event-courier-{self.subscription.id}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._queue and not self._stopped:
                    self._wake.wait()
                if self._stopped:
                    return
                event, generation = self._queue[0], self._generation
            self._deliver(event, generation)
            with self._wake:
                if generation == self._generation and self._queue and self._queue[0] is event:
                    self._queue.popleft()

    def _current(self, generation: int) -> bool:
        with self._wake:
            return not self._stopped and generation == self._generation

    def _deliver(self, event: dict[str, object], generation: int) -> None:
        retry = self.subscription.retry
        body = json.dumps(event, separators=(",", ":")).encode()
        for attempt in range(1, retry.attempts + 1):
            status, error = self._post(body, retry.timeout)
            delivered = status is not None and 200 <= status < 300
            last = delivered or attempt == retry.attempts
            if not self._current(generation):
                return  # reset or unsubscribed meanwhile: the log was cleared, record nothing
            self._log.record(
                {
                    "event_id": event["id"],
                    "type": event["type"],
                    "subscription_id": self.subscription.id,
                    "url": self.subscription.url,
                    "attempt": attempt,
                    "status": status,
                    "error": error,
                    "outcome": "delivered" if delivered else "given_up" if last else "retrying",
                    "time": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                }
            )
            if last:
                return
            with self._wake:
                self._wake.wait_for(lambda: self._stopped or generation != self._generation, retry.delay(attempt))

    def _post(self, body: bytes, timeout: float) -> tuple[int | None, str | None]:
        """One POST: (status, None), or (None, what went wrong) when no HTTP answer came."""
        url = urlsplit(self.subscription.url)
        connection_type = http.client.HTTPSConnection if url.scheme == "https" else http.client.HTTPConnection
        target = (url.path or "/") + (f"?{url.query}" if url.query else "")
        connection = connection_type(url.hostname or "", url.port, timeout=timeout)
        try:
            connection.request("POST", target, body=body, headers=self.subscription.headers())
            response = connection.getresponse()
            response.read()
            return response.status, None
        except (OSError, http.client.HTTPException) as exc:
            return None, f"{type(exc).__name__}: {exc}"
        finally:
            connection.close()


class EventPublisher:
    """Publishes business events to every subscription; `publish` only queues, it never blocks or fails."""

    def __init__(self, source: str, defaults: RetryPolicy | None = None) -> None:
        self.source = source
        self.defaults = defaults or RetryPolicy()
        self.log = DeliveryLog()
        self._lock = threading.Lock()
        self._couriers: dict[str, _Courier] = {}

    def subscribe(self, subscription: Subscription) -> Subscription:
        with self._lock:
            self._couriers[subscription.id] = _Courier(subscription, self.log)
        return subscription

    def unsubscribe(self, subscription_id: str) -> bool:
        with self._lock:
            courier = self._couriers.pop(subscription_id, None)
        if courier is not None:
            courier.stop()
        return courier is not None

    def unsubscribe_all(self) -> None:
        with self._lock:
            couriers = list(self._couriers.values())
            self._couriers.clear()
        for courier in couriers:
            courier.stop()

    def subscriptions(self) -> list[dict[str, object]]:
        with self._lock:
            return [courier.subscription.as_dict() for courier in self._couriers.values()]

    def publish(self, event_type: str, data: dict[str, object]) -> dict[str, object]:
        event = cloud_event(event_type, self.source, data)
        with self._lock:
            couriers = list(self._couriers.values())
        for courier in couriers:
            courier.push(event)
        return event

    def reset(self) -> None:
        """Back to the start: run-time subscriptions gone, undelivered events dropped, the log empty."""
        with self._lock:
            removed = [c for c in self._couriers.values() if c.subscription.origin != "command-line"]
            for courier in removed:
                del self._couriers[courier.subscription.id]
            kept = list(self._couriers.values())
        for courier in removed:
            courier.stop()
        for courier in kept:
            courier.drop_pending()
        self.log.clear()

    # -- admin API ---------------------------------------------------------------------------
    def admin(self, method: str, route: str, body: bytes) -> tuple[int, Any] | None:
        """`/mock-admin/event-subscriptions[/{id}]` and `/mock-admin/event-deliveries`; None: not ours."""
        if route == "/mock-admin/event-deliveries":
            if method == "GET":
                return 200, {"deliveries": self.log.list()}
            if method == "DELETE":
                self.log.clear()
                return 200, {"deliveries": []}
            return None
        if route == "/mock-admin/event-subscriptions":
            if method == "GET":
                return 200, {"subscriptions": self.subscriptions()}
            if method == "DELETE":
                self.unsubscribe_all()
                return 200, {"subscriptions": []}
            if method == "POST":
                try:
                    subscription = parse_subscription(json.loads(body or b"{}"), self.defaults)
                except (ValueError, TypeError) as exc:
                    return 400, {"error": str(exc)}
                return 201, self.subscribe(subscription).as_dict()
            return None
        prefix = "/mock-admin/event-subscriptions/"
        if route.startswith(prefix) and method == "DELETE":
            subscription_id = route[len(prefix) :]
            if self.unsubscribe(subscription_id):
                return 200, {"deleted": subscription_id}
            return 404, {"error": f"no subscription {subscription_id}"}
        return None
