"""SAP's application router (approuter/) in front of the API, bound to the development identity provider.

It gets what it would get on SAP BTP, as environment variables instead of Cloud Foundry's: an xsuaa binding in
VCAP_SERVICES (the dev IdP's URL, client id and secret) and the `api` destination (forwardAuthToken). So the
router runs the authorization-code flow against /dev-idp exactly as it does against XSUAA.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from runtime.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
APPROUTER = ROOT / "approuter"
ENTRY = APPROUTER / "node_modules" / "@sap" / "approuter" / "approuter.js"
NODE_MISSING = (
    "Node.js (with npm) is not installed, so SAP's application router is not started: sign-in through a browser"
    " needs it. Install Node.js 20 or 22 (https://nodejs.org, or `apt-get install nodejs npm`), then run again;"
    " tokens for curl work without it (flask dev-token)."
)


def installed() -> bool:
    """Whether `npm ci` has put @sap/approuter into approuter/node_modules (dev.py does it when npm exists)."""
    return ENTRY.exists() and shutil.which("node") is not None


def command() -> list[str]:
    node = shutil.which("node")
    if node is None:
        raise RuntimeError(NODE_MISSING)
    return [node, str(ENTRY)]


def environment(
    base: dict[str, str],
    *,
    port: int,
    api_url: str,
    idp_url: str,
    client_id: str,
    client_secret: str,
    xsappname: str,
    events_url: str | None = None,
) -> dict[str, str]:
    """`base` plus what Cloud Foundry would set for the router: PORT, VCAP_SERVICES (xsuaa), destinations.

    `events_url`: the event stream process (xs-app.json routes /api/v1/events there); default: the API's URL,
    as on Cloud Foundry, where the stream has a path route on the API's host.
    """
    binding = {
        "name": f"{xsappname}-uaa",
        "label": "xsuaa",
        "plan": "application",
        "tags": ["xsuaa"],  # how the router finds its binding
        "credentials": {
            "url": idp_url,
            "clientid": client_id,
            "clientsecret": client_secret,
            "xsappname": xsappname,
            "uaadomain": idp_url.split("://", 1)[-1].split("/", 1)[0],
            "identityzone": "dev",
            "identityzoneid": "dev-zone",
            "tenantid": "dev-zone",
            "tenantmode": "dedicated",
            "credential-type": "binding-secret",
        },
    }
    # The API itself keeps checking every token; the router forwards the user's, as on BTP.
    destinations = [
        {"name": "api", "url": api_url, "forwardAuthToken": True},
        {"name": "events", "url": events_url or api_url, "forwardAuthToken": True},
    ]
    return {
        **base,
        "PORT": str(port),
        "VCAP_SERVICES": json.dumps({"xsuaa": [binding]}),
        "destinations": json.dumps(destinations),
    }


def bound_to_dev_idp(
    base: dict[str, str], settings: Settings, *, port: int, api_url: str, events_url: str | None = None
) -> dict[str, str]:
    """`environment` for a router in front of the API at `api_url`, signing in at that API's /dev-idp with the
    development identity provider's OAuth client (as BTP binds it to the XSUAA instance)."""
    from app.dev_oauth import client_for  # the app, only when a router is started

    client = client_for(settings)
    return environment(
        base,
        port=port,
        api_url=api_url,
        idp_url=f"{api_url}/dev-idp",
        client_id=client.client_id,
        client_secret=client.secret,
        xsappname=settings.xsappname,
        events_url=events_url,
    )
