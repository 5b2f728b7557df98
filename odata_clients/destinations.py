"""Destinations: one SAP system as seen by us (URL, sap-client, authentication, timeouts, resilience)."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol


class AuthKind(enum.StrEnum):
    """How a call authenticates at SAP; recorded in every log event and call record for the audit."""

    BASIC = "basic"
    OAUTH2_CLIENT_CREDENTIALS = "oauth2_client_credentials"
    USER_PROPAGATION = "user_propagation"
    # Whatever the destination service's destination says (Basic or OAuth2 client credentials): a technical call.
    DESTINATION_SERVICE = "destination_service"


@dataclass(frozen=True)
class BasicAuth:
    """A technical user with a password."""

    user: str
    password: str = field(repr=False)

    kind = AuthKind.BASIC


@dataclass(frozen=True)
class OAuth2ClientCredentials:
    """OAuth2 client-credentials grant against `token_url`; the token is cached until shortly before expiry."""

    token_url: str
    client_id: str
    client_secret: str = field(repr=False)
    scope: str = ""

    kind = AuthKind.OAUTH2_CLIENT_CREDENTIALS


@dataclass(frozen=True)
class UserPropagation:
    """Every call carries the calling user's token (a `Principal`); there is no technical identity."""

    kind = AuthKind.USER_PROPAGATION


@dataclass(frozen=True)
class Route:
    """How one call reaches SAP: the system's URL and sap-client, the headers that authenticate it (SAP's and the
    proxy's), and the proxy for on-premise systems. Resolved per call; never logged (the headers hold tokens)."""

    url: str
    client: str
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    proxy: str = ""  # http://host:port of the Connectivity service's proxy, for ProxyType OnPremise


class RouteResolver(Protocol):
    """Resolves a destination for a call (odata_clients.destination_service.DestinationService does, with BTP's
    Destination and Connectivity services)."""

    def route(self, principal: Principal | None) -> Route: ...

    def refused_by_proxy(self) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class DestinationServiceAuth:
    """URL, sap-client and credentials come from SAP BTP's Destination service at call time (cached there).

    `kind` is what the calls act as: DESTINATION_SERVICE (a technical destination) or USER_PROPAGATION (the
    destination exchanges the caller's token, or propagates the principal through the Cloud Connector).
    """

    resolver: RouteResolver = field(repr=False)
    kind: AuthKind = AuthKind.DESTINATION_SERVICE


Auth = BasicAuth | OAuth2ClientCredentials | UserPropagation | DestinationServiceAuth


@dataclass(frozen=True)
class Principal:
    """The end user a call is made for: their SAP user name and the bearer token that proves it.

    Passed explicitly per call (never stored globally); the token never appears in repr or logs.
    """

    user: str
    token: str = field(repr=False)

    def __post_init__(self) -> None:
        if not self.user:
            raise ValueError("Principal needs a user name")


@dataclass(frozen=True)
class Destination:
    """Everything needed to talk to one SAP system with one kind of authentication.

    Defaults suit an on-premise Gateway behind Cloud Connector; tune per landscape.
    """

    name: str
    url: str
    auth: Auth
    client: str = "100"
    connect_timeout: float = 3.05
    read_timeout: float = 30.0
    # Cap on one call (its attempts, back-off and CSRF fetch): a deadline of its own inside the caller's
    # (odata_clients.resilience.deadline), the earlier one wins. None: attempts x read_timeout plus back-off.
    total_timeout: float | None = None
    max_attempts: int = 3
    backoff_base: float = 0.2
    backoff_max: float = 5.0
    # A 429 asking us to wait longer than this is not retried inside the call (the worker retries later).
    max_retry_after: float = 10.0
    breaker_failure_threshold: int = 5
    breaker_recovery_time: float = 30.0
    max_concurrency: int = 10
    # How long a call waits for a free slot when max_concurrency calls are already in flight (never past
    # the caller's deadline), and how many may wait at once; None: any number (see resilience.Bulkhead).
    queue_timeout: float = 2.0
    max_queued: int | None = None
    verify_tls: bool | str = True

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("Destination needs a name")
        if isinstance(self.auth, DestinationServiceAuth) and not self.url:
            pass  # the URL comes from the Destination service with each call's route
        elif not self.url.startswith(("http://", "https://")):
            raise ValueError(f"Destination {self.name}: url must be http(s), got {self.url!r}")
        elif "@" in self.url.split("//", 1)[1].split("/", 1)[0]:
            raise ValueError(f"Destination {self.name}: put credentials in auth, not in the url")
        if self.max_attempts < 1 or self.max_concurrency < 1 or self.breaker_failure_threshold < 1:
            raise ValueError(
                f"Destination {self.name}: max_attempts, max_concurrency and breaker threshold must be >= 1"
            )
        if min(self.connect_timeout, self.read_timeout, self.total_timeout or 1.0) <= 0:
            raise ValueError(f"Destination {self.name}: timeouts must be positive")
        if self.queue_timeout < 0 or (self.max_queued or 0) < 0:
            raise ValueError(f"Destination {self.name}: queue_timeout and max_queued must not be negative")
        object.__setattr__(self, "url", self.url.rstrip("/"))

    @property
    def auth_kind(self) -> AuthKind:
        return self.auth.kind


_TUNING_FIELDS = (
    "connect_timeout",
    "read_timeout",
    "total_timeout",
    "max_attempts",
    "backoff_base",
    "backoff_max",
    "max_retry_after",
    "breaker_failure_threshold",
    "breaker_recovery_time",
    "max_concurrency",
    "queue_timeout",
    "max_queued",
)


def build_destination(
    name: str,
    url: str,
    *,
    client: str = "100",
    auth_kind: str | AuthKind = AuthKind.BASIC,
    user: str = "",
    password: str = "",
    token_url: str = "",
    client_id: str = "",
    client_secret: str = "",
    scope: str = "",
    **tuning: Any,
) -> Destination:
    """A Destination from plain setting values; unknown tuning names are an error, not ignored."""
    unknown = set(tuning) - set(_TUNING_FIELDS) - {"verify_tls"}
    if unknown:
        raise ValueError(f"Destination {name}: unknown parameter(s) {', '.join(sorted(unknown))}")
    kind = AuthKind(auth_kind)
    auth: Auth
    if kind is AuthKind.BASIC:
        if not user or not password:
            raise ValueError(f"Destination {name}: basic authentication needs user and password")
        auth = BasicAuth(user, password)
    elif kind is AuthKind.OAUTH2_CLIENT_CREDENTIALS:
        if not (token_url and client_id and client_secret):
            raise ValueError(f"Destination {name}: OAuth2 needs token_url, client_id and client_secret")
        auth = OAuth2ClientCredentials(token_url, client_id, client_secret, scope)
    else:
        auth = UserPropagation()
    values = {
        key: value for key, value in tuning.items() if value is not None or key in ("total_timeout", "max_queued")
    }
    return Destination(name=name, url=url, client=client, auth=auth, **values)


# BTP destination service "Authentication" values and the kind we map them to.
_BTP_AUTH = {
    "basicauthentication": AuthKind.BASIC,
    "oauth2clientcredentials": AuthKind.OAUTH2_CLIENT_CREDENTIALS,
    "principalpropagation": AuthKind.USER_PROPAGATION,
    "oauth2jwtbearer": AuthKind.USER_PROPAGATION,
    "oauth2samlbearerassertion": AuthKind.USER_PROPAGATION,
    "oauth2usertokenexchange": AuthKind.USER_PROPAGATION,
}


def destination_from_entry(entry: Mapping[str, Any], **tuning: Any) -> Destination:
    """A Destination from a BTP-style destination entry (as found in VCAP_SERVICES or the destination service).

    Accepts the destination service's property names (`Name`, `URL`, `Authentication`, `User`,
    `Password`, `tokenServiceURL`, `clientId`, `clientSecret`, `scope`, `sap-client`) and their
    lower-case variants; extra tuning values (timeouts, retries) may be given in the entry or as keywords.
    """
    lowered = {str(key).lower(): value for key, value in entry.items()}

    def get(*names: str) -> str:
        for candidate in names:
            value = lowered.get(candidate.lower())
            if value not in (None, ""):
                return str(value)
        return ""

    name = get("Name")
    url = get("URL", "url", "uri")
    if not name or not url:
        raise ValueError("destination entry needs Name and URL")
    raw_auth = get("Authentication", "auth_kind") or "BasicAuthentication"
    kind = _BTP_AUTH.get(raw_auth.lower())
    if kind is None:
        try:
            kind = AuthKind(raw_auth.lower())
        except ValueError:
            raise ValueError(f"destination {name}: unsupported Authentication {raw_auth!r}") from None
    from_entry: dict[str, Any] = {}
    for key in _TUNING_FIELDS:
        raw = lowered.get(key.lower())
        if raw not in (None, ""):
            from_entry[key] = int(raw) if key in ("max_attempts", "max_concurrency", "max_queued") else float(raw)
    if "breaker_failure_threshold" in from_entry:
        from_entry["breaker_failure_threshold"] = int(from_entry["breaker_failure_threshold"])
    from_entry.update(tuning)
    return build_destination(
        name,
        url,
        client=get("sap-client", "sapclient", "client") or "100",
        auth_kind=kind,
        user=get("User", "user"),
        password=get("Password", "password"),
        token_url=get("tokenServiceURL", "token_url"),
        client_id=get("clientId", "client_id"),
        client_secret=get("clientSecret", "client_secret"),
        scope=get("scope"),
        **from_entry,
    )
