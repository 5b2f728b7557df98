"""Plant manager: the production orders of the caller's plants, with operations and status."""

from __future__ import annotations

import re
from typing import Any

from flask import current_app, request
from flask.views import MethodView
from flask_smorest import abort

from access.policy import Role
from app.auth import RoleBlueprint, current_principal
from app.errors import ErrorSchema
from app.paging import QUERY_ARGS, page_request
from app.writebacks import accepted, idempotency_key, replay, submit
from roles.common import IDEMPOTENCY_KEY_PARAMETER, IF_MATCH_PARAMETER, page_result
from roles.plant_manager import commands, count_schemas, counts, schemas, service
from roles.writebacks.schemas import WritebackSchema
from workers.commands import CommandType

MAX_ETAG_LENGTH = 255  # what the outbox stores; SAP's ETags are a few dozen characters
# One entity-tag (RFC 9110), as SAP Gateway issues it and sap_etag hands it out, e.g. W/"'20240603101500'".
ETAG = re.compile(r'(?:W/)?"[\x21\x23-\x7e]+"')
ETAG_SHAPE = "one ETag exactly as sap_etag shows it, e.g. W/\"'20240603101500'\""

blp = RoleBlueprint(
    "production_orders",
    __name__,
    url_prefix="/api/v1/production-orders",
    description="Plant manager: production orders of the caller's plants",
)


@blp.route("")
class ProductionOrders(MethodView):
    @blp.role_required(Role.PLANT_MANAGER, sap=True)
    @blp.doc(operationId="listProductionOrders")
    @blp.etag
    @blp.arguments(schemas.ProductionOrderQueryArgsSchema, **QUERY_ARGS)
    @blp.response(200, schemas.ProductionOrderPageSchema)
    def get(self, **args: Any) -> dict[str, Any]:
        """Production orders of the caller's plants; filter by status, exception, material, dates, change time; sort

        `exception` answers "what is late?": the orders behind one badge of `/production-orders/counts`, by the
        badge's own rule, pushed down to SAP (so `include_total=true` gives the badge's number). Each order says
        where it stands in words: `status` (`{"code": "REL", "text": "Released"}`).
        """
        if len(request.args.getlist("exception")) > 1:
            problem = "one exception per request; ask once per badge"
            abort(400, message=f"exception: {problem}", errors={"query": {"exception": [problem]}})
        paging = page_request(args)
        page = service.list_orders(
            current_app.extensions["sap"],
            current_principal(),
            plants=args.get("plant", ()),
            status=args.get("status"),
            material=args.get("material"),
            start_from=args.get("start_from"),
            start_to=args.get("start_to"),
            changed_since=args.get("changed_since"),
            sort=args["sort"],
            limit=paging.limit,
            after=paging.after,
            count=paging.include_total,
            exception=args.get("exception"),
            time_zone=args["tz"],
            due_within_days=args.get("due_within_days"),
        )
        return page_result(page, paging)


@blp.route("/<string:order_id>")
class ProductionOrderById(MethodView):
    @blp.role_required(Role.PLANT_MANAGER, sap=True)
    @blp.doc(operationId="getProductionOrder")
    @blp.etag
    @blp.response(200, schemas.ProductionOrderDetailSchema)
    @blp.alt_response(404, schema=ErrorSchema, description="No such order in the caller's plants")
    def get(self, order_id: str) -> service.OrderDetail:
        """One production order with its operations, status and missing parts

        `missing_components` lists the order's components that miss a part by the rule of the
        `missing_components` badge (read from SAP's components with the order): empty when none does.
        """
        return service.order_detail(current_app.extensions["sap"], current_principal(), order_id)

    @blp.role_required(Role.PLANT_MANAGER, sap=True)
    @blp.doc(operationId="rescheduleProductionOrder")
    @blp.doc(parameters=[IDEMPOTENCY_KEY_PARAMETER, IF_MATCH_PARAMETER])
    @blp.arguments(schemas.RescheduleSchema)
    @blp.response(202, WritebackSchema, description="Accepted: poll the writeback in Location")
    @blp.alt_response(404, schema=ErrorSchema, description="No such order in the caller's plants")
    @blp.alt_response(409, schema=ErrorSchema, description="The order cannot be changed (completed, closed, locked)")
    @blp.alt_response(400, schema=ErrorSchema, description="If-Match is not one ETag as sap_etag shows it, or too long")
    @blp.alt_response(428, schema=ErrorSchema, description="If-Match is missing or `*`: send the order's sap_etag")
    @blp.alt_response(
        412, schema=ErrorSchema, description="The order changed in SAP since it was read: reload it and try again"
    )
    def patch(self, body: dict[str, Any], order_id: str) -> Any:
        """Reschedule: new planned start and/or end; If-Match (the order's sap_etag) is passed on to SAP

        An If-Match that is no longer the order's ETag in SAP is answered 412 at once (reload the order and
        try again); one that goes stale before the change reaches SAP ends the writeback as `conflict` with
        SAP's message. Neither is retried.
        """
        if_match = request.headers.get("If-Match", "").strip()
        if not if_match:
            abort(428, message="send If-Match with the sap_etag of the order you saw, so nobody's change is lost")
        if if_match == "*":
            abort(428, message="send the sap_etag you read; * would overwrite changes you have not seen")
        if len(if_match) > MAX_ETAG_LENGTH:
            abort(400, message=f"If-Match is longer than {MAX_ETAG_LENGTH} characters; send the sap_etag unchanged")
        if not ETAG.fullmatch(if_match):
            abort(400, message=f"If-Match must be {ETAG_SHAPE}")
        key = idempotency_key()
        asked = {
            name: (day.isoformat() if (day := body.get(name)) else None) for name in ("planned_start", "planned_end")
        }
        target = ("ProductionOrder", order_id)
        if existing := replay(current_principal(), key, CommandType.ORDER_RESCHEDULE, target, asked):
            return accepted(existing)
        payload = commands.prepare_reschedule(
            current_app.extensions["sap"],
            current_principal(),
            order_id,
            body.get("planned_start"),
            body.get("planned_end"),
            if_match,
        )
        command = submit(
            current_principal(),
            Role.PLANT_MANAGER,
            CommandType.ORDER_RESCHEDULE,
            ("ProductionOrder", payload["order_id"]),
            dict(payload),
            key,
            if_match=if_match,
        )
        return accepted(command)


@blp.route("/<string:order_id>/release")
class ReleaseOrder(MethodView):
    @blp.role_required(Role.PLANT_MANAGER, sap=True)
    @blp.doc(operationId="releaseProductionOrder")
    @blp.doc(parameters=[IDEMPOTENCY_KEY_PARAMETER])
    @blp.response(202, WritebackSchema, description="Accepted: poll the writeback in Location")
    @blp.alt_response(404, schema=ErrorSchema, description="No such order in the caller's plants")
    @blp.alt_response(409, schema=ErrorSchema, description="Already released, or not changeable")
    def post(self, order_id: str) -> Any:
        """Release a production order (SAP's ReleaseOrder); needs an Idempotency-Key

        SAP checks material availability as it releases. This system is set up to release even when parts are
        missing (SAP's Customizing could also refuse or ask): the writeback then succeeds, and its
        `result.messages` carry SAP's message texts in the order SAP issued them, the availability warning
        ("Availability check: 2 missing part(s) in order 1000123 (RM-BOLT-M8, RM-PCB-100)") before the release
        itself, and `result.message_details` the same messages as `{severity, code, text}` (severity: error,
        warning, info or success). `GET /production-orders?exception=missing_components` lists such orders
        beforehand.
        """
        key = idempotency_key()
        if existing := replay(current_principal(), key, CommandType.ORDER_RELEASE, ("ProductionOrder", order_id), {}):
            return accepted(existing)
        payload = commands.prepare_release(current_app.extensions["sap"], current_principal(), order_id)
        command = submit(
            current_principal(),
            Role.PLANT_MANAGER,
            CommandType.ORDER_RELEASE,
            ("ProductionOrder", payload["order_id"]),
            dict(payload),
            key,
        )
        return accepted(command)


@blp.route("/counts")
class ProductionOrderCounts(MethodView):
    @blp.role_required(Role.PLANT_MANAGER, sap=True)
    @blp.doc(operationId="getProductionOrderCounts")
    @blp.etag
    @blp.arguments(count_schemas.OrderCountsQueryArgsSchema, **QUERY_ARGS)
    @blp.response(200, count_schemas.OrderCountsSchema)
    def get(self, **args: Any) -> counts.OrderCounts:
        """Badge counts of the caller's plants: late to start or finish, due for release, missing parts, in progress

        SAP counts each number (`$count`); no order is listed (`GET /production-orders?exception=<badge>` lists
        them, by the same rule). `today` is the calendar day in `tz` (default UTC). Missing parts are read from the
        orders' components first (SAP's order has no missing-part flag), then the orders counted.
        """
        return counts.order_counts(
            current_app.extensions["sap"],
            current_principal(),
            plants=args.get("plant", ()),
            time_zone=args["tz"],
            due_within_days=args["due_within_days"],
        )
