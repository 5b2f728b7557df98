"""`/metrics`: Prometheus text format, request metrics by route template, outbox and queue numbers from the store."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import redis
from flask import Flask
from prometheus_client.parser import text_string_to_metric_families
from rq import Queue

from app import create_app
from runtime.settings import Settings
from store import Store
from tests.integration.observability.conftest import run_to
from workers import queues

ROOT = Path(__file__).resolve().parents[3]


def scrape(app: Flask) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = app.test_client().get("/metrics")
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain; version=")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.get_data(as_text=True))
        for sample in family.samples
    }


def value(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_requests_are_counted_by_route_template_method_and_status(obs_app: Flask) -> None:
    client = obs_app.test_client()
    before = scrape(obs_app)
    for order in ("1000001", "1000002", "1000003"):
        assert client.get(f"/api/v1/production-orders/{order}").status_code == 401
    client.get(f"/no-such-{uuid.uuid4().hex}")
    after = scrape(obs_app)

    route = {"route": "/api/v1/production-orders/<string:order_id>", "method": "GET"}
    assert (
        value(after, "http_requests_total", **route, status="401")
        - value(before, "http_requests_total", **route, status="401")
        == 3
    )
    assert (
        value(after, "http_request_duration_seconds_count", **route)
        - value(before, "http_request_duration_seconds_count", **route)
        == 3
    )
    assert value(after, "http_requests_total", route="<unmatched>", method="GET", status="404") >= 1
    assert not any("1000001" in dict(labels).get("route", "") for _, labels in after)


def test_outbox_gauges_reflect_the_store(obs_app: Flask, store: Store) -> None:
    for status in ("accepted", "accepted", "running", "succeeded", "dead"):
        run_to(store, status)
    run_to(store, "rejected", "task.decision")

    samples = scrape(obs_app)
    assert value(samples, "writeback_store_up") == 1
    assert value(samples, "writeback_commands", type="operation.confirm", state="accepted") == 2
    assert value(samples, "writeback_commands", type="operation.confirm", state="running") == 1
    assert value(samples, "writeback_commands", type="operation.confirm", state="dead") == 1
    assert value(samples, "writeback_commands", type="task.decision", state="rejected") == 1
    assert value(samples, "writeback_commands", type="order.release", state="accepted") == 0
    assert value(samples, "writeback_waiting") == 2
    assert value(samples, "writeback_dead_letters") == 1
    assert value(samples, "writeback_oldest_waiting_seconds") > 0
    last_success = store.stats().last_success_at
    assert last_success is not None
    assert value(samples, "writeback_last_success_timestamp_seconds") == pytest.approx(last_success.timestamp())
    outcomes = "writeback_attempt_outcomes_window"
    # The store's fake clock lies in the past: outside the window nothing counts.
    assert value(samples, outcomes, type="operation.confirm", outcome="dead") == 0


def test_queue_depth_comes_from_rq(obs_app: Flask, redis_url: str) -> None:
    connection = redis.Redis.from_url(redis_url)
    queue = Queue(queues.WRITEBACKS, connection=connection)
    before = value(scrape(obs_app), "writeback_queue_jobs", queue=queues.WRITEBACKS, state="queued")
    job = queue.enqueue("workers.jobs.apply_command", "x", job_id=f"metrics-test-{uuid.uuid4().hex}")
    try:
        samples = scrape(obs_app)
        assert value(samples, "writeback_queue_jobs", queue=queues.WRITEBACKS, state="queued") == before + 1
        assert value(samples, "writeback_queue_up") == 1
    finally:
        job.delete()


def test_an_unreachable_store_and_redis_do_not_fail_the_scrape(obs_settings: Settings, tmp_path: Path) -> None:
    app = create_app(
        obs_settings,
        database_url=f"sqlite:///{tmp_path / 'never-migrated.db'}",
        redis_url="redis://127.0.0.1:1/0",
        health_timeout=0.5,
    )
    samples = scrape(app)
    assert value(samples, "writeback_store_up") == 0
    assert value(samples, "writeback_queue_up") == 0


_CHILD = """
import sys
from app import create_app
from runtime.settings import Settings
app = create_app(Settings(database_url=sys.argv[1], redis_url="redis://127.0.0.1:1/0", log_level="WARNING"))
client = app.test_client()
for _ in range(int(sys.argv[2])):
    assert client.get("/health/live").status_code == 200
from odata_clients import metrics
metrics.SAP_CIRCUIT_STATE.labels("s4").set(int(sys.argv[3]))
"""


def test_multiprocess_mode_adds_up_every_process(obs_settings: Settings, store: Store, tmp_path: Path) -> None:
    """Two processes (as gunicorn workers) write to one directory; one scrape sees both, once each."""
    directory = tmp_path / "prom"
    directory.mkdir()
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(directory)}
    for requests_made, breaker in ((3, 0), (4, 2)):
        subprocess.run(
            [sys.executable, "-c", _CHILD, obs_settings.database_url, str(requests_made), str(breaker)],
            cwd=ROOT,
            env=env,
            check=True,
            timeout=60,
        )
    run_to(store, "dead")
    app = create_app(obs_settings, prometheus_multiproc_dir=str(directory))
    samples = scrape(app)
    live = {"route": "/health/live", "method": "GET", "status": "200"}
    assert value(samples, "http_requests_total", **live) == 7
    # The children have exited but were never marked dead (no gunicorn here): livemax still shows them.
    assert value(samples, "sap_circuit_state", destination="s4") == 2
    assert value(samples, "writeback_dead_letters") == 1  # the store is read once, not once per process
