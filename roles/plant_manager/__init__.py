"""Plant manager: the production orders of the caller's plants, with operations and status."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask.views import MethodView

from app.auth import RoleBlueprint, current_principal
from app.paging import page_request
from odata_clients.models import ProductionOrder
from roles.common import page_result
from roles.plant_manager import schemas, service
from roles.policy import Role

blp = RoleBlueprint(
    "production_orders",
    __name__,
    url_prefix="/api/v1/production-orders",
    description="Plant manager: production orders of the caller's plants",
)


@blp.route("")
class ProductionOrders(MethodView):
    @blp.role_required(Role.PLANT_MANAGER)
    @blp.etag
    @blp.arguments(schemas.ProductionOrderQueryArgsSchema, location="query", as_kwargs=True)
    @blp.response(200, schemas.ProductionOrderPageSchema)
    def get(self, **args: Any) -> dict[str, Any]:
        """Production orders of the caller's plants; filter by status, material, dates, change time"""
        request = page_request(args)
        page = service.list_orders(
            current_app.extensions["sap"],
            current_principal(),
            plants=args.get("plant", ()),
            status=args.get("status"),
            material=args.get("material"),
            start_from=args.get("start_from"),
            start_to=args.get("start_to"),
            changed_since=args.get("changed_since"),
            sort=args.get("sort", ()),
            top=request.limit,
            skip=request.skip,
        )
        return page_result(page, request.skip, request.next_cursor)


@blp.route("/<string:order_id>")
class ProductionOrderById(MethodView):
    @blp.role_required(Role.PLANT_MANAGER)
    @blp.etag
    @blp.response(200, schemas.ProductionOrderDetailSchema)
    @blp.alt_response(404, description="No such order in the caller's plants")
    def get(self, order_id: str) -> ProductionOrder:
        """One production order with its operations and status"""
        return service.get_order(current_app.extensions["sap"], current_principal(), order_id)
