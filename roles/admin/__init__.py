"""Integration admin: the dead-letter list (retry or discard, each audited) and the audit trail."""

from __future__ import annotations

from typing import Any

from flask import current_app, g
from flask.views import MethodView
from flask_smorest import abort

from access.policy import Role
from app.auth import RoleBlueprint, current_principal
from app.errors import ErrorSchema
from app.paging import QUERY_ARGS, page_request
from app.writebacks import accepted, find, store
from roles.admin import schemas
from roles.writebacks.schemas import WritebackSchema
from store import InvalidTransition, Status
from workers.enqueue import enqueue_command

blp = RoleBlueprint(
    "admin", __name__, url_prefix="/api/v1/admin", description="Integration admin: dead letters and the audit trail"
)


@blp.route("/dead-letters")
class DeadLetters(MethodView):
    @blp.role_required(Role.INTEGRATION_ADMIN)
    @blp.doc(operationId="listDeadLetters")
    @blp.etag
    @blp.arguments(schemas.DeadLetterQueryArgsSchema, **QUERY_ARGS)
    @blp.response(200, schemas.DeadLetterPageSchema)
    def get(self, **args: Any) -> dict[str, Any]:
        """Dead letters (out of retries, SAP refused our credentials, unreadable answers), newest first"""
        paging = page_request(args)
        page = store().list_by_status(
            Status.DEAD, type=args.get("type"), limit=paging.limit, cursor=paging.store_cursor
        )
        return paging.store_page(page, lambda: store().count_by_status(Status.DEAD, type=args.get("type")))


@blp.route("/dead-letters/<string:writeback_id>/retry")
class RetryDeadLetter(MethodView):
    @blp.role_required(Role.INTEGRATION_ADMIN)
    @blp.doc(operationId="retryDeadLetter")
    @blp.response(202, WritebackSchema, description="Requeued with a fresh retry budget")
    @blp.alt_response(404, schema=ErrorSchema, description="No such writeback")
    @blp.alt_response(409, schema=ErrorSchema, description="The writeback is not dead")
    def post(self, writeback_id: str) -> Any:
        """Retry a dead letter (audited)"""
        find(writeback_id)
        try:
            command = store().requeue(
                writeback_id, admin=current_principal().user_name, correlation_id=g.get("request_id")
            )
        except InvalidTransition as exc:
            abort(409, message=str(exc))
        enqueue_command(current_app.extensions["redis"], command.id)
        return accepted(command)


@blp.route("/dead-letters/<string:writeback_id>")
class DeadLetter(MethodView):
    @blp.role_required(Role.INTEGRATION_ADMIN)
    @blp.doc(operationId="discardDeadLetter")
    @blp.arguments(schemas.DiscardArgsSchema, **QUERY_ARGS)
    @blp.response(204)
    @blp.alt_response(404, schema=ErrorSchema, description="No such writeback")
    @blp.alt_response(409, schema=ErrorSchema, description="The writeback is not dead")
    def delete(self, writeback_id: str, **args: Any) -> None:
        """Discard a dead letter: it stays in the trail as `discarded` (audited), it is never applied"""
        find(writeback_id)
        try:
            store().discard(
                writeback_id,
                admin=current_principal().user_name,
                reason=args.get("reason"),
                correlation_id=g.get("request_id"),
            )
        except InvalidTransition as exc:
            abort(409, message=str(exc))


@blp.route("/audit")
class Audit(MethodView):
    @blp.role_required(Role.INTEGRATION_ADMIN)
    @blp.doc(operationId="listAuditEvents")
    @blp.etag
    @blp.arguments(schemas.AuditQueryArgsSchema, **QUERY_ARGS)
    @blp.response(200, schemas.AuditPageSchema)
    def get(self, **args: Any) -> dict[str, Any]:
        """The audit trail, newest first; filter by user, object and time"""
        paging = page_request(args)
        filters = {name: args.get(name) for name in ("user", "object", "since", "until")}
        page = store().list_audit(**filters, limit=paging.limit, cursor=paging.store_cursor)
        return paging.store_page(page, lambda: store().count_audit(**filters))
