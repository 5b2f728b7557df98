"""Integration admin: the dead-letter list (retry or discard, each audited), the audit trail, outbound webhooks."""

from __future__ import annotations

from typing import Any

from flask import current_app, g
from flask.views import MethodView
from flask_smorest import abort

from access.errors import StateConflict
from access.policy import NotInScope, Role
from app.auth import RoleBlueprint, current_principal
from app.errors import ErrorSchema
from app.paging import QUERY_ARGS, page_request
from app.writebacks import accepted, find, store
from roles.admin import schemas
from roles.writebacks.schemas import WritebackSchema
from store import DeliveryNotFound, InvalidDeliveryTransition, InvalidTransition, Status, Webhook, Webhooks
from workers.enqueue import enqueue_command
from workers.webhooks import enqueue_delivery

blp = RoleBlueprint(
    "admin",
    __name__,
    url_prefix="/api/v1/admin",
    description="Integration admin: dead letters, the audit trail and outbound webhooks",
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


# -- outbound webhooks ----------------------------------------------------------------------------------------


def webhooks() -> Webhooks:
    return Webhooks(store().engine)


def _audit(event: str, webhook_id: str, detail: dict[str, Any]) -> None:
    """Webhook changes go to the audit trail like the dead-letter actions: who, when, what."""
    store().append(
        event=event,
        actor=current_principal().user_name,
        role=Role.INTEGRATION_ADMIN.value,
        object=f"Webhook:{webhook_id}",
        detail=detail,
        correlation_id=g.get("request_id"),
    )


@blp.route("/webhooks")
class WebhookList(MethodView):
    @blp.role_required(Role.INTEGRATION_ADMIN)
    @blp.doc(operationId="listWebhooks")
    @blp.response(200, schemas.WebhookListSchema)
    def get(self) -> dict[str, Any]:
        """Active outbound webhooks, oldest first (never their secrets)"""
        return {"items": webhooks().list()}

    @blp.role_required(Role.INTEGRATION_ADMIN)
    @blp.doc(operationId="registerWebhook")
    @blp.arguments(schemas.WebhookCreateSchema)
    @blp.response(201, schemas.WebhookCreatedSchema)
    def post(self, body: dict[str, Any]) -> Webhook:
        """Register an outbound webhook; its signing secret is in this answer only (audited)"""
        webhook, _secret = webhooks().register(
            body["url"], body["event_types"], body.get("description"), current_principal().user_name
        )
        _audit("webhook_registered", webhook.id, {"url": webhook.url, "event_types": webhook.event_types})
        return webhook  # WebhookCreatedSchema shows its secret; every other answer leaves it out


@blp.route("/webhooks/<string:webhook_id>")
class WebhookById(MethodView):
    @blp.role_required(Role.INTEGRATION_ADMIN)
    @blp.doc(operationId="deleteWebhook")
    @blp.response(204)
    @blp.alt_response(404, schema=ErrorSchema, description="No such webhook")
    def delete(self, webhook_id: str) -> None:
        """Delete a webhook: nothing more is sent to it and its pending deliveries are cancelled (audited)"""
        found = webhooks().get(webhook_id) if len(webhook_id) <= 64 else None
        if found is None or not found.active:
            raise NotInScope(f"webhook {webhook_id!r}")
        webhooks().deactivate(webhook_id)
        _audit("webhook_deleted", webhook_id, {"url": found.url})


@blp.route("/webhook-deliveries")
class WebhookDeliveries(MethodView):
    @blp.role_required(Role.INTEGRATION_ADMIN)
    @blp.doc(operationId="listWebhookDeliveries")
    @blp.etag
    @blp.arguments(schemas.WebhookDeliveryQueryArgsSchema, **QUERY_ARGS)
    @blp.response(200, schemas.WebhookDeliveryPageSchema)
    def get(self, **args: Any) -> dict[str, Any]:
        """Webhook deliveries, newest first; `status=dead` lists the webhook dead letters"""
        paging = page_request(args)
        filters = {"status": args.get("status"), "webhook_id": args.get("webhook_id")}
        page = webhooks().list_deliveries(**filters, limit=paging.limit, cursor=paging.store_cursor)
        return paging.store_page(page, lambda: webhooks().count_deliveries(**filters))


@blp.route("/webhook-deliveries/<string:delivery_id>/retry")
class RetryWebhookDelivery(MethodView):
    @blp.role_required(Role.INTEGRATION_ADMIN)
    @blp.doc(operationId="retryWebhookDelivery")
    @blp.response(202, schemas.WebhookDeliverySchema, description="Requeued with a fresh attempt budget")
    @blp.alt_response(404, schema=ErrorSchema, description="No such delivery")
    @blp.alt_response(409, schema=ErrorSchema, description="The delivery is not dead, or its webhook was deleted")
    def post(self, delivery_id: str) -> Any:
        """Retry a dead webhook delivery (audited)"""
        try:
            if len(delivery_id) > 64:
                raise DeliveryNotFound(delivery_id)
            delivery = webhooks().requeue(delivery_id)
        except DeliveryNotFound as exc:
            raise NotInScope(f"webhook delivery {delivery_id!r}") from exc
        except InvalidDeliveryTransition as exc:
            raise StateConflict(str(exc)) from exc
        _audit("webhook_delivery_requeued", delivery.webhook_id, {"delivery_id": delivery.id})
        enqueue_delivery(current_app.extensions["redis"], delivery.id)
        return delivery, 202
