"""Executive: the approval queue (SAP's workflow inbox) and the business object behind each task."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask.views import MethodView

from access.policy import Role
from app.auth import RoleBlueprint, current_principal
from app.errors import DOMAIN_ERRORS, ErrorSchema, describe, error_body
from app.paging import QUERY_ARGS, PageArgsSchema, page_request
from app.writebacks import accepted, idempotency_key, replay, store, submit
from roles.common import IDEMPOTENCY_KEY_PARAMETER, page_result
from roles.executive import commands, count_schemas, counts, schemas, service
from roles.writebacks.schemas import WritebackSchema
from store import Page, Status
from workers.commands import CommandType

COMMAND_RESPONSES = {"description": "Accepted: poll the writeback in Location"}

blp = RoleBlueprint(
    "approvals", __name__, url_prefix="/api/v1/approvals", description="Executive: the caller's approval queue"
)


@blp.route("")
class Approvals(MethodView):
    @blp.role_required(Role.EXECUTIVE, sap=True)
    @blp.doc(operationId="listApprovals")
    @blp.etag
    @blp.arguments(schemas.ApprovalQueryArgsSchema, **QUERY_ARGS)
    @blp.response(200, schemas.ApprovalPageSchema)
    def get(self, **args: Any) -> dict[str, Any]:
        """The caller's open approval tasks, newest first unless `sort` says otherwise"""
        paging = page_request(args)
        page = service.list_approvals(
            current_app.extensions["sap"],
            current_principal(),
            task_types=args.get("task_type", ()),
            priorities=args.get("priority", ()),
            search=args.get("search", ""),
            overdue=args.get("overdue"),
            escalated=args.get("escalated"),
            sort=args["sort"],
            limit=paging.limit,
            after=paging.after,
            count=paging.include_total,
        )
        return page_result(page, paging)


@blp.route("/decided")
class DecidedApprovals(MethodView):
    @blp.role_required(Role.EXECUTIVE)
    @blp.doc(operationId="listDecidedApprovals")
    @blp.etag
    @blp.arguments(PageArgsSchema, **QUERY_ARGS)
    @blp.response(200, schemas.DecidedApprovalPageSchema)
    def get(self, **args: Any) -> dict[str, Any]:
        """The tasks the caller decided through this API and SAP took, newest first

        From our record of the caller's decisions (writebacks of type task.decision that succeeded), with the
        decision, the comment and the task's title as it was then: no SAP call. Decisions made elsewhere (in
        SAP's own inbox) are not listed; /approvals/{id} shows SAP's record of any completed task.
        """
        paging = page_request(args)
        user, decision, succeeded = current_principal().user_name, CommandType.TASK_DECISION, Status.SUCCEEDED
        page = store().list_for_user_of_type(
            user, decision, status=succeeded, limit=paging.limit, cursor=paging.store_cursor
        )
        entries = Page([service.decided(command) for command in page.items], page.next_cursor)
        return paging.store_page(entries, lambda: store().count_for_user_of_type(user, decision, status=succeeded))


@blp.route("/<string:approval_id>")
class ApprovalById(MethodView):
    @blp.role_required(Role.EXECUTIVE, sap=True)
    @blp.doc(operationId="getApproval")
    @blp.etag
    @blp.response(200, schemas.ApprovalDetailSchema)
    @blp.alt_response(404, schema=ErrorSchema, description="No such task in the caller's inbox")
    def get(self, approval_id: str) -> service.Approval:
        """One task with its attached objects and a summary of its business object (items, suppliers, accounting,
        amounts, requester, dates); once completed, what was decided

        A task the caller completed stays readable here (SAP keeps it for its processor) with `decision` from
        SAP's workflow log.
        """
        return service.get_approval(current_app.extensions["sap"], current_principal(), approval_id)


@blp.route("/<string:approval_id>/decision-options")
class DecisionOptions(MethodView):
    @blp.role_required(Role.EXECUTIVE, sap=True)
    @blp.doc(operationId="listDecisionOptions")
    @blp.etag
    @blp.response(200, schemas.DecisionOptionsSchema)
    @blp.alt_response(404, schema=ErrorSchema, description="No such task in the caller's inbox")
    def get(self, approval_id: str) -> dict[str, Any]:
        """The decisions SAP offers for this task (approve, reject, ...) and whether a comment is required"""
        return {"items": service.decision_options(current_app.extensions["sap"], current_principal(), approval_id)}


def _submit_decision(approval_id: str, decision: str, comment: str, key: str) -> Any:
    target = ("Task", approval_id)
    asked = {"decision": decision, "comments": comment}
    if existing := replay(current_principal(), key, CommandType.TASK_DECISION, target, asked):
        return existing
    payload = commands.prepare_decision(
        current_app.extensions["sap"], current_principal(), approval_id, decision, comment
    )
    return submit(
        current_principal(), Role.EXECUTIVE, CommandType.TASK_DECISION, ("Task", approval_id), dict(payload), key
    )


@blp.route("/<string:approval_id>/decision")
class Decision(MethodView):
    @blp.role_required(Role.EXECUTIVE, sap=True)
    @blp.doc(operationId="decideApproval")
    @blp.doc(parameters=[IDEMPOTENCY_KEY_PARAMETER])
    @blp.arguments(schemas.DecisionSchema)
    @blp.response(202, WritebackSchema, **COMMAND_RESPONSES)
    @blp.alt_response(404, schema=ErrorSchema, description="No such task in the caller's inbox")
    @blp.alt_response(409, schema=ErrorSchema, description="The task is no longer open in SAP")
    @blp.alt_response(422, schema=ErrorSchema, description="A comment is mandatory, or SAP offers no such decision")
    def post(self, body: dict[str, str], approval_id: str) -> Any:
        """Approve or reject a task (needs an Idempotency-Key); SAP's DecisionKey comes from its options"""
        key = idempotency_key()
        return accepted(_submit_decision(approval_id, body["decision"], body["comment"], key))


@blp.route("/decisions")
class MassDecision(MethodView):
    @blp.role_required(Role.EXECUTIVE, sap=True)
    @blp.doc(operationId="decideApprovals")
    @blp.doc(parameters=[IDEMPOTENCY_KEY_PARAMETER])
    @blp.arguments(schemas.MassDecisionSchema)
    @blp.response(200, schemas.MassDecisionResultsSchema)
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Decide many tasks in one call; each item is its own command with its own result

        Item i uses the idempotency key `<Idempotency-Key>:<task id>`, so re-sending the same batch is safe.
        """
        key = idempotency_key()
        results = []
        for item in body["items"]:
            try:
                command = _submit_decision(item["id"], item["decision"], item["comment"], f"{key}:{item['id']}")
            except DOMAIN_ERRORS as exc:
                problem = describe(exc)
                error = error_body(problem.code, problem.message, problem.errors)
                results.append({"id": item["id"], "status": problem.code, "writeback": None, "error": error})
            else:
                results.append({"id": item["id"], "status": 202, "writeback": command, "error": None})
        return {"results": results}


def _task_action(approval_id: str, action: str, type_: CommandType) -> Any:
    key = idempotency_key()
    if existing := replay(current_principal(), key, type_, ("Task", approval_id), {}):
        return accepted(existing)
    payload = commands.prepare_task_action(current_app.extensions["sap"], current_principal(), approval_id, action)
    return accepted(submit(current_principal(), Role.EXECUTIVE, type_, ("Task", approval_id), dict(payload), key))


@blp.route("/<string:approval_id>/claim")
class Claim(MethodView):
    @blp.role_required(Role.EXECUTIVE, sap=True)
    @blp.doc(operationId="claimApproval")
    @blp.doc(parameters=[IDEMPOTENCY_KEY_PARAMETER])
    @blp.response(202, WritebackSchema, **COMMAND_RESPONSES)
    @blp.alt_response(404, schema=ErrorSchema, description="No such task in the caller's inbox")
    @blp.alt_response(409, schema=ErrorSchema, description="The task cannot be claimed")
    def post(self, approval_id: str) -> Any:
        """Claim a task (reserve it for the caller)"""
        return _task_action(approval_id, "claim", CommandType.TASK_CLAIM)


@blp.route("/<string:approval_id>/release")
class Release(MethodView):
    @blp.role_required(Role.EXECUTIVE, sap=True)
    @blp.doc(operationId="releaseApproval")
    @blp.doc(parameters=[IDEMPOTENCY_KEY_PARAMETER])
    @blp.response(202, WritebackSchema, **COMMAND_RESPONSES)
    @blp.alt_response(404, schema=ErrorSchema, description="No such task in the caller's inbox")
    @blp.alt_response(409, schema=ErrorSchema, description="The task cannot be released")
    def post(self, approval_id: str) -> Any:
        """Release a claimed task back to all its potential processors"""
        return _task_action(approval_id, "release", CommandType.TASK_RELEASE)


@blp.route("/<string:approval_id>/forward")
class Forward(MethodView):
    @blp.role_required(Role.EXECUTIVE, sap=True)
    @blp.doc(operationId="forwardApproval")
    @blp.doc(parameters=[IDEMPOTENCY_KEY_PARAMETER])
    @blp.arguments(schemas.ForwardSchema)
    @blp.response(202, WritebackSchema, **COMMAND_RESPONSES)
    @blp.alt_response(404, schema=ErrorSchema, description="No such task in the caller's inbox")
    @blp.alt_response(409, schema=ErrorSchema, description="The task cannot be forwarded")
    @blp.alt_response(422, schema=ErrorSchema, description="Forwarding to oneself")
    def post(self, body: dict[str, str], approval_id: str) -> Any:
        """Forward a task to another SAP user"""
        key = idempotency_key()
        asked = {"forward_to": body["to_user"].upper()}
        if existing := replay(current_principal(), key, CommandType.TASK_FORWARD, ("Task", approval_id), asked):
            return accepted(existing)
        payload = commands.prepare_forward(
            current_app.extensions["sap"], current_principal(), approval_id, body["to_user"]
        )
        command = submit(
            current_principal(), Role.EXECUTIVE, CommandType.TASK_FORWARD, ("Task", approval_id), dict(payload), key
        )
        return accepted(command)


@blp.route("/counts")
class ApprovalCounts(MethodView):
    @blp.role_required(Role.EXECUTIVE, sap=True)
    @blp.doc(operationId="getApprovalCounts")
    @blp.etag
    @blp.response(200, count_schemas.ApprovalCountsSchema)
    def get(self) -> counts.OpenTaskCounts:
        """Badge counts of the caller's open tasks: total, by priority, overdue, escalated

        SAP counts each number (`$count`, as the caller, like the list); no task is listed, so polling is cheap.
        The ETag changes only when a number does: poll with If-None-Match.
        """
        return counts.approval_counts(current_app.extensions["sap"], current_principal())
