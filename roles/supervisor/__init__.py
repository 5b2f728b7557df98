"""Supervisor: work orders, i.e. released production-order operations at the caller's work centres."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask.views import MethodView

from access.policy import Role
from app.auth import RoleBlueprint, current_principal
from app.errors import ErrorSchema
from app.paging import QUERY_ARGS, page_request
from app.writebacks import accepted, idempotency_key, replay, submit
from roles.common import IDEMPOTENCY_KEY_PARAMETER, page_result
from roles.supervisor import commands, count_schemas, counts, schemas, service
from roles.writebacks.schemas import WritebackSchema
from workers.commands import CommandType

blp = RoleBlueprint(
    "work_orders",
    __name__,
    url_prefix="/api/v1/work-orders",
    description="Supervisor: released operations at the caller's work centres",
)


@blp.route("")
class WorkOrders(MethodView):
    @blp.role_required(Role.SUPERVISOR, sap=True)
    @blp.doc(operationId="listWorkOrders")
    @blp.etag
    @blp.arguments(schemas.WorkOrderQueryArgsSchema, **QUERY_ARGS)
    @blp.response(200, schemas.WorkOrderPageSchema)
    def get(self, **args: Any) -> dict[str, Any]:
        """Released operations at the caller's work centres, earliest first, with quantities done and to go"""
        paging = page_request(args)
        page = service.list_work_orders(
            current_app.extensions["sap"],
            current_principal(),
            work_centers=args.get("work_center", ()),
            order_id=args.get("order_id"),
            include_confirmed=args["include_confirmed"],
            starts_by=args.get("starts_by"),
            sort=args["sort"],
            limit=paging.limit,
            after=paging.after,
            count=paging.include_total,
        )
        return page_result(page, paging)


@blp.route("/<string:work_order_id>")
class WorkOrderById(MethodView):
    @blp.role_required(Role.SUPERVISOR, sap=True)
    @blp.doc(operationId="getWorkOrder")
    @blp.etag
    @blp.response(200, schemas.WorkOrderSchema)
    @blp.alt_response(404, schema=ErrorSchema, description="No such operation at the caller's work centres")
    def get(self, work_order_id: str) -> service.WorkOrder:
        """One work order (operation) with quantities done and to go"""
        return service.get_work_order(current_app.extensions["sap"], current_principal(), work_order_id)


@blp.route("/scrap-reasons")
class ScrapReasons(MethodView):
    @blp.role_required(Role.SUPERVISOR)
    @blp.doc(operationId="listScrapReasons")
    @blp.etag
    @blp.response(200, schemas.ScrapReasonsSchema)
    def get(self) -> dict[str, Any]:
        """Reasons a supervisor can give for scrap (SAP's reasons for variance)

        SAP publishes no OData API for them (Customizing OPK5): the installation keeps
        roles/supervisor/scrap_reasons.json equal to its SAP system's, and SAP refuses an unknown code.
        """
        return {"items": service.scrap_reasons()}


@blp.route("/<string:work_order_id>/confirmation-proposal")
class ConfirmationProposal(MethodView):
    @blp.role_required(Role.SUPERVISOR, sap=True)
    @blp.doc(operationId="getConfirmationProposal")
    @blp.etag
    @blp.response(200, schemas.ProposalSchema)
    @blp.alt_response(404, schema=ErrorSchema, description="No such operation at the caller's work centres")
    def get(self, work_order_id: str) -> Any:
        """SAP's proposal for the next confirmation (GetConfProposal): prefill the form with it"""
        return service.confirmation_proposal(current_app.extensions["sap"], current_principal(), work_order_id)


@blp.route("/<string:work_order_id>/confirmations")
class Confirmations(MethodView):
    @blp.role_required(Role.SUPERVISOR, sap=True)
    @blp.doc(operationId="listWorkOrderConfirmations")
    @blp.etag
    @blp.response(200, schemas.ConfirmationHistorySchema)
    @blp.alt_response(404, schema=ErrorSchema, description="No such operation at the caller's work centres")
    def get(self, work_order_id: str) -> dict[str, Any]:
        """The operation's confirmations, newest first: who, when, yield, scrap, final, cancelled"""
        history = service.confirmation_history(
            current_app.extensions["sap"], current_app.extensions["store"], current_principal(), work_order_id
        )
        return {"items": history}

    @blp.role_required(Role.SUPERVISOR, sap=True)
    @blp.doc(operationId="confirmWorkOrder")
    @blp.doc(parameters=[IDEMPOTENCY_KEY_PARAMETER])
    @blp.arguments(schemas.ConfirmationSchema)
    @blp.response(202, WritebackSchema, description="Accepted: poll the writeback in Location")
    @blp.alt_response(404, schema=ErrorSchema, description="No such operation at the caller's work centres")
    @blp.alt_response(409, schema=ErrorSchema, description="The operation is not released, or already final")
    @blp.alt_response(422, schema=ErrorSchema, description="Wrong unit, nothing to confirm, or more than still to go")
    def post(self, body: dict[str, Any], work_order_id: str) -> Any:
        """Confirm yield and scrap (partial or final); needs an Idempotency-Key

        The writeback's id travels to SAP as ExternalSystemConfirmation, so it is posted at most once.
        """
        key = idempotency_key()
        settings = current_app.extensions["settings"]
        order_id, operation = service.split_id(work_order_id)
        if existing := replay(
            current_principal(),
            key,
            CommandType.OPERATION_CONFIRM,
            ("ProductionOrder", order_id),
            commands.asked_fields(operation, body),
        ):
            return accepted(existing)
        payload = commands.prepare_confirmation(
            current_app.extensions["sap"],
            current_principal(),
            work_order_id,
            yield_quantity=body["yield_quantity"],
            scrap_quantity=body["scrap_quantity"],
            unit=body["unit"],
            is_final=body["final"],
            text=body["text"],
            scrap_reason=body["scrap_reason"],
            allow_over_confirmation=settings.allow_over_confirmation,
        )
        command = submit(
            current_principal(),
            Role.SUPERVISOR,
            CommandType.OPERATION_CONFIRM,
            ("ProductionOrder", payload["order_id"]),
            dict(payload),
            key,
        )
        return accepted(command)


@blp.route("/<string:work_order_id>/confirmations/<string:confirmation_id>/cancellation")
class Cancellation(MethodView):
    @blp.role_required(Role.SUPERVISOR, sap=True)
    @blp.doc(operationId="cancelWorkOrderConfirmation")
    @blp.doc(parameters=[IDEMPOTENCY_KEY_PARAMETER])
    @blp.arguments(schemas.CancellationSchema)
    @blp.response(202, WritebackSchema, description="Accepted: poll the writeback in Location")
    @blp.alt_response(404, schema=ErrorSchema, description="No such confirmation of this work order")
    @blp.alt_response(409, schema=ErrorSchema, description="Cancelled already, or itself a cancellation")
    def post(self, body: dict[str, Any], work_order_id: str, confirmation_id: str) -> Any:
        """Undo a confirmation (SAP's CancelProdnOrdConf); needs an Idempotency-Key

        Any supervisor of the operation's work centre may cancel, not only the one who confirmed: the audit trail
        and the history say who did what. SAP posts a reversal and the confirmed quantities go back; the
        writeback's id travels as the reversal's ExternalSystemConfirmation, so it is posted at most once.
        """
        key = idempotency_key()
        order_id, operation = service.split_id(work_order_id)
        target = ("ProductionOrder", order_id)
        group, count = service.split_confirmation_id(confirmation_id)
        asked = {"operation": operation, "confirmation_group": group, "confirmation_count": count, "text": body["text"]}
        if existing := replay(current_principal(), key, CommandType.CONFIRMATION_CANCEL, target, asked):
            return accepted(existing)
        payload = commands.prepare_cancellation(
            current_app.extensions["sap"], current_principal(), work_order_id, confirmation_id, text=body["text"]
        )
        command = submit(
            current_principal(), Role.SUPERVISOR, CommandType.CONFIRMATION_CANCEL, target, dict(payload), key
        )
        return accepted(command)


@blp.route("/counts")
class WorkOrderCounts(MethodView):
    @blp.role_required(Role.SUPERVISOR, sap=True)
    @blp.doc(operationId="getWorkOrderCounts")
    @blp.etag
    @blp.arguments(count_schemas.WorkOrderCountsQueryArgsSchema, **QUERY_ARGS)
    @blp.response(200, count_schemas.WorkOrderCountsSchema)
    def get(self, **args: Any) -> counts.WorkOrderCounts:
        """Badge counts at the caller's work centres: open operations, and those to confirm today

        SAP counts each number (`$count`); no operation is listed. `today` is the calendar day in `tz` (default UTC).
        """
        return counts.work_order_counts(
            current_app.extensions["sap"],
            current_principal(),
            work_centers=args.get("work_center", ()),
            time_zone=args["tz"],
        )
