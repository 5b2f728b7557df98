"""Reachability probe for readiness checks: is the SAP system answering HTTP at all?"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import requests
import structlog

from odata_clients.errors import SapError
from odata_clients.resilience import deadline

if TYPE_CHECKING:
    from odata_clients.http import SapHttp

log = structlog.get_logger("odata_clients.probe")

# A service every deployment of this product uses; its $metadata is cheap and always served.
PROBE_PATH = "/sap/opu/odata/sap/API_PRODUCTION_ORDER_2_SRV/$metadata"


def sap_reachable(
    base_url: str,
    client: str,
    auth: tuple[str, str] | None,
    timeout: float,
    *,
    headers: Mapping[str, str] | None = None,
    proxy: str = "",
) -> str | None:
    """None when SAP answers the probe with a non-5xx status, else a reason fit for a health report.

    With credentials (Basic, or an Authorization header from the Destination service) they are checked too:
    a 401/403 means the system is up but unusable for us. Without (OAuth) the probe only asks whether SAP answers.
    `proxy`: the Connectivity service's proxy for an on-premise system (its headers are in `headers`).
    """
    headers = dict(headers or {})
    checks_credentials = auth is not None or "Authorization" in headers
    try:
        response = requests.get(
            base_url.rstrip("/") + PROBE_PATH,
            params={"sap-client": client},
            auth=auth,
            headers=headers,
            timeout=timeout,
            proxies={"http": proxy, "https": proxy} if proxy else None,
        )
    except requests.Timeout:
        return f"no answer within {timeout:g}s"
    except requests.RequestException as exc:
        return f"unreachable: {type(exc).__name__}"
    if checks_credentials and response.status_code in (401, 403):
        return f"credentials refused (HTTP {response.status_code})"
    if response.status_code >= 500:
        return f"HTTP {response.status_code}"
    return None


def destination_reachable(http: SapHttp, timeout: float) -> str | None:
    """`sap_reachable` for a destination's technical route (the Destination service is asked when it has one)."""
    try:
        with deadline(timeout):  # the Destination service's lookup too stays within the probe's time
            route, basic = http.technical_route()
    except SapError as exc:
        # The reason for the log (it names the destination and what to fix); the public report gets its kind.
        log.warning("sap_destination_unusable", destination=exc.destination, kind=exc.kind, error=exc.message)
        return f"destination unusable: {exc.kind}"
    return sap_reachable(route.url, route.client, basic, timeout, headers=route.headers, proxy=route.proxy)
