"""Logon: HTTP Basic for technical and named users, Bearer JWTs from trusted issuers, session cookies."""

from __future__ import annotations

import base64
import binascii
import json
import threading
import time
import urllib.request
import warnings
from dataclasses import dataclass, field

with warnings.catch_warnings(record=True):
    # authlib.jose still works in Authlib 1.x; it only announces its successor (and forces the
    # warning filter to "always", so the warning is recorded and dropped rather than filtered).
    from authlib.jose import JsonWebKey, JsonWebToken
    from authlib.jose.errors import JoseError


@dataclass
class TrustedIssuer:
    issuer: str
    jwks_url: str


class AuthError(Exception):
    """Logon failed: answered with 401 and Gateway's Basic challenge."""


@dataclass
class Authenticator:
    users: dict[str, str]
    issuers: list[TrustedIssuer] = field(default_factory=list)
    jwks_ttl: float = 300.0

    def __post_init__(self) -> None:
        self.users = {name.upper(): password for name, password in self.users.items()}
        self._jwt = JsonWebToken(["RS256"])
        self._keys: dict[str, tuple[float, object]] = {}
        self._lock = threading.Lock()

    def basic(self, header: str) -> str:
        try:
            decoded = base64.b64decode(header.split(" ", 1)[1].strip(), validate=True).decode()
        except (IndexError, ValueError, binascii.Error, UnicodeDecodeError):
            raise AuthError("malformed Basic credentials") from None
        name, _, password = decoded.partition(":")
        user = name.upper()
        if self.users.get(user) != password:
            raise AuthError("wrong user or password")
        return user

    def _key_set(self, issuer: TrustedIssuer, refresh: bool) -> object:
        with self._lock:
            cached = self._keys.get(issuer.jwks_url)
            if cached and not refresh and time.monotonic() - cached[0] < self.jwks_ttl:
                return cached[1]
        with urllib.request.urlopen(issuer.jwks_url, timeout=5) as response:  # noqa: S310 - configured URL
            keys = JsonWebKey.import_key_set(json.loads(response.read()))
        with self._lock:
            self._keys[issuer.jwks_url] = (time.monotonic(), keys)
        return keys

    def bearer(self, header: str) -> str:
        token = header.split(" ", 1)[1].strip() if " " in header else ""
        if not token or not self.issuers:
            raise AuthError("no trusted issuer for bearer tokens")
        try:
            payload = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "==="))
        except (IndexError, ValueError, binascii.Error):
            raise AuthError("malformed token") from None
        issuer = next((i for i in self.issuers if i.issuer == payload.get("iss")), None)
        if issuer is None:
            raise AuthError("issuer not trusted")
        claims = None
        for refresh in (False, True):  # an unknown key id may mean the issuer rotated its keys
            try:
                keys = self._key_set(issuer, refresh)
                claims = self._jwt.decode(token, keys)
                break
            except (JoseError, ValueError) as exc:
                if refresh:
                    raise AuthError(f"invalid token: {exc}") from None
            except OSError as exc:
                raise AuthError(f"JWKS not reachable: {exc}") from None
        assert claims is not None
        try:
            claims.validate(leeway=5)  # checks exp (and nbf/iat when present)
        except JoseError as exc:
            raise AuthError(f"invalid token: {exc}") from None
        if "exp" not in claims:
            raise AuthError("token without exp")
        if claims.get("iss") != issuer.issuer:
            raise AuthError("issuer mismatch")
        name = claims.get("user_name")
        if not isinstance(name, str) or not name:
            raise AuthError("token without user_name")
        user = name.upper()
        if user not in self.users:
            raise AuthError(f"no SAP user {user}")
        return user

    def authenticate(self, header: str | None) -> str | None:
        """The SAP user for an Authorization header, None when there is none; AuthError on failure."""
        if not header:
            return None
        scheme = header.split(" ", 1)[0].lower()
        if scheme == "basic":
            return self.basic(header)
        if scheme == "bearer":
            return self.bearer(header)
        raise AuthError("unsupported authorization scheme")
