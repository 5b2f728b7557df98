"""Writeback commands as status resources: `GET /api/v1/writebacks[/{id}]`, the caller's own only."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from flask import Response, after_this_request
from flask.views import MethodView

from access.policy import NotInScope, Role
from app.auth import RoleBlueprint, current_principal
from app.errors import ErrorSchema
from app.paging import QUERY_ARGS, page_request
from app.writebacks import find, store
from roles.writebacks import schemas
from store import Command, Status

# How soon polling a writeback that is not final is worth it: a worker usually takes it within a second;
# a scheduled retry or in-doubt check is not looked at again before its time, and never more than a minute.
MIN_POLL_SECONDS = 1
MAX_POLL_SECONDS = 60
RETRY_AFTER_HEADER = {
    "Retry-After": {
        "description": "While the writeback is not final (accepted, running, in_doubt): seconds until polling "
        "again is worth it (the next retry or in-doubt check, else 1; at most 60). Absent once final. A 304 "
        "carries it too.",
        "schema": {"type": "integer", "minimum": MIN_POLL_SECONDS, "maximum": MAX_POLL_SECONDS},
    }
}
# Replaces flask-smorest's shared NOT_MODIFIED response for this operation only: its 304 has a header more.
NOT_MODIFIED_WITH_RETRY_AFTER = {
    "description": "Not Modified: the writeback is as the If-None-Match ETag says",
    "headers": {"ETag": "ETAG", **RETRY_AFTER_HEADER},  # "ETAG": the shared ETag header component
}

blp = RoleBlueprint(
    "writebacks",
    __name__,
    url_prefix="/api/v1/writebacks",
    description="Status of the caller's changes to SAP (writeback commands)",
)


@blp.route("")
class Writebacks(MethodView):
    @blp.role_required()
    @blp.doc(operationId="listWritebacks")
    @blp.etag
    @blp.arguments(schemas.WritebackQueryArgsSchema, **QUERY_ARGS)
    @blp.response(200, schemas.WritebackPageSchema)
    def get(self, **args: Any) -> dict[str, Any]:
        """The caller's own writeback commands, newest first"""
        paging = page_request(args)
        user, status = current_principal().user_name, args.get("status")
        page = store().list_for_user(user, status=status, limit=paging.limit, cursor=paging.store_cursor)
        return paging.store_page(page, lambda: store().count_for_user(user, status=status))


@blp.route("/<string:writeback_id>")
class WritebackById(MethodView):
    @blp.role_required()
    @blp.doc(operationId="getWritebackStatus")
    @blp.etag
    @blp.doc(responses={304: NOT_MODIFIED_WITH_RETRY_AFTER})
    @blp.response(200, schemas.WritebackSchema, headers=RETRY_AFTER_HEADER)
    @blp.alt_response(404, schema=ErrorSchema, description="No such writeback of the caller")
    def get(self, writeback_id: str) -> Command:
        """One writeback: its status, attempts and SAP's message

        Status: accepted, running, in_doubt, succeeded, rejected, conflict, dead or discarded. Poll with
        If-None-Match (304 while nothing changed) and no sooner than Retry-After says while it is not final.
        """
        principal = current_principal()
        command = find(writeback_id)
        # Someone else's command is as invisible as a missing one; the integration admin sees every one.
        if command.requested_by != principal.user_name and not principal.has(Role.INTEGRATION_ADMIN):
            raise NotInScope(f"writeback {writeback_id!r}")
        seconds = poll_again_after(command, dt.datetime.now(dt.UTC))
        if seconds is not None:
            # On whatever response this request ends with: flask-smorest raises its 304 after the view returns.
            @after_this_request
            def add_retry_after(response: Response) -> Response:
                response.headers["Retry-After"] = str(seconds)
                return response

        return command


def poll_again_after(command: Command, now: dt.datetime) -> int | None:
    """Seconds until a poll may show something new; None once the command is final."""
    if command.is_terminal:
        return None
    due = command.next_attempt_at
    if due is None or command.status is Status.RUNNING:
        return MIN_POLL_SECONDS
    wait = math.ceil((due - now).total_seconds())
    return max(MIN_POLL_SECONDS, min(MAX_POLL_SECONDS, wait))
