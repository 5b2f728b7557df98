"""manifest.yml as Cloud Foundry reads it: apps, their process types and health checks, ((vars)), `--scale`."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

VAR = re.compile(r"\(\(([A-Za-z0-9_.-]+)\)\)")
DEFAULT_TIMEOUT = 60.0  # seconds an instance has to pass its first health check (Cloud Foundry's default)
DEFAULT_MEMORY_MB = 1024
# What a buildpack starts when the manifest names no command (the Node.js buildpack runs package.json's start).
BUILDPACK_COMMANDS = {"nodejs_buildpack": "npm start"}
# Manifest attributes at application level that describe its web process (Cloud Foundry's app manifest v3).
WEB_ATTRIBUTES = (
    "command",
    "instances",
    "memory",
    "health-check-type",
    "health-check-http-endpoint",
    "health-check-invocation-timeout",
    "timeout",
)


class ManifestError(ValueError):
    """The manifest cannot be run as written; the message names the app and the attribute."""


@dataclass(frozen=True)
class HealthCheck:
    type: str  # http: GET endpoint answers 200; port: a TCP connect; process: the process is alive
    endpoint: str = "/"
    invocation_timeout: float = 1.0  # seconds one check may take
    timeout: float = DEFAULT_TIMEOUT  # seconds from start until the instance must be healthy


@dataclass(frozen=True)
class Process:
    type: str
    command: str
    instances: int
    memory_mb: int
    health_check: HealthCheck

    @property
    def listens(self) -> bool:
        """Gets a PORT: the web process (it has the routes), and any process whose health check connects."""
        return self.type == "web" or self.health_check.type in ("http", "port")


@dataclass(frozen=True)
class App:
    name: str
    path: Path
    env: dict[str, str]
    services: tuple[str, ...]
    routes: tuple[str, ...]
    processes: tuple[Process, ...]


def variables_in(value: Any) -> set[str]:
    """The ((names)) a manifest (or a part of it) uses."""
    if isinstance(value, str):
        return set(VAR.findall(value))
    if isinstance(value, Mapping):
        return set().union(*map(variables_in, value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*map(variables_in, value)) if value else set()
    return set()


def substitute(value: Any, variables: Mapping[str, str]) -> Any:
    """`value` with every ((name)) replaced, as `cf push --var` does; an unknown name is an error."""
    missing = variables_in(value) - set(variables)
    if missing:
        raise ManifestError(f"no value for {', '.join(f'(({name}))' for name in sorted(missing))}")
    if isinstance(value, str):
        return VAR.sub(lambda match: variables[match.group(1)], value)
    if isinstance(value, Mapping):
        return {key: substitute(item, variables) for key, item in value.items()}
    if isinstance(value, list):
        return [substitute(item, variables) for item in value]
    return value


def load(path: Path, variables: Mapping[str, str]) -> list[App]:
    data = yaml.safe_load(path.read_text())
    if not isinstance(data, dict) or not isinstance(data.get("applications"), list):
        raise ManifestError(f"{path}: no applications list")
    return [parse_app(app, path.parent) for app in substitute(data, variables)["applications"]]


def memory_mb(value: Any) -> int:
    """`512M`, `1G`, `256MB` as megabytes."""
    match = re.fullmatch(r"(\d+)\s*([MG])B?", str(value).strip().upper())
    if not match:
        raise ManifestError(f"memory {value!r} is not like 512M or 1G")
    return int(match.group(1)) * (1024 if match.group(2) == "G" else 1)


def parse_app(data: Mapping[str, Any], root: Path) -> App:
    name = str(data.get("name") or "")
    if not name:
        raise ManifestError("an application without a name")
    declared = [dict(entry) for entry in data.get("processes") or []]
    web = next((entry for entry in declared if entry.get("type") == "web"), None)
    if web is None:
        web = {"type": "web"}
        declared.insert(0, web)
    for attribute in WEB_ATTRIBUTES:  # the application's own attributes are its web process's defaults
        if attribute in data:
            web.setdefault(attribute, data[attribute])
    buildpacks = [str(b) for b in data.get("buildpacks") or []]
    default_command = next((BUILDPACK_COMMANDS[b] for b in buildpacks if b in BUILDPACK_COMMANDS), None)
    processes = tuple(_process(name, entry, default_command) for entry in declared)
    routes = tuple(str(r["route"]) for r in data.get("routes") or [])
    env = {str(key): _env_value(value) for key, value in (data.get("env") or {}).items()}
    return App(
        name, (root / str(data.get("path", "."))).resolve(), env, tuple(data.get("services") or ()), routes, processes
    )


def _env_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _process(app: str, entry: Mapping[str, Any], default_command: str | None) -> Process:
    kind = str(entry["type"])
    command = entry.get("command") or default_command
    if not command:
        raise ManifestError(f"{app}: process {kind} has no command (and its buildpack none by default)")
    health_type = str(entry.get("health-check-type") or ("port" if kind == "web" else "process"))
    if health_type not in ("http", "port", "process"):
        raise ManifestError(f"{app}: process {kind} has health-check-type {health_type!r}")
    health = HealthCheck(
        type=health_type,
        endpoint=str(entry.get("health-check-http-endpoint") or "/"),
        invocation_timeout=float(entry.get("health-check-invocation-timeout") or 1.0),
        timeout=float(entry.get("timeout") or DEFAULT_TIMEOUT),
    )
    instances = int(entry.get("instances", 1))
    memory = memory_mb(entry["memory"]) if "memory" in entry else DEFAULT_MEMORY_MB
    return Process(kind, str(command).strip(), instances, memory, health)


def parse_scale(text: str) -> dict[str, int]:
    """`web=2,worker=3` (every selected app) or `sap-extension-api-events:web=1` (one app) as {key: instances}."""
    scale: dict[str, int] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, sep, count = part.partition("=")
        if not sep or not key or not count.isdigit():
            raise ManifestError(f"--scale expects TYPE=N or APP:TYPE=N, got {part!r}")
        scale[key] = int(count)
    return scale


def scaled(app: App, scale: Mapping[str, int]) -> App:
    """`app` with the instance counts `scale` names (APP:TYPE before TYPE)."""
    processes = tuple(
        dataclasses.replace(p, instances=scale.get(f"{app.name}:{p.type}", scale.get(p.type, p.instances)))
        for p in app.processes
    )
    return dataclasses.replace(app, processes=processes)


def select(apps: Iterable[App], names: Iterable[str]) -> list[App]:
    """The apps named, in the manifest's order; an unknown name is an error."""
    apps, wanted = list(apps), list(names)
    unknown = set(wanted) - {app.name for app in apps}
    if unknown:
        known = ", ".join(app.name for app in apps)
        raise ManifestError(f"no app {', '.join(sorted(unknown))} in the manifest (it has {known})")
    return [app for app in apps if app.name in wanted]
