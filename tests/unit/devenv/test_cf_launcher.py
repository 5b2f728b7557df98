"""The local Cloud Foundry launcher: manifest.yml read as Cloud Foundry reads it, the environment each instance gets
(every binding the manifest names, consumed by runtime.settings), and instances' lives with real short processes."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from devenv import btp, cf, cf_instance
from devenv.btp import LocalServices, OAuthClient, UnboundService, local_binding
from devenv.cf_env import app_services, instance_env, uris_of
from devenv.cf_instance import Instance, restart_delay
from devenv.cf_manifest import App, HealthCheck, ManifestError, Process, load, parse_scale, scaled, select, substitute
from devenv.redis_server import free_port
from runtime.settings import from_env

ROOT = Path(__file__).resolve().parents[3]
MANIFEST = ROOT / "manifest.yml"
VARIABLES = {"api_url": "http://127.0.0.1:41000", "api_host": "127.0.0.1:41000"}

SMALL_MANIFEST = """
applications:
  - name: shop
    path: .
    buildpacks: [python_buildpack]
    command: gunicorn shop:app
    memory: 1G
    timeout: 120
    env: {GREETING: ((greeting)), DEBUG: false}
    routes:
      - route: ((host))/shop
    services: [shop-redis]
    processes:
      - type: worker
        command: python -m worker
        instances: 3
        memory: 256M
  - name: router
    path: web
    buildpacks: [nodejs_buildpack]
    instances: 2
    health-check-type: http
    health-check-http-endpoint: /ready
"""


@pytest.fixture
def small_manifest(tmp_path: Path) -> Path:
    path = tmp_path / "manifest.yml"
    path.write_text(SMALL_MANIFEST)
    return path


def test_the_application_level_attributes_make_the_web_process_and_buildpacks_give_default_commands(
    small_manifest: Path,
) -> None:
    shop, router = load(small_manifest, {"greeting": "hello", "host": "shop.local"})

    assert [p.type for p in shop.processes] == ["web", "worker"]
    web, worker = shop.processes
    assert (web.command, web.instances, web.memory_mb) == ("gunicorn shop:app", 1, 1024)
    assert web.health_check == HealthCheck("port", "/", 1.0, 120.0)  # Cloud Foundry's default for web: port
    assert (worker.command, worker.instances, worker.memory_mb) == ("python -m worker", 3, 256)
    assert worker.health_check.type == "process" and not worker.listens
    assert shop.env == {"GREETING": "hello", "DEBUG": "false"}
    assert shop.routes == ("shop.local/shop",) and shop.services == ("shop-redis",)
    assert shop.path == small_manifest.parent.resolve()

    (web,) = router.processes
    assert (web.command, web.instances) == ("npm start", 2)  # the Node.js buildpack's start
    assert web.health_check.type == "http" and web.health_check.endpoint == "/ready"
    assert router.path == (small_manifest.parent / "web").resolve()


def test_vars_are_substituted_everywhere_and_an_unknown_one_is_named() -> None:
    data = {"env": {"A": "((one))/x"}, "routes": [{"route": "((one))((two))"}], "instances": 2}
    assert substitute(data, {"one": "1", "two": "2"}) == {
        "env": {"A": "1/x"},
        "routes": [{"route": "12"}],
        "instances": 2,
    }
    with pytest.raises(ManifestError, match=r"no value for \(\(two\)\)"):
        substitute(data, {"one": "1"})


def test_the_real_manifest_names_only_the_vars_the_launcher_fills() -> None:
    apps = load(MANIFEST, VARIABLES)  # raises on any ((var)) without a value
    assert {app.name for app in apps} >= {cf.API, cf.EVENTS, cf.ROUTER}
    api = next(app for app in apps if app.name == cf.API)
    assert {p.type for p in api.processes} >= {"web", "worker"}
    assert all("((" not in value for app in apps for value in (*app.env.values(), *app.routes))


def test_scale_overrides_instance_counts_per_type_or_per_app(small_manifest: Path) -> None:
    shop, router = load(small_manifest, {"greeting": "", "host": "h"})
    scale = parse_scale("web=4, worker=1,router:web=3")
    assert [p.instances for p in scaled(shop, scale).processes] == [4, 1]
    assert [p.instances for p in scaled(router, scale).processes] == [3]
    for bad in ("web", "web=two", "=2"):
        with pytest.raises(ManifestError, match="--scale"):
            parse_scale(bad)
    with pytest.raises(ManifestError, match="no app nope"):
        select([shop, router], ["nope"])
    assert select([shop, router], ["router", "shop"]) == [shop, router]  # the manifest's order


def test_a_crashed_instance_is_restarted_at_once_three_times_then_with_doubling_back_off() -> None:
    assert [restart_delay(n) for n in range(1, 9)] == [0, 0, 0, 30, 60, 120, 240, 480]
    assert restart_delay(40) == cf_instance.BACKOFF_MAX


@pytest.fixture
def local(tmp_path: Path, dev_idp_key_file: str) -> Iterator[LocalServices]:
    """Bindings' targets, nothing started but the XSUAA key server (cheap, in-process)."""
    xsuaa = btp.serve_token_keys(dev_idp_key_file)
    try:
        yield LocalServices(
            redis_url="redis://127.0.0.1:6390/0",
            database_url="postgres://postgres@127.0.0.1:5499/sapext_cf_test",
            xsuaa=xsuaa,
            xsuaa_client=OAuthClient.new("sb-sap-extension-api!t1"),
            xsappname="sap-extension-api",
            btp=btp.plan_mock_btp(tmp_path, "http://127.0.0.1:8081", on_premise=False),
            secrets=btp.new_secrets(dev_idp_key_file, xsuaa.issuer),
        )
    finally:
        xsuaa.stop()


def _instance(app: App, process_type: str, tmp_path: Path, index: int = 0, port: int | None = 41000) -> Instance:
    process = next(p for p in app.processes if p.type == process_type)
    instance = Instance(app, process, index, port if process.listens else None, tmp_path / "i", environment=dict)
    instance.guid = "11111111-2222-3333-4444-555555555555"
    return instance


def _env(app: App, process_type: str, local: LocalServices, tmp_path: Path) -> dict[str, str]:
    instance = _instance(app, process_type, tmp_path, index=1)
    return instance_env(instance, services=app_services(app, local), uris=uris_of(app, 41000), extra={"X": "1"})


def _real_app(name: str) -> App:
    return next(app for app in load(MANIFEST, VARIABLES) if app.name == name)


def test_an_instance_gets_cloud_foundrys_variables_and_nothing_of_the_launchers_own(
    local: LocalServices, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REDIS_URL", "redis://elsewhere:1/0")  # would win over the binding if it leaked in
    api = _real_app(cf.API)
    env = _env(api, "web", local, tmp_path)

    assert "REDIS_URL" not in env and env["X"] == "1"
    assert {k: env[k] for k in ("PORT", "CF_INSTANCE_PORT", "CF_INSTANCE_INDEX", "CF_INSTANCE_ADDR")} == {
        "PORT": "41000",
        "CF_INSTANCE_PORT": "41000",
        "CF_INSTANCE_INDEX": "1",
        "CF_INSTANCE_ADDR": "127.0.0.1:41000",
    }
    assert env["CF_INSTANCE_GUID"] == "11111111-2222-3333-4444-555555555555"
    assert env["PATH"].split(os.pathsep)[0] == str(ROOT / ".venv" / "bin")
    assert (env["HOME"], env["TMPDIR"]) == (str(tmp_path / "i" / "home"), str(tmp_path / "i" / "tmp"))
    assert env["PYTHONUNBUFFERED"] == "1"
    application = json.loads(env["VCAP_APPLICATION"])
    web = next(p for p in api.processes if p.type == "web")
    assert application["application_name"] == cf.API and application["name"] == cf.API
    assert application["instance_index"] == 1 and application["instance_id"] == env["CF_INSTANCE_GUID"]
    assert application["uris"] == application["application_uris"] == ["127.0.0.1:41000"]
    assert application["limits"]["mem"] == web.memory_mb
    assert {"application_id", "space_name", "organization_name", "process_type"} <= set(application)
    assert application["process_type"] == "web"

    worker_env = _env(api, "worker", local, tmp_path)
    assert "PORT" not in worker_env  # no health check connects to it, and it serves no route
    events_env = _env(_real_app(cf.EVENTS), "web", local, tmp_path)
    assert json.loads(events_env["VCAP_APPLICATION"])["uris"] == ["127.0.0.1:41000/api/v1/events"]


def test_vcap_services_groups_the_bindings_by_label_with_each_instance_named(
    local: LocalServices, tmp_path: Path
) -> None:
    api = _real_app(cf.API)
    services = json.loads(_env(api, "web", local, tmp_path)["VCAP_SERVICES"])
    names = {entry["name"]: label for label, entries in services.items() for entry in entries}
    assert sorted(names) == sorted(api.services)
    for label, entries in services.items():
        for entry in entries:
            assert entry["label"] == label and entry["instance_name"] == entry["name"]
            assert {"plan", "tags", "credentials", "instance_guid", "binding_guid"} <= set(entry)
    assert services["xsuaa"][0]["credentials"]["url"] == local.xsuaa.url
    assert services["user-provided"][0]["credentials"] == dict(local.secrets)


def test_every_binding_the_manifest_names_is_read_by_the_settings(local: LocalServices, tmp_path: Path) -> None:
    api = _real_app(cf.API)
    settings = from_env(_env(api, "web", local, tmp_path))

    assert settings.is_production and not settings.dev_idp_enabled
    assert settings.app_name == cf.API and settings.instance_index == 1 and settings.port == 41000
    assert settings.redis_url == local.redis_url
    assert settings.database_url == "postgresql+psycopg://postgres@127.0.0.1:5499/sapext_cf_test"
    assert (settings.jwt_issuer, settings.jwks_url) == (local.xsuaa.issuer, local.xsuaa.jwks_url)
    assert settings.xsappname == local.xsappname
    assert (settings.sap_destination_name, settings.sap_user_destination_name) == (
        btp.DESTINATION,
        btp.USER_DESTINATION,
    )
    assert settings.destination_service == local.btp.destination_credentials()
    assert settings.connectivity_service == local.btp.connectivity_credentials()
    secrets = local.secrets
    assert settings.paging_secret == secrets["PAGING_SECRET"]
    assert settings.sap_user_assertion_key == secrets["SAP_USER_ASSERTION_KEY"]
    assert settings.sap_user_assertion_issuer == secrets["SAP_USER_ASSERTION_ISSUER"] == local.xsuaa.issuer
    assert settings.sap_events_password == secrets["SAP_EVENTS_PASSWORD"]
    assert (settings.vapid_private_key, settings.vapid_subject) == (
        secrets["VAPID_PRIVATE_KEY"],
        secrets["VAPID_SUBJECT"],
    )

    events = from_env(_env(_real_app(cf.EVENTS), "web", local, tmp_path), calls_sap=False)
    assert (events.redis_url, events.jwks_url) == (local.redis_url, local.xsuaa.jwks_url)


def test_no_service_the_manifest_names_is_left_without_a_local_binding(local: LocalServices) -> None:
    raw = yaml.safe_load(MANIFEST.read_text())
    named = {service for app in raw["applications"] for service in app.get("services") or []}
    assert named, "the manifest binds no service"
    for name in named:
        assert local_binding(name, local)["name"] == name
    with pytest.raises(UnboundService, match="'sapext-kafka'"):
        local_binding("sapext-kafka", local)


def test_mock_btp_is_configured_with_the_two_destinations_internet_or_on_premise(tmp_path: Path) -> None:
    sap = "http://127.0.0.1:8081"
    internet = json.loads(btp.plan_mock_btp(tmp_path, sap, on_premise=False).config_file.read_text())
    by_name = {d["Name"]: d for d in internet["destinations"]}
    assert by_name["S4HANA"] | {"Password": "-"} == {
        "Name": "S4HANA",
        "Type": "HTTP",
        "URL": sap,
        "ProxyType": "Internet",
        "Authentication": "BasicAuthentication",
        "User": "EXT_API_TECH",
        "Password": "-",
        "sap-client": "100",
    }
    assert by_name["S4HANA_USER"]["Authentication"] == "OAuth2JWTBearer"
    assert by_name["S4HANA_USER"]["clientId"] in internet["clients"]

    planned = btp.plan_mock_btp(tmp_path, sap, on_premise=True)
    on_premise = json.loads(planned.config_file.read_text())
    by_name = {d["Name"]: d for d in on_premise["destinations"]}
    assert {d["ProxyType"] for d in by_name.values()} == {"OnPremise"}
    assert {d["URL"] for d in by_name.values()} == {f"http://{btp.VIRTUAL_HOST}"}
    assert by_name["S4HANA_USER"]["Authentication"] == "PrincipalPropagation"
    assert on_premise["cloud_connector"] == [{"location_id": "", "virtual_host": btp.VIRTUAL_HOST, "internal_url": sap}]
    assert on_premise["connectivity_client"] == planned.connectivity_client.id
    assert on_premise["clients"][planned.destination_client.id]["secret"] == planned.destination_client.secret


def _tiny_app(tmp_path: Path, command: str, health: str = "port", name: str = "tiny") -> App:
    process = Process("web", command, 1, 64, HealthCheck(health, "/", 1.0, 20.0))
    return App(name, tmp_path, {}, (), (), (process,))


def _until(instance: Instance, state: str, timeout: float = 20.0) -> list[str]:
    said = []
    deadline = time.monotonic() + timeout
    while instance.state != state:
        assert time.monotonic() < deadline, f"{instance.name} never became {state} (it is {instance.state})"
        if message := instance.tick(time.monotonic()):
            said.append(message)
        time.sleep(0.05)
    return said


def test_an_instance_runs_once_healthy_and_a_killed_one_is_restarted_at_once(tmp_path: Path) -> None:
    app = _tiny_app(tmp_path, f"{sys.executable} -m http.server --bind 127.0.0.1 $PORT")
    instance = Instance(app, app.processes[0], 0, free_port(), tmp_path / "web-0", environment=_with_port)
    instance.start()
    try:
        _until(instance, "running")
        first_pid = instance.pid
        assert first_pid is not None
        os.killpg(first_pid, signal.SIGKILL)
        said = _until(instance, "crashed")
        assert said and "crashed: exited with status -9 (SIGKILL)" in said[0] and "restarting it in 0s" in said[0]
        _until(instance, "running")
        assert instance.restarts == 1 and instance.pid != first_pid
    finally:
        instance.signal(signal.SIGKILL)


def _with_port(instance: Instance) -> dict[str, str]:
    return {"PORT": str(instance.port), "PATH": os.environ["PATH"]}


def test_stop_sends_sigterm_and_kills_only_what_outlives_the_grace_period(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(cf, "STOP_GRACE", 1.0)
    polite = _tiny_app(tmp_path, "sleep 30 & wait", health="process", name="polite")
    # bash ignores SIGTERM and so does its child: only SIGKILL ends this one.
    stubborn = _tiny_app(tmp_path, "trap '' TERM; sleep 30 & wait; sleep 30", health="process", name="stubborn")
    instances = [
        Instance(app, app.processes[0], 0, None, tmp_path / name, environment=_with_port)
        for name, app in (("polite", polite), ("stubborn", stubborn))
    ]
    for instance in instances:
        instance.start()
        _until(instance, "running")
    launcher = cf.LocalCf(instances, tmp_path / "state.json", MANIFEST)
    began = time.monotonic()
    launcher.stop()

    assert time.monotonic() - began < 5
    assert not any(i.alive() for i in instances)
    state = json.loads((tmp_path / "state.json").read_text())
    assert state["state"] == "stopped"
    recorded = {name: app["processes"]["web"]["instances"][0] for name, app in state["apps"].items()}
    assert {name: (i["state"], i["killed"]) for name, i in recorded.items()} == {
        "polite": ("stopped", False),
        "stubborn": ("stopped", True),
    }
    assert f"killed with SIGKILL: stubborn/web/0 (pid {instances[1].pid})" in capsys.readouterr().out
