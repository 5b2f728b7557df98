"""approuter/ and manifest.yml agree: the router binds the API's XSUAA, its routes use the destination it is given,
and the local run hands it the same binding shape (devenv/approuter.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from devenv import approuter
from runtime.settings import ConfigError, from_env

ROOT = Path(__file__).resolve().parents[3]
MANIFEST = yaml.safe_load((ROOT / "manifest.yml").read_text())
XS_APP = json.loads((ROOT / "approuter" / "xs-app.json").read_text())
PACKAGE = json.loads((ROOT / "approuter" / "package.json").read_text())


def _apps() -> dict[str, dict[str, Any]]:
    return {app["name"]: app for app in MANIFEST["applications"]}


def test_the_router_is_pushed_beside_the_api_with_the_same_xsuaa() -> None:
    apps = _apps()
    api, router = apps["sap-extension-api"], apps["sap-extension-api-approuter"]
    assert router["path"] == "approuter" and router["buildpacks"] == ["nodejs_buildpack"]
    xsuaa = [name for name in api["services"] if "xsuaa" in name]
    assert xsuaa and set(xsuaa) <= set(router["services"])
    destinations = json.loads(router["env"]["destinations"])
    assert [d["name"] for d in destinations] == ["api", "events"]
    assert all(d["forwardAuthToken"] is True and d["url"] == "((api_url))" for d in destinations)


def test_the_event_stream_shares_the_apis_host_and_its_bus_and_issuer() -> None:
    apps = _apps()
    api, events = apps["sap-extension-api"], apps["sap-extension-api-events"]
    assert [r["route"] for r in events["routes"]] == ["((api_host))/api/v1/events"]
    assert "gunicorn_events.conf.py" in events["command"] and "app.event_stream:create_app()" in events["command"]
    assert set(events["services"]) <= set(api["services"]) and any("xsuaa" in s for s in events["services"])
    # It never calls SAP: none of SAP's credentials, the assertion key or the paging secret on an internet-facing app.
    assert not {"SAP_URL", "SAP_USER", "SAP_PASSWORD", "SAP_USER_ASSERTION_KEY", "PAGING_SECRET"} & set(events["env"])
    environ = {
        **{k: str(v) for k, v in events["env"].items()},
        "JWT_ISSUER": "https://x/oauth/token",
        "JWKS_URL": "https://x/token_keys",
        "REDIS_URL": "redis://r:6379/0",
    }
    assert from_env(environ, calls_sap=False).is_production  # starts with what the manifest gives it
    with pytest.raises(ConfigError, match="SAP_URL"):
        from_env(environ)  # the API's own checks would refuse it


def test_every_route_to_the_api_needs_a_sign_in_and_api_writes_need_csrf() -> None:
    destinations = {route["destination"] for route in XS_APP["routes"] if "destination" in route}
    assert destinations == {"api", "events"}
    for route in XS_APP["routes"]:
        if route.get("destination") in ("api", "events"):
            assert route["authenticationType"] == "xsuaa"
    api_route = next(route for route in XS_APP["routes"] if route["source"] == "^/api/(.*)$")
    assert api_route["csrfProtection"] is True and api_route["target"] == "/api/$1"
    assert XS_APP["logout"]["logoutEndpoint"] and XS_APP["logout"]["logoutPage"]


def test_the_router_version_is_pinned() -> None:
    version = PACKAGE["dependencies"]["@sap/approuter"]
    assert version[0].isdigit(), f"pin an exact version, not {version!r}"
    lock = json.loads((ROOT / "approuter" / "package-lock.json").read_text())
    assert lock["packages"]["node_modules/@sap/approuter"]["version"] == version


def test_local_binding_is_shaped_like_btp() -> None:
    env = approuter.environment(
        {"HOME": "/root"},
        port=5000,
        api_url="http://127.0.0.1:8080",
        idp_url="http://127.0.0.1:8080/dev-idp",
        client_id="sb-sap-extension-api",
        client_secret="s",
        xsappname="sap-extension-api",
    )
    binding = json.loads(env["VCAP_SERVICES"])["xsuaa"][0]
    assert "xsuaa" in binding["tags"]  # how the router finds it
    credentials = binding["credentials"]
    assert credentials["url"] == "http://127.0.0.1:8080/dev-idp" and credentials["uaadomain"] == "127.0.0.1:8080"
    assert {"clientid", "clientsecret", "xsappname"} <= set(credentials)
    api = {"name": "api", "url": "http://127.0.0.1:8080", "forwardAuthToken": True}
    events = {**api, "name": "events"}  # without a stream URL of its own: the API's host, as on Cloud Foundry
    assert json.loads(env["destinations"]) == [api, events]
    assert env["PORT"] == "5000" and env["HOME"] == "/root"
