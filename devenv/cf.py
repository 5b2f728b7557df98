"""`python3 dev.py cf`: manifest.yml run as Cloud Foundry runs it, on this machine.

Every process type of the selected apps with its instance count, each instance `bash -c <command>` in its own
process group with PORT, CF_INSTANCE_*, VCAP_APPLICATION and VCAP_SERVICES bound to local Redis, PostgreSQL, an
XSUAA key server, mock_btp (Destination and Connectivity services) and the mock SAP behind it. Health checks,
crash restarts with Diego's back-off, and Cloud Foundry's stop: SIGTERM, SIGKILL after 10 s.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from devenv import approuter, cf_services
from devenv.btp import UnboundService
from devenv.cf_env import app_services, instance_env, uris_of
from devenv.cf_instance import Instance
from devenv.cf_manifest import App, ManifestError, load, parse_scale, scaled, select
from devenv.postgres_server import PostgresUnavailable
from devenv.procs import ignore_stop_signals, interrupt_on_stop_signals
from devenv.redis_server import free_port
from devenv.run import GaveUp, Launcher
from runtime.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
API, EVENTS, ROUTER = "sap-extension-api", "sap-extension-api-events", "sap-extension-api-approuter"
STOP_GRACE = 10.0  # Cloud Foundry's: SIGTERM, then SIGKILL for what still runs after 10 s
TICK = 0.2


def default_apps() -> list[str]:
    return [API, EVENTS, *([ROUTER] if approuter.installed() else [])]


def plan(apps: Sequence[App], workdir: Path, api_port: int) -> list[Instance]:
    """Every instance of every process, with its port (the API's web/0 gets `api_port`: ((api_url)) names it)."""
    instances, taken = [], {api_port}
    for app in apps:
        for process in app.processes:
            for index in range(process.instances):
                port = None
                if process.listens:
                    port = api_port if (app.name, process.type, index) == (API, "web", 0) else _new_port(taken)
                folder = workdir / "instances" / app.name / f"{process.type}-{index}"
                instances.append(Instance(app, process, index, port, folder, environment=_unset))
    return instances


def _new_port(taken: set[int]) -> int:
    """A free port no other instance of the run was given (the kernel may hand out one twice while none listens)."""
    while (port := free_port()) in taken:
        pass
    taken.add(port)
    return port


def _unset(instance: Instance) -> dict[str, str]:
    raise RuntimeError(f"{instance.name}: its environment is bound once the backing services run")


def bind(instances: Sequence[Instance], backing: cf_services.Backing, extra: dict[str, str]) -> None:
    """Give each instance its environment builder: its app's bindings and routes, the `--env` extras."""
    for app in {i.app.name: i.app for i in instances}.values():
        web = next((i.port for i in instances if i.app is app and i.process.type == "web" and i.index == 0), None)
        services, uris = app_services(app, backing.local), uris_of(app, web)
        for instance in instances:
            if instance.app is app:
                instance.environment = functools.partial(instance_env, services=services, uris=uris, extra=extra)


class LocalCf:
    """The instances and the state file that tells tests (and people) where each one is."""

    def __init__(self, instances: list[Instance], state_file: Path, manifest: Path) -> None:
        self.instances = instances
        self.state_file = state_file
        self.manifest = manifest
        self.state = "starting"
        self.services: dict[str, Any] = {}

    def write_state(self) -> None:
        apps: dict[str, Any] = {}
        for instance in self.instances:
            app = apps.setdefault(
                instance.app.name, {"path": str(instance.app.path), "services": list(instance.app.services)}
            )
            process = app.setdefault("processes", {}).setdefault(
                instance.process.type,
                {"health_check": instance.process.health_check.type, "command": instance.process.command},
            )
            process.setdefault("instances", []).append(instance.as_dict())
        state = {
            "state": self.state,
            "pid": os.getpid(),
            "manifest": str(self.manifest),
            "services": self.services,
            "apps": apps,
        }
        temporary = self.state_file.with_name(self.state_file.name + ".tmp")
        temporary.write_text(json.dumps(state, indent=2))
        os.replace(temporary, self.state_file)  # readers never see half a file

    def supervise(self, launcher: Launcher) -> None:
        """Until interrupted: restart backing services and instances that die; the banner once all run."""
        while True:
            launcher.supervise()
            now = time.monotonic()
            changed = False
            for instance in self.instances:
                if message := instance.tick(now):
                    print(f"cf: {message}", flush=True)
                    changed = True
            if self.state == "starting" and all(i.state == "running" for i in self.instances):
                self.state = "running"
                print(banner(self.instances, self.services, self.state_file), flush=True)
                changed = True
            if changed:
                self.write_state()
            time.sleep(TICK)

    def stop(self) -> None:
        """As Cloud Foundry stops instances: SIGTERM to each, SIGKILL to those still running after 10 s."""
        self.state = "stopping"
        self.write_state()
        live = [i for i in self.instances if i.alive()]
        for instance in live:
            instance.signal(signal.SIGTERM)
        began = time.monotonic()
        took: dict[str, float] = {}  # seconds each instance took to end
        while len(took) < len(live) and time.monotonic() - began < STOP_GRACE:
            took |= {i.name: time.monotonic() - began for i in live if i.name not in took and not i.alive()}
            time.sleep(0.05)
        stubborn = [i for i in live if i.name not in took and i.alive()]
        for instance in stubborn:
            instance.signal(signal.SIGKILL)
        for instance in self.instances:
            instance.stopped(killed=instance in stubborn)
        if stubborn:
            names = ", ".join(f"{i.name} (pid {i.pid})" for i in stubborn)
            print(f"cf: still running {STOP_GRACE:g}s after SIGTERM, killed with SIGKILL: {names}", flush=True)
        elif took:
            slowest = max(took, key=took.__getitem__)
            print(f"cf: {len(live)} instances stopped on SIGTERM in {took[slowest]:.1f}s (last: {slowest})", flush=True)
        self.state = "stopped"
        self.write_state()


def banner(instances: Sequence[Instance], services: dict[str, Any], state_file: Path) -> str:
    lines = ["", "=" * 80, " Local Cloud Foundry: every instance is running (manifest.yml)"]
    for app in dict.fromkeys(i.app.name for i in instances):
        lines.append(f"   {app}")
        for i in (i for i in instances if i.app.name == app):
            label, where = f"{i.process.type}/{i.index}", i.url or f"({i.process.health_check.type} health check)"
            lines.append(f"     {label:<12} {where:<32} pid {i.pid}")
    mode = "OnPremise, through the Connectivity proxy" if services["on_premise"] else "Internet"
    lines += [
        f"   SAP (mock)     {services['sap_url']}   (user EXT_API_TECH; destinations {mode})",
        f"   Destination    {services['btp_url']}   (mock_btp; proxy {services['btp_proxy_url']})",
        f"   XSUAA keys     {services['xsuaa_url']}/token_keys   (issuer {services['jwt_issuer']})",
        f"   Redis          {services['redis_url']}",
        f"   PostgreSQL     {services['database_url']}",
        f"   State          {state_file}",
        "",
        " A user token (signed by the XSUAA stand-in's key), from another terminal:",
        f"   SUP=$(python3 dev.py cf token --state {state_file} --user SUP_ASSY1010 --role-collection Supervisor \\",
        "         --attribute Plant=1010 --attribute WorkCenter=ASSY1010)",
        "",
        " A crashed instance is restarted (at once, then with back-off). Ctrl-C stops every instance as Cloud Foundry",
        f" does: SIGTERM, then SIGKILL after {STOP_GRACE:g}s.",
        "=" * 80,
    ]
    return "\n".join(lines)


def _pairs(values: Sequence[str], option: str) -> dict[str, str]:
    pairs = {}
    for value in values:
        name, sep, text = value.partition("=")
        if not sep or not name:
            raise SystemExit(f"cf: {option} expects NAME=VALUE, got {value!r}")
        pairs[name] = text
    return pairs


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python3 dev.py cf", description=__doc__.split("\n", 1)[0])
    parser.add_argument("--manifest", type=Path, default=ROOT / "manifest.yml")
    parser.add_argument("--apps", help=f"comma-separated app names (default: {', '.join(default_apps())})")
    parser.add_argument("--scale", default="", help="instances per process type: web=2,worker=3 or APP:TYPE=N")
    parser.add_argument(
        "--state", type=Path, help="a JSON file rewritten on every change (default: in the run's folder)"
    )
    parser.add_argument(
        "--on-premise", action="store_true", help="SAP through the Connectivity proxy and Cloud Connector"
    )
    parser.add_argument("--var", action="append", default=[], metavar="NAME=VALUE", help="a ((var)) of the manifest")
    parser.add_argument(
        "--env", action="append", default=[], metavar="NAME=VALUE", help="an extra env var of every app"
    )
    parser.add_argument(
        "--postgres-url", default="", help="a PostgreSQL server for the run's database (default: spawn one)"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="sapext-cf-"))
    api_port = free_port()
    variables = {"api_url": f"http://127.0.0.1:{api_port}", "api_host": f"127.0.0.1:{api_port}"}
    try:
        names = args.apps.split(",") if args.apps else default_apps()
        apps = select(load(args.manifest, {**variables, **_pairs(args.var, "--var")}), names)
        scale = parse_scale(args.scale)
        instances = plan([scaled(app, scale) for app in apps], workdir, api_port)
    except ManifestError as exc:
        shutil.rmtree(workdir, ignore_errors=True)
        print(f"cf: {exc}", file=sys.stderr)
        return 2
    cf = LocalCf(instances, args.state or workdir / "state.json", args.manifest)
    launcher = Launcher("cf")
    backing = None
    interrupt_on_stop_signals()
    try:
        webhook = f"{variables['api_url']}/api/v1/sap-events" if API in names else ""
        backing = cf_services.start(
            launcher, workdir, on_premise=args.on_premise, postgres_url=args.postgres_url, events_webhook=webhook
        )
        cf.services = backing.urls()
        bind(instances, backing, _pairs(args.env, "--env"))
        for instance in instances:
            instance.start()
        cf.write_state()
        cf.supervise(launcher)
    except KeyboardInterrupt:
        print("\ncf: stopping ...", flush=True)
        return 0
    except (GaveUp, UnboundService, PostgresUnavailable, TimeoutError, RuntimeError, OSError) as exc:
        print(f"cf: {exc}; stopping the rest", file=sys.stderr, flush=True)
        return 1
    finally:
        ignore_stop_signals()  # a second Ctrl-C must not cut the clean-up short
        cf.stop()
        launcher.stop()
        if backing is not None:
            backing.stop()
        shutil.rmtree(workdir, ignore_errors=True)
        print("cf: all instances and services stopped", flush=True)
    return 0  # not reached: supervise() runs until interrupted


def token_main(argv: Sequence[str]) -> int:
    """`python3 dev.py cf token --state FILE --user U --role-collection R [--attribute K=V]...`: a user token."""
    from app.dev_idp import mint_token  # the app, only for this command

    parser = argparse.ArgumentParser(prog="python3 dev.py cf token", description=token_main.__doc__)
    parser.add_argument("--state", type=Path, required=True, help="the running launcher's state file")
    parser.add_argument("--user", required=True)
    parser.add_argument("--role-collection", action="append", required=True, dest="role_collections")
    parser.add_argument("--attribute", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--lifetime", type=int, default=3600)
    args = parser.parse_args(argv)
    services = json.loads(args.state.read_text())["services"]
    attributes: dict[str, list[str]] = {}
    for pair in args.attribute:  # repeatable per name: Plant=1010 --attribute Plant=1020
        ((name, value),) = _pairs([pair], "--attribute").items()
        attributes.setdefault(name, []).append(value)
    settings = xsuaa_settings(services)
    print(mint_token(settings, args.user, args.role_collections, attributes, args.lifetime))
    return 0


def xsuaa_settings(services: dict[str, Any]) -> Settings:
    """Settings naming the run's XSUAA stand-in (issuer, xsappname, key): app.dev_idp.mint_token signs with them."""
    return Settings(
        jwt_issuer=services["jwt_issuer"], xsappname=services["xsappname"], dev_idp_key_file=services["xsuaa_key_file"]
    )


if __name__ == "__main__":
    argv = sys.argv[1:]
    sys.exit(token_main(argv[1:]) if argv[:1] == ["token"] else main(argv))
