"""The built-in watchdog: the four alert conditions, evaluated periodically, notified once per incident to a webhook."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import redis
import requests
import structlog
from sqlalchemy.exc import SQLAlchemyError

from odata_clients.http import SapHttp
from odata_clients.probe import destination_reachable
from runtime.sap import technical_destination
from runtime.settings import Settings
from store import Store
from workers.commands import CommandType
from workers.health import Snapshot, snapshot
from workers.lease import Lease

log = structlog.get_logger(__name__)

STOPPED_FLOWING = "WritebacksStoppedFlowing"
ERROR_RATE_HIGH = "WritebackErrorRateHigh"
DEAD_LETTERS = "WritebackDeadLetters"
BREAKER_OPEN = "SapBreakerOpen"
ALERTS = (STOPPED_FLOWING, ERROR_RATE_HIGH, DEAD_LETTERS, BREAKER_OPEN)

DEFAULT_PREFIX = "sapext:watchdog"


@dataclass(frozen=True)
class Thresholds:
    """The alert thresholds (seconds, and a fraction for the error rate); the Prometheus rules use the defaults."""

    stopped_flowing_after: float = 600.0
    error_rate_threshold: float = 0.2
    error_rate_window: float = 900.0
    error_rate_min_attempts: int = 5
    breaker_open_after: float = 300.0

    @classmethod
    def from_settings(cls, settings: Settings) -> Thresholds:
        return cls(
            stopped_flowing_after=settings.alert_stopped_flowing_after,
            error_rate_threshold=settings.alert_error_rate_threshold,
            error_rate_window=settings.alert_error_rate_window,
            error_rate_min_attempts=settings.alert_error_rate_min_attempts,
            breaker_open_after=settings.alert_breaker_open_after,
        )


@dataclass(frozen=True)
class Finding:
    """An alert condition that holds right now."""

    alert: str
    summary: str
    details: dict[str, Any] = field(default_factory=dict)


def evaluate(snap: Snapshot, thresholds: Thresholds, sap_down_seconds: float | None) -> dict[str, Finding]:
    """The alert conditions that hold in `snap`; `sap_down_seconds`: how long SAP has failed the probe (None: up)."""
    found: dict[str, Finding] = {}
    waited = snap.oldest_waiting_seconds or 0.0
    since_success = snap.seconds_since_success
    if (
        snap.waiting
        and waited >= thresholds.stopped_flowing_after
        and (since_success is None or since_success >= thresholds.stopped_flowing_after)
    ):
        found[STOPPED_FLOWING] = Finding(
            STOPPED_FLOWING,
            f"{snap.waiting} writeback(s) waiting, the oldest for {waited:.0f}s, and none succeeded for "
            f"{thresholds.stopped_flowing_after:.0f}s or more: are the workers running?",
            {
                "waiting": snap.waiting,
                "oldest_waiting_seconds": round(waited, 1),
                "last_success_at": snap.last_success_at.isoformat() if snap.last_success_at else None,
            },
        )
    rate = snap.error_rate
    if (
        rate is not None
        and snap.attempts >= thresholds.error_rate_min_attempts
        and rate > thresholds.error_rate_threshold
    ):
        found[ERROR_RATE_HIGH] = Finding(
            ERROR_RATE_HIGH,
            f"{rate:.0%} of {snap.attempts} writeback attempts failed in the last {snap.window_seconds:.0f}s "
            f"(threshold {thresholds.error_rate_threshold:.0%})",
            {
                "error_rate": round(rate, 4),
                "errors": snap.errors,
                "attempts": snap.attempts,
                "by_type": {t: f.error_rate for t, f in snap.flows.items() if f.attempts},
            },
        )
    if snap.dead_letters:
        found[DEAD_LETTERS] = Finding(
            DEAD_LETTERS,
            f"{snap.dead_letters} writeback(s) in the dead-letter list (out of retries, SAP refused our credentials, "
            "or an answer nobody could read): fix the cause, then retry or discard them",
            {
                "dead_letters": snap.dead_letters,
                "by_type": {t: f.dead_letters for t, f in snap.flows.items() if f.dead_letters},
            },
        )
    if sap_down_seconds is not None and sap_down_seconds >= thresholds.breaker_open_after:
        found[BREAKER_OPEN] = Finding(
            BREAKER_OPEN,
            f"SAP has not answered the probe for {sap_down_seconds:.0f}s: calls fail fast (circuit open)",
            {"down_seconds": round(sap_down_seconds, 1)},
        )
    return found


def post_json(url: str, timeout: float) -> Callable[[Mapping[str, Any]], bool]:
    """A notifier that POSTs JSON to `url`; True when the receiver answered 2xx."""

    def notify(payload: Mapping[str, Any]) -> bool:
        try:
            response = requests.post(url, json=dict(payload), timeout=timeout)
        except requests.RequestException as exc:
            log.warning("alert_webhook_failed", alert=payload.get("alert"), error=type(exc).__name__)
            return False
        if response.status_code >= 300:
            log.warning("alert_webhook_failed", alert=payload.get("alert"), status=response.status_code)
            return False
        return True

    return notify


def _no_webhook(_: Mapping[str, Any]) -> bool:
    return True  # nowhere to send: the structured `alert` log event is the notification


class Watchdog:
    """Evaluates the conditions every `interval`; only the holder of a Redis lease acts.

    Incident state lives in Redis (hash `<prefix>:incidents`), so a restarted or a new leader neither
    re-notifies a known incident nor forgets to resolve it. A notification that fails is retried on the
    next tick; an incident is marked notified only after the receiver accepted it.
    """

    def __init__(
        self,
        store: Store,
        connection: redis.Redis,
        settings: Settings,
        *,
        notify: Callable[[Mapping[str, Any]], bool] | None = None,
        probe: Callable[[], str | None] | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        prefix: str = DEFAULT_PREFIX,
    ) -> None:
        self.store = store
        self.redis = connection
        self.settings = settings
        self.thresholds = Thresholds.from_settings(settings)
        self.interval = settings.watchdog_interval
        if notify is None:
            notify = (
                post_json(settings.alert_webhook_url, settings.health_timeout)
                if settings.alert_webhook_url
                else _no_webhook
            )
        self.notify = notify
        self.probe: Callable[[], str | None] = probe or self._probe_technical_destination(settings)
        self.clock = clock
        self.prefix = prefix
        self.instance = uuid.uuid4().hex
        # A leader that stops renewing (crash) hands over after three missed ticks, never sooner than 10 s.
        self.lease_ms = int(max(3 * self.interval, 10.0) * 1000)
        self.lease = Lease(connection, f"{prefix}:leader", self.lease_ms, self.instance)

    @staticmethod
    def _probe_technical_destination(settings: Settings) -> Callable[[], str | None]:
        """The technical destination as the API's readiness probe sees it (Basic, OAuth or the Destination service)."""
        http = SapHttp(technical_destination(settings))
        return lambda: destination_reachable(http, settings.health_timeout)

    # -- leadership ------------------------------------------------------------------------------------

    def acquire(self) -> bool:
        return self.lease.acquire()

    def release(self) -> None:
        self.lease.release()

    # -- one evaluation ----------------------------------------------------------------------------------

    def tick(self) -> dict[str, Finding] | None:
        """Evaluate and notify once; None when another instance holds the lease."""
        if not self.acquire():
            return None
        now = self.clock()
        snap = snapshot(self.store, self.thresholds.error_rate_window, now=now, types=list(CommandType))
        findings = evaluate(snap, self.thresholds, self._sap_down_seconds(now))
        self._reconcile(findings, now)
        return findings

    def _sap_down_seconds(self, now: datetime) -> float | None:
        key = f"{self.prefix}:sap_down_since"
        reason = self.probe()
        self.redis.set(
            f"{self.prefix}:sap_probe",
            json.dumps({"at": now.isoformat(), "reachable": reason is None, "reason": reason}),
        )
        if reason is None:
            self.redis.delete(key)
            return None
        self.redis.set(key, now.isoformat(), nx=True)
        since = datetime.fromisoformat(_text(self.redis.get(key)) or now.isoformat())
        return (now - since).total_seconds()

    def _reconcile(self, findings: Mapping[str, Finding], now: datetime) -> None:
        key = f"{self.prefix}:incidents"
        incidents = {_text(k): json.loads(_text(v)) for k, v in self.redis.hgetall(key).items()}
        for alert, finding in findings.items():
            incident = incidents.get(alert) or {"since": now.isoformat(), "notified": False}
            if not incident["notified"]:
                payload = self._payload(alert, "firing", finding.summary, finding.details, incident["since"], now)
                log.warning("alert", **payload)
                incident["notified"] = self.notify(payload)
            incident.update(summary=finding.summary, details=finding.details)
            self.redis.hset(key, alert, json.dumps(incident))
        for alert, incident in incidents.items():
            if alert in findings:
                continue
            if incident["notified"]:
                payload = self._payload(
                    alert,
                    "resolved",
                    f"resolved: {incident.get('summary', alert)}",
                    incident.get("details", {}),
                    incident["since"],
                    now,
                )
                log.info("alert", **payload)
                if not self.notify(payload):
                    continue  # keep the incident: the resolution is sent on the next tick
            self.redis.hdel(key, alert)

    @staticmethod
    def _payload(
        alert: str, status: str, summary: str, details: Mapping[str, Any], since: str, now: datetime
    ) -> dict[str, Any]:
        return {
            "alert": alert,
            "status": status,
            "summary": summary,
            "details": dict(details),
            "since": since,
            "at": now.isoformat(),
        }

    # -- the loop ------------------------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        """Tick every `interval` until `stop` is set; an error in one tick is logged, never fatal."""
        log.info("watchdog_started", interval=self.interval, webhook=bool(self.settings.alert_webhook_url))
        try:
            while not stop.is_set():
                started = time.monotonic()
                try:
                    self.tick()
                except (redis.ConnectionError, redis.TimeoutError, SQLAlchemyError) as exc:
                    # A dependency is away (every tick until it is back): one line, not a traceback each time.
                    log.warning("watchdog_tick_failed", error=f"{type(exc).__name__}: {exc}")
                except Exception:
                    log.exception("watchdog_tick_failed")
                stop.wait(max(0.0, self.interval - (time.monotonic() - started)))
        finally:
            try:
                self.release()
            except redis.RedisError:
                pass  # the lease expires on its own


def active_incidents(connection: redis.Redis, prefix: str = DEFAULT_PREFIX) -> dict[str, dict[str, Any]]:
    """The watchdog's open incidents (alert -> since, summary, details), for the health view."""
    return {_text(k): json.loads(_text(v)) for k, v in connection.hgetall(f"{prefix}:incidents").items()}


def last_probe(connection: redis.Redis, prefix: str = DEFAULT_PREFIX) -> dict[str, Any] | None:
    raw = connection.get(f"{prefix}:sap_probe")
    return dict(json.loads(_text(raw))) if raw else None


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value) if value is not None else ""


def run_watchdog(settings: Settings, connection: redis.Redis) -> None:
    """`python -m workers watchdog`: the loop in the foreground until SIGTERM or SIGINT."""
    import signal

    from store import make_engine

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    Watchdog(Store(make_engine(settings.database_url)), connection, settings).run(stop)
