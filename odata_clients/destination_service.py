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
from odata_clients.errors import SapAuthError, SapDestinationError, SapUnavailable
from odata_clients.oauth import ClientCredentialsToken, within_deadline

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
    configuration: Mapping[str, Any]
    auth_header: tuple[str, str] | None
    expires_at: float


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
        self._cache: OrderedDict[str, _Found] = OrderedDict()
        self._lock = threading.Lock()

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

    def _found(self, user_token: str, principal: Principal | None) -> _Found:
        key = hashlib.sha256(user_token.encode()).hexdigest() if user_token else ""
        now = self._clock()
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None and now < cached.expires_at:
                self._cache.move_to_end(key)
                return cached
        # Looked up outside the lock: threads missing together may ask twice, none waits on another's call.
        found = self._lookup(user_token, principal)
        with self._lock:
            self._cache[key] = found
            self._cache.move_to_end(key)
            while len(self._cache) > MAX_CACHED:
                self._cache.popitem(last=False)
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
        lifetime = CACHE_SECONDS
        header: tuple[str, str] | None = None
        tokens = body.get("authTokens") or []
        for token in tokens if isinstance(tokens, list) else []:
            if not isinstance(token, Mapping):
                continue
            if token.get("error"):
                who = f" for user {principal.user}" if principal is not None and user_token else ""
                message = f"the destination service could not get a token of destination {self.name}{who}: "
                # Without a user it is the destination's own setup (its token service, client or secret).
                kind = SapAuthError if user_token else SapDestinationError
                raise kind(message + str(token["error"])[:300], destination=self.name)
            header = _auth_header(token)
            if token.get("expires_in"):
                lifetime = min(lifetime, max(0.0, float(token["expires_in"]) - TOKEN_MARGIN))
        if header is None and config.get("Authentication") == "BasicAuthentication" and config.get("User"):
            # Older landscapes answer Basic destinations without authTokens: the properties carry the password.
            pair = f"{config['User']}:{config.get('Password', '')}".encode()
            header = ("Authorization", "Basic " + base64.b64encode(pair).decode())
        return _Found(config, header, self._clock() + lifetime)

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
