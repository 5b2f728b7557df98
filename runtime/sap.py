"""SAP connectivity from settings: the technical destination and the user-propagation one for the inbox."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from odata_clients.connectivity import SapConnectivity
from odata_clients.destination_service import DestinationService, ServiceBinding
from odata_clients.destinations import (
    AuthKind,
    Destination,
    DestinationServiceAuth,
    build_destination,
    destination_from_entry,
)
from runtime.settings import Settings

# A lookup in the Destination service waits at most this for an answer (it is asked once per cache period).
LOOKUP_READ_TIMEOUT = 10.0


def _tuning(settings: Settings) -> dict[str, Any]:
    return {
        "connect_timeout": settings.sap_connect_timeout,
        "read_timeout": settings.sap_read_timeout,
        "max_attempts": settings.sap_max_attempts,
        "breaker_failure_threshold": settings.sap_breaker_threshold,
        "breaker_recovery_time": settings.sap_breaker_recovery,
        "max_concurrency": settings.sap_max_concurrency,
        # Under gunicorn's gthread every caller waiting for a SAP slot holds a web thread: at most half of the
        # threads the slots leave free may wait, the others always serve requests that never call SAP.
        "max_queued": max(0, (settings.gunicorn_threads - settings.sap_max_concurrency) // 2),
    }


def _token_url(credentials: Mapping[str, Any], *keys: str) -> str:
    base = next(str(credentials[key]) for key in keys if credentials.get(key)).rstrip("/")
    return base if base.endswith("/oauth/token") else base + "/oauth/token"


def _from_destination_service(settings: Settings, name: str, *, user_based: bool) -> Destination:
    """A destination looked up by name in the bound Destination service (through the Connectivity proxy when
    it is OnPremise); runtime/settings.py has checked that the bindings hold what is read here."""
    assert settings.destination_service is not None
    service = settings.destination_service
    token_url = _token_url(service, "url")
    binding = ServiceBinding(str(service["uri"]), token_url, service["clientid"], service["clientsecret"])
    proxy = None
    if (connectivity := settings.connectivity_service) is not None:
        port = connectivity.get("onpremise_proxy_http_port") or connectivity["onpremise_proxy_port"]
        proxy = ServiceBinding(
            f"http://{connectivity['onpremise_proxy_host']}:{port}",
            _token_url(connectivity, "token_service_url", "url"),
            connectivity["clientid"],
            connectivity["clientsecret"],
        )
    resolver = DestinationService(
        name,
        binding,
        proxy,
        user_based=user_based,
        default_client=settings.sap_client,
        timeout=(settings.sap_connect_timeout, min(settings.sap_read_timeout, LOOKUP_READ_TIMEOUT)),
    )
    kind = AuthKind.USER_PROPAGATION if user_based else AuthKind.DESTINATION_SERVICE
    return Destination(name=name, url="", auth=DestinationServiceAuth(resolver, kind), **_tuning(settings))


def technical_destination(settings: Settings) -> Destination:
    """The destination every technical call uses: the Destination service's (SAP_DESTINATION_NAME), a bound
    destination entry, else SAP_URL and SAP_AUTH."""
    tuning = _tuning(settings)
    if settings.sap_destination_name:
        return _from_destination_service(settings, settings.sap_destination_name, user_based=False)
    if settings.sap_destination:
        return destination_from_entry(settings.sap_destination, **tuning)
    return build_destination(
        "s4",
        settings.sap_url,
        client=settings.sap_client,
        auth_kind=AuthKind(settings.sap_auth),
        user=settings.sap_user,
        password=settings.sap_password,
        token_url=settings.sap_oauth_token_url,
        client_id=settings.sap_oauth_client_id,
        client_secret=settings.sap_oauth_client_secret,
        scope=settings.sap_oauth_scope,
        **tuning,
    )


def sap_connectivity(settings: Settings) -> SapConnectivity:
    """One per process; nothing is sent to SAP until the first call."""
    technical = technical_destination(settings)
    user = None
    if settings.sap_user_destination_name:
        user = _from_destination_service(settings, settings.sap_user_destination_name, user_based=True)
    elif settings.sap_inbox_user_propagation:
        # The inbox must act as the executive: their token (or the worker's assertion) travels with each call.
        user = build_destination(
            f"{technical.name}-user",
            technical.url,
            client=technical.client,
            auth_kind=AuthKind.USER_PROPAGATION,
            connect_timeout=technical.connect_timeout,
            read_timeout=technical.read_timeout,
            max_attempts=technical.max_attempts,
            breaker_failure_threshold=technical.breaker_failure_threshold,
            breaker_recovery_time=technical.breaker_recovery_time,
            max_concurrency=technical.max_concurrency,
            queue_timeout=technical.queue_timeout,
            max_queued=technical.max_queued,
        )
    return SapConnectivity(technical, user, metadata_dir=settings.sap_metadata_dir or None)
