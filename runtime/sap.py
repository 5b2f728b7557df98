"""SAP connectivity from settings: the technical destination and the user-propagation one for the inbox."""

from __future__ import annotations

from odata_clients.connectivity import SapConnectivity
from odata_clients.destinations import AuthKind, build_destination
from runtime.settings import Settings


def sap_connectivity(settings: Settings) -> SapConnectivity:
    """One per process; nothing is sent to SAP until the first call."""
    technical = build_destination(
        "s4",
        settings.sap_url,
        client=settings.sap_client,
        user=settings.sap_user,
        password=settings.sap_password,
        connect_timeout=settings.sap_connect_timeout,
        read_timeout=settings.sap_read_timeout,
    )
    # The inbox must act as the executive: their token travels with each call.
    user = build_destination(
        "s4-user",
        settings.sap_url,
        client=settings.sap_client,
        auth_kind=AuthKind.USER_PROPAGATION,
        connect_timeout=settings.sap_connect_timeout,
        read_timeout=settings.sap_read_timeout,
    )
    return SapConnectivity(technical, user)
