"""Bearer JWT validation (XSUAA-style) and the one decorator that enforces and documents roles."""

from __future__ import annotations

import functools
import hashlib
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests
import structlog
from flask import Response, current_app, g, request
from flask_smorest import Blueprint, abort
from flask_smorest.exceptions import NotModified
from flask_smorest.utils import resolve_schema_instance
from joserfc import jws, jwt
from joserfc.errors import (
    ExpiredTokenError,
    InvalidClaimError,
    JoseError,
    MissingClaimError,
)
from joserfc.jwk import KeySet
from werkzeug.http import quote_etag

from access.policy import Principal, Role, attributes_from_claim, roles_from_scopes
from app import response_dump
from app.errors import ErrorSchema

log = structlog.get_logger(__name__)

ALGORITHMS = ["RS256"]  # what XSUAA signs with; anything else (none, HS256 with a public key) is refused
SECURITY_SCHEME = {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
DEFAULT_MAX_LIFETIME = 24 * 3600  # runtime/settings.py's JWT_MAX_LIFETIME default
# RFC 6750's error_description: printable ASCII without '"' and '\'. Anything else, e.g. a kid of "€" echoed
# back, makes the header invalid; gunicorn then answers its own HTML 500 instead of our 401.
_NOT_IN_ERROR_DESCRIPTION = re.compile(r"[^\x20\x21\x23-\x5b\x5d-\x7e]")
_MAX_AGE = re.compile(r"(?:^|,)\s*max-age\s*=\s*\"?(\d{1,10})\"?\s*(?=,|$)", re.IGNORECASE)
_NO_CACHE = re.compile(r"(?:^|,)\s*no-(?:cache|store)\s*(?=,|$|=)", re.IGNORECASE)


class AuthError(Exception):
    """The token is missing or invalid (401); the message tells a developer which check failed."""


class IdentityProviderUnavailable(Exception):
    """The issuer's signing keys cannot be fetched: not the caller's fault (503), try again later."""


def jwks_ttl(cache_control: str | None, default: float, bounds: tuple[float, float]) -> float:
    """Seconds to trust a JWKS response: its Cache-Control max-age (no-cache: the lower bound) within `bounds`."""
    low, high = bounds
    if not cache_control:
        return default
    if match := _MAX_AGE.search(cache_control):
        return min(max(float(match.group(1)), low), high)
    if _NO_CACHE.search(cache_control):
        return low
    return default


class JwksKeys:
    """An issuer's signing keys from its JWKS URL, refreshed on a schedule and on an unknown kid.

    The schedule (the response's Cache-Control max-age within `max_age_bounds`, else `refresh_seconds`)
    makes a key the issuer withdrew stop being trusted within minutes. A token naming an unknown kid
    refreshes early, but at most every `min_refresh_seconds`, so a flood of made-up kids cannot hammer
    the issuer; failed fetches are retried at the same pace. While the issuer is unreachable the last
    keys stay in use for at most `keep_stale_seconds` past their refresh time, then tokens get 503.
    """

    def __init__(
        self,
        url: str,
        timeout: float = 5.0,
        min_refresh_seconds: float = 30.0,
        refresh_seconds: float = 300.0,
        max_age_bounds: tuple[float, float] = (60.0, 3600.0),
        keep_stale_seconds: float = 3600.0,
    ) -> None:
        self.url = url
        self.timeout = timeout
        self.min_refresh_seconds = min_refresh_seconds
        self.refresh_seconds = refresh_seconds
        self.max_age_bounds = max_age_bounds
        self.keep_stale_seconds = keep_stale_seconds
        self._keys: KeySet | None = None
        self._attempted_at = float("-inf")
        self._fetched_at = float("-inf")  # last successful fetch
        self._fresh_until = float("-inf")
        self._lock = threading.Lock()

    def key_set(self, kid: str | None) -> KeySet:
        with self._lock:
            now = time.monotonic()
            paced = now - self._attempted_at >= self.min_refresh_seconds
            if now >= self._fresh_until:
                # Due: refresh now, unless the last attempt failed moments ago (then retry at the unknown-kid pace).
                if self._fetched_at >= self._attempted_at or paced:
                    self._fetch(now)
            elif kid is not None and self._keys is not None and not _has_kid(self._keys, kid) and paced:
                self._fetch(now)
            if self._keys is not None and now > self._fresh_until + self.keep_stale_seconds:
                log.error("jwks_stale_dropped", url=self.url, age_seconds=round(now - self._fetched_at))
                self._keys = None  # keys this old may have been withdrawn meanwhile
            if self._keys is None:
                raise IdentityProviderUnavailable("the identity provider's signing keys are unavailable")
            return self._keys

    def _fetch(self, now: float) -> None:
        self._attempted_at = now
        try:
            response = requests.get(self.url, timeout=self.timeout)
            response.raise_for_status()
            keys = KeySet.import_key_set(response.json())
        except (requests.RequestException, ValueError, TypeError, KeyError, JoseError) as exc:
            log.warning("jwks_fetch_failed", url=self.url, error=type(exc).__name__)
            return
        ttl = jwks_ttl(response.headers.get("Cache-Control"), self.refresh_seconds, self.max_age_bounds)
        self._keys, self._fetched_at, self._fresh_until = keys, now, now + ttl
        log.info("jwks_fetched", url=self.url, kids=[k.kid for k in keys.keys], ttl_seconds=ttl)


class StaticKeys:
    """Keys known in-process (the development identity provider)."""

    def __init__(self, keys: KeySet) -> None:
        self._keys = keys

    def key_set(self, kid: str | None) -> KeySet:
        return self._keys


def _has_kid(keys: KeySet, kid: str) -> bool:
    return any(key.kid == kid for key in keys.keys)


@dataclass(frozen=True)
class VerifiedToken:
    """A token that passed every check, with what decides whether it still would."""

    principal: Principal
    kid: str | None
    keys: KeySet  # the key set that verified the signature
    exp: float
    lifetime: float  # exp - iat, for the caller's lifetime cap
    checked_at: int  # the wall clock second of the full check


class VerifiedTokens:
    """Tokens that passed every check, by the SHA-256 of the token: a client's next requests skip the RS256 check.

    Shared by gunicorn's threads; beyond `max_entries` the least recently used go. An entry answers only while
    the full check would pass it too (TokenValidator._still_holds), and for `ttl_seconds` at most, so that even
    a key set changed in place, not replaced, stops vouching for a token within minutes.
    """

    def __init__(self, max_entries: int = 10_000, ttl_seconds: float = 300.0) -> None:
        self.max_entries = max_entries
        self.ttl_seconds = ttl_seconds
        self._entries: OrderedDict[bytes, tuple[float, VerifiedToken]] = OrderedDict()  # digest: (fresh until, token)
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, digest: bytes) -> VerifiedToken | None:
        with self._lock:
            found = self._entries.get(digest)
            if found is None:
                return None
            if time.monotonic() >= found[0]:
                del self._entries[digest]
                return None
            self._entries.move_to_end(digest)
            return found[1]

    def put(self, digest: bytes, verified: VerifiedToken) -> None:
        now = time.monotonic()
        with self._lock:
            self._entries[digest] = (now + self.ttl_seconds, verified)
            self._entries.move_to_end(digest)
            # Over the bound, or the oldest is stale (tokens nobody sends any more): drop from the old end.
            while self._entries:
                oldest_fresh_until = next(iter(self._entries.values()))[0]
                if len(self._entries) <= self.max_entries and oldest_fresh_until > now:
                    break
                self._entries.popitem(last=False)


def token_digest(raw: str) -> bytes:
    """The cache key of a token: never the token itself. surrogatepass: any str has one, as latin-1 headers do."""
    return hashlib.sha256(raw.encode("utf-8", "surrogatepass")).digest()


class TokenValidator:
    """Checks signature (RS256 only), exp/nbf/iat with leeway, the lifetime cap, iss and aud; builds the Principal.

    A token that passed is remembered (VerifiedTokens) so that its next requests skip the signature check;
    every answer stays the one the full check would give.
    """

    def __init__(
        self,
        issuer: str,
        xsappname: str,
        keys: JwksKeys | StaticKeys,
        leeway: int = 30,
        verified: VerifiedTokens | None = None,
    ) -> None:
        self.issuer = issuer
        self.xsappname = xsappname
        self.keys = keys
        self.leeway = leeway
        self.verified = verified if verified is not None else VerifiedTokens()

    def validate(self, raw: str, *, max_lifetime: int = DEFAULT_MAX_LIFETIME) -> Principal:
        """The token's Principal; `max_lifetime` caps exp - iat (JWT_MAX_LIFETIME), so a leaked token dies soon."""
        digest = token_digest(raw)
        known = self.verified.get(digest)
        if known is not None and self._still_holds(known, max_lifetime):
            return known.principal
        verified = self._validate_fully(raw, max_lifetime)
        self.verified.put(digest, verified)
        return verified.principal

    def _still_holds(self, known: VerifiedToken, max_lifetime: int) -> bool:
        """Whether the full check would pass `known` now. When not, it runs again: it says why, in its own words."""
        now = int(time.time())
        return (
            known.lifetime <= max_lifetime
            and known.exp > now - self.leeway  # joserfc's rule: an expired token gets "token has expired"
            and known.checked_at <= now  # iat/nbf only pass more easily later, unless the clock stepped back
            # Keys refreshed meanwhile (the issuer may have withdrawn this one): check again. Called as the full
            # check calls it, so the refresh schedule and the 503 of keys too stale to use apply unchanged.
            and self.keys.key_set(known.kid) is known.keys
        )

    def _validate_fully(self, raw: str, max_lifetime: int) -> VerifiedToken:
        try:
            header = jws.extract_compact(raw.encode()).protected
        except (JoseError, ValueError) as exc:
            raise AuthError("malformed token: not a compact JWS") from exc
        if header.get("alg") not in ALGORITHMS:
            raise AuthError(f"token algorithm {_shown(header.get('alg'))} is not accepted (RS256 only)")
        kid = header.get("kid")
        if kid is not None and not isinstance(kid, str):
            raise AuthError("token header's kid is not a string")
        keys = self.keys.key_set(kid)
        if kid is not None and not _has_kid(keys, kid):
            raise AuthError(f"token signed with unknown key id {_shown(kid)}")
        try:
            token = jwt.decode(raw, keys, algorithms=ALGORITHMS)
        except (JoseError, ValueError) as exc:
            raise AuthError("token signature is invalid") from exc
        claims = token.claims
        now = int(time.time())
        registry = jwt.JWTClaimsRegistry(
            now=now,
            leeway=self.leeway,
            exp={"essential": True},
            iat={"essential": True},
            iss={"essential": True, "value": self.issuer},
        )
        try:
            registry.validate(claims)
        except JoseError as exc:
            raise AuthError(self._claim_problem(exc, claims, now)) from exc
        lifetime = claims["exp"] - claims["iat"]
        if lifetime > max_lifetime:
            raise AuthError(
                f"token lifetime of {int(lifetime)} s (exp - iat) exceeds the accepted maximum of {max_lifetime} s"
            )
        audience = claims.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        if self.xsappname not in audiences:
            raise AuthError(f"token audience does not include {self.xsappname!r}")
        user_name = claims.get("user_name") or claims.get("sub")
        if not isinstance(user_name, str) or not user_name:
            raise AuthError("token names no user (user_name)")
        scopes = claims.get("scope") or []
        system = claims.get("xs.system.attributes") or {}
        principal = Principal(
            user_name=user_name,
            roles=roles_from_scopes(scopes if isinstance(scopes, list) else str(scopes).split(), self.xsappname),
            attributes=attributes_from_claim(claims.get("xs.user.attributes")),
            role_collections=tuple(system.get("xs.rolecollections", []) if isinstance(system, dict) else ()),
            email=claims.get("email") if isinstance(claims.get("email"), str) else None,
            token=raw,
        )
        return VerifiedToken(principal, kid, keys, claims["exp"], lifetime, now)

    def _claim_problem(self, exc: JoseError, claims: dict[str, Any], now: int) -> str:
        # Most specific first: the claim errors derive from InvalidTokenError.
        claim = getattr(exc, "claim", None)
        if isinstance(exc, MissingClaimError):
            return f"token lacks a required claim ({claim})"
        if isinstance(exc, ExpiredTokenError):
            return "token has expired"
        if isinstance(exc, InvalidClaimError) and claim == "iss":
            return "token issuer is not trusted"
        if isinstance(exc, InvalidClaimError) and claim == "iat" and "future" in str(exc.description):
            ahead = int(claims["iat"] - now)
            return (
                f"token was issued in the future (iat is {ahead} s ahead of this server's clock, more than the "
                f"{self.leeway} s leeway): check the clocks of the identity provider and of this server"
            )
        if isinstance(exc, InvalidClaimError) and claim == "nbf" and "not yet valid" in str(exc.description):
            return "token is not valid yet (nbf)"
        return f"token claims are invalid ({exc.description})"


def _shown(value: object, limit: int = 40) -> str:
    """A token-supplied value for a message: ASCII only and short, whatever the token holds."""
    text = ascii(value)
    return text if len(text) <= limit else f"{text[:limit]}..."


def authenticate() -> Principal:
    """The Principal of the current request; AuthError when the bearer token is missing or invalid."""
    header = request.headers.get("Authorization", "")
    scheme, _, raw = header.partition(" ")
    if scheme.lower() != "bearer" or not raw.strip():
        raise AuthError("missing bearer token: send 'Authorization: Bearer <JWT>'")
    validator: TokenValidator = current_app.extensions["token_validator"]
    return validator.validate(raw.strip(), max_lifetime=current_app.extensions["settings"].jwt_max_lifetime)


def bearer_challenge(message: str) -> str:
    """The WWW-Authenticate value of a 401: a valid header whatever the message echoes from the token."""
    description = _NOT_IN_ERROR_DESCRIPTION.sub("?", message)
    return f'Bearer error="invalid_token", error_description="{description}"'


def current_principal() -> Principal:
    principal: Principal = g.principal
    return principal


class RoleBlueprint(Blueprint):  # type: ignore[misc]
    """A Blueprint whose `role_required` both enforces a role and documents 401/403 in OpenAPI; responses are
    dumped by a plan compiled once per schema (app/response_dump.py) and tagged from their body's bytes."""

    def response(self, status_code: int | str, schema: Any = None, **kwargs: Any) -> Callable[..., Any]:
        if schema is not None:
            schema = resolve_schema_instance(schema)
            # flask-smorest calls `schema.dump(result)`; this instance dumps through its compiled plan.
            schema.dump = response_dump.schema_dump(schema)
        decorator: Callable[..., Any] = super().response(status_code, schema, **kwargs)
        return decorator

    def _set_etag_in_response(self, response: Response) -> None:
        # The ETag is a hash of the body as sent, computed once: flask-smorest would serialise the
        # response a second time (sorted JSON of the dumped data) only to hash it.
        if request.method in self.METHODS_ALLOWING_SET_ETAG:
            etag = hashlib.blake2b(response.get_data(), digest_size=20).hexdigest()
            self._check_not_modified(etag)
            response.set_etag(etag)

    def _check_not_modified(self, etag: str) -> None:
        # flask-smorest raises its 304 before it sets the ETag; RFC 9110 wants the ETag on the 304 as well,
        # and a client that keeps only the last response's headers would lose it otherwise.
        # Weak comparison (RFC 9110 13.1.2): W/"x" from a cache or proxy matches our "x".
        if request.method in self.METHODS_CHECKING_NOT_MODIFIED and request.if_none_match.contains_weak(etag):
            not_modified = NotModified()
            not_modified.data = {"headers": {"ETag": quote_etag(etag)}}  # what the one HTTP error handler reads
            raise not_modified

    def role_required(self, *roles: Role, sap: bool = False) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Enforce one of `roles` (none given: any valid token); `sap=True` documents the 503 of SAP outages."""
        allowed = frozenset(roles)

        def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
            @functools.wraps(view)
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                try:
                    principal = authenticate()
                except AuthError as exc:
                    abort(401, message=str(exc), headers={"WWW-Authenticate": bearer_challenge(str(exc))})
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
