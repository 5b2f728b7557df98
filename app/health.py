"""Liveness and readiness: /health/live (process up) and /health/ready (Redis, database, SAP)."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from threading import Lock
from typing import Any

import marshmallow as ma
import structlog
from flask import current_app, jsonify
from flask.typing import ResponseReturnValue
from flask_smorest import Blueprint

from app.errors import ErrorSchema, error_body
from odata_clients.probe import destination_reachable
from store.db import ping as ping_database

log = structlog.get_logger(__name__)
CACHE_SECONDS = 2.0

blp = Blueprint("health", __name__, url_prefix="/health", description="Liveness and readiness probes")


class LiveSchema(ma.Schema):
    status = ma.fields.String(required=True, validate=ma.validate.OneOf(["up"]), metadata={"example": "up"})


class ReadySchema(ma.Schema):
    status = ma.fields.String(required=True, validate=ma.validate.OneOf(["ready"]), metadata={"example": "ready"})
    checks = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.String(),
        required=True,
        metadata={"example": {"redis": "ok", "database": "ok", "sap": "ok"}},
    )


def _check_redis() -> str | None:
    current_app.extensions["redis"].ping()
    return None


def _check_database() -> str | None:
    ping_database(current_app.extensions["db_engine"])
    return None


def _check_sap() -> str | None:
    timeout = current_app.extensions["settings"].health_timeout
    return destination_reachable(current_app.extensions["sap"].technical_http, timeout)


CHECKS: dict[str, Callable[[], str | None]] = {
    "redis": _check_redis,
    "database": _check_database,
    "sap": _check_sap,
}


def _run(check: Callable[[], str | None], app: Any) -> str:
    with app.app_context():
        try:
            problem = check()
        except Exception as exc:  # a health check reports failures, it never raises them
            # The endpoint is public: name the failure, keep hosts and messages for the log.
            log.warning("health_check_failed", check=check.__name__, error=str(exc)[:300])
            problem = f"unreachable ({type(exc).__name__})"
        return problem or "ok"


def _results(app: Any) -> dict[str, str]:
    """Every check, run in parallel; cached briefly so a public endpoint cannot hammer SAP and the DB.

    One caller refreshes at a time and the others answer the previous results at once: with SAP hung a
    refresh takes HEALTH_TIMEOUT, and every caller queued behind it would hold a web thread that long.
    """
    cache = app.extensions.setdefault("health_cache", {"at": float("-inf"), "results": {}, "lock": Lock()})
    lock = cache["lock"]
    if cache["results"]:
        if not lock.acquire(blocking=False):
            return dict(cache["results"])
    else:
        lock.acquire()  # nothing to answer yet: wait for the first run, which the checks' timeouts bound
    try:
        if time.monotonic() - cache["at"] > CACHE_SECONDS:
            with ThreadPoolExecutor(max_workers=len(CHECKS)) as pool:
                futures = {name: pool.submit(_run, check, app) for name, check in CHECKS.items()}
                cache["results"] = {name: future.result() for name, future in futures.items()}
            cache["at"] = time.monotonic()
        return dict(cache["results"])
    finally:
        lock.release()


@blp.route("/live")
@blp.doc(operationId="getLiveness")
@blp.response(200, LiveSchema)
def live() -> dict[str, str]:
    """Process is up (no dependency is checked)"""
    return {"status": "up"}


@blp.route("/ready")
@blp.doc(operationId="getReadiness")
@blp.response(200, ReadySchema)
@blp.alt_response(503, schema=ErrorSchema, description="A dependency is down; `errors` names each one")
def ready() -> ResponseReturnValue:
    """Redis, the database and SAP are reachable"""
    results = _results(current_app._get_current_object())  # type: ignore[attr-defined]
    down = {name: result for name, result in results.items() if result != "ok"}
    if down:
        response = jsonify(error_body(503, f"not ready: {', '.join(down)} down", down))
        response.status_code = 503
        response.headers["Retry-After"] = "10"
        return response
    return {"status": "ready", "checks": results}
