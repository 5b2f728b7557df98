"""Web Push for the reference app while it is closed: the VAPID public key and the caller's subscriptions."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import current_app
from flask.views import MethodView
from flask_smorest import abort

from access.errors import Unprocessable
from access.policy import Role
from app.auth import RoleBlueprint, current_principal
from app.errors import ErrorSchema
from roles.push import schemas
from runtime.settings import Settings
from runtime.vapid import PushUnavailable, application_server_key
from store import PushSubscription, PushSubscriptions

ROLES = (Role.EXECUTIVE, Role.PLANT_MANAGER, Role.SUPERVISOR, Role.INTEGRATION_ADMIN)
MAX_PER_USER = 10  # devices a user receives pushes on; subscribing an 11th drops the least recently renewed
# Push services of the browsers we support (Chromium: FCM, Firefox: Mozilla's autopush, Safari: Apple, legacy Edge:
# WNS). Production sends only there: an endpoint is a URL the worker POSTs to, and must not reach anything else.
PUSH_SERVICES = (
    "fcm.googleapis.com",
    "android.googleapis.com",
    "push.services.mozilla.com",
    "push.apple.com",
    "notify.windows.com",
)

blp = RoleBlueprint(
    "push", __name__, url_prefix="/api/v1/push", description="Web Push: notifications while the app is closed"
)


def subscriptions() -> PushSubscriptions:
    found: PushSubscriptions | None = current_app.extensions.get("push_subscriptions")
    if found is None:
        found = PushSubscriptions(current_app.extensions["db_engine"])
        current_app.extensions["push_subscriptions"] = found
    return found


def settings() -> Settings:
    return current_app.extensions["settings"]  # type: ignore[no-any-return]


def check_push_service(endpoint: str, production: bool) -> None:
    """In production only the browsers' push services are accepted (the schema checked the URL's form)."""
    if not production:
        return
    parts = urlsplit(endpoint)
    host = parts.hostname or ""
    if parts.scheme != "https" or not any(host == known or host.endswith(f".{known}") for known in PUSH_SERVICES):
        raise Unprocessable("not the endpoint of a known browser push service", field="endpoint")


@blp.route("/public-key")
class PublicKey(MethodView):
    @blp.role_required(*ROLES)
    @blp.doc(operationId="getPushPublicKey")
    @blp.response(200, schemas.PushPublicKeySchema)
    @blp.alt_response(404, schema=ErrorSchema, description="Web Push is not configured on this installation")
    def get(self) -> dict[str, str]:
        """The VAPID public key browsers subscribe with (applicationServerKey)"""
        try:
            key = application_server_key(settings())
        except PushUnavailable as exc:
            abort(404, message=str(exc))
        return {"public_key": key}


@blp.route("/subscriptions")
class Subscriptions(MethodView):
    @blp.role_required(*ROLES)
    @blp.doc(operationId="listPushSubscriptions")
    @blp.response(200, schemas.PushSubscriptionListSchema)
    def get(self) -> dict[str, list[PushSubscription]]:
        """The caller's push subscriptions: which push service, since when (never endpoints or keys)"""
        return {"items": subscriptions().list_for_user(current_principal().user_name)}

    @blp.role_required(*ROLES)
    @blp.doc(operationId="createPushSubscription")
    @blp.arguments(schemas.PushSubscriptionCreateSchema)
    @blp.response(201, schemas.PushSubscriptionSchema, description="Subscribed")
    @blp.alt_response(404, schema=ErrorSchema, description="Web Push is not configured on this installation")
    @blp.alt_response(
        200, schema=schemas.PushSubscriptionSchema, description="Already the caller's: keys and roles refreshed"
    )
    def post(self, body: dict[str, Any]) -> tuple[PushSubscription, int]:
        """Receive Web Push notifications in this browser (the body is its PushSubscription JSON)

        Pushes follow the read rules as of subscribing (roles, plants, work centres): subscribe again after
        they change. An endpoint another user had subscribed becomes the caller's.
        """
        try:
            application_server_key(settings())  # no key: nothing could ever be pushed to it
        except PushUnavailable as exc:
            abort(404, message=str(exc))
        check_push_service(body["endpoint"], settings().is_production)
        principal = current_principal()
        subscription, created = subscriptions().subscribe(
            principal.user_name,
            [role.value for role in principal.roles],
            principal.attributes,
            body["endpoint"],
            body["keys"]["p256dh"],
            body["keys"]["auth"],
            keep=MAX_PER_USER,
        )
        return subscription, 201 if created else 200

    @blp.role_required(*ROLES)
    @blp.doc(operationId="deletePushSubscription")
    @blp.arguments(schemas.PushSubscriptionDeleteSchema)
    @blp.response(204)
    @blp.alt_response(404, schema=ErrorSchema, description="The caller has no subscription with this endpoint")
    def delete(self, body: dict[str, Any]) -> None:
        """Stop Web Push notifications to this browser"""
        if not subscriptions().unsubscribe(current_principal().user_name, body["endpoint"]):
            abort(404, message="you have no push subscription with this endpoint")
