"""Signing keys and short-lived user assertions: how a worker acts as the user in SAP without their token."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet, RSAKey

from runtime.secret_files import read_or_create
from runtime.settings import Settings


class UserAssertionUnavailable(RuntimeError):
    """No signing key SAP trusts is configured, so the worker cannot act as a user."""


def load_or_create_key(path: str) -> RSAKey:
    """The signing key kept in `path`; created once, atomically, so every process shares it."""

    def generate() -> str:
        key = RSAKey.generate_key(2048, parameters={"kid": f"dev-{uuid.uuid4().hex[:8]}", "use": "sig"}, private=True)
        return json.dumps(key.as_dict(private=True))

    return RSAKey.import_key(json.loads(read_or_create(Path(path), generate)))


def load_key(path: str) -> RSAKey:
    """A configured signing key (never created: a missing production key is an error, not a new key)."""
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise UserAssertionUnavailable(f"cannot read the user assertion key {path!r}: {exc}") from exc
    return parse_key(text, repr(path))


def parse_key(text: str, source: str) -> RSAKey:
    """A private RSA JWK from JSON text; the error names where it came from, never its content."""
    try:
        key = RSAKey.import_key(json.loads(text))
    except (ValueError, JoseError) as exc:
        raise UserAssertionUnavailable(f"cannot read the user assertion key {source}: {type(exc).__name__}") from exc
    if not key.is_private:
        raise UserAssertionUnavailable(f"the user assertion key {source} has no private part")
    return key


def public_key_set(key: RSAKey) -> KeySet:
    return KeySet([RSAKey.import_key(key.as_dict(private=False))])


def sign(key: RSAKey, claims: Mapping[str, Any]) -> str:
    return jwt.encode({"alg": "RS256", "kid": key.kid, "typ": "JWT"}, dict(claims), key)


def user_claims(
    *,
    issuer: str,
    xsappname: str,
    user: str,
    scopes: list[str],
    attributes: Mapping[str, list[str]],
    role_collections: list[str],
    lifetime: int,
    origin: str,
    grant_type: str,
    email: str | None = None,
) -> dict[str, Any]:
    """Claims shaped like an XSUAA user token (what SAP's principal propagation maps to a user)."""
    now = int(time.time())
    return {
        "jti": uuid.uuid4().hex,
        "iss": issuer,
        "aud": [xsappname],
        "cid": "sb-" + xsappname,
        "grant_type": grant_type,
        "user_name": user,
        "origin": origin,
        "scope": ["openid", *scopes],
        "xs.user.attributes": dict(attributes),
        "xs.system.attributes": {"xs.rolecollections": role_collections},
        "iat": now,
        "nbf": now,
        "exp": now + lifetime,
        # Only development tokens invent an e-mail: SAP may map users by it, so assertions never carry one.
        **({"email": email} if email else {}),
    }


class UserAssertionSigner:
    """Issues a few-minute assertion for a user name, like OAuth2SAMLBearerAssertion with a trusted key."""

    def __init__(self, key: RSAKey, *, issuer: str, xsappname: str, lifetime: int) -> None:
        self._key = key
        self.issuer = issuer
        self.xsappname = xsappname
        self.lifetime = lifetime

    def assertion(self, user: str, role: str) -> str:
        claims = user_claims(
            issuer=self.issuer,
            xsappname=self.xsappname,
            user=user,
            scopes=[f"{self.xsappname}.{role}"],
            attributes={},
            role_collections=[role],
            lifetime=self.lifetime,
            origin="user-assertion",
            grant_type="urn:ietf:params:oauth:grant-type:jwt-bearer",
        )
        return sign(self._key, claims)


def user_assertion_signer(settings: Settings) -> UserAssertionSigner | None:
    """The configured signer; in development the dev identity provider's key. None: not configured."""
    if settings.sap_user_assertion_key:
        key = parse_key(settings.sap_user_assertion_key, "SAP_USER_ASSERTION_KEY")
    elif settings.sap_user_assertion_key_file:
        key = load_key(settings.sap_user_assertion_key_file)
    elif not settings.is_production:
        key = load_or_create_key(settings.dev_idp_key_file)
    else:
        return None
    return UserAssertionSigner(
        key,
        issuer=settings.sap_user_assertion_issuer,
        xsappname=settings.xsappname,
        lifetime=settings.sap_user_assertion_lifetime,
    )
