"""The stand-in's state: configuration, its token issuer, the trusted issuers of user tokens, the counters."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import requests
from joserfc import jws, jwt
from joserfc.errors import ExpiredTokenError, InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet, RSAKey

# Tokens of other issuers may come from another machine's clock; the stand-in's own never do.
LEEWAY_SECONDS = 5
JWKS_TTL_SECONDS = 300.0
PRUNE_AT = 10_000


class TokenError(Exception):
    """A token is refused; the message says why ("expired", "revoked", "invalid: ...") for the caller's text."""


@dataclass(frozen=True)
class Client:
    secret: str
    user_name: str | None


@dataclass(frozen=True)
class SystemMapping:
    """A Cloud Connector system mapping: a virtual host (lower-case, always with a port) -> an internal URL."""

    location_id: str
    virtual_host: str
    internal_url: str


def host_with_port(netloc: str) -> str:
    netloc = netloc.lower()
    return netloc if netloc.rpartition(":")[2].isdigit() and not netloc.endswith("]") else f"{netloc}:80"


@dataclass
class Config:
    clients: dict[str, Client]
    destination_client: str
    connectivity_client: str
    destinations: dict[str, dict[str, Any]]  # replaced through the admin API; dict item updates are atomic
    cloud_connector: list[SystemMapping]

    @classmethod
    def load(cls, path: str) -> Config:
        with open(path, encoding="utf-8") as file:
            data = json.load(file)
        try:
            clients = {cid: Client(c["secret"], c.get("user_name")) for cid, c in data["clients"].items()}
            config = cls(
                clients=clients,
                destination_client=data["destination_client"],
                connectivity_client=data["connectivity_client"],
                destinations={d["Name"]: dict(d) for d in data.get("destinations", [])},
                cloud_connector=[
                    SystemMapping(m.get("location_id", ""), host_with_port(m["virtual_host"]), m["internal_url"])
                    for m in data.get("cloud_connector", [])
                ],
            )
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"{path}: not a valid configuration ({type(exc).__name__}: {exc})") from None
        for role in ("destination_client", "connectivity_client"):
            if getattr(config, role) not in clients:
                raise ValueError(f"{path}: {role} {getattr(config, role)!r} is not one of the clients")
        return config


def _validate(claims: dict[str, Any], leeway: int) -> None:
    try:
        jwt.JWTClaimsRegistry(leeway=leeway, exp={"essential": True}).validate(claims)
    except ExpiredTokenError:
        raise TokenError("expired") from None
    except JoseError as exc:
        raise TokenError(f"invalid: {exc}") from None


class Issuer:
    """Signs every token the stand-in issues with its own RSA key, created at start; remembers them for revocation."""

    def __init__(self, iss: str, ttl: int) -> None:
        self.iss = iss
        self.ttl = ttl
        kid = f"mock-btp-{uuid.uuid4().hex[:8]}"
        self._key = RSAKey.generate_key(2048, parameters={"kid": kid, "use": "sig", "alg": "RS256"}, private=True)
        self._lock = threading.Lock()
        # jti -> exp; expired entries are dropped now and then (a principal-propagation call issues one each)
        self._issued: dict[str, int] = {}
        self._revoked: dict[str, int] = {}
        self._prune_at = PRUNE_AT

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self._key.as_dict(private=False)]}

    def claims(self, client_id: str, user_name: str | None = None, ttl: int | None = None) -> dict[str, Any]:
        now = int(time.time())
        claims: dict[str, Any] = {
            "jti": uuid.uuid4().hex,
            "iss": self.iss,
            "iat": now,
            "exp": now + (self.ttl if ttl is None else ttl),
            "client_id": client_id,
            "cid": client_id,
            "scope": ["uaa.resource"],
        }
        if user_name:
            claims["user_name"] = user_name
        return claims

    def sign(self, claims: dict[str, Any]) -> str:
        with self._lock:
            self._issued[claims["jti"]] = claims["exp"]
            if len(self._issued) + len(self._revoked) > self._prune_at:
                now = time.time()
                self._issued = {jti: exp for jti, exp in self._issued.items() if exp > now}
                self._revoked = {jti: exp for jti, exp in self._revoked.items() if exp > now}
                self._prune_at = max(PRUNE_AT, 2 * (len(self._issued) + len(self._revoked)))
        return jwt.encode({"alg": "RS256", "kid": self._key.kid, "typ": "JWT"}, claims, self._key)

    def issue(self, client_id: str, user_name: str | None = None, ttl: int | None = None) -> str:
        return self.sign(self.claims(client_id, user_name, ttl))

    def verify(self, token: str) -> dict[str, Any]:
        """The claims of a token this stand-in issued and has not revoked."""
        try:
            claims = jwt.decode(token, self._key, algorithms=["RS256"]).claims
        except (JoseError, ValueError) as exc:
            raise TokenError(f"invalid: {exc}") from None
        _validate(claims, 0)
        if claims.get("iss") != self.iss:
            raise TokenError("invalid: issuer mismatch")
        with self._lock:
            if claims.get("jti") in self._revoked:
                raise TokenError("revoked")
        return claims

    def revoke_all(self) -> int:
        with self._lock:
            now = time.time()
            count = sum(exp > now for exp in self._issued.values())
            self._revoked.update(self._issued)
            self._issued = {}
        return count


class UserTokens:
    """Verifies user JWTs (X-user-token, SAP-Connectivity-Authentication) against the trusted issuers' JWKS."""

    def __init__(self, issuers: dict[str, str]) -> None:
        self.issuers = issuers  # iss -> JWKS URL
        self._keys: dict[str, tuple[float, KeySet]] = {}
        self._lock = threading.Lock()
        self._http = requests.Session()
        self._http.trust_env = False

    def _key_set(self, url: str, refresh: bool) -> KeySet:
        with self._lock:
            cached = self._keys.get(url)
        if cached and not refresh and time.monotonic() - cached[0] < JWKS_TTL_SECONDS:
            return cached[1]
        response = self._http.get(url, timeout=5)
        response.raise_for_status()
        keys = KeySet.import_key_set(response.json())
        with self._lock:
            self._keys[url] = (time.monotonic(), keys)
        return keys

    def user_name(self, token: str) -> str:
        """The user_name of a valid user token; TokenError otherwise."""
        try:
            iss = json.loads(jws.extract_compact(token.encode()).payload).get("iss")
        except (JoseError, ValueError, AttributeError):
            raise TokenError("invalid: not a JWT") from None
        url = self.issuers.get(iss) if isinstance(iss, str) else None
        if url is None:
            raise TokenError(f"invalid: issuer {iss!r} not trusted")
        claims: dict[str, Any] = {}
        for refresh in (False, True):  # an unknown key id may mean the issuer rotated its keys
            try:
                claims = jwt.decode(token, self._key_set(url, refresh), algorithms=["RS256"]).claims
                break
            except InvalidKeyIdError as exc:
                if refresh:
                    raise TokenError(f"invalid: {exc}") from None
            except (JoseError, ValueError) as exc:
                raise TokenError(f"invalid: {exc}") from None
            except requests.RequestException as exc:
                raise TokenError(f"invalid: JWKS of {iss} not reachable: {exc}") from None
        _validate(claims, LEEWAY_SECONDS)
        name = claims.get("user_name")
        if not isinstance(name, str) or not name:
            raise TokenError("invalid: no user_name claim")
        return name


@dataclass
class Stats:
    token_requests: Counter[str] = field(default_factory=Counter)
    destination_lookups: Counter[str] = field(default_factory=Counter)
    proxy_requests: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def as_dict(self) -> dict[str, Any]:
        with self.lock:
            return {
                "token_requests": dict(self.token_requests),
                "destination_lookups": dict(self.destination_lookups),
                "proxy_requests": self.proxy_requests,
            }

    def reset(self) -> None:
        with self.lock:
            self.token_requests.clear()
            self.destination_lookups.clear()
            self.proxy_requests = 0


@dataclass
class Btp:
    """Everything both ports share."""

    config: Config
    issuer: Issuer
    user_tokens: UserTokens
    stats: Stats = field(default_factory=Stats)
    subaccount_id: str = field(default_factory=lambda: str(uuid.uuid4()))
