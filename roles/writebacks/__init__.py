"""Writeback commands as status resources: `GET /api/v1/writebacks[/{id}]`, the caller's own only."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from access.policy import NotInScope, Role
from app.auth import RoleBlueprint, current_principal
from app.paging import invalid_cursor
from app.writebacks import find, store
from roles.writebacks import schemas
from store import Command, InvalidCursor

blp = RoleBlueprint(
    "writebacks",
    __name__,
    url_prefix="/api/v1/writebacks",
    description="Status of the caller's changes to SAP (writeback commands)",
)


@blp.route("")
class Writebacks(MethodView):
    @blp.role_required()
    @blp.arguments(schemas.WritebackQueryArgsSchema, location="query", as_kwargs=True)
    @blp.response(200, schemas.WritebackPageSchema)
    def get(self, **args: Any) -> dict[str, Any]:
        """The caller's own writeback commands, newest first"""
        try:
            page = store().list_for_user(
                current_principal().user_name, status=args.get("status"), limit=args["limit"], cursor=args.get("cursor")
            )
        except InvalidCursor:
            invalid_cursor()
        return {"items": page.items, "next_cursor": page.next_cursor}


@blp.route("/<string:writeback_id>")
class WritebackById(MethodView):
    @blp.role_required()
    @blp.response(200, schemas.WritebackSchema)
    @blp.alt_response(404, description="No such writeback of the caller")
    def get(self, writeback_id: str) -> Command:
        """One writeback: its status, attempts and SAP's message

        Status: accepted, running, succeeded, rejected, conflict, dead or discarded.
        """
        principal = current_principal()
        command = find(writeback_id)
        # Someone else's command is as invisible as a missing one; the integration admin sees every one.
        if command.requested_by != principal.user_name and not principal.has(Role.INTEGRATION_ADMIN):
            raise NotInScope(f"writeback {writeback_id!r}")
        return command
