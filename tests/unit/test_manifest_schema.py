"""manifest.yml is a valid Cloud Foundry app manifest, keeps secrets out of env, and its health checks answer."""

from __future__ import annotations

import asyncio
import copy
import json
import re
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from app import create_app
from app.event_stream import EventStreamApp
from runtime.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
RAW = (ROOT / "manifest.yml").read_text()
SCHEMA = json.loads((Path(__file__).with_name("cf_manifest_schema.json")).read_text())
VARS = re.compile(r"\(\(([^()]+)\)\)")
# What `cf push --vars-file vars.yml` fills in: routes and URLs only, never a secret.
EXAMPLE_VARS = {
    "api_url": "https://sap-extension-api.cfapps.eu10.hana.ondemand.com",
    "api_host": "sap-extension-api.cfapps.eu10.hana.ondemand.com",
}
# Settings that must never be a var or a literal in env: they come from bindings (destination, sapext-secrets).
SECRETS = {
    "SAP_URL",
    "SAP_CLIENT",
    "SAP_USER",
    "SAP_PASSWORD",
    "SAP_OAUTH_CLIENT_SECRET",
    "SAP_USER_ASSERTION_KEY",
    "SAP_USER_ASSERTION_ISSUER",
    "PAGING_SECRET",
    "SAP_EVENTS_PASSWORD",
    "VAPID_PRIVATE_KEY",
    "VAPID_SUBJECT",
    "ALERT_WEBHOOK_URL",
}


def _interpolated(raw: str) -> dict[str, Any]:
    """The manifest as the Cloud Controller receives it, with the example vars filled in."""
    unknown = set(VARS.findall(raw)) - set(EXAMPLE_VARS)
    assert not unknown, f"vars other than routes and URLs: {sorted(unknown)}"
    manifest: dict[str, Any] = yaml.safe_load(VARS.sub(lambda m: EXAMPLE_VARS[m.group(1)], raw))
    return manifest


MANIFEST = _interpolated(RAW)
APPS = {app["name"]: app for app in yaml.safe_load(RAW)["applications"]}


def _errors(manifest: dict[str, Any]) -> list[str]:
    validator = jsonschema.Draft202012Validator(SCHEMA)
    return [f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in validator.iter_errors(manifest)]


def _processes(app: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each process type with what it runs with: top-level attributes are the web process's, as on Cloud Foundry."""
    listed = {p["type"]: p for p in app.get("processes", [])}
    top = {k: v for k, v in app.items() if k not in ("processes", "name", "env", "services", "routes", "buildpacks")}
    if "web" not in listed:
        listed["web"] = {**top, "type": "web"}
    return listed


def test_the_manifest_is_a_valid_cloud_foundry_app_manifest() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    assert _errors(MANIFEST) == []
    for app in MANIFEST["applications"]:
        types = [p["type"] for p in app.get("processes", [])]
        assert len(types) == len(set(types)), f"{app['name']}: a process type listed twice"


@pytest.mark.parametrize(
    ("change", "why"),
    [
        (lambda m: m["applications"][0]["processes"][0].update({"health-check-endpoint": "/x"}), "misspelt key"),
        (lambda m: m["applications"][0].update({"buildpack": "python_buildpack"}), "deprecated attribute"),
        (lambda m: m["applications"][0]["processes"][1].update({"memory": "512"}), "memory without a unit"),
        (lambda m: m["applications"][0]["processes"][1].update({"instances": "2"}), "instances as a string"),
        (lambda m: m["applications"][0]["processes"][1].update({"health-check-type": "none"}), "deprecated check"),
        (lambda m: m["applications"][0]["processes"][0].update({"health-check-http-endpoint": "health"}), "no /"),
        (lambda m: m["applications"][0]["processes"][1].update({"health-check-http-endpoint": "/h"}), "not http"),
        (lambda m: m["applications"][0]["env"].update({"WEB_CONCURRENCY": 4}), "an env value that is not a string"),
        (lambda m: m["applications"][0]["services"].append({"name": "s", "tags": ["x"]}), "unknown binding key"),
        (lambda m: m["applications"][1]["routes"].append({"host": "x"}), "a route without route"),
        (lambda m: m["applications"][1]["routes"].append({"route": "https://x.example.com"}), "a URL, not a route"),
        (lambda m: m["applications"][0]["processes"].append({"command": "x"}), "a process without a type"),
        (lambda m: m["applications"][0].update({"name": "-api"}), "a name the cf CLI reads as a flag"),
    ],
)
def test_the_schema_refuses_what_cloud_foundry_refuses(change: Callable[[dict[str, Any]], None], why: str) -> None:
    manifest = copy.deepcopy(MANIFEST)
    change(manifest)
    assert _errors(manifest), f"accepted: {why}"


def test_no_secret_is_a_var_or_in_env() -> None:
    for name, app in APPS.items():
        env = app.get("env", {})
        assert not SECRETS & set(env), f"{name}: secrets in env: {sorted(SECRETS & set(env))}"
        for key, value in env.items():
            used = set(VARS.findall(str(value)))
            assert used <= set(EXAMPLE_VARS), f"{name}: env {key} uses {sorted(used)}"


def test_secrets_and_sap_come_from_bindings() -> None:
    api, events = APPS["sap-extension-api"], APPS["sap-extension-api-events"]
    bound = set(api["services"])
    assert {"sapext-destination", "sapext-connectivity", "sapext-secrets", "sapext-xsuaa"} <= bound
    assert api["env"]["SAP_DESTINATION_NAME"] and api["env"]["SAP_USER_DESTINATION_NAME"]
    # The internet-facing stream calls no SAP and signs nothing: the bus and the token issuer, nothing more.
    assert set(events["services"]) == {"sapext-redis", "sapext-xsuaa"}


def test_every_process_type_has_instances_and_memory() -> None:
    for name, app in APPS.items():
        for kind, process in _processes(app).items():
            assert "instances" in process and "memory" in process, f"{name} {kind}: set instances and memory"


def _flask_status(path: str, tmp_path: Path) -> int:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'store.db'}",
        dev_idp_key_file=str(tmp_path / "dev-idp-key.json"),
        vapid_key_file=str(tmp_path / "vapid-key.pem"),
    )
    return create_app(settings).test_client().get(path).status_code


def _asgi_status(path: str, tmp_path: Path) -> int:
    app = EventStreamApp(Settings(dev_idp_key_file=str(tmp_path / "dev-idp-key.json")))
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": path, "headers": [], "query_string": b""}
    asyncio.run(app(scope, receive, send))  # type: ignore[arg-type]
    return int(next(m["status"] for m in sent if m["type"] == "http.response.start"))


def _approuter_status(path: str, tmp_path: Path) -> int:
    """The router answers a path from the first xs-app.json route that matches it; it must need no sign-in."""
    xs_app = json.loads((ROOT / "approuter" / "xs-app.json").read_text())
    route = next((r for r in xs_app["routes"] if re.search(r["source"], path)), None)
    if route is None or route.get("authenticationType") != "none" or "localDir" not in route:
        return 401
    return 200 if (ROOT / "approuter" / route["localDir"] / path.lstrip("/")).is_file() else 404


def _server_of(app: dict[str, Any], process: dict[str, Any]) -> Callable[[str, Path], int]:
    command = process.get("command", "")
    if app.get("buildpacks") == ["nodejs_buildpack"]:
        return _approuter_status
    if "app.event_stream:create_app()" in command:
        return _asgi_status
    if "wsgi:app" in command:
        return _flask_status
    raise AssertionError(f"{app['name']}: no health check test knows what serves {command!r}")


HTTP_CHECKS = [
    (name, kind, key, process[key])
    for name, app in APPS.items()
    for kind, process in _processes(app).items()
    for key in ("health-check-http-endpoint", "readiness-health-check-http-endpoint")
    if key in process
]


def test_some_http_checks_are_declared() -> None:
    assert {name for name, *_ in HTTP_CHECKS} == set(APPS)


@pytest.mark.parametrize(("name", "kind", "key", "endpoint"), HTTP_CHECKS)
def test_every_http_health_check_answers(name: str, kind: str, key: str, endpoint: str, tmp_path: Path) -> None:
    app = APPS[name]
    status = _server_of(app, _processes(app)[kind])(endpoint, tmp_path)
    assert status == 200, f"{name} {kind} {key} {endpoint}: {status}"


def test_the_buildpacks_are_pinned_to_the_runtimes_we_build_for() -> None:
    # The Python buildpack reads runtime.txt only (its default would be an older Python than ours).
    pin = (ROOT / "runtime.txt").read_text().strip()
    match = re.fullmatch(r"python-(\d+)\.(\d+)\.(x|\d+)", pin)
    assert match, f"runtime.txt: {pin!r} is not python-X.Y.x"
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert f"{match[1]}.{match[2]}" == project["tool"]["mypy"]["python_version"]
    assert project["project"]["requires-python"] == f">={match[1]}.{match[2]}"
    assert "runtime.txt" not in (ROOT / ".cfignore").read_text().split()
    # The Node.js buildpack reads engines.node from the router's package.json.
    engines = json.loads((ROOT / "approuter" / "package.json").read_text()).get("engines", {})
    assert re.search(r"\d", engines.get("node", "")), "approuter/package.json: pin engines.node"
