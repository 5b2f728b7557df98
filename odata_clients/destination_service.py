"""SAP BTP's Destination service and Connectivity proxy: where a named destination is and how to authenticate there.

The REST API ("find a destination", GET {uri}/destination-configuration/v1/destinations/{name}) answers with the
destination's properties and, in `authTokens`, the ready-made Authorization header: Basic for
BasicAuthentication, SAP's OAuth token for OAuth2ClientCredentials, and for OAuth2JWTBearer /
OAuth2SAMLBearerAssertion the user's own SAP token, exchanged from the user's JWT sent as X-user-token.
ProxyType OnPremise goes through the Connectivity service's HTTP proxy to the Cloud Connector: Proxy-Authorization
with the connectivity binding's token, SAP-Connectivity-SCC-Location_ID, and for PrincipalPropagation the user's
JWT in SAP-Connectivity-Authentication.
"""

from __future__ import annotations

import base64
import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import requests
import structlog

from odata_clients import metrics
from odata_clients.destinations import OAuth2ClientCredentials, Principal, Route
from odata_clients.errors import SapAuthError, SapDestinationError, SapError, SapTimeout, SapUnavailable
from odata_clients.oauth import ClientCredentialsToken, within_deadline
from odata_clients.resilience import current_deadline

log = structlog.get_logger("odata_clients.destination_service")

FIND_PATH = "/destination-configuration/v1/destinations/"
# The Authentication values that act as the calling user, and those that act as a technical identity.
USER_AUTHENTICATIONS = frozenset({"OAuth2JWTBearer", "OAuth2SAMLBearerAssertion", "PrincipalPropagation"})
TECHNICAL_AUTHENTICATIONS = frozenset({"BasicAuthentication", "OAuth2ClientCredentials", "NoAuthentication"})
# How long a looked-up destination is used without asking again (SAP's Cloud SDK caches 5 minutes), cut to its
# token's lifetime; a changed password or URL in the cockpit is picked up within this time.
CACHE_SECONDS = 300.0
TOKEN_MARGIN = 30.0  # a token that expires within this is not used: it could expire in flight
MAX_CACHED = 1000  # destinations looked up per user token; the oldest go first


@dataclass(frozen=True)
class ServiceBinding:
    """A bound BTP service's OAuth client (client credentials at the subaccount's XSUAA) and its API base."""

    api_url: str  # destination: `uri`; connectivity: http://onpremise_proxy_host:onpremise_proxy_http_port
    token_url: str
    client_id: str
    client_secret: str = field(repr=False)

    def token(self, timeout: tuple[float, float], verify: bool | str) -> ClientCredentialsToken:
        return ClientCredentialsToken(
            OAuth2ClientCredentials(self.token_url, self.client_id, self.client_secret), timeout, verify
        )


@dataclass(frozen=True)
class _Found:
    configuration: Mapping[str, Any] = field(repr=False)  # holds the destination's password or client secret
    auth_header: tuple[str, str] | None = field(repr=False)
    refresh_at: float  # ask the Destination service again from then on
    usable_until: float  # its token's end: until then it still serves while the Destination service is away


class DestinationService:
    """One named destination, looked up in the Destination service per call and cached; a `RouteResolver`.

    `user_based`: the destination acts as the calling user (the inbox); a technical one must not, and the other
    way round, so that a misconfigured destination fails with its name instead of acting as the wrong identity.
    """

    def __init__(
        self,
        name: str,
        destination_service: ServiceBinding,
        connectivity: ServiceBinding | None = None,
        *,
        user_based: bool = False,
        default_client: str = "100",
        timeout: tuple[float, float] = (3.05, 10.0),
        verify: bool | str = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.user_based = user_based
        self._binding = destination_service
        self._connectivity = connectivity
        self._default_client = default_client
        self._timeout = timeout
        self._verify = verify
        self._clock = clock
        self._token = destination_service.token(timeout, verify)
        self._proxy_token = connectivity.token(timeout, verify) if connectivity else None
        self._session = requests.Session()
        self._session.trust_env = False
        self._session.verify = verify
        self._cache: OrderedDict[str, _Found] = OrderedDict()
        self._lock = threading.Lock()
        self._fetching: dict[str, threading.Lock] = {}  # one lookup per key at a time; the others wait for it

    def route(self, principal: Principal | None) -> Route:
        user_token = ""
        if self.user_based:
            if principal is None or not principal.token:
                raise SapAuthError(f"destination {self.name} acts as the user: no user given", destination=self.name)
            user_token = principal.token
        found = self._found(user_token, principal)
        config = found.configuration
        authentication = str(config.get("Authentication") or "NoAuthentication")
        url = str(config.get("URL") or "").rstrip("/")
        if not url.startswith(("http://", "https://")):
            raise SapDestinationError(f"destination {self.name} has no http(s) URL", destination=self.name)
        headers = dict([found.auth_header]) if found.auth_header else {}
        proxy = ""
        if str(config.get("ProxyType") or "Internet") == "OnPremise":
            proxy = self._on_premise(config, headers, authentication, user_token)
        elif authentication == "PrincipalPropagation":
            raise SapDestinationError(
                f"destination {self.name} has PrincipalPropagation, which needs ProxyType OnPremise (the Cloud "
                "Connector maps the user)",
                destination=self.name,
            )
        client = str(config.get("sap-client") or self._default_client)
        return Route(url=url, client=client, headers=headers, proxy=proxy)

    def _check_kind(self, authentication: str) -> None:
        expected = USER_AUTHENTICATIONS if self.user_based else TECHNICAL_AUTHENTICATIONS
        if authentication in expected:
            return
        wanted = "acts as the user" if self.user_based else "is technical"
        raise SapDestinationError(
            f"destination {self.name} has Authentication {authentication}, but this destination {wanted}: use one of "
            f"{', '.join(sorted(expected))}",
            destination=self.name,
        )

    def _on_premise(self, config: Mapping[str, Any], headers: dict[str, str], authentication: str, user: str) -> str:
        if self._connectivity is None or self._proxy_token is None:
            raise SapDestinationError(
                f"destination {self.name} is OnPremise: bind the Connectivity service (its proxy reaches the "
                "Cloud Connector)",
                destination=self.name,
            )
        headers["Proxy-Authorization"] = f"Bearer {self._proxy_token.get(self.name)}"
        location = str(config.get("CloudConnectorLocationId") or "")
        if location:
            headers["SAP-Connectivity-SCC-Location_ID"] = location
        if authentication == "PrincipalPropagation":
            # The Cloud Connector maps the user's JWT to their SAP user (a short-lived X.509 certificate).
            headers["SAP-Connectivity-Authentication"] = f"Bearer {user}"
        return self._connectivity.api_url

    # -- the lookup, cached per user token ----------------------------------------------------------------------

    def refused_by_proxy(self) -> None:
        """The Connectivity proxy answered 407 to our token (revoked, keys rotated): the next call gets a new one."""
        if self._proxy_token is not None:
            self._proxy_token.invalidate()

    def _found(self, user_token: str, principal: Principal | None) -> _Found:
        key = hashlib.sha256(user_token.encode()).hexdigest() if user_token else ""
        cached = self._cached(key)
        if cached is not None and self._clock() < cached.refresh_at:
            return cached
        with self._lock:
            fetching = self._fetching.setdefault(key, threading.Lock())
        # One lookup per key: when the cache runs out under load, one thread asks and the others wait for its
        # answer (within their deadline), instead of every web thread asking a slow Destination service at once.
        budget = current_deadline()
        if not fetching.acquire(timeout=max(0.0, budget.remaining()) if budget is not None else -1):
            if cached is not None and self._clock() < cached.usable_until:
                return cached
            raise SapTimeout(f"no lookup of destination {self.name} within the request's budget", destination=self.name)
        try:
            fresh = self._cached(key)
            if fresh is not None and self._clock() < fresh.refresh_at:
                return fresh  # another thread looked it up while this one waited
            try:
                found = self._lookup(user_token, principal)
            except SapUnavailable as exc:
                if cached is None or self._clock() >= cached.usable_until:
                    raise
                # The Destination service is away but what it said last still works: keep using it.
                log.warning("sap_destination_lookup_failed_using_cached", destination=self.name, error=exc.message)
                return cached
            with self._lock:
                self._cache[key] = found
                self._cache.move_to_end(key)
                while len(self._cache) > MAX_CACHED:
                    self._cache.popitem(last=False)
            return found
        finally:
            fetching.release()
            with self._lock:
                if self._fetching.get(key) is fetching and not fetching.locked():
                    del self._fetching[key]

    def _cached(self, key: str) -> _Found | None:
        with self._lock:
            found = self._cache.get(key)
            if found is not None:
                self._cache.move_to_end(key)
            return found

    def _lookup(self, user_token: str, principal: Principal | None) -> _Found:
        body = self._get(user_token)
        config = body.get("destinationConfiguration")
        if not isinstance(config, Mapping):
            raise SapDestinationError(
                f"the destination service answered for {self.name} without destinationConfiguration",
                destination=self.name,
            )
        # Before its tokens: a destination of the wrong kind says so, not that it lacked a user token.
        self._check_kind(str(config.get("Authentication") or "NoAuthentication"))
        token_lifetime = float("inf")
        header: tuple[str, str] | None = None
        tokens = body.get("authTokens") or []
        for token in tokens if isinstance(tokens, list) else []:
            if not isinstance(token, Mapping):
                continue
            if token.get("error"):
                raise self._token_error(str(token["error"])[:300], user_token, principal)
            header = _auth_header(token)
            if token.get("expires_in"):
                token_lifetime = max(0.0, float(token["expires_in"]) - TOKEN_MARGIN)
        if header is None and config.get("Authentication") == "BasicAuthentication" and config.get("User"):
            # Older landscapes answer Basic destinations without authTokens: the properties carry the password.
            pair = f"{config['User']}:{config.get('Password', '')}".encode()
            header = ("Authorization", "Basic " + base64.b64encode(pair).decode())
        now = self._clock()
        return _Found(config, header, now + min(CACHE_SECONDS, token_lifetime), now + token_lifetime)

    def _token_error(self, error: str, user_token: str, principal: Principal | None) -> SapError:
        """The Destination service could not get the destination's token. For a user, SAP (or its trust) refused
        them: their 401, which the inbox reports to them by name. Without one, the destination's token service
        failed, which may pass (it is down) or not (a wrong secret): retried like SAP being away, and named."""
        if user_token and principal is not None:
            return SapAuthError(
                f"the destination service could not get a token of destination {self.name} for user "
                f"{principal.user}: {error}",
                status=401,
                destination=self.name,
            )
        return SapUnavailable(
            f"the destination service could not get a token of destination {self.name}: {error}", destination=self.name
        )

    def _get(self, user_token: str) -> dict[str, Any]:
        url = self._binding.api_url.rstrip("/") + FIND_PATH + quote(self.name, safe="")
        for attempt in (1, 2):
            token = self._token.get(self.name)
            headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
            if user_token:
                headers["X-user-token"] = user_token
            try:
                response = self._session.get(url, headers=headers, timeout=within_deadline(self._timeout))
            except requests.RequestException as exc:
                metrics.SAP_DESTINATION_LOOKUPS.labels(self.name, "unreachable").inc()
                raise SapUnavailable(
                    f"the destination service did not answer for destination {self.name} ({type(exc).__name__})",
                    destination=self.name,
                ) from None
            metrics.SAP_DESTINATION_LOOKUPS.labels(self.name, str(response.status_code)).inc()
            if response.status_code == 401 and attempt == 1:
                # Our cached token was refused before its expiry (revoked, keys rotated): one more with a new one.
                self._token.invalidate(token)
                continue
            return self._answer(response)
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    def _answer(self, response: requests.Response) -> dict[str, Any]:
        status = response.status_code
        if status == 404:
            raise SapDestinationError(
                f"destination {self.name} was not found in the destination service: create it in the BTP cockpit "
                "(Connectivity > Destinations) or name another one",
                status=404,
                destination=self.name,
            )
        if status in (401, 403):
            raise SapDestinationError(
                f"the destination service refused this application's credentials (HTTP {status}) for destination "
                f"{self.name}: check the destination service binding",
                status=status,
                destination=self.name,
            )
        if status == 429 or status >= 500:
            raise SapUnavailable(
                f"the destination service answered HTTP {status} for destination {self.name}",
                status=status,
                destination=self.name,
            )
        try:
            body = response.json()
        except ValueError:
            body = None
        if status != 200 or not isinstance(body, dict):
            raise SapDestinationError(
                f"the destination service answered HTTP {status} for destination {self.name}, not a destination",
                status=status,
                destination=self.name,
            )
        return body

    def close(self) -> None:
        self._session.close()


def _auth_header(token: Mapping[str, Any]) -> tuple[str, str]:
    """The header an authToken says to send: its http_header, else built from its type and value."""
    http_header = token.get("http_header")
    if isinstance(http_header, Mapping) and http_header.get("key") and http_header.get("value"):
        return str(http_header["key"]), str(http_header["value"])
    kind = str(token.get("type") or "Bearer")
    return "Authorization", f"{kind[:1].upper()}{kind[1:].lower()} {token.get('value', '')}"
