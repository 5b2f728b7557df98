"""SAP connectivity from settings: the technical destination and the user-propagation one for the inbox."""

from __future__ import annotations

from typing import Any

from odata_clients.connectivity import SapConnectivity
from odata_clients.destinations import AuthKind, Destination, build_destination, destination_from_entry
from runtime.settings import Settings


def technical_destination(settings: Settings) -> Destination:
    """The destination every technical call uses: a bound destination entry, else SAP_URL and SAP_AUTH."""
    tuning: dict[str, Any] = {
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
    if settings.sap_inbox_user_propagation:
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
