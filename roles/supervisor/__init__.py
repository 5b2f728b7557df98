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


@blp.route("/<string:work_order_id>/confirmations")
class Confirmations(MethodView):
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
