"""Reachability probe for readiness checks: is the SAP system answering HTTP at all?"""

from __future__ import annotations

import requests

# A service every deployment of this product uses; its $metadata is cheap and always served.
PROBE_PATH = "/sap/opu/odata/sap/API_PRODUCTION_ORDER_2_SRV/$metadata"


def sap_reachable(base_url: str, client: str, auth: tuple[str, str] | None, timeout: float) -> str | None:
    """None when SAP answers the probe with a non-5xx status, else a reason fit for a health report.

    With Basic credentials they are checked too: a 401/403 means the system is up but unusable for us.
    Without (OAuth, a bound destination) the probe only asks whether SAP answers at all.
    """
    try:
        response = requests.get(
            base_url.rstrip("/") + PROBE_PATH,
            params={"sap-client": client},
            auth=auth,
            timeout=timeout,
        )
    except requests.Timeout:
        return f"no answer within {timeout:g}s"
    except requests.RequestException as exc:
        return f"unreachable: {type(exc).__name__}"
    if auth is not None and response.status_code in (401, 403):
        return f"credentials refused (HTTP {response.status_code})"
    if response.status_code >= 500:
        return f"HTTP {response.status_code}"
    return None
