"""Bearer JWT validation (XSUAA-style) and the one decorator that enforces and documents roles."""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable
from typing import Any

import requests
import structlog
from flask import current_app, g, request
from flask_smorest import Blueprint, abort
from joserfc import jws, jwt
from joserfc.errors import (
    ExpiredTokenError,
    InvalidClaimError,
    InvalidTokenError,
    JoseError,
    MissingClaimError,
)
from joserfc.jwk import KeySet

from access.policy import Principal, Role, attributes_from_claim, roles_from_scopes
from app.errors import ErrorSchema

log = structlog.get_logger(__name__)

ALGORITHMS = ["RS256"]  # what XSUAA signs with; anything else (none, HS256 with a public key) is refused
SECURITY_SCHEME = {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}


class AuthError(Exception):
    """The token is missing or invalid (401); the message tells a developer which check failed."""


class IdentityProviderUnavailable(Exception):
    """The issuer's signing keys cannot be fetched: not the caller's fault (503), try again later."""


class JwksKeys:
    """An issuer's signing keys from its JWKS URL; cached, re-fetched when a token names an unknown kid."""

    def __init__(self, url: str, timeout: float = 5.0, min_refresh_seconds: float = 30.0) -> None:
        self.url = url
        self.timeout = timeout
        self.min_refresh_seconds = min_refresh_seconds
        self._keys: KeySet | None = None
        self._fetched_at = float("-inf")
        self._lock = threading.Lock()

    def key_set(self, kid: str | None) -> KeySet:
        with self._lock:
            known = self._keys is not None and (kid is None or _has_kid(self._keys, kid))
            # A bogus kid must not make us hammer the IdP: refresh at most every min_refresh_seconds.
            if not known and time.monotonic() - self._fetched_at >= self.min_refresh_seconds:
                self._fetch()
            if self._keys is None:
                raise IdentityProviderUnavailable("the identity provider's signing keys are unavailable")
            return self._keys

    def _fetch(self) -> None:
        self._fetched_at = time.monotonic()
        try:
            response = requests.get(self.url, timeout=self.timeout)
            response.raise_for_status()
            self._keys = KeySet.import_key_set(response.json())
            log.info("jwks_fetched", url=self.url, kids=[k.kid for k in self._keys.keys])
        except (requests.RequestException, ValueError, JoseError) as exc:
            log.warning("jwks_fetch_failed", url=self.url, error=type(exc).__name__)


class StaticKeys:
    """Keys known in-process (the development identity provider)."""

    def __init__(self, keys: KeySet) -> None:
        self._keys = keys

    def key_set(self, kid: str | None) -> KeySet:
        return self._keys


def _has_kid(keys: KeySet, kid: str) -> bool:
    return any(key.kid == kid for key in keys.keys)


class TokenValidator:
    """Checks signature (RS256 only), exp/nbf with leeway, iss and aud; builds the Principal."""

    def __init__(self, issuer: str, xsappname: str, keys: JwksKeys | StaticKeys, leeway: int = 30) -> None:
        self.issuer = issuer
        self.xsappname = xsappname
        self.keys = keys
        self.leeway = leeway

    def validate(self, raw: str) -> Principal:
        try:
            header = jws.extract_compact(raw.encode()).protected
        except (JoseError, ValueError) as exc:
            raise AuthError("malformed token: not a compact JWS") from exc
        if header.get("alg") not in ALGORITHMS:
            raise AuthError(f"token algorithm {header.get('alg')!r} is not accepted (RS256 only)")
        kid = header.get("kid")
        keys = self.keys.key_set(kid)
        if kid is not None and not _has_kid(keys, kid):
            raise AuthError(f"token signed with unknown key id {kid!r}")
        try:
            token = jwt.decode(raw, keys, algorithms=ALGORITHMS)
        except (JoseError, ValueError) as exc:
            raise AuthError("token signature is invalid") from exc
        claims = token.claims
        registry = jwt.JWTClaimsRegistry(
            leeway=self.leeway,
            exp={"essential": True},
            iss={"essential": True, "value": self.issuer},
        )
        try:
            registry.validate(claims)
        except JoseError as exc:
            raise AuthError(_claim_problem(exc)) from exc
        audience = claims.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        if self.xsappname not in audiences:
            raise AuthError(f"token audience does not include {self.xsappname!r}")
        user_name = claims.get("user_name") or claims.get("sub")
        if not isinstance(user_name, str) or not user_name:
            raise AuthError("token names no user (user_name)")
        scopes = claims.get("scope") or []
        system = claims.get("xs.system.attributes") or {}
        return Principal(
            user_name=user_name,
            roles=roles_from_scopes(scopes if isinstance(scopes, list) else str(scopes).split(), self.xsappname),
            attributes=attributes_from_claim(claims.get("xs.user.attributes")),
            role_collections=tuple(system.get("xs.rolecollections", []) if isinstance(system, dict) else ()),
            email=claims.get("email") if isinstance(claims.get("email"), str) else None,
            token=raw,
        )


def _claim_problem(exc: JoseError) -> str:
    # Most specific first: the claim errors derive from InvalidTokenError.
    if isinstance(exc, MissingClaimError):
        return f"token lacks a required claim ({exc.description})"
    if isinstance(exc, InvalidClaimError) and "iss" in str(exc.description):
        return "token issuer is not trusted"
    if isinstance(exc, ExpiredTokenError):
        return "token has expired"
    if isinstance(exc, InvalidTokenError) and "not yet valid" in str(exc.description):
        return "token is not valid yet (nbf)"
    return f"token claims are invalid ({exc.description})"


def authenticate() -> Principal:
    """The Principal of the current request; AuthError when the bearer token is missing or invalid."""
    header = request.headers.get("Authorization", "")
    scheme, _, raw = header.partition(" ")
    if scheme.lower() != "bearer" or not raw.strip():
        raise AuthError("missing bearer token: send 'Authorization: Bearer <JWT>'")
    validator: TokenValidator = current_app.extensions["token_validator"]
    return validator.validate(raw.strip())


def current_principal() -> Principal:
    principal: Principal = g.principal
    return principal


class RoleBlueprint(Blueprint):  # type: ignore[misc]
    """A Blueprint whose `role_required` both enforces a role and documents 401/403 in OpenAPI."""

    def role_required(self, *roles: Role, sap: bool = False) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Enforce one of `roles` (none given: any valid token); `sap=True` documents the 503 of SAP outages."""
        allowed = frozenset(roles)

        def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
            @functools.wraps(view)
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                try:
                    principal = authenticate()
                except AuthError as exc:
                    description = str(exc).replace('"', "'")
                    challenge = f'Bearer error="invalid_token", error_description="{description}"'
                    abort(401, message=str(exc), headers={"WWW-Authenticate": challenge})
                except IdentityProviderUnavailable as exc:
                    abort(503, message=f"{exc}; try again shortly", headers={"Retry-After": "30"})
                if allowed and not (principal.roles & allowed):
                    needed = " or ".join(sorted(r.value for r in allowed))
                    abort(403, message=f"this endpoint needs the role {needed}")
                g.principal = principal
                structlog.contextvars.bind_contextvars(user=principal.user_name)
                return view(*args, **kwargs)

            documented: Callable[..., Any] = self.doc(security=[{"bearerAuth": []}])(wrapper)
            documented = self.alt_response(401, schema=ErrorSchema, description="Missing or invalid token")(documented)
            if allowed:
                forbidden = "The token lacks the role, or the caller's attributes do not allow this"
                documented = self.alt_response(403, schema=ErrorSchema, description=forbidden)(documented)
            unavailable = "SAP or the identity provider is unavailable; see Retry-After"
            if sap:
                documented = self.alt_response(503, schema=ErrorSchema, description=unavailable)(documented)
            return documented

        return decorator
