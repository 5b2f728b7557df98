"""Executive: the approval queue (SAP's workflow inbox) and the business object behind each task."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask.views import MethodView

from app.auth import RoleBlueprint, current_principal
from app.paging import page_request
from roles.common import page_result
from roles.executive import schemas, service
from roles.policy import Role

blp = RoleBlueprint(
    "approvals", __name__, url_prefix="/api/v1/approvals", description="Executive: the caller's approval queue"
)


@blp.route("")
class Approvals(MethodView):
    @blp.role_required(Role.EXECUTIVE)
    @blp.etag
    @blp.arguments(schemas.ApprovalQueryArgsSchema, location="query", as_kwargs=True)
    @blp.response(200, schemas.ApprovalPageSchema)
    def get(self, **args: Any) -> dict[str, Any]:
        """The caller's open approval tasks, newest first"""
        request = page_request(args)
        page = service.list_approvals(
            current_app.extensions["sap"],
            current_principal(),
            task_types=args.get("task_type", ()),
            priorities=args.get("priority", ()),
            top=request.limit,
            skip=request.skip,
        )
        return page_result(page, request.skip, request.next_cursor)


@blp.route("/<string:approval_id>")
class ApprovalById(MethodView):
    @blp.role_required(Role.EXECUTIVE)
    @blp.etag
    @blp.response(200, schemas.ApprovalDetailSchema)
    @blp.alt_response(404, description="No such task in the caller's inbox")
    def get(self, approval_id: str) -> service.Approval:
        """One task with a summary of its business object (items, amounts, requester, dates)"""
        return service.get_approval(current_app.extensions["sap"], current_principal(), approval_id)


@blp.route("/<string:approval_id>/decision-options")
class DecisionOptions(MethodView):
    @blp.role_required(Role.EXECUTIVE)
    @blp.etag
    @blp.response(200, schemas.DecisionOptionsSchema)
    @blp.alt_response(404, description="No such task in the caller's inbox")
    def get(self, approval_id: str) -> dict[str, Any]:
        """The decisions SAP offers for this task (approve, reject, ...) and whether a comment is required"""
        return {"items": service.decision_options(current_app.extensions["sap"], current_principal(), approval_id)}
