"""`GET /api/v1/admin/integration-health`: what an on-call person needs at a glance (IntegrationAdmin)."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
import structlog
from flask import current_app
from flask.views import MethodView

from access.policy import Role
from app.api import enum_component
from app.auth import RoleBlueprint
from odata_clients.resilience import BreakerState
from store import Status, Store
from workers.commands import CommandType
from workers.health import FlowHealth, queue_stats, snapshot
from workers.watchdog import active_incidents, last_probe

log = structlog.get_logger(__name__)

blp = RoleBlueprint(
    "integration_health",
    __name__,
    url_prefix="/api/v1/admin/integration-health",
    description="Integration admin: health of every writeback flow, the queue and SAP",
)


class BacklogSchema(ma.Schema):
    accepted = ma.fields.Integer(required=True, metadata={"description": "Waiting for a worker (incl. retries)"})
    running = ma.fields.Integer(required=True, metadata={"example": 1})
    in_doubt = ma.fields.Integer(
        required=True,
        metadata={"description": "Sent to SAP without an answer: SAP is being asked whether they landed"},
    )


class FlowSchema(ma.Schema):
    type = ma.fields.String(
        required=True,
        validate=ma.validate.OneOf([command_type.value for command_type in CommandType]),
        metadata={"example": "operation.confirm", **enum_component("WritebackType")},
    )
    last_success_at = ma.fields.AwareDateTime(allow_none=True, required=True)
    backlog = ma.fields.Nested(BacklogSchema, required=True)
    attempts = ma.fields.Integer(required=True, metadata={"description": "Attempts that ended within the window"})
    errors = ma.fields.Integer(
        required=True, metadata={"description": "Of those, failed, rejected or dead (conflicts are not errors)"}
    )
    error_rate = ma.fields.Float(allow_none=True, required=True, metadata={"example": 0.05})
    dead_letters = ma.fields.Integer(required=True, metadata={"example": 0})
    counts = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.Integer(),
        required=True,
        metadata={"description": "Commands by state", "example": {"succeeded": 120, "accepted": 2}},
    )


class QueueSchema(ma.Schema):
    name = ma.fields.String(required=True, metadata={"example": "writebacks"})
    queued = ma.fields.Integer(required=True)
    scheduled = ma.fields.Integer(required=True, metadata={"description": "Retries waiting for their time"})
    started = ma.fields.Integer(required=True)
    failed = ma.fields.Integer(required=True)
    workers = ma.fields.Integer(required=True, metadata={"description": "RQ workers listening"})


class BreakerSchema(ma.Schema):
    destination = ma.fields.String(required=True, metadata={"example": "s4"})
    state = ma.fields.String(
        required=True,
        validate=ma.validate.OneOf([state.name.lower() for state in BreakerState]),
        metadata={"description": "In this web process: closed, half_open or open", "example": "closed"},
    )


class SapProbeSchema(ma.Schema):
    at = ma.fields.String(required=True, metadata={"description": "When the watchdog last probed SAP"})
    reachable = ma.fields.Boolean(required=True)
    reason = ma.fields.String(allow_none=True, required=True)


class AlertSchema(ma.Schema):
    alert = ma.fields.String(required=True, metadata={"example": "WritebackDeadLetters"})
    since = ma.fields.String(required=True)
    summary = ma.fields.String(load_default=None)
    notified = ma.fields.Boolean(required=True)


class IntegrationHealthSchema(ma.Schema):
    status = ma.fields.String(
        required=True,
        validate=ma.validate.OneOf(["ok", "attention"]),
        metadata={
            "description": "ok, or attention when an alert is open or the queue or store cannot be read",
            "example": "ok",
        },
    )
    generated_at = ma.fields.AwareDateTime(required=True)
    error_rate_window_seconds = ma.fields.Float(required=True, metadata={"example": 900})
    waiting = ma.fields.Integer(required=True)
    oldest_waiting_seconds = ma.fields.Float(allow_none=True, required=True)
    last_success_at = ma.fields.AwareDateTime(allow_none=True, required=True)
    dead_letters = ma.fields.Integer(required=True)
    flows = ma.fields.List(ma.fields.Nested(FlowSchema), required=True)
    queues = ma.fields.List(
        ma.fields.Nested(QueueSchema), allow_none=True, required=True, metadata={"description": "null: Redis down"}
    )
    breakers = ma.fields.List(ma.fields.Nested(BreakerSchema), required=True)
    sap_probe = ma.fields.Nested(SapProbeSchema, allow_none=True, required=True)
    alerts = ma.fields.List(
        ma.fields.Nested(AlertSchema),
        allow_none=True,
        required=True,
        metadata={"description": "Incidents the watchdog has open; null: Redis down"},
    )


def _flow(flow: FlowHealth) -> dict[str, Any]:
    return {
        "type": flow.type,
        "last_success_at": flow.last_success_at,
        "backlog": {
            "accepted": flow.counts.get(Status.ACCEPTED, 0),
            "running": flow.counts.get(Status.RUNNING, 0),
            "in_doubt": flow.counts.get(Status.IN_DOUBT, 0),
        },
        "attempts": flow.attempts,
        "errors": flow.errors,
        "error_rate": flow.error_rate,
        "dead_letters": flow.dead_letters,
        "counts": dict(sorted(flow.counts.items())),
    }


def _breakers() -> list[dict[str, str]]:
    sap = current_app.extensions["sap"]
    seen: dict[str, str] = {}
    for http in (sap.technical_http, sap.user_http):
        seen[http.destination.name] = BreakerState(http.breaker.state).name.lower()
    return [{"destination": name, "state": state} for name, state in seen.items()]


def _store() -> Store:
    store = current_app.extensions.get("store")
    return store if isinstance(store, Store) else Store(current_app.extensions["db_engine"])


@blp.route("")
class IntegrationHealth(MethodView):
    @blp.role_required(Role.INTEGRATION_ADMIN)
    @blp.doc(operationId="getIntegrationHealth")
    @blp.etag
    @blp.response(200, IntegrationHealthSchema)
    def get(self) -> dict[str, Any]:
        """Per flow: last success, backlog, error rate, dead letters; the queue, SAP's breakers and open alerts"""
        settings = current_app.extensions["settings"]
        snap = snapshot(_store(), settings.alert_error_rate_window, types=list(CommandType))
        connection = current_app.extensions["redis"]
        queues: list[Any] | None
        alerts: list[dict[str, Any]] | None
        probe: dict[str, Any] | None
        try:
            queues = queue_stats(connection)
            alerts = [{"alert": name, **incident} for name, incident in sorted(active_incidents(connection).items())]
            probe = last_probe(connection)
        except Exception as exc:  # Redis down is something to show here, not a reason to fail the whole view
            log.warning("integration_health_redis_failed", error=type(exc).__name__)
            queues, alerts, probe = None, None, None
        attention = queues is None or bool(alerts) or snap.dead_letters > 0
        return {
            "status": "attention" if attention else "ok",
            "generated_at": snap.at,
            "error_rate_window_seconds": snap.window_seconds,
            "waiting": snap.waiting,
            "oldest_waiting_seconds": snap.oldest_waiting_seconds,
            "last_success_at": snap.last_success_at,
            "dead_letters": snap.dead_letters,
            "flows": [_flow(flow) for flow in snap.flows.values()],
            "queues": queues,
            "breakers": _breakers(),
            "sap_probe": probe,
            "alerts": alerts,
        }
