"""Schemas of Web Push subscriptions: the browser's PushSubscription JSON in, never its keys out."""

from __future__ import annotations

import re

import marshmallow as ma
from cryptography.hazmat.primitives.asymmetric import ec
from flask import current_app

from roles.common import StrictSchema, outbound_url
from runtime.vapid import b64url_decode

MAX_ENDPOINT = 2048  # push services' endpoints are a few hundred characters
P256DH_BYTES = 65  # an uncompressed P-256 point (RFC 8291)
AUTH_BYTES = 16  # the authentication secret (RFC 8291)
_VISIBLE_ASCII = re.compile(r"[\x21-\x7e]+")


def push_endpoint(value: str) -> str:
    """As the browser's PushSubscription gives it; production narrows it to the browsers' push services (the view)."""
    return outbound_url(value, production=current_app.extensions["settings"].is_production)


class Base64UrlKey(ma.validate.Validator):
    """base64url of exactly `size` bytes; with `point`, a valid uncompressed P-256 public key."""

    def __init__(self, size: int, *, point: bool = False) -> None:
        self.size = size
        self.point = point

    def __call__(self, value: str) -> str:
        try:
            raw = b64url_decode(value)
        except ValueError:
            raise ma.ValidationError("not base64url") from None
        if len(raw) != self.size:
            raise ma.ValidationError(f"must decode to {self.size} bytes, not {len(raw)}")
        if self.point:
            try:
                ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw)
            except ValueError:
                raise ma.ValidationError("not a P-256 public key (an uncompressed point)") from None
        return value


class PushKeysSchema(StrictSchema):
    p256dh = ma.fields.String(
        required=True,
        validate=[ma.validate.Length(max=100), Base64UrlKey(P256DH_BYTES, point=True)],
        metadata={
            "description": "The browser's P-256 public key, base64url (65 bytes decoded)",
            "example": "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM",
        },
    )
    auth = ma.fields.String(
        required=True,
        validate=[ma.validate.Length(max=32), Base64UrlKey(AUTH_BYTES)],
        metadata={
            "description": "The authentication secret, base64url (16 bytes decoded)",
            "example": "tBHItJI5svbpez7KI4CCXg",
        },
    )


class PushSubscriptionCreateSchema(StrictSchema):
    """What `PushSubscription.toJSON()` returns in the browser, as it is."""

    endpoint = ma.fields.String(
        required=True,
        validate=[ma.validate.Length(min=1, max=MAX_ENDPOINT), push_endpoint],
        metadata={
            "description": "The push service URL of this browser (a secret: whoever knows it can push to it)",
            "example": "https://fcm.googleapis.com/fcm/send/dG9rZW4",
        },
    )
    keys = ma.fields.Nested(PushKeysSchema, required=True)
    expiration_time = ma.fields.Float(
        data_key="expirationTime",
        allow_none=True,
        allow_nan=False,
        metadata={"description": "As the browser gives it (mostly null); not used: expiry shows as a 404/410"},
    )


class PushSubscriptionDeleteSchema(StrictSchema):
    endpoint = ma.fields.String(
        required=True,
        validate=ma.validate.Length(min=1, max=MAX_ENDPOINT),
        metadata={
            "description": "The endpoint to stop pushing to",
            "example": "https://fcm.googleapis.com/fcm/send/dG9rZW4",
        },
    )


class PushSubscriptionSchema(ma.Schema):
    """A subscription as its owner sees it: the push service and when, never the endpoint or keys."""

    origin = ma.fields.String(
        required=True, metadata={"description": "The push service", "example": "https://fcm.googleapis.com"}
    )
    created_at = ma.fields.DateTime(required=True)


class PushSubscriptionListSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(PushSubscriptionSchema), required=True)


class PushPublicKeySchema(ma.Schema):
    public_key = ma.fields.String(
        required=True,
        metadata={
            "description": "The VAPID public key (base64url, uncompressed P-256 point): pass it to "
            "`pushManager.subscribe({applicationServerKey})`",
            "example": "BEl62iUYgUivxIkv69yViEuiBIa-Ib9-SkvMeAtA3LFgDzkrxZJjSgSnfckjBJuBkr3qBUYIHBQFLXYp5Nksh8U",
        },
    )
