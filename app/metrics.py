"""Prometheus `/metrics`: request metrics, SAP call metrics, and outbox/queue numbers read at scrape time."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator

import structlog
from flask import Flask, Response, current_app, g, request
from flask_smorest import Blueprint
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from notifications import stats as delivery_stats
from store import Status, Store
from store.webhooks import DeliveryStatus, Webhooks
from workers.commands import CommandType
from workers.dispatcher import dispatch_backlog
from workers.health import Snapshot, queue_stats, snapshot

log = structlog.get_logger(__name__)

HTTP_REQUESTS = Counter(
    "http_requests",
    "Inbound HTTP requests by route template (not raw path), method and status.",
    ["route", "method", "status"],
)
HTTP_REQUEST_DURATION = Histogram(
    "http_request_duration_seconds",
    "Time to answer an inbound HTTP request.",
    ["route", "method"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
# Requests that matched no route share one label value, so scanners cannot blow up the series count;
# the same for methods: any method name is valid HTTP, so FOO and PROPFIND count as "other".
UNMATCHED_ROUTE = "<unmatched>"
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE"})
OTHER_METHOD = "other"


def known_method(method: str) -> str | None:
    """The method if it is one of HTTP's standard ones, else None (label it as "other")."""
    return method if method in KNOWN_METHODS else None


def _started() -> None:
    g.metrics_started = time.perf_counter()


def _observe(response: Response) -> Response:
    route = request.url_rule.rule if request.url_rule else UNMATCHED_ROUTE
    method = known_method(request.method) or OTHER_METHOD
    elapsed = time.perf_counter() - g.get("metrics_started", time.perf_counter())
    HTTP_REQUESTS.labels(route, method, str(response.status_code)).inc()
    HTTP_REQUEST_DURATION.labels(route, method).observe(elapsed)
    return response


class _DefaultRegistry(Collector):
    """This process's own metrics (single-process mode)."""

    def collect(self) -> Iterable[Metric]:
        return REGISTRY.collect()


class OutboxCollector(Collector):
    """Numbers computed from the store and Redis at scrape time.

    The store is shared by every process, so reading it once per scrape is correct however many gunicorn
    and RQ processes there are (counting in each process and summing would count twice).
    """

    def __init__(self, app: Flask) -> None:
        self._app = app

    def collect(self) -> Iterator[Metric]:
        settings = self._app.extensions["settings"]
        store_up = GaugeMetricFamily("writeback_store_up", "1 when the store answered this scrape's queries.")
        try:
            snap = snapshot(_store(self._app), settings.alert_error_rate_window, types=list(CommandType))
        except Exception as exc:  # a scrape reports an outage, it never fails because of one
            log.warning("metrics_store_failed", error=type(exc).__name__)
            store_up.add_metric([], 0)
            yield store_up
        else:
            store_up.add_metric([], 1)
            yield store_up
            yield from _outbox_metrics(snap)
        yield from _queue_metrics(self._app)
        yield from _notification_metrics(self._app)


def _outbox_metrics(snap: Snapshot) -> Iterator[Metric]:
    commands = GaugeMetricFamily(
        "writeback_commands", "Writeback commands by type and state.", labels=["type", "state"]
    )
    outcomes = GaugeMetricFamily(
        "writeback_attempt_outcomes_window",
        "Attempts that ended within the last writeback_error_window_seconds, by type and outcome event.",
        labels=["type", "outcome"],
    )
    for flow in snap.flows.values():
        for status in Status:
            commands.add_metric([flow.type, status.value], flow.counts.get(status.value, 0))
        for event, count in sorted(flow.outcomes.items()):
            outcomes.add_metric([flow.type, event], count)
    yield commands
    yield outcomes
    yield GaugeMetricFamily(
        "writeback_error_window_seconds", "Window of writeback_attempt_outcomes_window.", value=snap.window_seconds
    )
    yield GaugeMetricFamily(
        "writeback_waiting", "Commands waiting for a worker (accepted, incl. scheduled retries).", value=snap.waiting
    )
    yield GaugeMetricFamily(
        "writeback_oldest_waiting_seconds",
        "Age of the oldest waiting command; 0 when none waits.",
        value=snap.oldest_waiting_seconds or 0,
    )
    yield GaugeMetricFamily("writeback_dead_letters", "Commands out of retries (dead).", value=snap.dead_letters)
    yield GaugeMetricFamily(
        "writeback_last_success_timestamp_seconds",
        "Unix time of the last successful writeback; 0 when none yet.",
        value=snap.last_success_at.timestamp() if snap.last_success_at else 0,
    )


def _queue_metrics(app: Flask) -> Iterator[Metric]:
    up = GaugeMetricFamily("writeback_queue_up", "1 when Redis answered this scrape's queue queries.")
    try:
        stats = queue_stats(app.extensions["redis"])
    except Exception as exc:  # Redis down: say so, and keep the rest of the scrape
        log.warning("metrics_queue_failed", error=type(exc).__name__)
        up.add_metric([], 0)
        yield up
        return
    up.add_metric([], 1)
    yield up
    jobs = GaugeMetricFamily("writeback_queue_jobs", "RQ jobs by queue and state.", labels=["queue", "state"])
    workers = GaugeMetricFamily("writeback_queue_workers", "RQ workers listening on the queue.", labels=["queue"])
    for queue in stats:
        for state in ("queued", "scheduled", "started", "failed"):
            jobs.add_metric([queue.name, state], getattr(queue, state))
        workers.add_metric([queue.name], queue.workers)
    yield jobs
    yield workers


def _notification_metrics(app: Flask) -> Iterator[Metric]:
    """Delivery outcomes (counted in Redis by every process), the dispatch backlog, the webhook outbox."""
    connection = app.extensions["redis"]
    try:
        counts = delivery_stats.read(connection)
        lag, oldest = dispatch_backlog(connection, app.extensions["settings"])
    except Exception as exc:  # Redis down: writeback_queue_up says so already
        log.warning("metrics_notifications_failed", error=type(exc).__name__)
    else:
        deliveries = CounterMetricFamily(
            "notification_deliveries",
            "Notification deliveries by channel (push, webhook, sap_event) and outcome, since Redis last lost its data",
            labels=["channel", "outcome"],
        )
        for (channel, outcome), count in sorted(counts.items()):
            deliveries.add_metric([channel, outcome], count)
        yield deliveries
        yield GaugeMetricFamily(
            "notification_dispatch_lag", "Events not yet planned for Web Push and webhooks by any worker.", value=lag
        )
        yield GaugeMetricFamily(
            "notification_dispatch_oldest_seconds",
            "Age of the oldest event not yet planned; 0 when none.",
            value=oldest,
        )
    try:
        webhooks = Webhooks(_store(app).engine)
        by_status = {status: webhooks.count_deliveries(status=status) for status in DeliveryStatus}
    except Exception as exc:
        log.warning("metrics_webhooks_failed", error=type(exc).__name__)
        return
    outbox = GaugeMetricFamily("webhook_deliveries", "Outbound webhook deliveries by status.", labels=["status"])
    for status, count in by_status.items():
        outbox.add_metric([status.value], count)
    yield outbox


def _store(app: Flask) -> Store:
    store: Store = app.extensions["store"]
    return store


def scrape_registry(app: Flask) -> CollectorRegistry:
    """What one scrape exposes: every process sharing the multiprocess directory, or this process alone."""
    registry = CollectorRegistry(auto_describe=False)
    multiproc_dir = app.extensions["settings"].prometheus_multiproc_dir
    if multiproc_dir:
        MultiProcessCollector(registry, path=multiproc_dir)  # type: ignore[no-untyped-call]
    else:
        registry.register(_DefaultRegistry())
    registry.register(OutboxCollector(app))
    return registry


blp = Blueprint("metrics", __name__, url_prefix="/metrics", description="Prometheus metrics")


@blp.route("")
@blp.doc(operationId="getMetrics")
@blp.response(
    200,
    {"type": "string", "example": "writeback_dead_letters 0.0\n"},
    content_type=CONTENT_TYPE_LATEST,
    description="Prometheus text exposition format",
)
def metrics_view() -> Response:
    """Every metric of this instance's processes, and the outbox and queue numbers (unauthenticated)"""
    registry = current_app.extensions["metrics_registry"]
    return Response(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)


def init_metrics(app: Flask) -> None:
    """Request metrics for every response; the /metrics blueprint is registered with the others."""
    app.extensions["metrics_registry"] = scrape_registry(app)
    app.before_request(_started)
    app.after_request(_observe)
