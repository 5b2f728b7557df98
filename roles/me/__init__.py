"""`GET /api/v1/me`: who the caller is, as the API sees them."""

from __future__ import annotations

import marshmallow as ma
from flask.views import MethodView

from access.policy import Role
from app.api import enum_component
from app.auth import RoleBlueprint, current_principal

blp = RoleBlueprint("me", __name__, url_prefix="/api/v1/me", description="The authenticated caller")


class MeSchema(ma.Schema):
    user = ma.fields.String(required=True, metadata={"example": "anna.berg"})
    email = ma.fields.String(allow_none=True, metadata={"example": "anna.berg@example.com"})
    roles = ma.fields.List(
        ma.fields.String(validate=ma.validate.OneOf([role.value for role in Role]), metadata=enum_component("Role")),
        required=True,
        metadata={"example": ["PlantManager"]},
    )
    role_collections = ma.fields.List(ma.fields.String(), required=True, metadata={"example": ["PlantManager"]})
    attributes = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.List(ma.fields.String()),
        required=True,
        metadata={"example": {"Plant": ["1010"], "WorkCenter": []}},
    )


@blp.route("")
class Me(MethodView):
    @blp.role_required()
    @blp.doc(operationId="getMe")
    @blp.etag
    @blp.response(200, MeSchema)
    def get(self) -> dict[str, object]:
        """The caller's user, roles, role collections and attributes"""
        principal = current_principal()
        return {
            "user": principal.user_name,
            "email": principal.email,
            "roles": sorted(role.value for role in principal.roles),
            "role_collections": list(principal.role_collections),
            "attributes": {name: list(values) for name, values in principal.attributes.items()},
        }
